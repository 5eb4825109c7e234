//! A window the API cannot answer gets smaller: after the retries of a cut-off body or a 5xx,
//! an event window is bisected (like at 60,000 records) down to an hour, and every row lands in
//! a bounded number of requests.

use wolkvox_etl::simulator::{FaultKind, SimulatorConfig};
use wolkvox_etl::store::runs::RunStatus;
use wolkvox_etl::sync::Range;

use crate::helpers::*;
use crate::on_both_backends;

/// A 2-day sync where every request of 6 hours or more fails with `kind`.
async fn two_days_with_big_windows_failing(backend: wolkvox_etl::store::Backend, kind: FaultKind) {
    let sim = SimulatorConfig {
        oversize: Some((chrono::TimeDelta::hours(6), kind)),
        latency: std::time::Duration::from_millis(1),
        ..SimulatorConfig::default()
    };
    let t = spawn_app(backend, Options { sim, ..Options::default() }).await;
    let (from, to) = (local("2026-11-18 00:00:00"), local("2026-11-20 00:00:00"));
    let outcome = t.sync(Range::Explicit { from, to: Some(to) }).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{kind:?}: {:?}", outcome.error);
    assert_same_rows(&t.chat_14_rows().await, &t.truth(from, to));
    // 48 h → 2 × 24 h → 4 × 12 h fail (5 attempts each); 8 windows of 6 h (to 05:59:59) answer.
    assert_eq!(outcome.counts.splits, 7, "{kind:?}");
    assert_eq!(outcome.counts.windows, 8, "{kind:?}");
    assert_eq!(outcome.counts.requests, 7 * 5 + 8, "{kind:?}: bounded");
    assert_eq!(t.sim.stats().requests, 43);
    assert_eq!(t.watermark().await, Some(to));
}

on_both_backends! {
async fn a_two_day_sync_whose_big_windows_are_cut_off_lands_every_row_in_43_requests(backend) {
    two_days_with_big_windows_failing(backend, FaultKind::TruncatedJson).await;
}

async fn a_two_day_sync_whose_big_windows_answer_503_lands_every_row_in_43_requests(backend) {
    two_days_with_big_windows_failing(backend, FaultKind::Http503).await;
}
}

#[tokio::test]
async fn a_window_that_fails_at_the_one_hour_floor_fails_the_run_without_moving_the_watermark() {
    // Every request of an hour or more fails: the split stops at one hour and the run fails.
    let sim = SimulatorConfig {
        oversize: Some((chrono::TimeDelta::minutes(59), FaultKind::Http503)),
        latency: std::time::Duration::from_millis(1),
        ..SimulatorConfig::default()
    };
    let t = spawn_app(wolkvox_etl::store::Backend::Sqlite, Options { sim, ..Options::default() }).await;
    let (from, to) = (local("2026-11-19 00:00:00"), local("2026-11-19 04:00:00"));
    let outcome = t.sync(Range::Explicit { from, to: Some(to) }).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    // 4 h → 2 h → 1 h, each 5 attempts, then the 1-hour window is not split further.
    assert_eq!((outcome.counts.splits, outcome.counts.requests, outcome.counts.windows), (2, 15, 0));
    assert_eq!(t.watermark().await, None);
}

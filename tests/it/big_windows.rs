//! A window the API cannot answer gets smaller: after the retries of a cut-off body or a 5xx,
//! an event window is bisected (like at 60,000 records) down to an hour, and every row lands in
//! a bounded number of requests.

use wolkvox_etl::simulator::{FaultKind, SimulatorConfig};
use wolkvox_etl::store::runs::RunStatus;
use wolkvox_etl::sync::Range;

use crate::on_both_backends;
use crate::support::*;

/// A 2-day sync where every request of 6 hours or more fails with `kind`, each tried `attempts`
/// times.
async fn two_days_with_big_windows_failing(backend: wolkvox_etl::store::Backend, kind: FaultKind, attempts: u32) {
    let mut sim = SimulatorConfig {
        oversize: Some((chrono::TimeDelta::hours(6), kind)),
        latency: std::time::Duration::from_millis(1),
        ..SimulatorConfig::default()
    };
    let mut env = vec![("WOLKVOX_ETL__WOLKVOX__MAX_ATTEMPTS", attempts.to_string())];
    if kind == FaultKind::Slow {
        // A real timeout: the simulator stalls past the client's whole-request timeout (1 s).
        // Like the API, it is still busy with the request after the client gives up, so the
        // retry waits (0.5–1 s) until the stall (1.3 s) is over. The default timeout, 90 s,
        // outlasts the API's own 60 s, so the API has always let go when the client does.
        sim.faults.slow = std::time::Duration::from_millis(1300);
        env.extend([
            ("WOLKVOX_ETL__WOLKVOX__REQUEST_TIMEOUT_SECONDS", "1".into()),
            ("WOLKVOX_ETL__WOLKVOX__RETRY_INITIAL_BACKOFF_MS", "1000".into()),
            ("WOLKVOX_ETL__WOLKVOX__RETRY_MAX_BACKOFF_SECONDS", "1".into()),
        ]);
    }
    let t = spawn_app(backend, Options { sim, env, ..Options::default() }).await;
    let (from, to) = (local("2026-11-18 00:00:00"), local("2026-11-20 00:00:00"));
    let outcome = t.sync(Range::Explicit { from, to: Some(to) }).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{kind:?}: {:?}", outcome.error);
    assert_same_rows(&t.chat_14_rows().await, &t.truth(from, to));
    // 48 h → 2 × 24 h → 4 × 12 h fail (`attempts` each); 8 windows of 6 h (to 05:59:59) answer.
    assert_eq!(outcome.counts.splits, 7, "{kind:?}");
    assert_eq!(outcome.counts.windows, 8, "{kind:?}");
    // A timed-out request keeps the API busy a moment after the client gives up; the request
    // sent next on the token (a retry, or a split's first half) can meet it and be refused as
    // simultaneous: an attempt of a failing window, or one more request for a window that then
    // answers. The other faults end with their answer, and nothing overlaps.
    let collisions = t.sim.stats().simultaneous_violations;
    let base = 7 * attempts + 8;
    match kind {
        FaultKind::Slow => assert!(collisions <= 14, "{collisions} collisions"),
        _ => assert_eq!(collisions, 0),
    }
    let extra = outcome.counts.requests.checked_sub(base).expect("at least one request per attempt and window");
    assert!(u64::from(extra) <= collisions, "{kind:?}: bounded: {} requests", outcome.counts.requests);
    assert_eq!(t.sim.stats().requests, u64::from(outcome.counts.requests));
    assert_eq!(t.watermark().await, Some(to));
}

on_both_backends! {
async fn a_two_day_sync_whose_big_windows_are_cut_off_lands_every_row_in_43_requests(backend) {
    two_days_with_big_windows_failing(backend, FaultKind::TruncatedJson, 5).await;
}

async fn a_two_day_sync_whose_big_windows_answer_503_lands_every_row_in_43_requests(backend) {
    two_days_with_big_windows_failing(backend, FaultKind::Http503, 5).await;
}
}

#[tokio::test]
async fn a_two_day_sync_whose_big_windows_time_out_lands_every_row_in_a_bounded_number_of_requests() {
    // Two attempts per window keep the test to 14 one-second timeouts: 22 requests, plus those
    // refused as simultaneous (see above; 4 when measured, so 26).
    two_days_with_big_windows_failing(wolkvox_etl::store::Backend::Postgres, FaultKind::Slow, 2).await;
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

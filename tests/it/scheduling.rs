//! The scheduler: runs reports on their cron schedule, never overlaps a report with itself, and
//! stops cleanly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use wolkvox_etl::scheduler;
use wolkvox_etl::simulator::SimulatorConfig;

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends! {
async fn the_scheduler_runs_a_report_on_its_schedule_without_overlap_and_stops_on_shutdown(backend) {
    // Every second, with a slow API: each request takes at least a second, so ticks arrive while
    // a run is still going and must be skipped. The start-up run needs three one-day windows
    // (at least 3 s), every later one the look-back's single window (at least 1 s).
    let options = Options {
        sim: SimulatorConfig {
            latency: Duration::from_secs(1),
            // Few rows, so that a window's time is the API's second rather than the machine's.
            rows_per_hour: 12,
            ..SimulatorConfig::default()
        },
        env: vec![
            (
                "WOLKVOX_ETL__REPORTS__CHAT_14__SCHEDULE",
                "* * * * * *".into(),
            ),
            ("WOLKVOX_ETL__SYNC__MAX_WINDOW_DAYS", "1".into()),
        ],
        ..Options::default()
    };
    let t = spawn_app(backend, options).await;
    let shutdown = CancellationToken::new();
    let jobs: Vec<_> = t.app.jobs.iter().filter(|j| j.config.report.api == "chat_14").cloned().collect();
    let ctx = Arc::clone(&t.app.ctx);
    let started = Instant::now();
    let reconcile = t.app.settings.reconcile.clone();
    let handle = tokio::spawn(scheduler::run(ctx, jobs, Vec::new(), true, reconcile, None, shutdown.clone()));

    // Until the start-up run and one started by a tick are recorded (a run is recorded when it
    // ends), however slow the machine: the deadline is only a safety net.
    let deadline = started + Duration::from_secs(120);
    while t.scalar("SELECT count(*) FROM etl_run").await < 2 {
        assert!(Instant::now() < deadline, "no scheduled run ended within 120 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    let ticks = started.elapsed().as_secs();
    tokio::time::timeout(Duration::from_secs(30), handle)
        .await
        .expect("stops")
        .unwrap()
        .unwrap();

    let runs = t.scalar("SELECT count(*) FROM etl_run").await;
    let failed = t.scalar("SELECT count(*) FROM etl_run WHERE status = 'failed'").await;
    assert!(runs >= 2, "the start-up run and a scheduled one happened");
    assert_eq!(failed, 0);
    assert_eq!(t.sim.stats().simultaneous_violations, 0);
    // Ticks that found a run going were skipped, so fewer runs were started than ticks elapsed.
    // One at a time, the N runs started before the cancel needed more than N + 1 s (3 s for the
    // first, 1 s for each later one before the last): a whole tick of margin, however slow the
    // machine. Ticks that queued, or started a run each, would make N reach the ticks.
    assert!(runs < ticks as i64, "{runs} runs in {ticks} s of 1 s ticks");
}
}

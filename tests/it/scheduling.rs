//! The scheduler: runs reports on their cron schedule, never overlaps a report with itself, and
//! stops cleanly.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use wolkvox_etl::scheduler;
use wolkvox_etl::simulator::SimulatorConfig;

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends! {
async fn the_scheduler_runs_a_report_on_its_schedule_without_overlap_and_stops_on_shutdown(backend) {
    // Every second, with a slow API: ticks arrive while a run is still going and must be skipped.
    let options = Options {
        sim: SimulatorConfig {
            latency: Duration::from_millis(700),
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
    let handle = tokio::spawn(scheduler::run(ctx, jobs, true, shutdown.clone()));
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(30), handle)
        .await
        .expect("stops")
        .unwrap()
        .unwrap();

    let runs = t.scalar("SELECT count(*) FROM etl_run").await;
    let failed = t.scalar("SELECT count(*) FROM etl_run WHERE status = 'failed'").await;
    assert!(runs >= 1, "at least the start-up run happened");
    assert_eq!(failed, 0);
    assert_eq!(t.sim.stats().simultaneous_violations, 0);
    // The first run needs three ~0.7 s windows, longer than a tick: later ticks were skipped, so
    // fewer runs were started than ticks elapsed.
    assert!(runs < 5, "{runs} runs in 4.5 s of 1 s ticks");
}
}

//! The scheduler: runs reports on their cron schedule, never overlaps a report with itself, and
//! stops cleanly. It runs on the system clock, so `etl_run`'s times are real and overlapping
//! runs would show; a control with a scheduler that ignores its guard shows the test can fail.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use wolkvox_etl::clock::Clock;
use wolkvox_etl::scheduler;
use wolkvox_etl::simulator::SimulatorConfig;
use wolkvox_etl::store::Db;
use wolkvox_etl::sync::Faults;

use crate::on_both_backends;
use crate::support::*;

/// What a scheduler left behind: runs recorded, runs failed, ticks elapsed, run locks refused
/// in this process, and pairs of recorded runs of the report whose times overlap.
struct Ran {
    runs: i64,
    failed: i64,
    ticks: u64,
    refused: u64,
    overlapping: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    simultaneous: u64,
}

fn yesterday() -> String {
    let today = wolkvox_etl::time::utc_to_local(chrono_tz::America::Bogota, Utc::now()).date();
    (today - chrono::Duration::days(1)).to_string()
}

/// chat_14 every second on the system clock against an API that takes a second per request:
/// ticks arrive while a run is still going. `faults` may break the scheduler's guard.
async fn schedule(backend: wolkvox_etl::store::Backend, faults: Faults) -> Ran {
    let options = Options {
        sim: SimulatorConfig {
            latency: Duration::from_secs(1),
            // Few rows, so that a window's time is the API's second rather than the machine's.
            rows_per_hour: 12,
            ..SimulatorConfig::default()
        },
        env: vec![
            ("WOLKVOX_ETL__REPORTS__CHAT_14__SCHEDULE", "* * * * * *".into()),
            ("WOLKVOX_ETL__SYNC__MAX_WINDOW_DAYS", "1".into()),
            // Yesterday, local: a first run of two one-day windows (at least 2 s).
            ("WOLKVOX_ETL__SYNC__START_FROM", yesterday()),
        ],
        faults,
    };
    let t = spawn_app_on(backend, options, Clock::system()).await;
    let shutdown = CancellationToken::new();
    let jobs: Vec<_> = t.app.jobs.iter().filter(|j| j.config.report.api == "chat_14").cloned().collect();
    let ctx = Arc::clone(&t.app.ctx);
    let started = Instant::now();
    let reconcile = t.app.settings.reconcile.clone();
    let handle = tokio::spawn(scheduler::run(ctx, jobs, Vec::new(), true, reconcile, None, shutdown.clone()));

    // Until the start-up run and two started by ticks are recorded (a run is recorded when it
    // ends), however slow the machine: the deadline is only a safety net.
    let deadline = started + Duration::from_secs(120);
    while t.scalar("SELECT count(*) FROM etl_run").await < 3 {
        assert!(Instant::now() < deadline, "no scheduled runs ended within 120 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    let ticks = started.elapsed().as_secs();
    tokio::time::timeout(Duration::from_secs(30), handle).await.expect("stops").unwrap().unwrap();

    const SQL: &str = "SELECT started_at, finished_at FROM etl_run WHERE report = 'chat_14' ORDER BY started_at";
    let times: Vec<(DateTime<Utc>, DateTime<Utc>)> = match t.db() {
        Db::Postgres(pool) => sqlx::query_as(SQL).fetch_all(pool).await.unwrap(),
        Db::Sqlite(pool) => sqlx::query_as(SQL).fetch_all(pool).await.unwrap(),
    };
    let overlapping = times.windows(2).filter(|w| w[1].0 < w[0].1).map(|w| (w[1].0, w[0].1)).collect();
    Ran {
        runs: t.scalar("SELECT count(*) FROM etl_run").await,
        failed: t.scalar("SELECT count(*) FROM etl_run WHERE status = 'failed'").await,
        ticks,
        refused: t.app.ctx.coordinator.runs_refused(),
        overlapping,
        simultaneous: t.sim.stats().simultaneous_violations,
    }
}

on_both_backends! {
async fn the_scheduler_runs_a_report_on_its_schedule_without_overlap_and_stops_on_shutdown(backend) {
    let ran = schedule(backend, Faults::default()).await;
    assert!(ran.runs >= 3, "the start-up run and scheduled ones happened");
    assert_eq!(ran.failed, 0);
    assert_eq!(ran.simultaneous, 0);
    // On real time: no recorded run of the report started before the previous one ended.
    assert!(ran.overlapping.is_empty(), "overlapping runs: {:?}", ran.overlapping);
    // The scheduler's own guard skipped every tick that found a run going: none of them even
    // reached the run lock (which would have refused it and counted the refusal).
    assert_eq!(ran.refused, 0, "ticks that started a run while one was going");
    // Fewer runs were started than ticks elapsed: one at a time, each took at least a second.
    assert!(ran.runs < ran.ticks as i64, "{} runs in {} s of 1 s ticks", ran.runs, ran.ticks);
}

/// The control: a scheduler that ignores its guard starts runs over the running one, and the
/// test above would see it (the run lock refuses them, counted), so it can fail.
async fn a_scheduler_that_ignores_its_guard_is_caught(backend) {
    let ran = schedule(backend, Faults { ignore_run_guard: true, ..Faults::default() }).await;
    assert!(ran.refused > 0, "the broken scheduler started runs over a running one, and they were seen");
    assert!(ran.overlapping.is_empty(), "the run lock still kept the recorded runs apart: {:?}", ran.overlapping);
}
}

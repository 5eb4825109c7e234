//! Completeness you can see: the window ledger, the reconciliation pass that re-reads recent
//! days whole after the look-back has passed them, and the view `etl_completeness`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use tokio_util::sync::CancellationToken;
use wolkvox_etl::store::runs::RunStatus;
use wolkvox_etl::sync::Range;

use crate::on_both_backends;
use crate::support::*;

/// The status `etl_completeness` gives chat_14's `day`.
async fn day_status(t: &TestApp, day: &str) -> String {
    let sql = format!("SELECT status FROM etl_completeness WHERE report = 'chat_14' AND day = '{day}'");
    match t.db() {
        wolkvox_etl::store::Db::Postgres(pool) => {
            sqlx::query_scalar(wolkvox_etl::store::sql::built(&sql)).fetch_one(pool).await.unwrap()
        }
        wolkvox_etl::store::Db::Sqlite(pool) => {
            sqlx::query_scalar(wolkvox_etl::store::sql::built(&sql)).fetch_one(pool).await.unwrap()
        }
    }
}

on_both_backends! {
async fn rows_later_than_the_look_back_are_missed_by_runs_and_recovered_by_the_reconciliation(backend) {
    // A 30-minute look-back, runs every 30 minutes: a chat that shows up in the API more than
    // about an hour after its time (the simulator delays one in ten by 10 min to 3 h) is missed.
    let options = Options {
        env: vec![
            ("WOLKVOX_ETL__SYNC__LOOKBACK_MINUTES", "30".into()),
            ("WOLKVOX_ETL__SYNC__START_FROM", "2026-11-20".into()),
        ],
        ..Options::default()
    };
    wolkvox_etl::metrics::install();
    let t = spawn_app(backend, options).await;
    for _ in 0..36 {
        let outcome = t.sync(Range::Scheduled).await;
        assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
        t.clock.advance(TimeDelta::minutes(30));
    }
    // Now 2026-11-21 04:00; the watermark 2026-11-21 03:28.
    let (from, wm) = (local("2026-11-20 00:00:00"), t.watermark().await.unwrap());
    let truth = t.truth(from, wm);
    let before = t.chat_14_rows().await;
    let missed = truth.keys().filter(|k| !before.contains_key(*k)).count();
    let stale = truth.iter().filter(|(k, v)| before.get(*k).is_some_and(|d| d != *v)).count();
    assert!(missed > 20, "the look-back should have missed late rows; missed {missed}");
    let ledger_before = t.scalar("SELECT count(*) FROM etl_window").await;
    assert_eq!(ledger_before, 36, "one ledger row per committed window");
    assert_eq!(day_status(&t, "2026-11-20").await, "complete");
    assert_eq!(day_status(&t, "2026-11-21").await, "pending");

    let job = t.app.job("chat_14").unwrap();
    let requests = t.sim.stats().requests;
    let outcomes =
        wolkvox_etl::sync::reconcile(&t.app.ctx, &[job], 2, TimeDelta::days(90), &CancellationToken::new()).await;
    assert_eq!(outcomes.len(), 1);
    let outcome = &outcomes[0].1;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    // Two whole days (the 20th, and the 21st up to the watermark): two requests.
    assert_eq!(t.sim.stats().requests - requests, 2);
    assert_eq!(t.watermark().await, Some(wm), "the reconciliation never moves the watermark");
    let after = t.chat_14_rows().await;
    assert_same_rows(&after, &truth);

    // What the ledger says per day: rows stored before, the API's count now, added and changed.
    let added = t.scalar("SELECT CAST(sum(check_added) AS BIGINT) FROM etl_day WHERE report = 'chat_14'").await;
    assert_eq!(added, i64::try_from(missed).unwrap(), "every missed row is counted as added");
    let changed = t.scalar("SELECT CAST(sum(check_changed) AS BIGINT) FROM etl_day WHERE report = 'chat_14'").await;
    assert_eq!(changed, i64::try_from(stale).unwrap(), "every stale row is counted as changed");
    let api = t.scalar("SELECT CAST(sum(check_api) AS BIGINT) FROM etl_day WHERE report = 'chat_14'").await;
    assert_eq!(api, i64::try_from(truth.len()).unwrap());
    let rows_20 = t.scalar("SELECT CAST(rows AS BIGINT) FROM etl_completeness WHERE report = 'chat_14' AND day = '2026-11-20'").await;
    let truth_20 = truth.keys().filter(|(_, date)| date.starts_with("2026-11-20")).count();
    assert_eq!(rows_20, i64::try_from(truth_20).unwrap());
    assert_eq!(t.scalar("SELECT count(*) FROM etl_window WHERE outcome = 'reconciled'").await, 2);
    assert_eq!(day_status(&t, "2026-11-20").await, "complete");
    assert_eq!(day_status(&t, "2026-11-21").await, "pending", "the watermark is inside the 21st");
    // The metric counts them (a counter shared by every test of this process: at least these).
    let metrics = wolkvox_etl::metrics::render();
    let sample = metrics
        .lines()
        .find(|l| l.starts_with("wolkvox_etl_reconcile_rows_added_total{") && l.contains("report=\"chat_14\""))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok());
    assert!(sample.is_some_and(|n| n >= missed as f64), "{sample:?} in\n{metrics}");
    eprintln!("late rows: {missed} missed and {stale} stale after 36 runs; all recovered by the reconciliation ({added} added, {changed} changed)");

    // A second pass finds nothing more, and says so.
    let again =
        wolkvox_etl::sync::reconcile(&t.app.ctx, &[t.app.job("chat_14").unwrap()], 2, TimeDelta::days(90), &CancellationToken::new()).await;
    assert_eq!(again[0].1.counts.rows_upserted, 0);
    assert_eq!(t.scalar("SELECT CAST(sum(check_added) AS BIGINT) FROM etl_day WHERE report = 'chat_14'").await, 0);
}

async fn a_day_the_api_now_answers_with_fewer_rows_than_stored_is_short_and_keeps_its_rows(backend) {
    let t = spawn_app(backend, Options::default()).await;
    let day = Range::Explicit { from: local("2026-11-19 00:00:00"), to: Some(local("2026-11-20 00:00:00")) };
    assert_eq!(t.sync(day).await.status, RunStatus::Succeeded);
    let stored = t.chat_14_rows().await.len();
    assert_eq!(day_status(&t, "2026-11-19").await, "complete");
    // The API's bad day: the 19th (the watermark's day: it ends at its midnight) answers empty.
    t.sim.set_blank_days(vec![chrono::NaiveDate::from_ymd_opt(2026, 11, 19).unwrap()]);
    let job = t.app.job("chat_14").unwrap();
    let outcomes =
        wolkvox_etl::sync::reconcile(&t.app.ctx, &[job], 1, TimeDelta::days(90), &CancellationToken::new()).await;
    assert_eq!(outcomes[0].1.status, RunStatus::Succeeded);
    assert_eq!(t.chat_14_rows().await.len(), stored, "an empty answer erased nothing");
    assert_eq!(day_status(&t, "2026-11-19").await, "short");
    // The API answers again: the next pass clears it.
    t.sim.set_blank_days(Vec::new());
    let job = t.app.job("chat_14").unwrap();
    wolkvox_etl::sync::reconcile(&t.app.ctx, &[job], 1, TimeDelta::days(90), &CancellationToken::new()).await;
    assert_eq!(day_status(&t, "2026-11-19").await, "complete");
}

async fn the_ledger_is_pruned_after_its_retention_and_the_days_stay(backend) {
    let t = spawn_app(backend, Options::default()).await;
    assert_eq!(t.sync(Range::Scheduled).await.status, RunStatus::Succeeded);
    let windows = t.scalar("SELECT count(*) FROM etl_window").await;
    assert!(windows > 0);
    let days = t.scalar("SELECT count(*) FROM etl_day").await;
    t.clock.advance(TimeDelta::days(91));
    wolkvox_etl::sync::prune_ledger(&t.app.ctx, TimeDelta::days(90)).await;
    assert_eq!(t.scalar("SELECT count(*) FROM etl_window").await, 0);
    assert_eq!(t.scalar("SELECT count(*) FROM etl_day").await, days, "the per-day roll-up stays");
}
}

/// The daemon runs the reconciliation on its own schedule, between the report's normal runs
/// (never beside one), and one request at a time on the token. On the system clock, so the run
/// history's start and end times are real instants that can show an overlap.
#[tokio::test]
async fn the_daemon_reconciles_on_its_schedule_without_overlapping_normal_runs() {
    use wolkvox_etl::clock::Clock;
    use wolkvox_etl::simulator::{Simulator, SimulatorConfig};
    let db = TestDb::new(wolkvox_etl::store::Backend::Postgres).await;
    let config = SimulatorConfig { latency: Duration::from_millis(200), ..SimulatorConfig::default() };
    let sim = Simulator::start(config, Clock::system(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let yesterday =
        wolkvox_etl::time::utc_to_local(chrono_tz::America::Bogota, chrono::Utc::now()).date() - TimeDelta::days(1);
    let env = [
        ("WOLKVOX_ETL__REPORTS__CHAT_14__SCHEDULE", "*/2 * * * * *".to_string()),
        ("WOLKVOX_ETL__RECONCILE__SCHEDULE", "*/3 * * * * *".into()),
        ("WOLKVOX_ETL__SYNC__MAX_WINDOW_DAYS", "1".into()),
        ("WOLKVOX_ETL__SYNC__START_FROM", yesterday.to_string()),
    ];
    let settings = settings(&sim.base_url(), &db.url, &env);
    let app = wolkvox_etl::startup::App::build(settings, Clock::system(), wolkvox_etl::sync::Faults::default())
        .await
        .unwrap();
    let store = app.ctx.db.clone();
    let jobs: Vec<_> = app.jobs.iter().filter(|j| j.config.report.api == "chat_14").cloned().collect();
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(wolkvox_etl::scheduler::run(
        Arc::clone(&app.ctx),
        jobs,
        Vec::new(),
        true,
        app.settings.reconcile.clone(),
        None,
        shutdown.clone(),
    ));
    let deadline = Instant::now() + Duration::from_secs(120);
    let reconciled = "SELECT count(DISTINCT run_id) FROM etl_window WHERE outcome = 'reconciled'";
    let normal = "SELECT count(DISTINCT run_id) FROM etl_window WHERE outcome <> 'reconciled'";
    while scalar(&store, reconciled).await < 2 || scalar(&store, normal).await < 3 {
        assert!(Instant::now() < deadline, "no two reconciliations and three normal runs within 120 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shutdown.cancel();
    handle.await.unwrap().unwrap();
    assert_eq!(sim.stats().simultaneous_violations, 0, "one request at a time on the token");
    let wolkvox_etl::store::Db::Postgres(pool) = &store else { unreachable!() };
    let spans: Vec<(String, chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "SELECT CAST(id AS TEXT), started_at, finished_at FROM etl_run WHERE report = 'chat_14' ORDER BY started_at",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(spans.len() >= 5, "{spans:?}");
    for pair in spans.windows(2) {
        assert!(pair[0].2 <= pair[1].1, "two runs of chat_14 overlapped: {pair:?}");
    }
}

on_both_backends! {
async fn reconcile_on_the_command_line_prints_each_day_and_status_shows_the_last_complete_day(backend) {
    let db = TestDb::new(backend).await;
    let sim = simulator_at_midnight(wolkvox_etl::simulator::SimulatorConfig::default()).await;
    let (out, yesterday) = sync_yesterday(&sim, &db, "chat_14").await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let binary = |args: &[&str]| binary(&sim, &db, "warn", args);
    let mut reconcile = binary(&["reconcile", "--report", "chat_14", "--days", "1"]);
    let out = tokio::task::spawn_blocking(move || reconcile.output().unwrap()).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let stored = scalar(&db.db().await, "SELECT count(*) FROM chat_14").await;
    assert!(stdout.contains("chat_14: succeeded, 1 windows, 1 requests"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "  {yesterday}: complete, {stored} rows stored before, {stored} from the API now, 0 added, 0 changed"
        )),
        "{stdout}"
    );
    let mut status = binary(&["status"]);
    let out = tokio::task::spawn_blocking(move || status.output().unwrap()).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("chat_14      complete to {yesterday}")), "{stdout}");
    let mut json = binary(&["status", "--json"]);
    let out = tokio::task::spawn_blocking(move || json.output().unwrap()).await.unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["completeness"][0]["last_complete_day"], yesterday.to_string(), "{doc}");
}
}

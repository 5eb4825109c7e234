//! The API's own token count (`information.php?api=token_info`): read per token like a report
//! request (the token's permit and lock, one call counted by us and by the API), stored in
//! `etl_token_info`, exported as metrics, checked against the day's budget, and read on the
//! daemon's schedule.

use std::net::SocketAddr;
use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use wolkvox_etl::clock::Clock;
use wolkvox_etl::scheduler;
use wolkvox_etl::simulator::{Simulator, SimulatorConfig};
use wolkvox_etl::store::api_token_count::TokenInfoRead;
use wolkvox_etl::store::runs::RunStatus;
use wolkvox_etl::store::Backend;
use wolkvox_etl::sync::api_token_count::{read_once, ReadOutcome, Reading};
use wolkvox_etl::sync::Range;
use wolkvox_etl::wolkvox::TokenInfo;

use crate::on_both_backends;
use crate::support::*;

/// A token label of this file's own per backend, so tests running side by side in one process
/// do not add to each other's request counters (labelled by token only).
fn label_env(backend: Backend) -> (&'static str, &'static str) {
    match backend {
        Backend::Postgres => ("WOLKVOX_ETL__WOLKVOX__TOKENS__TOKENINFO_PG", "tokeninfo_pg"),
        Backend::Sqlite => ("WOLKVOX_ETL__WOLKVOX__TOKENS__TOKENINFO_LITE", "tokeninfo_lite"),
    }
}

async fn read(t: &TestApp, label: &str) -> Reading {
    let token = t.app.tokens.get(label).expect("the token is configured");
    match read_once(&t.app.ctx, &token).await {
        Ok(ReadOutcome::Read(reading)) => reading,
        other => panic!("the read did not happen: {other:?}"),
    }
}

/// The simulator's defaults, with the harness's short latency.
fn sim_config() -> SimulatorConfig {
    Options::default().sim
}

on_both_backends! {
async fn a_read_reaches_the_database_and_the_metrics_and_costs_one_call_counted_by_us_and_the_api(backend) {
    wolkvox_etl::metrics::install();
    let account = format!("tokeninfo{:x}", fastrand::u32(..));
    let (key, label) = label_env(backend);
    let options = Options {
        sim: SimulatorConfig { other_integration_calls: 40, ..sim_config() },
        env: vec![
            ("WOLKVOX_ETL__WOLKVOX__ACCOUNT", account.clone()),
            (key, TOKEN.to_string()),
            ("WOLKVOX_ETL__REPORTS__CHAT_14__TOKEN", label.to_string()),
        ],
        ..Options::default()
    };
    let t = spawn_app(backend, options).await;
    let outcome = t.sync(Range::Scheduled).await;
    assert_eq!((outcome.status, outcome.counts.requests), (RunStatus::Succeeded, 1));

    let reading = read(&t, label).await;
    // The API counts the sync's call and the read's own; 40 more by other integrations.
    let expected = TokenInfo {
        description: Some("wolkvox-etl simulator".into()),
        limit: Some(1000),
        use_today: Some(2),
        all_today: Some(42),
        available: Some(998),
    };
    assert_eq!(reading.info, expected);
    assert_eq!((reading.our_calls_today, reading.ours_all_tokens), (2, 2));
    assert!(reading.concerns.is_empty(), "40 calls by others is no concern: {:?}", reading.concerns);
    assert_eq!(t.sim.calls_today(TOKEN), 2, "the simulator counted the read");
    assert_eq!(t.sim.token_info_requests(), 1);
    assert_eq!(t.sim.stats().simultaneous_violations, 0);
    let usage = format!("SELECT CAST(SUM(calls) AS BIGINT) FROM etl_token_usage WHERE account = '{account}'");
    assert_eq!(t.scalar(&usage).await, 2, "our budget counted the read");

    let stored = t.db().latest_token_info(&account).await.unwrap();
    assert_eq!(
        stored,
        [TokenInfoRead {
            account: account.clone(),
            token_label: label.into(),
            read_at: test_now(),
            token_limit: Some(1000),
            token_use_today: Some(2),
            all_token_today: Some(42),
            available: Some(998),
            our_calls_today: 2,
        }]
    );

    let text = wolkvox_etl::metrics::render();
    let token_labels = [("account", account.as_str()), ("token", label)];
    assert_eq!(sample(&text, "wolkvox_etl_api_token_limit", &token_labels), 1000.0, "{text}");
    assert_eq!(sample(&text, "wolkvox_etl_api_token_use_today", &token_labels), 2.0);
    assert_eq!(sample(&text, "wolkvox_etl_api_all_tokens_today", &[("account", account.as_str())]), 42.0);
    assert_eq!(sample(&text, "wolkvox_etl_token_calls_today", &token_labels), 2.0);
    let ok = [("report", "token_info"), ("token", label), ("outcome", "ok")];
    assert_eq!(sample(&text, "wolkvox_etl_requests_total", &ok), 1.0);
    assert!(!text.contains(TOKEN), "no secret in the exposition");

    // A later read is one more row of history; `latest` shows it.
    t.clock.advance(chrono::Duration::hours(1));
    assert_eq!(read(&t, label).await.info.use_today, Some(3));
    let rows = format!("SELECT count(*) FROM etl_token_info WHERE account = '{account}'");
    assert_eq!(t.scalar(&rows).await, 2);
    let latest = t.db().latest_token_info(&account).await.unwrap();
    assert_eq!((latest.len(), latest[0].token_use_today, latest[0].read_at), (1, Some(3), t.clock.now()));
}

async fn blank_figures_are_stored_as_null_and_never_fail_the_read(backend) {
    let options = Options { sim: SimulatorConfig { token_info_blank: true, ..sim_config() }, ..Options::default() };
    let t = spawn_app(backend, options).await;
    let reading = read(&t, "default").await;
    let blank = TokenInfo { description: Some("wolkvox-etl simulator".into()), ..TokenInfo::default() };
    assert_eq!(reading.info, blank);
    assert!(reading.concerns.is_empty());
    let nulls = "SELECT count(*) FROM etl_token_info WHERE token_limit IS NULL AND token_use_today IS NULL \
                 AND all_token_today IS NULL AND available IS NULL AND our_calls_today = 1";
    assert_eq!(t.scalar(nulls).await, 1);
}

async fn reads_and_report_runs_on_one_token_take_turns_and_every_call_is_counted(backend) {
    // Every answer takes 50 ms: requests sent together on the one token would overlap.
    let options = Options {
        sim: SimulatorConfig { latency: Duration::from_millis(50), ..sim_config() },
        env: vec![("WOLKVOX_ETL__SYNC__MAX_WINDOW_DAYS", "1".into())],
        ..Options::default()
    };
    let t = Arc::new(spawn_app(backend, options).await);
    let mut work = tokio::task::JoinSet::new();
    for api in ["chat_14", "cdr_1", "agent_14"] {
        let t = Arc::clone(&t);
        work.spawn(async move {
            let job = t.app.job(api).unwrap();
            assert_eq!(t.sync_job(&job, Range::Scheduled).await.status, RunStatus::Succeeded, "{api}");
        });
    }
    for _ in 0..4 {
        let t = Arc::clone(&t);
        work.spawn(async move {
            read(&t, "default").await;
        });
    }
    while let Some(done) = work.join_next().await {
        done.unwrap();
    }
    assert_eq!(t.sim.stats().simultaneous_violations, 0, "one request at a time on the token");
    assert_eq!(t.sim.token_info_requests(), 4);
    // Three one-day windows per report (the 18th to now), and the four reads.
    let calls = t.sim.stats().requests + 4;
    assert_eq!(t.sim.calls_today(TOKEN), calls);
    assert_eq!(t.scalar("SELECT CAST(SUM(calls) AS BIGINT) FROM etl_token_usage").await, calls as i64);
}

async fn the_daemon_reads_every_token_at_start_up_and_on_its_schedule(backend) {
    let options = Options {
        env: vec![
            ("WOLKVOX_ETL__WOLKVOX__TOKENS__FIRST", "first-secret-1".into()),
            ("WOLKVOX_ETL__WOLKVOX__TOKENS__SECOND", "second-secret-2".into()),
            ("WOLKVOX_ETL__TOKEN_INFO__SCHEDULE", "* * * * * *".into()),
        ],
        ..Options::default()
    };
    let t = spawn_app(backend, options).await;
    let labels: Vec<&str> = t.app.token_info.iter().map(|j| j.token.label()).collect();
    assert_eq!(labels.len(), 3, "one job per token: {labels:?}");
    let shutdown = CancellationToken::new();
    let (ctx, jobs) = (Arc::clone(&t.app.ctx), t.app.token_info.clone());
    let reconcile = t.app.settings.reconcile.clone();
    let handle = tokio::spawn(scheduler::run(ctx, Vec::new(), jobs, true, reconcile, None, shutdown.clone()));
    // The start-up reads, then at least one tick's for each token, however slow the machine.
    let secrets = [TOKEN, "first-secret-1", "second-secret-2"];
    let deadline = Instant::now() + Duration::from_secs(60);
    while secrets.iter().any(|s| t.sim.calls_today(s) < 2) {
        assert!(Instant::now() < deadline, "{} reads in 60 s", t.sim.token_info_requests());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(30), handle).await.expect("stops").unwrap().unwrap();
    let reads = t.sim.token_info_requests();
    assert_eq!(t.scalar("SELECT count(DISTINCT token_label) FROM etl_token_info").await, 3);
    assert_eq!(t.scalar("SELECT CAST(SUM(calls) AS BIGINT) FROM etl_token_usage").await, reads as i64);
    assert_eq!(t.sim.stats().simultaneous_violations, 0);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(t.sim.token_info_requests(), reads, "no read after shutdown");
}

async fn other_integrations_using_most_of_the_budget_get_one_warn_with_the_figures(backend) {
    let (out, db) = token_info_command(backend, 900).await;
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains(
            "account default, token default: limit 1000, used today 1 (our count 1), all tokens today 901 \
             (ours 1, others 900), available 999"
        ),
        "{stdout}"
    );
    let warns: Vec<&str> = stderr.lines().filter(|l| l.contains("Other integrations have used")).collect();
    assert_eq!(warns.len(), 1, "{stderr}");
    assert!(warns[0].contains(" WARN ") && warns[0].contains("token=\"default\""), "{}", warns[0]);
    assert!(
        warns[0].contains("Other integrations have used 900 of the operation's 1000 API calls today (90 %"),
        "{}",
        warns[0]
    );
    assert!(!format!("{stdout}{stderr}").contains(TOKEN), "no secret in the output");
    let stored = "SELECT count(*) FROM etl_token_info WHERE all_token_today = 901 AND our_calls_today = 1";
    assert_eq!(scalar(&db.db().await, stored).await, 1);

    // `status` shows the latest read.
    let mut status = std::process::Command::new(env!("CARGO_BIN_EXE_wolkvox-etl"));
    status.env_clear().env("DATABASE_URL", &db.url).env("RUST_LOG", "warn").args(["status", "--json"]);
    let status = tokio::task::spawn_blocking(move || status.output().unwrap()).await.unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let read = &doc["api_token_info"][0];
    assert_eq!((&read["token_label"], &read["all_token_today"], &read["token_limit"]), (&"default".into(), &901.into(), &1000.into()));
}

async fn a_few_calls_by_other_integrations_are_not_warned_about(backend) {
    let (out, _db) = token_info_command(backend, 10).await;
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("all tokens today 11 (ours 1, others 10)"), "{stdout}");
    assert!(stderr.contains("Read the API's token count"), "the log was captured: {stderr}");
    assert!(!stderr.contains("Other integrations have used"), "{stderr}");
}
}

/// `wolkvox-etl token-info` against a simulator on the system clock (the binary's) whose other
/// integrations made `others` calls today; its output and its database.
async fn token_info_command(backend: Backend, others: u64) -> (Output, TestDb) {
    let db = TestDb::new(backend).await;
    let config = SimulatorConfig { other_integration_calls: others, ..sim_config() };
    let sim = Simulator::start(config, Clock::system(), SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let mut cmd = binary(&sim, &db, "info", &["token-info"]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    assert_eq!(sim.token_info_requests(), 1, "one read");
    (out, db)
}

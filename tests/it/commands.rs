//! Commands a new user meets first: `sync --report` of any catalogued report, a mistyped report
//! name, and a demo that never writes into the configured database.

use std::process::Command;

use chrono::Utc;
use wolkvox_etl::clock::Clock;
use wolkvox_etl::simulator::{Simulator, SimulatorConfig};
use wolkvox_etl::store::Backend;
use wolkvox_etl::time::{local_to_utc, utc_to_local};

use crate::on_both_backends;
use crate::support::*;

on_both_backends! {
async fn sync_of_a_report_that_is_not_enabled_creates_its_table_and_stores_its_rows(backend) {
    let bogota = chrono_tz::America::Bogota;
    let today = utc_to_local(bogota, Utc::now()).date();
    let midnight = local_to_utc(bogota, today.and_hms_opt(0, 0, 0).unwrap());
    let sim = Simulator::start(SimulatorConfig::default(), Clock::manual(midnight), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let db = TestDb::new(backend).await;
    let day = today - chrono::Duration::days(1);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wolkvox-etl"));
    cmd.env_clear()
        .env("WOLKVOX_ETL__WOLKVOX__BASE_URL", sim.base_url())
        .env("WOLKVOX_ETL__WOLKVOX__TOKEN", TOKEN)
        .env("DATABASE_URL", &db.url)
        .args(["sync", "--report", "agent_15", "--from", &day.to_string(), "--to", &today.to_string()]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let served = sim.ground_truth("agent_15", day.and_hms_opt(0, 0, 0).unwrap(), day.and_hms_opt(23, 59, 59).unwrap());
    assert!(!served.is_empty());
    assert_eq!(scalar(&db.db().await, "SELECT count(*) FROM agent_15").await, served.len() as i64);
}
}

#[test]
fn a_mistyped_report_is_refused_with_the_closest_names_before_any_request() {
    let out = Command::new(env!("CARGO_BIN_EXE_wolkvox-etl"))
        .env_clear()
        .env("WOLKVOX_ETL__WOLKVOX__TOKEN", TOKEN)
        .env("WOLKVOX_ETL__WOLKVOX__BASE_URL", "http://127.0.0.1:1/api/v2/")
        .env("DATABASE_URL", "postgres://x@127.0.0.1:1/x")
        .args(["sync", "--report", "chat14"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`--report`: \"chat14\" is not a known report"), "{err}");
    assert!(err.contains("did you mean chat_14, chat_4, chat_1?"), "{err}");
}

#[tokio::test]
async fn demo_fills_its_own_sqlite_file_whatever_database_url_says() {
    let dir = TestDb::new(Backend::Sqlite).await;
    let cwd = dir.url.trim_start_matches("sqlite://").trim_end_matches("/etl.db").to_string();
    let out = tokio::task::spawn_blocking({
        let cwd = cwd.clone();
        move || {
            Command::new(env!("CARGO_BIN_EXE_wolkvox-etl"))
                .env_clear()
                .env("NO_COLOR", "1")
                // A production database the demo must never touch (here: one that is down).
                .env("DATABASE_URL", "postgres://etl:secret@127.0.0.1:1/production")
                .current_dir(&cwd)
                .args(["demo", "--once", "--days", "1"])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let file = format!("{cwd}/wolkvox-etl.db");
    assert!(stdout.contains(&format!("Database: SQLite file {file}")), "{stdout}");
    let db = wolkvox_etl::store::Db::connect(&format!("sqlite://{file}").into(), 1).await.unwrap();
    assert!(scalar(&db, "SELECT count(*) FROM chat_14").await > 0);
}

// On SQLite the run lock is a file lock beside the database, so a second process on the same
// file is kept out exactly as a replica on Postgres is.
crate::on_both_backends! {
async fn a_sync_that_another_process_is_already_running_says_so_and_exits_non_zero(backend) {
    let db = TestDb::new(backend).await;
    let frozen = Utc::now() - chrono::Duration::hours(1);
    let config = SimulatorConfig { latency: std::time::Duration::from_millis(1500), ..SimulatorConfig::default() };
    let sim = Simulator::start(config, Clock::manual(frozen), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let binary = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wolkvox-etl"));
        cmd.env_clear()
            .env("WOLKVOX_ETL__WOLKVOX__BASE_URL", sim.base_url())
            .env("WOLKVOX_ETL__WOLKVOX__TOKEN", TOKEN)
            .env("DATABASE_URL", &db.url)
            .env("WOLKVOX_ETL__SYNC__MAX_WINDOW_DAYS", "1")
            .args(args);
        cmd
    };
    // A first sync of three days, one slow request per day: it holds chat_14's run lock.
    let mut first = binary(&["sync", "--report", "chat_14"]).stderr(std::process::Stdio::null()).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while sim.requests().is_empty() {
        assert!(std::time::Instant::now() < deadline, "the first sync never asked the API");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut second = binary(&["sync", "--report", "chat_14"]);
    let out = tokio::task::spawn_blocking(move || second.output().unwrap()).await.unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("chat_14 was not synced: another process (a daemon or another sync) is syncing it now"),
        "{err}"
    );
    assert!(tokio::task::spawn_blocking(move || first.wait().unwrap()).await.unwrap().success());
}
}

/// Two `sync` processes of different reports on one token: the API sees one request at a time
/// when they share a database (its lock), and overlapping requests when they do not (the control
/// that shows the simulator would catch an overlap).
async fn two_processes_on_one_token(shared: bool, backend: Backend) -> u64 {
    let (db_a, db_b) = (TestDb::new(backend).await, TestDb::new(backend).await);
    let frozen = Utc::now() - chrono::Duration::hours(1);
    let config = SimulatorConfig { latency: std::time::Duration::from_millis(600), ..SimulatorConfig::default() };
    let sim = Simulator::start(config, Clock::manual(frozen), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let spawn = |report: &str, url: &str| {
        Command::new(env!("CARGO_BIN_EXE_wolkvox-etl"))
            .env_clear()
            .env("WOLKVOX_ETL__WOLKVOX__BASE_URL", sim.base_url())
            .env("WOLKVOX_ETL__WOLKVOX__TOKEN", TOKEN)
            .env("DATABASE_URL", url)
            .env("WOLKVOX_ETL__SYNC__MAX_WINDOW_DAYS", "1")
            .args(["sync", "--report", report])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let first = spawn("chat_14", &db_a.url);
    let second = spawn("cdr_1", if shared { &db_a.url } else { &db_b.url });
    for child in [first, second] {
        let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
        // Apart, the simulator refuses the overlapping requests, as the API does.
        if shared {
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
    }
    assert!(sim.stats().requests >= 6, "{:?}", sim.stats());
    sim.stats().simultaneous_violations
}

crate::on_both_backends! {
async fn two_processes_on_one_database_send_one_request_at_a_time_per_token(backend) {
    assert_eq!(two_processes_on_one_token(true, backend).await, 0, "one token, one request at a time");
    assert!(two_processes_on_one_token(false, backend).await > 0, "the control: apart, their requests overlap");
}
}

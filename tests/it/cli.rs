//! The binary as an operator runs it: real process, real simulator, real database.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use wolkvox_etl::clock::Clock;
use wolkvox_etl::simulator::{Simulator, SimulatorConfig};
use wolkvox_etl::store::Backend;

use crate::on_both_backends;
use crate::support::*;

fn command(sim: &Simulator, db: &TestDb) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("WOLKVOX_ETL__WOLKVOX__BASE_URL", sim.base_url())
        .env("WOLKVOX_ETL__WOLKVOX__TOKEN", TOKEN)
        .env("DATABASE_URL", &db.url)
        .env("NO_COLOR", "1")
        .env("WOLKVOX_ETL__HTTP__BIND", "127.0.0.1:0");
    cmd
}
async fn system_sim(config: SimulatorConfig) -> Simulator {
    Simulator::start(config, Clock::system(), SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap()
}

fn days_ago(days: i64) -> String {
    let local = wolkvox_etl::time::utc_to_local(chrono_tz::America::Bogota, chrono::Utc::now());
    (local.date() - chrono::Duration::days(days)).format("%Y-%m-%d").to_string()
}

on_both_backends! {
async fn sync_loads_the_rows_a_second_sync_changes_nothing_and_status_shows_the_watermark(backend) {
    let db = TestDb::new(backend).await;
    let sim = system_sim(SimulatorConfig::default()).await;
    // A window that ended a day ago: with the system clock, a window reaching "now" would see
    // rows arrive or change between the two syncs.
    let (from, to) = (days_ago(3), days_ago(1));

    let first = tokio::task::spawn_blocking({
        let mut cmd = command(&sim, &db);
        cmd.args(["sync", "--report", "chat_14", "--from", &from, "--to", &to]);
        move || cmd.output().unwrap()
    })
    .await
    .unwrap();
    assert!(first.status.success(), "{}", text(&first));
    let count = scalar(&db.db().await, "SELECT count(*) FROM chat_14").await;
    // Exactly the simulator's rows of [from, to): two whole local days at 120 chats an hour (their
    // late rows all arrived long ago), `to` excluded; the same keys and values.
    assert_eq!(count, 2 * 24 * 120, "{count} rows");
    let midnight = |day: &str| local(&format!("{day} 00:00:00"));
    let truth = sim.ground_truth("chat_14", midnight(&from), midnight(&to) - chrono::Duration::seconds(1));
    let key = |row: &serde_json::Value| (row["chat_id"].to_string(), row["date"].to_string());
    let truth: std::collections::BTreeMap<_, _> =
        truth.into_iter().map(serde_json::Value::Object).map(|row| (key(&row), row)).collect();
    let raws: Vec<String> = match db.db().await {
        wolkvox_etl::store::Db::Postgres(pool) => {
            sqlx::query_scalar("SELECT raw::text FROM chat_14").fetch_all(&pool).await.unwrap()
        }
        wolkvox_etl::store::Db::Sqlite(pool) => {
            sqlx::query_scalar("SELECT raw FROM chat_14").fetch_all(&pool).await.unwrap()
        }
    };
    let stored = raws.iter().map(|raw| serde_json::from_str(raw).unwrap()).map(|row| (key(&row), row)).collect();
    assert_same_rows(&stored, &truth);

    let second = tokio::task::spawn_blocking({
        let mut cmd = command(&sim, &db);
        cmd.args(["sync", "--report", "chat_14", "--from", &from, "--to", &to]);
        move || cmd.output().unwrap()
    })
    .await
    .unwrap();
    assert!(second.status.success(), "{}", text(&second));
    assert!(
        String::from_utf8_lossy(&second.stdout).contains(" 0 inserted or changed"),
        "{}",
        text(&second)
    );
    assert_eq!(scalar(&db.db().await, "SELECT count(*) FROM chat_14").await, count);

    let status = tokio::task::spawn_blocking({
        let mut cmd = command(&sim, &db);
        cmd.args(["status"]);
        move || cmd.output().unwrap()
    })
    .await
    .unwrap();
    let out = String::from_utf8_lossy(&status.stdout).to_string();
    assert!(status.status.success(), "{}", text(&status));
    let line = out
        .lines()
        .find(|l| l.contains("chat_14"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains("succeeded") && line.contains(&format!("{to} 00:00:00")),
        "{out}"
    );
    // Both syncs' calls are counted against the token's daily budget.
    let calls = out.lines().skip_while(|l| !l.starts_with("token calls today")).find(|l| l.trim_start().starts_with("default"));
    assert!(calls.is_some_and(|l| l.split_whitespace().nth(1) == Some("2")), "{out}");
}
}

#[tokio::test]
async fn a_bad_config_exits_non_zero_and_names_the_key() {
    let out = Command::new(BIN)
        .env_clear()
        .env("WOLKVOX_ETL__WOLKVOX__TIMEZONE", "Mars/Olympus")
        .arg("status")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`wolkvox.timezone`") && err.contains("Fix:"), "{err}");

    let out = Command::new(BIN)
        .env_clear()
        .env("DATABASE_URL", "postgres://x@127.0.0.1:1/x")
        .args(["sync", "--report", "chat_14"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`wolkvox.server`"), "{err}");
}

#[tokio::test]
async fn the_token_is_absent_from_captured_output_at_every_log_level() {
    let db = TestDb::new(Backend::Postgres).await;
    // One simulator that accepts the token, one that rejects it (the error path logs too).
    let accepting = system_sim(SimulatorConfig::default()).await;
    let rejecting = system_sim(SimulatorConfig { tokens: vec!["another".into()], ..SimulatorConfig::default() }).await;
    for (sim, level, format) in
        [(&accepting, "trace", "pretty"), (&accepting, "trace", "json"), (&rejecting, "debug", "pretty")]
    {
        let mut cmd = command(sim, &db);
        cmd.env("RUST_LOG", level).env("WOLKVOX_ETL__LOG__FORMAT", format).args([
            "sync",
            "--report",
            "chat_14",
            "--from",
            &days_ago(1),
        ]);
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
        let all = text(&out);
        assert!(all.contains("chat_14") && all.len() > 500, "logs were captured: {all}");
        assert!(!all.contains(TOKEN), "the token leaked at {level}/{format}");
    }
}

#[tokio::test]
async fn the_daemon_exits_zero_on_sigterm_after_finishing_its_run() {
    let db = TestDb::new(Backend::Postgres).await;
    let sim = system_sim(SimulatorConfig::default()).await;
    let child = command(&sim, &db)
        .env("WOLKVOX_ETL__SYNC__INITIAL_DAYS", "2")
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pool = pg_pool(&db.url).await;
    // Wait for the start-up run to be recorded.
    let mut recorded = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let n: Result<(i64,), _> = sqlx::query_as("SELECT count(*) FROM etl_run").fetch_one(&pool).await;
        if matches!(n, Ok((n,)) if n > 0) {
            recorded = true;
            break;
        }
    }
    assert!(recorded, "the daemon ran chat_14 at start-up");
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let log = String::from_utf8_lossy(&status.stderr);
    assert!(log.contains("scheduler stopped"));
    // The scheduler library's own lifecycle lines are noise by default.
    assert!(!log.contains("Job creator created") && !log.contains("Uninited"), "{log}");
}

#[tokio::test]
async fn demo_once_on_a_fresh_directory_leaves_an_sqlite_file_with_the_simulators_rows() {
    let dir = TestDb::new(Backend::Sqlite).await;
    let cwd = dir.url.trim_start_matches("sqlite://").trim_end_matches("/etl.db").to_string();
    let out = tokio::task::spawn_blocking({
        let cwd = cwd.clone();
        move || {
            Command::new(BIN)
                .env_clear()
                .env("NO_COLOR", "1")
                .current_dir(&cwd)
                .args(["demo", "--once", "--days", "1"])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", text(&out));
    let file = format!("{cwd}/wolkvox-etl.db");
    assert!(stdout.contains(&file), "the summary says where the data is: {stdout}");
    assert!(stdout.contains("chat_14") && stdout.contains("succeeded"), "{stdout}");
    let db = wolkvox_etl::store::Db::connect(&format!("sqlite://{file}").into(), 1).await.unwrap();
    assert!(scalar(&db, "SELECT count(*) FROM chat_14").await > 100);
    // Every report of the default set left rows and a watermark.
    let defaults = wolkvox_etl::config::Settings::load_with_env(None, Default::default()).unwrap();
    for r in &defaults.reports {
        let rows = scalar(&db, &format!("SELECT count(*) FROM {}", r.report.table)).await;
        assert!(rows > 0, "{} is empty", r.report.api);
        let wm = format!("SELECT count(*) FROM etl_watermark WHERE report = '{}'", r.report.api);
        assert_eq!(scalar(&db, &wm).await, r.report.streams.len().max(1) as i64, "{}", r.report.api);
    }
}

#[test]
fn a_database_that_is_down_is_named_with_its_cause_and_without_its_password() {
    let out = Command::new(BIN)
        .env_clear()
        .env("DATABASE_URL", "postgres://etl:hunter2@127.0.0.1:1/wolkvox")
        .arg("status")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot connect to the database postgres://etl:REDACTED@127.0.0.1:1/wolkvox"), "{err}");
    assert!(err.contains("refused"), "the cause is given: {err}");
    assert!(!err.contains("hunter2"), "{err}");
}

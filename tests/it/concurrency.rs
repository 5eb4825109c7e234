//! The README's promise about tokens in the daemon: jobs on different tokens run in parallel, and
//! jobs that share a token queue (never two requests in flight on it).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use wolkvox_etl::clock::Clock;
use wolkvox_etl::simulator::{Simulator, SimulatorConfig};
use wolkvox_etl::store::Backend;

use crate::support::*;

/// Runs the daemon on `config` until `runs` runs are recorded, then stops it with SIGTERM.
async fn run_daemon_until(db: &TestDb, config: &str, runs: i64) {
    let path = std::env::temp_dir().join(format!("wolkvox-concurrency-{:x}.toml", fastrand::u64(..)));
    std::fs::write(&path, config).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_wolkvox-etl"))
        .env_clear()
        .env("DATABASE_URL", &db.url)
        .env("WOLKVOX_ETL__HTTP__BIND", "127.0.0.1:0")
        .args(["--config", path.to_str().unwrap(), "run"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let store = db.db().await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        // The table appears once the daemon has migrated.
        let done = match &store {
            wolkvox_etl::store::Db::Postgres(pool) => {
                sqlx::query_scalar::<_, i64>("SELECT count(*) FROM etl_run").fetch_one(pool).await.unwrap_or(0)
            }
            wolkvox_etl::store::Db::Sqlite(pool) => {
                sqlx::query_scalar::<_, i64>("SELECT count(*) FROM etl_run").fetch_one(pool).await.unwrap_or(0)
            }
        };
        if done >= runs {
            break;
        }
        assert!(Instant::now() < deadline, "{done} of {runs} runs recorded after 2 minutes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_file(&path);
}

/// Every report of the default set but `keep` switched off, so each test runs exactly its own.
fn defaults_off(keep: &[&str]) -> String {
    let defaults = wolkvox_etl::config::Settings::load_with_env(None, Default::default()).unwrap();
    defaults
        .reports
        .iter()
        .filter(|r| !keep.contains(&r.report.api))
        .map(|r| format!("[reports.{}]\nenabled = false\n\n", r.report.api))
        .collect()
}

/// A slow API (every answer takes 400 ms), frozen an hour back.
async fn slow_sim() -> Simulator {
    let config = SimulatorConfig { latency: Duration::from_millis(400), ..SimulatorConfig::default() };
    Simulator::start(config, Clock::manual(Utc::now() - chrono::Duration::hours(1)), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn jobs_on_different_tokens_have_requests_in_flight_at_the_same_time() {
    let db = TestDb::new(Backend::Postgres).await;
    let sim = slow_sim().await;
    // Two operations on one API, each with its own token and one report (a day: one request).
    let mut config = format!("{}[sync]\ninitial_days = 1\nmax_window_days = 31\n\n", defaults_off(&[]));
    for account in ["acme", "globex"] {
        config.push_str(&format!(
            "[accounts.{account}.wolkvox]\nbase_url = \"{}\"\ntoken = \"tok-{account}\"\n\
             [accounts.{account}.reports.chat_14]\nenabled = true\n\n",
            sim.base_url()
        ));
    }
    run_daemon_until(&db, &config, 2).await;
    assert_eq!(sim.stats().simultaneous_violations, 0);
    assert_eq!(sim.peak_tokens_in_flight(), 2, "the two tokens' start-up requests overlapped");
}

#[tokio::test]
async fn jobs_that_share_a_token_queue_and_never_overlap() {
    let db = TestDb::new(Backend::Postgres).await;
    let sim = slow_sim().await;
    // One operation, one token, three reports starting together.
    let reports = ["chat_14", "cdr_1", "agent_14"];
    let mut config = format!(
        "{}[sync]\ninitial_days = 1\nmax_window_days = 31\n\n[wolkvox]\nbase_url = \"{}\"\ntoken = \"{TOKEN}\"\n\n",
        defaults_off(&reports),
        sim.base_url()
    );
    for api in reports {
        config.push_str(&format!("[reports.{api}]\nenabled = true\n\n"));
    }
    run_daemon_until(&db, &config, 3).await;
    assert!(sim.stats().requests >= 3, "{:?}", sim.stats());
    assert_eq!(sim.stats().simultaneous_violations, 0);
    // (A peak of tokens in flight cannot exceed 1 with one token, so it proves nothing here: the
    // simulator's count of simultaneous requests on the token is the check, and the control
    // `pipeline::without_a_shared_token_gate_the_simulator_does_count_simultaneous_requests`
    // shows that count catching a missing gate.)
}

// On SQLite the cross-process lock does nothing, so only the process-wide gate per secret keeps
// the two operations apart; on Postgres the cross-replica lock is per secret too.
crate::on_both_backends! {
async fn two_operations_configured_with_the_same_secret_share_its_one_request_in_flight(backend) {
    let db = TestDb::new(backend).await;
    let sim = slow_sim().await;
    // Two operations, two labels, one secret: the API counts by secret.
    let mut config = format!("{}[sync]\ninitial_days = 1\nmax_window_days = 31\n\n", defaults_off(&[]));
    for account in ["acme", "globex"] {
        config.push_str(&format!(
            "[accounts.{account}.wolkvox]\nbase_url = \"{}\"\ntoken = \"{TOKEN}\"\n\
             [accounts.{account}.reports.chat_14]\nenabled = true\n[accounts.{account}.reports.cdr_1]\nenabled = true\n\n",
            sim.base_url()
        ));
    }
    run_daemon_until(&db, &config, 4).await;
    // Four start-up runs at once on one secret (400 ms each): without one gate per secret in the
    // process they overlap, and the simulator refuses and counts the second request.
    assert!(sim.stats().requests >= 4, "{:?}", sim.stats());
    assert_eq!(sim.stats().simultaneous_violations, 0, "one secret, one request at a time across operations");
}
}

//! Several daemon processes against one Postgres and three operations: every table matches
//! ground truth, no token ever has two requests in flight, and killing a replica loses nothing.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use wolkvox_etl::clock::Clock;
use wolkvox_etl::simulator::{Simulator, SimulatorConfig};
use wolkvox_etl::store::Backend;
use wolkvox_etl::wolkvox::values::utc_to_local;

use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_wolkvox-etl");
const ACCOUNTS: [&str; 3] = ["acme", "globex", "initech"];

fn spawn_replica(config: &std::path::Path, db_url: &str, log: &std::path::Path) -> Child {
    Command::new(BIN)
        .env_clear()
        .env("DATABASE_URL", db_url)
        .env("WOLKVOX_ETL__HTTP__BIND", "127.0.0.1:0")
        .env("WOLKVOX_ETL__LOG__FORMAT", "json")
        .env("RUST_LOG", "info,sqlx=warn")
        .args(["--config", config.to_str().unwrap(), "run"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn three_replicas_share_the_work_keep_one_request_per_token_and_survive_a_kill() {
    let db = TestDb::new(Backend::Postgres).await;
    let dir = std::env::temp_dir().join(format!("wolkvox-replicas-{:x}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();

    // Three operations, each its own simulator (its own data), frozen an hour back so ground
    // truth does not move while the replicas work.
    let frozen = Utc::now() - chrono::Duration::hours(1);
    let bogota = chrono_tz::America::Bogota;
    // Where the replicas start and where ground truth starts come from the same instant, so a
    // local midnight between here and the check cannot make them disagree by a day.
    let start = (utc_to_local(bogota, frozen).date() - chrono::Duration::days(2)).and_hms_opt(0, 0, 0).unwrap();
    let mut sims = Vec::new();
    let mut config =
        format!("[sync]\nschedule = \"*/2 * * * * *\"\nstart_from = \"{}\"\n\n", start.format("%Y-%m-%dT%H:%M:%S"));
    for (i, account) in ACCOUNTS.iter().enumerate() {
        let sim_config =
            SimulatorConfig { seed: 100 + i as u64, latency: Duration::from_millis(30), ..SimulatorConfig::default() };
        let sim = Simulator::start(sim_config, Clock::manual(frozen), "127.0.0.1:0".parse().unwrap()).await.unwrap();
        config.push_str(&format!(
            "[accounts.{account}.wolkvox]\nbase_url = \"{}\"\ntoken = \"tok-{account}\"\n\
             [accounts.{account}.reports.chat_14]\nenabled = true\nschedule = \"*/2 * * * * *\"\n\
             [accounts.{account}.reports.cdr_1]\nenabled = true\nschedule = \"*/2 * * * * *\"\n\n",
            sim.base_url()
        ));
        sims.push(sim);
    }
    // Only the two reports above: the top level's defaults are switched off.
    for api in ["cdr_1", "chat_1", "chat_14", "agent_14", "agent_7", "agent_1", "skill_1", "skill_4", "chat_16"] {
        config = format!("[reports.{api}]\nenabled = false\n\n{config}");
    }
    let config_path = dir.join("replicas.toml");
    std::fs::write(&config_path, &config).unwrap();

    let logs: Vec<_> = (0..3).map(|i| dir.join(format!("replica{i}.log"))).collect();
    let mut replicas: Vec<Child> = logs.iter().map(|log| spawn_replica(&config_path, &db.url, log)).collect();

    // Let them work, then SIGKILL one mid-stream and let the other two carry on.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut killed = replicas.remove(0);
    killed.kill().unwrap();
    let _ = killed.wait();
    tokio::time::sleep(Duration::from_secs(8)).await;
    for child in &replicas {
        assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    }
    for mut child in replicas {
        let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
        assert!(status.success(), "a surviving replica exits cleanly");
    }

    let store = db.db().await;
    let pool = match &store {
        wolkvox_etl::store::Db::Postgres(pool) => pool.clone(),
        wolkvox_etl::store::Db::Sqlite(_) => unreachable!("Postgres test"),
    };
    for (account, sim) in ACCOUNTS.iter().zip(&sims) {
        assert_eq!(sim.stats().simultaneous_violations, 0, "{account}: one request per token across replicas");
        for api in ["chat_14", "cdr_1"] {
            let wm: chrono::DateTime<Utc> =
                sqlx::query_scalar("SELECT watermark FROM etl_watermark WHERE account = $1 AND report = $2")
                    .bind(account)
                    .bind(api)
                    .fetch_one(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("{account}/{api} has a watermark: {e}"));
            let wm_local = utc_to_local(bogota, wm);
            let truth: std::collections::BTreeSet<String> = sim
                .ground_truth(api, start, wm_local - chrono::Duration::seconds(1))
                .into_iter()
                .map(|row| {
                    serde_json::Value::Object(row.into_iter().map(|(k, v)| (k.trim().to_string(), v)).collect())
                        .to_string()
                })
                .collect();
            let stored: Vec<String> =
                sqlx::query_scalar(&format!("SELECT raw::text FROM {api} WHERE account = $1 AND date < $2"))
                    .bind(account)
                    .bind(wm)
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            let stored_set: std::collections::BTreeSet<String> =
                stored.iter().map(|raw| serde_json::from_str::<serde_json::Value>(raw).unwrap().to_string()).collect();
            assert_eq!(stored.len(), stored_set.len(), "{account}/{api}: no duplicates");
            assert!(!truth.is_empty(), "{account}/{api}: a real volume");
            assert_eq!(stored_set, truth, "{account}/{api}: exactly the API's rows");
        }
    }

    // The work was spread: more than one replica finished runs.
    let busy = logs
        .iter()
        .filter(|log| std::fs::read_to_string(log).unwrap_or_default().contains("\"message\":\"Run finished\""))
        .count();
    assert!(busy >= 2, "{busy} replicas did runs");
    let _ = std::fs::remove_dir_all(&dir);
}

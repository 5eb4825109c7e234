//! Several daemon processes against one Postgres and three operations: every table matches
//! ground truth, no token ever has two requests in flight although the replicas are seen waiting
//! on each other for a token's lock, and killing the replica caught holding a stream's run lock
//! hands that stream to a survivor and loses nothing.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use wolkvox_etl::clock::Clock;
use wolkvox_etl::simulator::{Simulator, SimulatorConfig};
use wolkvox_etl::store::Backend;
use wolkvox_etl::time::utc_to_local;

use crate::support::*;

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

/// The key of an advisory lock taken on one `bigint`, as `pg_locks` (aliased `l`) shows it.
const KEY: &str = "((l.classid::bigint << 32) | l.objid::bigint)";
/// The advisory locks taken on one `bigint` (`objsubid` 1), as the daemon takes them.
const ADVISORY: &str = "WHERE l.locktype = 'advisory' AND l.objsubid = 1";
/// Every report stream the replicas sync.
const STREAMS: [(&str, &str); 6] = [
    ("acme", "chat_14"),
    ("acme", "cdr_1"),
    ("globex", "chat_14"),
    ("globex", "cdr_1"),
    ("initech", "chat_14"),
    ("initech", "cdr_1"),
];

/// An advisory-lock key as `src/store/locks.rs` derives it: FNV-1a of `wolkvox-etl`, then each
/// part after a NUL. Written here apart from the daemon: should its derivation change, no lock of
/// these keys is ever seen and the test fails, rather than passing on the wrong locks.
fn lock_key(parts: &[&str]) -> i64 {
    let bytes = "wolkvox-etl".bytes().chain(parts.iter().flat_map(|p| std::iter::once(0u8).chain(p.bytes())));
    fnv1a(bytes) as i64
}

fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// A token's lock: per secret, through its gate name (`src/wolkvox/token.rs`).
fn token_key(secret: &str) -> i64 {
    let gate = format!("{:016x}", fnv1a("wolkvox-etl token gate\0".bytes().chain(secret.bytes())));
    lock_key(&["token", &gate])
}

/// A report stream's run lock (these reports have one stream, named "").
fn run_key(account: &str, report: &str) -> i64 {
    lock_key(&["run", account, report, ""])
}

/// Advisory-lock keys by name, for a failure message.
fn describe_keys(keys: &std::collections::BTreeSet<i64>) -> String {
    let name = |key: i64| {
        if key == lock_key(&["schema"]) {
            return "schema".to_owned();
        }
        let run = STREAMS.iter().find(|(a, r)| run_key(a, r) == key).map(|(a, r)| format!("run {a}/{r}"));
        run.unwrap_or_else(|| format!("{key:#x}"))
    };
    format!("{:?}", keys.iter().map(|k| name(*k)).collect::<Vec<_>>())
}

/// Which replica (its index in `replicas`) holds which stream's run lock right now: the granted
/// advisory locks with a stream's run key, traced from their backend (`client_port` in
/// `pg_stat_activity`) to the replica process with that end of the connection open.
async fn run_lock_holders(pool: &sqlx::PgPool, replicas: &[Child]) -> Vec<(usize, (&'static str, &'static str))> {
    let granted: Vec<(i64, Option<i32>)> = sqlx::query_as(wolkvox_etl::store::sql::built(format!(
        "SELECT {KEY}, a.client_port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid {ADVISORY} AND l.granted"
    )))
    .fetch_all(pool)
    .await
    .unwrap();
    let held: Vec<_> = granted
        .into_iter()
        .filter_map(|(key, port)| Some((STREAMS.into_iter().find(|(a, r)| run_key(a, r) == key)?, port?)))
        .collect();
    if held.is_empty() {
        return Vec::new();
    }
    let ports: Vec<_> = replicas.iter().map(|child| tcp_ports_of(child.id())).collect();
    held.into_iter()
        .filter_map(|(stream, port)| {
            let replica = ports.iter().position(|p| u16::try_from(port).is_ok_and(|port| p.contains(&port)))?;
            Some((replica, stream))
        })
        .collect()
}

/// The local ports of the TCP connections process `pid` has open (its `/proc/<pid>/fd` sockets,
/// looked up in `/proc/net/tcp{,6}`).
fn tcp_ports_of(pid: u32) -> std::collections::HashSet<u16> {
    let sockets: std::collections::HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|link| Some(link.to_str()?.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned()))
        .collect();
    let mut ports = std::collections::HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in std::fs::read_to_string(table).unwrap_or_default().lines().skip(1) {
            // sl local_address rem_address st tx_queue:rx_queue tr:when retrnsmt uid timeout inode
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() > 9 && sockets.contains(fields[9]) {
                let port = fields[1].rsplit(':').next().and_then(|hex| u16::from_str_radix(hex, 16).ok());
                ports.extend(port);
            }
        }
    }
    ports
}

/// Sends `signal` (`-STOP`, `-CONT`) to a replica.
fn signal(child: &Child, signal: &str) {
    assert!(Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap().success());
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
    for api in
        ["cdr_1", "chat_1", "chat_14", "agent_14", "agent_7", "agent_1", "skill_1", "skill_4", "chat_16", "audit_log"]
    {
        config = format!("[reports.{api}]\nenabled = false\n\n{config}");
    }
    // The streams compared are the reports' (the dimensions' reads are runs of their own).
    config = format!("[dimensions]\nenabled = false\n\n{config}");
    let config_path = dir.join("replicas.toml");
    std::fs::write(&config_path, &config).unwrap();

    let logs: Vec<_> = (0..3).map(|i| dir.join(format!("replica{i}.log"))).collect();
    let mut replicas: Vec<Child> = logs.iter().map(|log| spawn_replica(&config_path, &db.url, log)).collect();

    let store = db.db().await;
    let pool = match &store {
        wolkvox_etl::store::Db::Postgres(pool) => pool.clone(),
        wolkvox_etl::store::Db::Sqlite(_) => unreachable!("Postgres test"),
    };
    // Let them work until they have competed for a token: one replica waiting on a token's lock
    // another holds (the schema lock every replica waits on at start-up does not count), and
    // every stream has committed once.
    let token_keys: Vec<i64> = ACCOUNTS.iter().map(|a| token_key(&format!("tok-{a}"))).collect();
    let mut competed = false;
    let mut other_waits = std::collections::BTreeSet::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let waiting: Vec<i64> = sqlx::query_scalar(wolkvox_etl::store::sql::built(format!(
            "SELECT {KEY} FROM pg_locks l {ADVISORY} AND NOT l.granted"
        )))
        .fetch_all(&pool)
        .await
        .unwrap();
        competed |= waiting.iter().any(|k| token_keys.contains(k));
        other_waits.extend(waiting.into_iter().filter(|k| !token_keys.contains(k)));
        let streams: i64 =
            sqlx::query_scalar("SELECT count(*) FROM etl_watermark").fetch_one(&pool).await.unwrap_or_default();
        if competed && streams == 6 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "competed for a token {competed} (waits on other advisory locks: {}), {streams} of 6 streams committed",
            describe_keys(&other_waits)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Kill the replica that holds a stream's run lock, caught in the act: frozen (SIGSTOP) it can
    // let nothing go, so the lock seen granted to its backend after the stop is held at the kill.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let (victim, (account, api), watermark_before) = loop {
        let holders = run_lock_holders(&pool, &replicas).await;
        if let Some(&(victim, stream)) = holders.first() {
            signal(&replicas[victim], "-STOP");
            if run_lock_holders(&pool, &replicas).await.contains(&(victim, stream)) {
                let watermark: chrono::DateTime<Utc> =
                    sqlx::query_scalar("SELECT watermark FROM etl_watermark WHERE account = $1 AND report = $2")
                        .bind(stream.0)
                        .bind(stream.1)
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                break (victim, stream, watermark);
            }
            // It let go between the two looks: let it run and catch another.
            signal(&replicas[victim], "-CONT");
        }
        assert!(std::time::Instant::now() < deadline, "no replica was seen holding a stream's run lock");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let mut killed = replicas.remove(victim);
    killed.kill().unwrap();
    let _ = killed.wait();
    let killed_at = Utc::now();

    // That very stream commits again, on a survivor (the only replicas alive): a run of it that
    // started after the kill moved its watermark past where the dead replica left it.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let taken_over: Option<chrono::DateTime<Utc>> = sqlx::query_scalar(
            "SELECT max(watermark) FROM etl_run WHERE account = $1 AND report = $2 AND started_at > $3 \
             AND status = 'succeeded' AND watermark > $4",
        )
        .bind(account)
        .bind(api)
        .bind(killed_at)
        .bind(watermark_before)
        .fetch_one(&pool)
        .await
        .unwrap();
        let stored: chrono::DateTime<Utc> =
            sqlx::query_scalar("SELECT watermark FROM etl_watermark WHERE account = $1 AND report = $2")
                .bind(account)
                .bind(api)
                .fetch_one(&pool)
                .await
                .unwrap();
        if taken_over.is_some() && stored > watermark_before {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{account}/{api}, whose run lock the killed replica held, did not commit on a survivor: watermark \
             {stored} (at the kill {watermark_before})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Failover: every stream (the dead replica's too) runs again on a survivor — a run that
    // started after the kill is recorded — and commits after the kill.
    let first_runs_sql = "SELECT account, report, EXTRACT(EPOCH FROM min(started_at) - $1)::float8 FROM etl_run \
                          WHERE started_at > $1 GROUP BY account, report ORDER BY account, report";
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let first_runs: Vec<(String, String, f64)> = loop {
        let fresh: i64 = sqlx::query_scalar("SELECT count(*) FROM etl_watermark WHERE updated_at > $1")
            .bind(killed_at)
            .fetch_one(&pool)
            .await
            .unwrap();
        let first_runs: Vec<(String, String, f64)> = sqlx::query_as(wolkvox_etl::store::sql::built(first_runs_sql))
            .bind(killed_at)
            .fetch_all(&pool)
            .await
            .unwrap();
        if fresh == 6 && first_runs.len() == 6 {
            break first_runs;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{fresh} of 6 streams committed after the kill; runs started since: {first_runs:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for child in &replicas {
        assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    }
    for mut child in replicas {
        let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
        assert!(status.success(), "a surviving replica exits cleanly");
    }
    // Each stream's first run after the kill started within two 2-second schedule periods: the
    // dead replica's locks went with its connections, and a survivor took over at a next tick.
    for (account, report, after) in &first_runs {
        assert!(*after <= 4.0, "{account}/{report} first ran {after:.1} s after the kill");
    }

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
            let stored: Vec<String> = sqlx::query_scalar(wolkvox_etl::store::sql::built(format!(
                "SELECT raw::text FROM {api} WHERE account = $1 AND date < $2"
            )))
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

/// The control for the test above: the same replicas, each with a database of its own, so no
/// lock is shared. They must collide on the token — which shows the simulator's violation
/// counter would catch a missing cross-process lock, and that the workload makes them compete.
#[tokio::test]
async fn replicas_that_share_no_lock_send_simultaneous_requests_on_one_token() {
    let dbs = [TestDb::new(Backend::Postgres).await, TestDb::new(Backend::Postgres).await];
    let dir = std::env::temp_dir().join(format!("wolkvox-replicas-{:x}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    let sim_config = SimulatorConfig { latency: Duration::from_millis(300), ..SimulatorConfig::default() };
    let frozen = Utc::now() - chrono::Duration::hours(1);
    let sim = Simulator::start(sim_config, Clock::manual(frozen), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let mut config = format!(
        "[sync]\nschedule = \"* * * * * *\"\ninitial_days = 1\n\n[wolkvox]\nbase_url = \"{}\"\ntoken = \"{TOKEN}\"\n\n",
        sim.base_url()
    );
    for api in ["chat_1", "agent_7", "agent_1", "skill_1", "skill_4", "chat_16", "audit_log"] {
        config.push_str(&format!("[reports.{api}]\nenabled = false\n\n"));
    }
    config.push_str("[dimensions]\nenabled = false\n\n");
    for api in ["chat_14", "cdr_1", "agent_14"] {
        config.push_str(&format!("[reports.{api}]\nenabled = true\nschedule = \"* * * * * *\"\n\n"));
    }
    let config_path = dir.join("replicas.toml");
    std::fs::write(&config_path, &config).unwrap();
    let mut replicas: Vec<Child> = dbs
        .iter()
        .enumerate()
        .map(|(i, db)| spawn_replica(&config_path, &db.url, &dir.join(format!("replica{i}.log"))))
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while sim.stats().simultaneous_violations == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for child in &mut replicas {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(sim.stats().simultaneous_violations > 0, "{:?}", sim.stats());
    let _ = std::fs::remove_dir_all(&dir);
}

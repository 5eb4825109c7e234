//! Several operations in one deployment, as README.md promises them: `--account NAME` (or
//! `WOLKVOX_ETL_ACCOUNT`) restricts any command to one account. Two accounts, each with its own
//! simulator (its own data and token), and the real binary.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use chrono::{NaiveDateTime, Utc};
use serde_json::Value;
use wolkvox_etl::clock::Clock;
use wolkvox_etl::simulator::{Simulator, SimulatorConfig};
use wolkvox_etl::store::watermark::StreamKey;
use wolkvox_etl::store::{Backend, Db};
use wolkvox_etl::time::{local_to_utc, utc_to_local};

use crate::on_both_backends;
use crate::support::*;

const BOGOTA: chrono_tz::Tz = chrono_tz::America::Bogota;

/// What `--account nope` answers, word for word.
const NO_SUCH_ACCOUNT: &str = "error: invalid configuration: `--account`: no account is named \"nope\". \
     Fix: use a name from [accounts.<name>] (or \"default\" for a single-account config)";

/// Two operations, acme and globex, sharing one database; each its own simulator.
struct Deployment {
    db: TestDb,
    acme: Simulator,
    globex: Simulator,
    dir: PathBuf,
    config: PathBuf,
    /// One whole local day that ended more than a day before the instant both simulators are
    /// frozen at (and so before the binary's system clock too).
    from: NaiveDateTime,
    to: NaiveDateTime,
}

async fn deployment(backend: Backend) -> Deployment {
    let db = TestDb::new(backend).await;
    // One instant decides the window and both simulators' clocks, so a local midnight passing
    // during the test cannot make them disagree.
    let now = Utc::now();
    let from = (utc_to_local(BOGOTA, now).date() - chrono::Duration::days(2)).and_hms_opt(0, 0, 0).unwrap();
    let to = from + chrono::Duration::days(1);
    let start = |seed: u64, token: &str| {
        let config = SimulatorConfig {
            seed,
            tokens: vec![token.to_string()],
            latency: Duration::from_millis(1),
            ..SimulatorConfig::default()
        };
        Simulator::start(config, Clock::manual(now), SocketAddr::from(([127, 0, 0, 1], 0)))
    };
    let acme = start(101, "tok-acme").await.unwrap();
    let globex = start(202, "tok-globex").await.unwrap();
    let dir = std::env::temp_dir().join(format!("wolkvox-accounts-{:x}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("accounts.toml");
    std::fs::write(
        &config,
        format!(
            "[accounts.acme.wolkvox]\nbase_url = \"{}\"\ntoken = \"tok-acme\"\n\n\
             [accounts.globex.wolkvox]\nbase_url = \"{}\"\ntoken = \"tok-globex\"\n",
            acme.base_url(),
            globex.base_url()
        ),
    )
    .unwrap();
    Deployment { db, acme, globex, dir, config, from, to }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Deployment {
    /// The binary on this deployment's config and database, nothing inherited from the tests'
    /// environment.
    fn binary(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &self.db.url)
            .env("NO_COLOR", "1")
            .env("WOLKVOX_ETL__HTTP__BIND", "127.0.0.1:0")
            .arg("--config")
            .arg(&self.config)
            .args(args);
        cmd
    }

    /// Runs the binary to completion off the runtime's thread, so the simulators keep serving.
    async fn run(&self, args: &[&str]) -> Output {
        output(self.binary(args)).await
    }

    fn day_args(&self) -> [String; 4] {
        [
            "--from".into(),
            self.from.format("%Y-%m-%d").to_string(),
            "--to".into(),
            self.to.format("%Y-%m-%d").to_string(),
        ]
    }

    async fn sync_chat_14(&self, account: Option<&str>) -> Output {
        let mut args: Vec<String> = account.map(|a| vec!["--account".to_string(), a.to_string()]).unwrap_or_default();
        args.extend(["sync".into(), "--report".into(), "chat_14".into()]);
        args.extend(self.day_args());
        self.run(&args.iter().map(String::as_str).collect::<Vec<_>>()).await
    }

    /// The chat_14 rows the simulator serves for the day, each as canonical JSON.
    fn truth(sim: &Simulator, from: NaiveDateTime, to: NaiveDateTime) -> BTreeSet<String> {
        sim.ground_truth("chat_14", from, to - chrono::Duration::seconds(1))
            .into_iter()
            .map(|row| canonical(Value::Object(row.into_iter().map(|(k, v)| (k.trim().to_string(), v)).collect())))
            .collect()
    }
}

async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("start wolkvox-etl")).await.unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}
/// A row as comparable text, whatever order its fields were stored in.
fn canonical(row: Value) -> String {
    let sorted: std::collections::BTreeMap<String, Value> =
        row.as_object().expect("a row is an object").clone().into_iter().collect();
    serde_json::to_string(&sorted).unwrap()
}

/// The chat_14 rows stored for `account`, each as canonical JSON.
async fn stored_rows(db: &Db, account: &str) -> BTreeSet<String> {
    let raws: Vec<String> = match db {
        Db::Postgres(pool) => {
            sqlx::query_scalar("SELECT raw::text FROM chat_14 WHERE account = $1").bind(account).fetch_all(pool).await
        }
        Db::Sqlite(pool) => {
            sqlx::query_scalar("SELECT raw FROM chat_14 WHERE account = $1").bind(account).fetch_all(pool).await
        }
    }
    .unwrap();
    raws.iter().map(|raw| canonical(serde_json::from_str(raw).unwrap())).collect()
}

/// Rows of three text columns, in order.
async fn rows3(db: &Db, sql: &str) -> Vec<(String, String, String)> {
    match db {
        Db::Postgres(pool) => sqlx::query_as(wolkvox_etl::store::sql::built(sql)).fetch_all(pool).await.unwrap(),
        Db::Sqlite(pool) => sqlx::query_as(wolkvox_etl::store::sql::built(sql)).fetch_all(pool).await.unwrap(),
    }
}

/// The accounts a `status --json` document speaks of: its report lines and its token calls.
fn json_accounts(out: &Output) -> (BTreeSet<String>, BTreeSet<String>) {
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)));
    let accounts = |list: &str| -> BTreeSet<String> {
        doc[list].as_array().unwrap().iter().map(|l| l["account"].as_str().unwrap().to_string()).collect()
    };
    (accounts("reports"), accounts("token_calls_today"))
}

on_both_backends! {
async fn sync_with_account_syncs_only_that_account_and_every_command_sees_only_it(backend) {
    let d = deployment(backend).await;
    let acme_truth = Deployment::truth(&d.acme, d.from, d.to);
    let globex_truth = Deployment::truth(&d.globex, d.from, d.to);
    assert!(!acme_truth.is_empty(), "acme has chats that day");
    assert!(acme_truth.is_disjoint(&globex_truth), "no row is both operations': rows tell whose they are");

    let out = d.sync_chat_14(Some("acme")).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(!stdout(&out).contains("globex"), "{}", text(&out));

    // Exactly acme's rows, under acme's name; nothing for globex, whose API was never asked.
    let db = d.db.db().await;
    assert_eq!(stored_rows(&db, "acme").await, acme_truth, "acme's rows are exactly its API's");
    assert_eq!(scalar(&db, "SELECT count(*) FROM chat_14").await, acme_truth.len() as i64);
    assert_eq!(scalar(&db, "SELECT count(*) FROM chat_14 WHERE account <> 'acme'").await, 0);
    assert_eq!(d.globex.stats().requests, 0, "globex's API was not called");

    // Only acme's watermark, run and token calls, and the watermark is the day's end.
    assert_eq!(
        rows3(&db, "SELECT account, report, stream FROM etl_watermark ORDER BY 1, 2, 3").await,
        [("acme".to_string(), "chat_14".to_string(), String::new())]
    );
    let acme_key = StreamKey { account: "acme", report: "chat_14", stream: "" };
    assert_eq!(db.watermark(acme_key).await.unwrap(), Some(local_to_utc(BOGOTA, d.to)));
    assert_eq!(
        rows3(&db, "SELECT account, report, status FROM etl_run ORDER BY id").await,
        [("acme".to_string(), "chat_14".to_string(), "succeeded".to_string())]
    );
    assert_eq!(
        scalar(&db, "SELECT CAST(COALESCE(SUM(calls), 0) AS BIGINT) FROM etl_token_usage WHERE account = 'acme'").await,
        d.acme.stats().requests as i64,
        "acme's token calls are counted"
    );
    assert_eq!(scalar(&db, "SELECT count(*) FROM etl_token_usage WHERE account <> 'acme'").await, 0);

    // `watermark get` reads the named account's watermark.
    let day_end = format!("chat_14: watermark {} (America/Bogota)", d.to.format("%Y-%m-%d %H:%M:%S"));
    let acme_wm = d.run(&["--account", "acme", "watermark", "get", "--report", "chat_14"]).await;
    assert!(acme_wm.status.success(), "{}", text(&acme_wm));
    assert_eq!(stdout(&acme_wm).trim_end(), day_end, "{}", text(&acme_wm));
    let globex_wm = d.run(&["--account", "globex", "watermark", "get", "--report", "chat_14"]).await;
    assert!(globex_wm.status.success(), "{}", text(&globex_wm));
    assert_eq!(stdout(&globex_wm).trim_end(), "chat_14: watermark none", "{}", text(&globex_wm));

    // `status`: without --account both configured accounts appear; with it, only acme.
    let all = d.run(&["status"]).await;
    assert!(all.status.success(), "{}", text(&all));
    assert!(stdout(&all).contains("globex"), "without --account globex is listed: {}", text(&all));
    let status = d.run(&["--account", "acme", "status"]).await;
    assert!(status.status.success(), "{}", text(&status));
    let table = stdout(&status);
    assert!(table.contains("times are local to each account (acme America/Bogota)"), "{table}");
    let acme_line = format!("acme       chat_14           yes     {}", d.to.format("%Y-%m-%d %H:%M:%S"));
    assert!(table.contains(&acme_line), "{table}");
    assert!(!table.contains("globex"), "{table}");
    let json = d.run(&["--account", "acme", "status", "--json"]).await;
    assert!(json.status.success(), "{}", text(&json));
    let acme_only = BTreeSet::from(["acme".to_string()]);
    assert_eq!(json_accounts(&json), (acme_only.clone(), acme_only), "{}", text(&json));
}
}

#[tokio::test]
async fn status_with_account_hides_the_other_accounts_history_in_the_shared_database() {
    let d = deployment(Backend::Postgres).await;
    let both = d.sync_chat_14(None).await;
    assert!(both.status.success(), "{}", text(&both));
    let db = d.db.db().await;
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM etl_watermark WHERE account = 'globex'").await,
        1,
        "globex has history"
    );

    let status = d.run(&["--account", "acme", "status"]).await;
    assert!(status.status.success(), "{}", text(&status));
    assert!(stdout(&status).contains("acme       chat_14"), "{}", text(&status));
    assert!(!stdout(&status).contains("globex"), "{}", text(&status));

    let json = d.run(&["--account", "acme", "status", "--json"]).await;
    assert!(json.status.success(), "{}", text(&json));
    let acme_only = BTreeSet::from(["acme".to_string()]);
    assert_eq!(json_accounts(&json), (acme_only.clone(), acme_only), "{}", text(&json));
}

#[tokio::test]
async fn check_config_with_account_prints_only_that_accounts_settings() {
    let d = deployment(Backend::Postgres).await;
    let all = d.run(&["check-config"]).await;
    assert!(all.status.success(), "{}", text(&all));
    for account in ["acme", "globex"] {
        assert!(stdout(&all).contains(&format!("######## account {account}\n")), "{}", text(&all));
    }

    let acme = d.run(&["--account", "acme", "check-config"]).await;
    assert!(acme.status.success(), "{}", text(&acme));
    let printed = stdout(&acme);
    assert!(printed.starts_with("[wolkvox]\naccount = \"acme\"\n"), "{printed}");
    assert!(printed.contains(&format!("base_url = \"{}\"", d.acme.base_url())), "{printed}");
    assert!(!printed.contains(&d.globex.base_url()) && !printed.contains("globex"), "{printed}");
    assert!(!printed.contains("########"), "one account, no per-account headers: {printed}");

    // The environment variable does the same as the flag.
    let mut cmd = d.binary(&["check-config"]);
    cmd.env("WOLKVOX_ETL_ACCOUNT", "globex");
    let globex = output(cmd).await;
    assert!(globex.status.success(), "{}", text(&globex));
    let printed = stdout(&globex);
    assert!(printed.starts_with("[wolkvox]\naccount = \"globex\"\n"), "{printed}");
    assert!(printed.contains(&format!("base_url = \"{}\"", d.globex.base_url())), "{printed}");
    assert!(!printed.contains(&d.acme.base_url()) && !printed.contains("acme"), "{printed}");
}

#[tokio::test]
async fn an_unknown_account_is_refused_before_anything_runs_naming_the_flag_and_the_fix() {
    let d = deployment(Backend::Postgres).await;
    let mut runs = Vec::new();
    for args in [vec!["sync", "--report", "chat_14"], vec!["status"], vec!["check-config"], vec!["migrate"]] {
        let mut all = vec!["--account", "nope"];
        all.extend(&args);
        runs.push((format!("--account nope {}", args.join(" ")), d.run(&all).await));
    }
    let mut cmd = d.binary(&["status"]);
    cmd.env("WOLKVOX_ETL_ACCOUNT", "nope");
    runs.push(("WOLKVOX_ETL_ACCOUNT=nope status".into(), output(cmd).await));

    for (what, out) in runs {
        assert_eq!(out.status.code(), Some(1), "{what}: {}", text(&out));
        assert_eq!(String::from_utf8_lossy(&out.stderr).trim_end(), NO_SUCH_ACCOUNT, "{what}");
        assert_eq!(stdout(&out), "", "{what}");
    }
    assert_eq!(d.acme.stats().requests + d.globex.stats().requests, 0, "no API was called");
    let db = d.db.db().await;
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()").await,
        0,
        "the database was not touched"
    );
}

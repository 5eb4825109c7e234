//! The test harness: a fresh Postgres database per test, the simulator on a free loopback port,
//! a manual clock shared by both, and the app wired exactly as `run`/`sync` wire it; the binary
//! and what it printed, a report's stored day, the operator's endpoints. Beside it: `hostile`
//! (an API stand-in that models nothing) and `probe` (a running binary's database, read).

pub mod hostile;
pub mod probe;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::process::Output;
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;
use sqlx::{Connection, PgConnection};
use tokio_util::sync::CancellationToken;
use wolkvox_etl::clock::Clock;
use wolkvox_etl::config::Settings;
use wolkvox_etl::simulator::{Simulator, SimulatorConfig};
use wolkvox_etl::startup::App;
use wolkvox_etl::store::watermark::StreamKey;
use wolkvox_etl::store::{Backend, Db};
use wolkvox_etl::sync::{run_once, Faults, Range, RunOutcome};
use wolkvox_etl::time::utc_to_local;

/// The daemon's binary, as built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_wolkvox-etl");

/// What a run of the binary printed, stdout then stderr.
pub fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The rows stored for local `day` of an aggregate `table`, by their raw JSON, with how many
/// times each is stored.
pub async fn stored_day(t: &TestApp, table: &str, day: &str) -> BTreeMap<String, usize> {
    let sql_pg = format!("SELECT raw::text FROM {table} WHERE day = '{day}'");
    let sql_lite = format!("SELECT raw FROM {table} WHERE day = '{day}'");
    let raws: Vec<String> = match t.db() {
        Db::Postgres(pool) => {
            sqlx::query_scalar(wolkvox_etl::store::sql::built(&sql_pg)).fetch_all(pool).await.unwrap()
        }
        Db::Sqlite(pool) => {
            sqlx::query_scalar(wolkvox_etl::store::sql::built(&sql_lite)).fetch_all(pool).await.unwrap()
        }
    };
    let mut out = BTreeMap::new();
    for raw in raws {
        *out.entry(serde_json::from_str::<Value>(&raw).unwrap().to_string()).or_default() += 1;
    }
    out
}

/// Serves the app's `/metrics`, `/healthz` and `/readyz` on a free loopback port: its address,
/// and the token that stops it.
pub async fn serve_metrics(t: &TestApp) -> (String, CancellationToken) {
    let shutdown = CancellationToken::new();
    let (addr, _task) = wolkvox_etl::http::serve(
        "127.0.0.1:0".parse().unwrap(),
        t.db().clone(),
        Arc::clone(&t.app.ctx.health),
        None,
        shutdown.clone(),
    )
    .await
    .unwrap();
    (addr.to_string(), shutdown)
}

/// The server every test database is created on. Override with TEST_DATABASE_URL.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database of its own for one test, on either backend, removed when the test ends.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    /// Postgres: the database's name; SQLite: the directory holding the file.
    place: String,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        let id = format!("{:016x}", fastrand::u64(..));
        match backend {
            Backend::Postgres => {
                let admin = admin_url();
                let name = format!("wolkvox_test_{id}");
                let mut conn = PgConnection::connect(&admin)
                    .await
                    .unwrap_or_else(|e| panic!("tests need PostgreSQL at {admin} (set TEST_DATABASE_URL): {e}"));
                sqlx::query(wolkvox_etl::store::sql::built(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).expect("admin URL has a database");
                TestDb { backend, url: format!("{base}/{name}"), place: name }
            }
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("wolkvox_test_{id}"));
                std::fs::create_dir_all(&dir).unwrap();
                TestDb {
                    backend,
                    url: format!("sqlite://{}", dir.join("etl.db").display()),
                    place: dir.display().to_string(),
                }
            }
        }
    }
}

impl TestDb {
    /// A connection pool to it, as the daemon would open it.
    pub async fn db(&self) -> Db {
        Db::connect(&self.url.clone().into(), 2).await.expect("connect test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.backend == Backend::Sqlite {
            let _ = std::fs::remove_dir_all(&self.place);
            return;
        }
        let name = self.place.clone();
        // Drop runs outside any runtime guarantee, so clean up on a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let mut conn = PgConnection::connect(&admin_url()).await.ok()?;
                sqlx::query(wolkvox_etl::store::sql::built(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                    .execute(&mut conn)
                    .await
                    .ok()
            })
        })
        .join();
    }
}

/// A pool on a test database as the tests read it: in the daemon's schema, as the daemon's own
/// connections are (the test's superuser would otherwise look in `public`).
pub async fn pg_pool(url: &str) -> sqlx::PgPool {
    use std::str::FromStr;
    let options = sqlx::postgres::PgConnectOptions::from_str(url)
        .expect("a postgres URL")
        .options([("search_path", wolkvox_etl::store::DEFAULT_SCHEMA)]);
    sqlx::PgPool::connect_with(options).await.expect("connect test database")
}

/// One integer from a query that is the same on both backends.
pub async fn scalar(db: &Db, sql: &str) -> i64 {
    match db {
        Db::Postgres(pool) => sqlx::query_scalar(wolkvox_etl::store::sql::built(sql)).fetch_one(pool).await.unwrap(),
        Db::Sqlite(pool) => sqlx::query_scalar(wolkvox_etl::store::sql::built(sql)).fetch_one(pool).await.unwrap(),
    }
}

/// The value of one sample in Prometheus text, matching the metric name and every label given
/// (summed over the samples that match).
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.split(['{', ' ']).next() == Some(name))
        .filter(|l| labels.iter().all(|(k, v)| l.contains(&format!("{k}=\"{v}\""))))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Runs one async test body on each backend: `mod name { postgres, sqlite }`.
#[macro_export]
macro_rules! on_both_backends {
    ($($(#[$meta:meta])* async fn $name:ident($backend:ident) $body:block)*) => {$(
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn body($backend: wolkvox_etl::store::Backend) $body
            #[tokio::test]
            async fn postgres() { body(wolkvox_etl::store::Backend::Postgres).await }
            #[tokio::test]
            async fn sqlite() { body(wolkvox_etl::store::Backend::Sqlite).await }
        }
    )*};
}

/// 10:00 in Bogota on 2026-11-20: a fixed "now" so tests never depend on the wall clock.
pub fn test_now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-20T15:00:00Z").unwrap().to_utc()
}

pub fn local(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
}

pub const TOKEN: &str = "test-token-8c1f2e";

pub struct TestApp {
    /// Held so the database lives (and is removed) with the test.
    #[allow(dead_code)]
    pub test_db: TestDb,
    pub sim: Simulator,
    pub clock: Clock,
    pub app: App,
}

pub struct Options {
    pub sim: SimulatorConfig,
    pub env: Vec<(&'static str, String)>,
    pub faults: Faults,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sim: SimulatorConfig { latency: std::time::Duration::from_millis(1), ..SimulatorConfig::default() },
            env: Vec::new(),
            faults: Faults::default(),
        }
    }
}

/// Settings pointing at `sim_url` and `db_url`, plus `extra` env overrides.
pub fn settings(sim_url: &str, db_url: &str, extra: &[(&'static str, String)]) -> Settings {
    let mut env: HashMap<String, String> = HashMap::from([
        ("WOLKVOX_ETL__WOLKVOX__BASE_URL".into(), sim_url.to_string()),
        ("WOLKVOX_ETL__WOLKVOX__TOKEN".into(), TOKEN.into()),
        ("WOLKVOX_ETL__DATABASE__URL".into(), db_url.to_string()),
        ("WOLKVOX_ETL__SYNC__START_FROM".into(), "2026-11-18".into()),
        ("WOLKVOX_ETL__WOLKVOX__RETRY_INITIAL_BACKOFF_MS".into(), "10".into()),
        ("WOLKVOX_ETL__WOLKVOX__RETRY_MAX_BACKOFF_SECONDS".into(), "1".into()),
    ]);
    for (k, v) in extra {
        env.insert(k.to_string(), v.clone());
    }
    Settings::load_with_env(None, env).expect("test settings are valid")
}

pub async fn spawn_app(backend: Backend, options: Options) -> TestApp {
    spawn_app_on(backend, options, Clock::manual(test_now())).await
}

/// [`spawn_app`] on `clock` (the system clock, for tests of what happens in real time).
pub async fn spawn_app_on(backend: Backend, options: Options, clock: Clock) -> TestApp {
    let test_db = TestDb::new(backend).await;
    let sim = Simulator::start(options.sim, clock.clone(), SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("start simulator");
    let settings = settings(&sim.base_url(), &test_db.url, &options.env);
    let app = App::build(settings, clock.clone(), options.faults).await.expect("build app");
    TestApp { test_db, sim, clock, app }
}

impl TestApp {
    pub async fn sync_job(&self, job: &wolkvox_etl::sync::ReportJob, range: Range) -> RunOutcome {
        run_once(&self.app.ctx, job, range, &CancellationToken::new()).await
    }

    pub async fn sync(&self, range: Range) -> RunOutcome {
        let job = self.app.job("chat_14").expect("chat_14 job");
        run_once(&self.app.ctx, &job, range, &CancellationToken::new()).await
    }

    pub fn db(&self) -> &Db {
        &self.app.ctx.db
    }

    /// chat_14 rows in the database: (chat_id, the API's local date) → raw.
    pub async fn chat_14_rows(&self) -> BTreeMap<(String, String), Value> {
        self.typed_chat_14()
            .await
            .into_iter()
            .map(|r| ((r.chat_id, r.raw["date"].as_str().unwrap_or_default().to_string()), r.raw))
            .collect()
    }

    /// chat_14 rows with their typed columns as stored.
    pub async fn typed_chat_14(&self) -> Vec<StoredChat> {
        const SQL_PG: &str = "SELECT chat_id, date, cod_act, raw::text FROM chat_14 WHERE account = 'default'";
        const SQL_LITE: &str = "SELECT chat_id, date, cod_act, raw FROM chat_14 WHERE account = 'default'";
        let rows: Vec<(String, DateTime<Utc>, Option<String>, String)> = match self.db() {
            Db::Postgres(pool) => sqlx::query_as(SQL_PG).fetch_all(pool).await.unwrap(),
            Db::Sqlite(pool) => sqlx::query_as(SQL_LITE).fetch_all(pool).await.unwrap(),
        };
        rows.into_iter()
            .map(|(chat_id, date, cod_act, raw)| StoredChat {
                chat_id,
                date,
                cod_act,
                raw: serde_json::from_str(&raw).unwrap(),
            })
            .collect()
    }

    /// One integer from a query that is the same on both backends.
    pub async fn scalar(&self, sql: &str) -> i64 {
        scalar(self.db(), sql).await
    }

    /// (chat_id, synced_at) of every chat_14 row, in key order.
    pub async fn synced_at(&self) -> Vec<(String, DateTime<Utc>)> {
        const SQL: &str = "SELECT chat_id, synced_at FROM chat_14 ORDER BY chat_id, date";
        match self.db() {
            Db::Postgres(pool) => sqlx::query_as(SQL).fetch_all(pool).await.unwrap(),
            Db::Sqlite(pool) => sqlx::query_as(SQL).fetch_all(pool).await.unwrap(),
        }
    }

    /// Status and error kind of the latest run.
    pub async fn last_run(&self) -> (String, Option<String>) {
        const SQL: &str = "SELECT status, error_kind FROM etl_run ORDER BY id DESC LIMIT 1";
        match self.db() {
            Db::Postgres(pool) => sqlx::query_as(SQL).fetch_one(pool).await.unwrap(),
            Db::Sqlite(pool) => sqlx::query_as(SQL).fetch_one(pool).await.unwrap(),
        }
    }

    /// What the simulator would answer now for [from, to), in the same shape.
    pub fn truth(&self, from: NaiveDateTime, to: NaiveDateTime) -> BTreeMap<(String, String), Value> {
        self.sim
            .ground_truth("chat_14", from, to - chrono::Duration::seconds(1))
            .into_iter()
            .map(|row| {
                let key = (row["chat_id"].as_str().unwrap().to_string(), row["date"].as_str().unwrap().to_string());
                (key, Value::Object(row))
            })
            .collect()
    }

    pub async fn watermark(&self) -> Option<NaiveDateTime> {
        let key = StreamKey { account: "default", report: "chat_14", stream: "" };
        let w = self.db().watermark(key).await.unwrap();
        w.map(|w| utc_to_local(chrono_tz::America::Bogota, w))
    }
}

/// A chat_14 row as stored.
pub struct StoredChat {
    pub chat_id: String,
    pub date: DateTime<Utc>,
    pub cod_act: Option<String>,
    pub raw: Value,
}

/// Asserts two row sets are equal, showing a readable difference when not.
pub fn assert_same_rows(db: &BTreeMap<(String, String), Value>, truth: &BTreeMap<(String, String), Value>) {
    let missing: Vec<_> = truth.keys().filter(|k| !db.contains_key(*k)).take(5).collect();
    let extra: Vec<_> = db.keys().filter(|k| !truth.contains_key(*k)).take(5).collect();
    let stale: Vec<_> =
        truth.iter().filter(|(k, v)| db.get(*k).is_some_and(|d| d != *v)).map(|(k, _)| k).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty() && stale.is_empty(),
        "db has {} rows, truth {}; missing {missing:?}; extra {extra:?}; stale {stale:?}",
        db.len(),
        truth.len()
    );
}

/// The real binary pointed at `sim` and `db` (a clean environment, plain logs at `log`), to run
/// with `args`.
pub fn binary(sim: &Simulator, db: &TestDb, log: &str, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(BIN);
    cmd.env_clear()
        .env("WOLKVOX_ETL__WOLKVOX__BASE_URL", sim.base_url())
        .env("WOLKVOX_ETL__WOLKVOX__TOKEN", TOKEN)
        .env("DATABASE_URL", &db.url)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", log)
        .args(args);
    cmd
}

/// `sync --report api` of yesterday (Bogotá) against `sim`; returns the output and the day.
pub async fn sync_yesterday(sim: &Simulator, db: &TestDb, api: &str) -> (std::process::Output, chrono::NaiveDate) {
    // The simulator's own day, not a second reading of the wall clock: the two would disagree
    // across a midnight (05:00 UTC in Bogotá).
    let today = sim.now_local().date();
    let day = today - chrono::Duration::days(1);
    let (from, to) = (day.to_string(), today.to_string());
    let mut cmd = binary(sim, db, "warn", &["sync", "--report", api, "--from", &from, "--to", &to]);
    (tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap(), day)
}

/// A simulator whose clock is frozen at the start of today (Bogotá), so yesterday is complete.
pub async fn simulator_at_midnight(config: SimulatorConfig) -> Simulator {
    let bogota = chrono_tz::America::Bogota;
    let today = utc_to_local(bogota, Utc::now()).date().and_hms_opt(0, 0, 0).unwrap();
    let at = wolkvox_etl::time::local_to_utc(bogota, today);
    Simulator::start(config, Clock::manual(at), "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

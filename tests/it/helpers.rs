//! The test harness: a fresh Postgres database per test, the simulator on a free loopback port,
//! a manual clock shared by both, and the app wired exactly as `run`/`sync` wire it.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;
use sqlx::{Connection, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use wolkvox_etl::clock::Clock;
use wolkvox_etl::config::Settings;
use wolkvox_etl::simulator::{Simulator, SimulatorConfig};
use wolkvox_etl::startup::App;
use wolkvox_etl::sync::{run_once, Faults, Range, RunOutcome};
use wolkvox_etl::wolkvox::values::utc_to_local;

/// The server every test database is created on. Override with TEST_DATABASE_URL.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database of its own for one test, dropped when the test ends.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let admin = admin_url();
        let name = format!("wolkvox_test_{:016x}", fastrand::u64(..));
        let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!("tests need PostgreSQL at {admin} (set TEST_DATABASE_URL): {e}")
        });
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let base = admin
            .rsplit_once('/')
            .map(|(b, _)| b.to_string())
            .expect("admin URL has a database");
        TestDb {
            url: format!("{base}/{name}"),
            name,
        }
    }

    pub async fn pool(&self) -> PgPool {
        PgPool::connect(&self.url)
            .await
            .expect("connect test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside any runtime guarantee, so clean up on a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut conn = PgConnection::connect(&admin_url()).await.ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .ok()
            })
        })
        .join();
    }
}

/// 10:00 in Bogota on 2026-11-20: a fixed "now" so tests never depend on the wall clock.
pub fn test_now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-20T15:00:00Z")
        .unwrap()
        .to_utc()
}

pub fn local(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
}

pub const TOKEN: &str = "test-token-8c1f2e";

pub struct TestApp {
    /// Held so the database lives (and is dropped) with the test.
    #[allow(dead_code)]
    pub db: TestDb,
    pub sim: Simulator,
    pub clock: Clock,
    pub app: App,
    pub pool: PgPool,
}

pub struct Options {
    pub sim: SimulatorConfig,
    pub env: Vec<(&'static str, String)>,
    pub faults: Faults,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sim: SimulatorConfig {
                latency: std::time::Duration::from_millis(1),
                ..SimulatorConfig::default()
            },
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
        (
            "WOLKVOX_ETL__WOLKVOX__RETRY_INITIAL_BACKOFF_MS".into(),
            "10".into(),
        ),
        (
            "WOLKVOX_ETL__WOLKVOX__RETRY_MAX_BACKOFF_SECONDS".into(),
            "1".into(),
        ),
    ]);
    for (k, v) in extra {
        env.insert(k.to_string(), v.clone());
    }
    Settings::load_with_env(None, env).expect("test settings are valid")
}

pub async fn spawn_app(options: Options) -> TestApp {
    let db = TestDb::new().await;
    let clock = Clock::manual(test_now());
    let sim = Simulator::start(
        options.sim,
        clock.clone(),
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .expect("start simulator");
    let settings = settings(&sim.base_url(), &db.url, &options.env);
    let app = App::build(settings, clock.clone(), options.faults)
        .await
        .expect("build app");
    let pool = db.pool().await;
    TestApp {
        db,
        sim,
        clock,
        app,
        pool,
    }
}

impl TestApp {
    pub async fn sync(&self, range: Range) -> RunOutcome {
        let job = self.app.job("chat_14").expect("chat_14 job");
        run_once(&self.app.ctx, &job, range, &CancellationToken::new()).await
    }

    /// chat_14 rows in the database: (chat_id, local date) → raw.
    pub async fn chat_14_rows(&self) -> BTreeMap<(String, String), Value> {
        let rows: Vec<(String, String, Value)> = sqlx::query_as(
            "SELECT chat_id, to_char(date AT TIME ZONE 'America/Bogota', 'YYYY-MM-DD HH24:MI:SS'), raw
             FROM chat_14 WHERE account = 'default'",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap();
        rows.into_iter()
            .map(|(id, date, raw)| ((id, date), raw))
            .collect()
    }

    /// What the simulator would answer now for [from, to), in the same shape.
    pub fn truth(
        &self,
        from: NaiveDateTime,
        to: NaiveDateTime,
    ) -> BTreeMap<(String, String), Value> {
        self.sim
            .ground_truth("chat_14", from, to - chrono::Duration::seconds(1))
            .into_iter()
            .map(|row| {
                let key = (
                    row["chat_id"].as_str().unwrap().to_string(),
                    row["date"].as_str().unwrap().to_string(),
                );
                (key, Value::Object(row))
            })
            .collect()
    }

    pub async fn watermark(&self) -> Option<NaiveDateTime> {
        let w: Option<(DateTime<Utc>,)> = sqlx::query_as(
            "SELECT watermark FROM etl_watermark WHERE account = 'default' AND report = 'chat_14'",
        )
        .fetch_optional(&self.pool)
        .await
        .unwrap();
        w.map(|(w,)| utc_to_local(chrono_tz::America::Bogota, w))
    }
}

/// Asserts two row sets are equal, showing a readable difference when not.
pub fn assert_same_rows(
    db: &BTreeMap<(String, String), Value>,
    truth: &BTreeMap<(String, String), Value>,
) {
    let missing: Vec<_> = truth
        .keys()
        .filter(|k| !db.contains_key(*k))
        .take(5)
        .collect();
    let extra: Vec<_> = db
        .keys()
        .filter(|k| !truth.contains_key(*k))
        .take(5)
        .collect();
    let stale: Vec<_> = truth
        .iter()
        .filter(|(k, v)| db.get(*k).is_some_and(|d| d != *v))
        .map(|(k, _)| k)
        .take(5)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && stale.is_empty(),
        "db has {} rows, truth {}; missing {missing:?}; extra {extra:?}; stale {stale:?}",
        db.len(),
        truth.len()
    );
}

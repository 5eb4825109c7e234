//! Upgrades and rollback, as README.md promises them: `migrate` only ever adds to a report table
//! (a missing catalogue field comes back as a nullable column; rows and columns the catalogue
//! does not know stay), and a binary refuses a database that a newer release has migrated.
//! Everything runs the real binary against a fresh database, on both backends.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, Utc};
use wolkvox_etl::clock::Clock;
use wolkvox_etl::simulator::{Simulator, SimulatorConfig};
use wolkvox_etl::store::{Backend, Db, PG_MIGRATOR, SQLITE_MIGRATOR};
use wolkvox_etl::time::utc_to_local;

use crate::on_both_backends;
use crate::support::*;

/// A migration version no release has: what a database migrated by a future release holds.
const NEWER: i64 = 20_991_231_000_000;

/// What the binary says when the database holds a migration it does not know.
fn refusal() -> String {
    format!(
        "error: cannot prepare the database schema: this database was migrated by a newer wolkvox-etl \
         (its migration {NEWER} is unknown to this binary). Fix: run that newer release, or restore the \
         database backup taken before the upgrade"
    )
}

/// The binary pointed at `db`, with nothing inherited from the environment running the tests.
fn binary(db: &TestDb) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &db.url)
        .env("NO_COLOR", "1")
        .env("WOLKVOX_ETL__HTTP__BIND", "127.0.0.1:0");
    cmd
}

/// Runs `cmd` to completion off the runtime's thread, so an in-process simulator keeps serving.
async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("start wolkvox-etl")).await.unwrap()
}
async fn migrate(db: &TestDb) -> Output {
    let mut cmd = binary(db);
    cmd.arg("migrate");
    output(cmd).await
}

/// One whole local day that ended more than a day before `now` (in Bogota, the simulator's and
/// the default zone), so neither the binary's system clock nor the simulator's can reach it.
fn past_day(now: DateTime<Utc>) -> (NaiveDateTime, NaiveDateTime) {
    let today = utc_to_local(chrono_tz::America::Bogota, now).date();
    let from = (today - chrono::Duration::days(2)).and_hms_opt(0, 0, 0).unwrap();
    (from, from + chrono::Duration::days(1))
}

/// A column's type as the backend reports it and whether it accepts NULL; `None` if absent.
async fn column(db: &Db, table: &str, name: &str) -> Option<(String, bool)> {
    match db {
        Db::Postgres(pool) => sqlx::query_as::<_, (String, String)>(
            "SELECT data_type::text, is_nullable::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2",
        )
        .bind(table)
        .bind(name)
        .fetch_optional(pool)
        .await
        .unwrap()
        .map(|(ty, nullable)| (ty, nullable == "YES")),
        Db::Sqlite(pool) => {
            sqlx::query_as::<_, (String, i64)>("SELECT type, \"notnull\" FROM pragma_table_info($1) WHERE name = $2")
                .bind(table)
                .bind(name)
                .fetch_optional(pool)
                .await
                .unwrap()
                .map(|(ty, not_null)| (ty, not_null == 0))
        }
    }
}

async fn execute(db: &Db, sql: &str) {
    match db {
        Db::Postgres(pool) => {
            sqlx::query(wolkvox_etl::store::sql::built(sql)).execute(pool).await.unwrap();
        }
        Db::Sqlite(pool) => {
            sqlx::query(wolkvox_etl::store::sql::built(sql)).execute(pool).await.unwrap();
        }
    }
}

/// Distinct values of `key` fields among the rows the simulator serves for `[from, to)`.
fn truth_keys(sim: &Simulator, api: &str, key: &[&str], from: NaiveDateTime, to: NaiveDateTime) -> usize {
    let rows = sim.ground_truth(api, from, to - chrono::Duration::seconds(1));
    let keys: BTreeSet<Vec<String>> =
        rows.iter().map(|row| key.iter().map(|k| row[*k].to_string()).collect()).collect();
    keys.len()
}

on_both_backends! {
async fn migrate_adds_back_a_missing_catalogue_field_as_a_nullable_column_and_drops_nothing(backend) {
    let db = TestDb::new(backend).await;
    let first = migrate(&db).await;
    assert!(first.status.success(), "{}", text(&first));

    // Real rows in two report tables, synced by the binary from a simulator frozen at `now`.
    let now = Utc::now();
    let (from, to) = past_day(now);
    let sim = Simulator::start(
        SimulatorConfig { latency: Duration::from_millis(1), ..SimulatorConfig::default() },
        Clock::manual(now),
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .unwrap();
    for report in ["chat_14", "cdr_1"] {
        let mut cmd = binary(&db);
        cmd.env("WOLKVOX_ETL__WOLKVOX__BASE_URL", sim.base_url()).env("WOLKVOX_ETL__WOLKVOX__TOKEN", TOKEN).args([
            "sync",
            "--report",
            report,
            "--from",
            &from.format("%Y-%m-%d").to_string(),
            "--to",
            &to.format("%Y-%m-%d").to_string(),
        ]);
        let out = output(cmd).await;
        assert!(out.status.success(), "sync {report}: {}", text(&out));
    }
    let store = db.db().await;
    let chats = scalar(&store, "SELECT count(*) FROM chat_14").await;
    let calls = scalar(&store, "SELECT count(*) FROM cdr_1").await;
    assert_eq!(chats, truth_keys(&sim, "chat_14", &["chat_id", "date"], from, to) as i64, "chat_14 holds the day");
    let call_keys = truth_keys(&sim, "cdr_1", &["conn_id", "agent_id", "date"], from, to);
    assert_eq!(calls, call_keys as i64, "cdr_1 holds the day");
    assert!(chats > 0 && calls > 0, "{chats} chats, {calls} calls: a real volume");

    // The schema an older release left: two catalogue fields it did not have yet, and a column
    // an analyst added that no catalogue knows.
    let (text_type, int_type) = match backend {
        Backend::Postgres => ("text", "bigint"),
        Backend::Sqlite => ("TEXT", "INTEGER"),
    };
    execute(&store, "ALTER TABLE chat_14 DROP COLUMN cod_act").await;
    execute(&store, "ALTER TABLE cdr_1 DROP COLUMN time_seg").await;
    execute(&store, &format!("ALTER TABLE chat_14 ADD COLUMN analyst_note {text_type}")).await;
    execute(&store, "UPDATE chat_14 SET analyst_note = 'checked by QA'").await;
    if backend == Backend::Postgres {
        // A type an operator chose for a catalogue column: an upgrade must not retype it back.
        execute(&store, "ALTER TABLE chat_14 ALTER COLUMN agent_id TYPE varchar(64)").await;
    }
    assert_eq!(column(&store, "chat_14", "cod_act").await, None, "the older schema lacks chat_14.cod_act");
    assert_eq!(column(&store, "cdr_1", "time_seg").await, None, "the older schema lacks cdr_1.time_seg");
    store.close().await;

    let again = migrate(&db).await;
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(String::from_utf8_lossy(&again.stdout).trim_end(), "Migrations applied.", "{}", text(&again));

    let store = db.db().await;
    let nullable = |ty: &str| Some((ty.to_string(), true));
    assert_eq!(column(&store, "chat_14", "cod_act").await, nullable(text_type), "cod_act is back as nullable text");
    assert_eq!(column(&store, "cdr_1", "time_seg").await, nullable(int_type), "time_seg is back as a nullable integer");
    assert_eq!(column(&store, "chat_14", "analyst_note").await, nullable(text_type), "the analyst's column stays");
    if backend == Backend::Postgres {
        assert_eq!(
            column(&store, "chat_14", "agent_id").await,
            Some(("character varying".to_string(), true)),
            "the operator's type stays"
        );
    }
    assert_eq!(scalar(&store, "SELECT count(*) FROM chat_14").await, chats, "every chat_14 row stays");
    assert_eq!(
        scalar(&store, "SELECT count(*) FROM chat_14 WHERE analyst_note = 'checked by QA'").await,
        chats,
        "every value in the analyst's column stays"
    );
    assert_eq!(scalar(&store, "SELECT count(*) FROM cdr_1").await, calls, "every cdr_1 row stays");
}

async fn a_database_migrated_by_a_newer_release_is_refused_by_migrate_status_and_run(backend) {
    let db = TestDb::new(backend).await;
    let first = migrate(&db).await;
    assert!(first.status.success(), "{}", text(&first));
    let embedded = match backend {
        Backend::Postgres => &PG_MIGRATOR,
        Backend::Sqlite => &SQLITE_MIGRATOR,
    };
    assert!(embedded.iter().all(|m| m.version < NEWER), "{NEWER} is newer than every embedded migration");

    // What a newer release's `migrate` leaves behind: one more applied, successful migration.
    let store = db.db().await;
    const INSERT: &str = "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
                          VALUES ($1, 'added by a newer release', $2, $3, 7)";
    match &store {
        Db::Postgres(pool) => {
            sqlx::query(INSERT).bind(NEWER).bind(true).bind(vec![0u8; 48]).execute(pool).await.unwrap();
        }
        Db::Sqlite(pool) => {
            sqlx::query(INSERT).bind(NEWER).bind(true).bind(vec![0u8; 48]).execute(pool).await.unwrap();
        }
    }
    store.close().await;

    for command in ["migrate", "status"] {
        let mut cmd = binary(&db);
        cmd.arg(command);
        let out = output(cmd).await;
        assert_eq!(out.status.code(), Some(1), "{command} must refuse: {}", text(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains(&refusal()), "{command}: {}", text(&out));
    }

    // The daemon must not start either: it exits on its own, well before this deadline.
    let mut cmd = binary(&db);
    cmd.env("WOLKVOX_ETL__WOLKVOX__BASE_URL", "http://127.0.0.1:9/api/v2/")
        .env("WOLKVOX_ETL__WOLKVOX__TOKEN", TOKEN)
        .env("WOLKVOX_ETL__SYNC__RUN_ON_START", "false")
        .arg("run")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().expect("start wolkvox-etl run");
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("`run` started on a database migrated by a newer release");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1), "run must refuse: {}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&refusal()), "run: {}", text(&out));

    // Refusing changed nothing, and the newer migration was the only reason.
    let store = db.db().await;
    assert_eq!(scalar(&store, &format!("SELECT count(*) FROM _sqlx_migrations WHERE version = {NEWER}")).await, 1);
    execute(&store, &format!("DELETE FROM _sqlx_migrations WHERE version = {NEWER}")).await;
    store.close().await;
    let after = migrate(&db).await;
    assert!(after.status.success(), "without the unknown migration, migrate succeeds: {}", text(&after));
}
}

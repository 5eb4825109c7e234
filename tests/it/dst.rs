//! Daylight saving, through the simulator, on both backends: an operation in a zone with DST
//! syncs across a clock change and ends with exactly the simulator's rows and a watermark at
//! the instant its requests reached — never past it (spring forward), never held back by the
//! repeated hour (fall back). Every run re-reads from the first date (a three-day look-back), so
//! the table must equal the ground truth of everything requested. A per-hour report's answer
//! for a fall-back day names the repeated hour twice, once per pass: both are stored, under
//! keys of their own, and a table keyed before passes existed is upgraded in place.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::Value;
use wolkvox_etl::simulator::{Simulator, SimulatorConfig};
use wolkvox_etl::store::runs::RunStatus;
use wolkvox_etl::store::watermark::StreamKey;
use wolkvox_etl::store::{Backend, Db};
use wolkvox_etl::sync::Range;

use crate::on_both_backends;
use crate::support::*;

fn z(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

/// An operation in `tz` (the daemon's `wolkvox.timezone` and the simulator's zone) whose reports
/// start at `start_from`, with the clock at `now`.
async fn app_in(backend: wolkvox_etl::store::Backend, tz: Tz, start_from: &str, now: &str) -> TestApp {
    let sim =
        SimulatorConfig { timezone: tz, latency: std::time::Duration::from_millis(1), ..SimulatorConfig::default() };
    let env = vec![
        ("WOLKVOX_ETL__WOLKVOX__TIMEZONE", tz.name().to_string()),
        ("WOLKVOX_ETL__SYNC__START_FROM", start_from.to_string()),
        ("WOLKVOX_ETL__SYNC__LOOKBACK_MINUTES", "4320".to_string()),
    ];
    let t = spawn_app(backend, Options { sim, env, ..Options::default() }).await;
    t.clock.set(z(now));
    t
}

async fn watermark(t: &TestApp, report: &str) -> Option<DateTime<Utc>> {
    t.db().watermark(StreamKey { account: "default", report, stream: "" }).await.unwrap()
}

/// The simulator's last request: its `date_ini` and `date_end`.
fn last_request(t: &TestApp) -> (String, String) {
    let last = t.sim.requests().pop().expect("a request");
    (last.date_ini, last.date_end)
}

on_both_backends! {
    /// New York falls back at 06:00Z on 2026-11-01: 01:00–01:59:59 happens twice. The second run
    /// starts in the second pass, its local time before the first run's watermark: it still
    /// reads up to now − settle, asks for the repeated hour whole, and moves the watermark on.
    async fn a_sync_across_the_fall_back_reads_both_passes_of_the_repeated_hour(backend) {
        let t = app_in(backend, chrono_tz::America::New_York, "2026-10-31", "2026-11-01T05:30:00Z").await;
        // 01:30 EDT, the first pass.
        let first = t.sync(Range::Scheduled).await;
        assert_eq!(first.status, RunStatus::Succeeded, "{:?}", first.error);
        assert_eq!(watermark(&t, "chat_14").await, Some(z("2026-11-01T05:28:00Z")));
        assert_eq!(last_request(&t), ("20261031000000".into(), "20261101012759".into()));

        // 01:15 EST, the second pass.
        t.clock.set(z("2026-11-01T06:15:00Z"));
        let second = t.sync(Range::Scheduled).await;
        assert_eq!(second.status, RunStatus::Succeeded, "{:?}", second.error);
        assert_eq!(watermark(&t, "chat_14").await, Some(z("2026-11-01T06:13:00Z")));
        assert_eq!(last_request(&t), ("20261031000000".into(), "20261101015959".into()));

        let truth = t.truth(local("2026-10-31 00:00:00"), local("2026-11-01 02:00:00"));
        let repeated = truth.keys().filter(|(_, date)| date.starts_with("2026-11-01 01:")).count();
        // One pass holds at most 120 rows (the hourly rate): more are rows of both passes.
        assert!(repeated > 120, "both passes are in the ground truth: {repeated}");
        assert_same_rows(&t.chat_14_rows().await, &truth);
    }

    /// Santiago springs forward at 04:00Z on 2026-09-06: 09-06 00:00–00:59:59 never happens. A
    /// minute after the change, now − settle reads 00:59 local, a time that does not exist: the
    /// watermark is the instant the request reached (03:59Z), not an hour past it.
    async fn a_sync_just_after_the_spring_forward_puts_the_watermark_where_its_rows_end(backend) {
        let t = app_in(backend, chrono_tz::America::Santiago, "2026-09-05", "2026-09-06T04:01:00Z").await;
        let first = t.sync(Range::Scheduled).await;
        assert_eq!(first.status, RunStatus::Succeeded, "{:?}", first.error);
        assert_eq!(watermark(&t, "chat_14").await, Some(z("2026-09-06T03:59:00Z")));
        assert_eq!(last_request(&t), ("20260905000000".into(), "20260905235859".into()));

        // 02:30 local (−03).
        t.clock.set(z("2026-09-06T05:30:00Z"));
        let second = t.sync(Range::Scheduled).await;
        assert_eq!(second.status, RunStatus::Succeeded, "{:?}", second.error);
        assert_eq!(watermark(&t, "chat_14").await, Some(z("2026-09-06T05:28:00Z")));
        assert_eq!(last_request(&t), ("20260905000000".into(), "20260906022759".into()));

        let truth = t.truth(local("2026-09-05 00:00:00"), local("2026-09-06 02:28:00"));
        assert!(truth.keys().all(|(_, date)| !date.starts_with("2026-09-06 00:")), "no row in the skipped hour");
        assert!(truth.keys().any(|(_, date)| date.starts_with("2026-09-06 01:")), "rows after the change");
        assert_same_rows(&t.chat_14_rows().await, &truth);
    }

    /// An aggregate's day without a midnight (Santiago, 2026-09-06) is one 23-hour window from
    /// the clock change, and holds exactly that day's totals; its neighbours stay whole.
    async fn an_aggregate_day_without_a_midnight_is_read_from_the_clock_change(backend) {
        let t = app_in(backend, chrono_tz::America::Santiago, "2026-09-05", "2026-09-08T12:00:00Z").await;
        let report = wolkvox_etl::wolkvox::catalog::find("agent_1").unwrap();
        t.db().migrate(&[report]).await.unwrap();
        let job = t.app.job("agent_1").unwrap();
        let range = Range::Explicit { from: local("2026-09-05 00:00:00"), to: Some(local("2026-09-08 00:00:00")) };
        let outcome = t.sync_job(&job, range).await;
        assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
        let asked: Vec<(String, String)> = t.sim.requests().into_iter().map(|r| (r.date_ini, r.date_end)).collect();
        assert_eq!(
            asked,
            [
                ("20260905000000".to_string(), "20260905235959".to_string()),
                ("20260906010000".to_string(), "20260906235959".to_string()),
                ("20260907000000".to_string(), "20260907235959".to_string()),
            ]
        );
        assert_eq!(watermark(&t, "agent_1").await, Some(z("2026-09-08T03:00:00Z")));
        for day in ["2026-09-05", "2026-09-06", "2026-09-07"] {
            let (from, to) = (local(&format!("{day} 00:00:00")), local(&format!("{day} 23:59:59")));
            let mut want = BTreeMap::new();
            for row in t.sim.ground_truth("agent_1", from, to) {
                *want.entry(Value::Object(row).to_string()).or_insert(0) += 1;
            }
            assert!(!want.is_empty(), "{day} has rows");
            assert_eq!(stored_day(&t, "agent_1", day).await, want, "{day}");
        }
    }
}

/// New York's fall-back day: 01:00–01:59:59 happens twice (EDT, then EST from 06:00Z).
const FALL_BACK: &str = "2026-11-01";

/// The rows of `sql` (every column read as text) on either backend, sorted.
async fn texts(db: &Db, sql: &str) -> Vec<Vec<Option<String>>> {
    use sqlx::Row;
    let mut rows: Vec<Vec<Option<String>>> = match db {
        Db::Postgres(pool) => {
            let rows = sqlx::query(wolkvox_etl::store::sql::built(sql))
                .fetch_all(pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            rows.iter().map(|r| (0..r.len()).map(|i| r.get(i)).collect()).collect()
        }
        Db::Sqlite(pool) => {
            let rows = sqlx::query(wolkvox_etl::store::sql::built(sql))
                .fetch_all(pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            rows.iter().map(|r| (0..r.len()).map(|i| r.get(i)).collect()).collect()
        }
    };
    rows.sort();
    rows
}

/// A column as UTC text (`2026-11-01T05:00:00Z`), a time of day (`01:00:00`), an integer or
/// `raw`, in one form on both backends.
fn instant(backend: Backend, c: &str) -> String {
    match backend {
        Backend::Postgres => format!("to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"),
        Backend::Sqlite => format!("strftime('%Y-%m-%dT%H:%M:%SZ', {c})"),
    }
}
fn as_text(backend: Backend, c: &str) -> String {
    match backend {
        Backend::Postgres => format!("{c}::text"),
        Backend::Sqlite => format!("CAST({c} AS TEXT)"),
    }
}

fn raw_of(text: &Option<String>) -> Value {
    serde_json::from_str(text.as_deref().unwrap()).unwrap()
}

/// `sync --report api` of the fall-back day, in New York, through the real binary.
async fn sync_fall_back_day(sim: &Simulator, db: &TestDb, api: &str) -> String {
    let mut cmd = binary(sim, db, "warn", &["sync", "--report", api, "--from", FALL_BACK, "--to", "2026-11-02"]);
    cmd.env("WOLKVOX_ETL__WOLKVOX__TIMEZONE", "America/New_York");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{api}: {stdout}{stderr}");
    format!("{stdout}{stderr}")
}

on_both_backends! {
    /// The API's answer for New York's fall-back day names the repeated hour twice, once per
    /// pass: diagram_1_2 sends `2026-11-01-01` twice, skill_4 sends hour `01` twice for a skill.
    /// Through the real binary both rows are stored, none counted as a duplicate: diagram_1_2's
    /// first `2026-11-01-01` is 05:00Z (EDT) and its second 06:00Z (EST); skill_4's second `01`
    /// is pass 2 of that hour. A second sync of the same answer stores exactly the same rows.
    async fn both_passes_of_the_repeated_hour_keep_their_totals_through_the_binary(backend) {
        let config = SimulatorConfig {
            timezone: chrono_tz::America::New_York,
            latency: std::time::Duration::from_millis(1),
            ..SimulatorConfig::default()
        };
        let clock = wolkvox_etl::clock::Clock::manual(z("2026-11-04T12:00:00Z"));
        let sim = Simulator::start(config, clock, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let test_db = TestDb::new(backend).await;
        let served = |api| sim.ground_truth(api, local("2026-11-01 00:00:00"), local("2026-11-01 23:59:59"));

        // What the API answers: the stamp `2026-11-01-01` twice (the example's spelling, `day`).
        let diagram = served("diagram_1_2");
        let repeated: Vec<Value> =
            diagram.iter().filter(|r| r["day"] == "2026-11-01-01").cloned().map(Value::Object).collect();
        assert_eq!(repeated.len(), 2, "one row per pass: {diagram:?}");
        assert_ne!(repeated[0], repeated[1], "each pass has its own totals");
        // skill_4: some skill's hour `01` twice.
        let skill = served("skill_4");
        let twice: Vec<String> = skill
            .iter()
            .filter(|r| r["hour"] == "01")
            .map(|r| r["skill_id"].as_str().unwrap().to_string())
            .fold(BTreeMap::<String, usize>::new(), |mut n, s| {
                *n.entry(s).or_default() += 1;
                n
            })
            .into_iter()
            .filter(|(_, n)| *n == 2)
            .map(|(s, _)| s)
            .collect();
        assert!(!twice.is_empty(), "a skill busy in both passes: {skill:?}");

        let db = test_db.db().await;
        let diagram_sql = format!(
            "SELECT {}, {}, {} FROM diagram_1_2",
            instant(backend, "date"),
            instant(backend, "day"),
            as_text(backend, "raw")
        );
        let skill_sql = format!(
            "SELECT skill_id, {}, {}, {} FROM skill_4 WHERE day = '{FALL_BACK}'",
            as_text(backend, "hour"),
            as_text(backend, "pass"),
            as_text(backend, "raw")
        );
        let mut first_run = None;
        for run in 1..=2 {
            for api in ["diagram_1_2", "skill_4"] {
                let output = sync_fall_back_day(&sim, &test_db, api).await;
                assert!(!output.contains("repeated a key"), "run {run}, {api}: {output}");
                let last = format!("SELECT rows_duplicate FROM etl_run WHERE report = '{api}' ORDER BY id DESC LIMIT 1");
                assert_eq!(scalar(&db, &last).await, 0, "run {run}, {api}: no row of the answer is a duplicate");
            }
            let stored_diagram = texts(&db, &diagram_sql).await;
            let stored_skill = texts(&db, &skill_sql).await;

            // diagram_1_2: both passes, at their own instants, `day` (its other spelling) too.
            let at = |stamp: &str| -> Vec<Value> {
                stored_diagram.iter().filter(|r| r[0].as_deref() == Some(stamp)).map(|r| raw_of(&r[2])).collect()
            };
            assert_eq!(at("2026-11-01T05:00:00Z"), [repeated[0].clone()], "run {run}: the first pass, EDT");
            assert_eq!(at("2026-11-01T06:00:00Z"), [repeated[1].clone()], "run {run}: the second pass, EST");
            assert!(stored_diagram.iter().all(|r| r[0] == r[1]), "run {run}: `day` reads as `date`");
            let mut want: Vec<Value> = diagram.iter().cloned().map(Value::Object).collect();
            let mut got: Vec<Value> = stored_diagram.iter().map(|r| raw_of(&r[2])).collect();
            want.sort_by_key(Value::to_string);
            got.sort_by_key(Value::to_string);
            assert_eq!(got, want, "run {run}: every row of the answer, each once");

            // skill_4: the second `01` of a skill is pass 2; every row of the answer is stored.
            for skill_id in &twice {
                let sent: Vec<Value> = skill
                    .iter()
                    .filter(|r| r["hour"] == "01" && r["skill_id"] == skill_id.as_str())
                    .cloned()
                    .map(Value::Object)
                    .collect();
                let kept = |pass: &str| -> Vec<Value> {
                    stored_skill
                        .iter()
                        .filter(|r| {
                            r[0].as_deref() == Some(skill_id.as_str())
                                && r[1].as_deref() == Some("01:00:00")
                                && r[2].as_deref() == Some(pass)
                        })
                        .map(|r| raw_of(&r[3]))
                        .collect()
                };
                assert_eq!(kept("1"), [sent[0].clone()], "run {run}, skill {skill_id}: pass 1");
                assert_eq!(kept("2"), [sent[1].clone()], "run {run}, skill {skill_id}: pass 2");
            }
            let mut want: Vec<Value> = skill.iter().cloned().map(Value::Object).collect();
            let mut got: Vec<Value> = stored_skill.iter().map(|r| raw_of(&r[3])).collect();
            want.sort_by_key(Value::to_string);
            got.sort_by_key(Value::to_string);
            assert_eq!(got, want, "run {run}: every row of the answer, each once");
            let calls = |rows: &[Value]| -> i64 {
                rows.iter().map(|r| r["inbound_calls"].as_str().unwrap().replace(',', "").parse::<i64>().unwrap()).sum()
            };
            assert_eq!(calls(&got), calls(&want), "run {run}: the day's inbound calls, both passes");

            match &first_run {
                None => first_run = Some((stored_diagram, stored_skill)),
                Some(first) => assert_eq!(first, &(stored_diagram, stored_skill), "the second sync stored the same rows"),
            }
        }
    }

    /// A skill_4 table made before slots had a pass (keyed on account, day, skill_id, hour) is
    /// upgraded in place by `migrate`: its row is kept as pass 1, a column the catalogue does not
    /// know stays, and the table then holds a second pass of the same hour (and no third copy).
    async fn a_table_keyed_without_the_pass_is_upgraded_in_place_and_keeps_its_rows(backend) {
        let test_db = TestDb::new(backend).await;
        let old = match backend {
            Backend::Postgres => vec![
                "CREATE SCHEMA wolkvox",
                "CREATE TABLE wolkvox.skill_4 (account text NOT NULL, day date NOT NULL, skill_id text NOT NULL,
                    hour time NOT NULL, inbound_calls bigint, raw jsonb NOT NULL, raw_hash bigint,
                    synced_at timestamptz NOT NULL, note text, PRIMARY KEY (account, day, skill_id, hour))",
                "INSERT INTO wolkvox.skill_4 VALUES ('default', '2026-10-31', '101', '01:00:00', 7,
                    '{\"skill_id\":\"101\",\"hour\":\"01\",\"inbound_calls\":\"7\"}', 11, now(), 'kept')",
            ],
            Backend::Sqlite => vec![
                "CREATE TABLE skill_4 (account TEXT NOT NULL, day TEXT NOT NULL, skill_id TEXT NOT NULL,
                    hour TEXT NOT NULL, inbound_calls INTEGER, raw TEXT NOT NULL, raw_hash INTEGER,
                    synced_at TEXT NOT NULL, note TEXT, PRIMARY KEY (account, day, skill_id, hour))",
                "INSERT INTO skill_4 VALUES ('default', '2026-10-31', '101', '01:00:00', 7,
                    '{\"skill_id\":\"101\",\"hour\":\"01\",\"inbound_calls\":\"7\"}', 11, '2026-10-31T06:00:00Z', 'kept')",
            ],
        };
        let admin = match backend {
            Backend::Postgres => Db::Postgres(sqlx::PgPool::connect(&test_db.url).await.unwrap()),
            Backend::Sqlite => {
                let options = format!("{}?mode=rwc", test_db.url);
                Db::Sqlite(sqlx::SqlitePool::connect(&options).await.unwrap())
            }
        };
        for sql in old {
            match &admin {
                Db::Postgres(pool) => sqlx::query(wolkvox_etl::store::sql::built(sql)).execute(pool).await.map(|_| ()),
                Db::Sqlite(pool) => sqlx::query(wolkvox_etl::store::sql::built(sql)).execute(pool).await.map(|_| ()),
            }
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        admin.close().await;

        let sim = simulator_at_midnight(SimulatorConfig::default()).await;
        for attempt in 1..=2 {
            let mut cmd = binary(&sim, &test_db, "warn", &["migrate"]);
            let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
            assert!(out.status.success(), "migrate {attempt}: {}", String::from_utf8_lossy(&out.stderr));
        }
        let db = test_db.db().await;
        let sql = format!("SELECT skill_id, {}, {}, note FROM skill_4", as_text(backend, "hour"), as_text(backend, "pass"));
        let kept = texts(&db, &sql).await;
        let row = |pass: &str, note: Option<&str>| {
            vec![Some("101".to_string()), Some("01:00:00".to_string()), Some(pass.to_string()), note.map(str::to_string)]
        };
        assert_eq!(kept, [row("1", Some("kept"))], "the row is pass 1, its unknown column kept");
        let insert = |pass: u8| {
            format!(
                "INSERT INTO skill_4 (account, day, skill_id, hour, pass, raw, synced_at)
                 VALUES ('default', '2026-10-31', '101', '01:00:00', {pass}, '{{}}', '2026-10-31T07:00:00Z')"
            )
        };
        let run = |sql: String| {
            let db = db.clone();
            async move {
                match &db {
                    Db::Postgres(pool) => sqlx::query(wolkvox_etl::store::sql::built(&sql)).execute(pool).await.map(|_| ()),
                    Db::Sqlite(pool) => sqlx::query(wolkvox_etl::store::sql::built(&sql)).execute(pool).await.map(|_| ()),
                }
            }
        };
        run(insert(2)).await.expect("a second pass of the same hour has its own key");
        assert!(run(insert(2)).await.is_err(), "the key still refuses a copy");
        assert_eq!(texts(&db, &sql).await, [row("1", Some("kept")), row("2", None)]);
    }
}

//! Daylight saving, through the simulator, on both backends: an operation in a zone with DST
//! syncs across a clock change and ends with exactly the simulator's rows and a watermark at
//! the instant its requests reached — never past it (spring forward), never held back by the
//! repeated hour (fall back). Every run re-reads from the first date (a three-day look-back), so
//! the table must equal the ground truth of everything requested.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::Value;
use wolkvox_etl::simulator::SimulatorConfig;
use wolkvox_etl::store::runs::RunStatus;
use wolkvox_etl::store::watermark::StreamKey;
use wolkvox_etl::store::Db;
use wolkvox_etl::sync::Range;

use crate::helpers::*;
use crate::on_both_backends;

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

/// A report's stored rows for one synthetic `day`, as canonical JSON → count.
async fn stored_day(t: &TestApp, table: &str, day: &str) -> BTreeMap<String, usize> {
    let sql_pg = format!("SELECT raw::text FROM {table} WHERE day = '{day}'");
    let sql_lite = format!("SELECT raw FROM {table} WHERE day = '{day}'");
    let raws: Vec<String> = match t.db() {
        Db::Postgres(pool) => sqlx::query_scalar(&sql_pg).fetch_all(pool).await.unwrap(),
        Db::Sqlite(pool) => sqlx::query_scalar(&sql_lite).fetch_all(pool).await.unwrap(),
    };
    let mut out = BTreeMap::new();
    for raw in raws {
        *out.entry(serde_json::from_str::<Value>(&raw).unwrap().to_string()).or_default() += 1;
    }
    out
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

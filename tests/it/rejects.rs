//! A row the API sends without its key cannot be stored under it: it is counted in
//! `rows_rejected` (the outcome and the run history) and kept in the quarantine (`etl_rejected`)
//! with its raw JSON, its reason and its window, once however often it is read; `status` counts
//! it; and every other row of the window lands.

use std::collections::BTreeMap;
use std::process::Command;

use chrono::{DateTime, Utc};
use serde_json::Value;
use wolkvox_etl::simulator::SimulatorConfig;
use wolkvox_etl::store::Db;
use wolkvox_etl::sync::Range;

use crate::on_both_backends;
use crate::support::*;

/// One quarantined row: (account, report, stream, reason, raw, window start, window end, run id).
type Quarantined = (String, String, String, String, Value, DateTime<Utc>, DateTime<Utc>, String);

/// Every row of `etl_rejected`, in the order written.
async fn quarantined(db: &Db) -> Vec<Quarantined> {
    const COLUMNS: &str = "account, report, stream, reason, raw, window_start, window_end, run_id";
    type Row = (String, String, String, String, String, DateTime<Utc>, DateTime<Utc>, String);
    let rows: Vec<Row> = match db {
        Db::Postgres(pool) => {
            let sql = format!("SELECT {} FROM etl_rejected ORDER BY id", COLUMNS.replace("raw", "raw::text"));
            sqlx::query_as(wolkvox_etl::store::sql::built(&sql)).fetch_all(pool).await.unwrap()
        }
        Db::Sqlite(pool) => {
            let sql = format!("SELECT {COLUMNS} FROM etl_rejected ORDER BY id");
            sqlx::query_as(wolkvox_etl::store::sql::built(&sql)).fetch_all(pool).await.unwrap()
        }
    };
    rows.into_iter()
        .map(|(a, r, s, reason, raw, from, to, run)| {
            (a, r, s, reason, serde_json::from_str(&raw).unwrap(), from, to, run)
        })
        .collect()
}

on_both_backends! {
async fn rows_without_their_key_are_counted_as_rejected_and_the_rest_are_stored(backend) {
    let sim = SimulatorConfig {
        keyless_every: 7,
        latency: std::time::Duration::from_millis(1),
        ..SimulatorConfig::default()
    };
    let t = spawn_app(backend, Options { sim, ..Options::default() }).await;
    let (from, to) = (local("2026-11-19 00:00:00"), local("2026-11-20 00:00:00"));
    let outcome = t.sync(Range::Explicit { from, to: Some(to) }).await;

    let served = t.sim.ground_truth("chat_14", from, to - chrono::Duration::seconds(1));
    let keyless = served.iter().filter(|r| !r.contains_key("chat_id")).count();
    assert_eq!(keyless, served.len() / 7, "every 7th row lost its key");
    assert!(keyless > 0);
    let keyed: BTreeMap<(String, String), Value> = served
        .iter()
        .filter(|r| r.contains_key("chat_id"))
        .map(|r| ((r["chat_id"].as_str().unwrap().to_string(), r["date"].as_str().unwrap().to_string()), Value::Object(r.clone())))
        .collect();
    assert_same_rows(&t.chat_14_rows().await, &keyed);
    assert_eq!(outcome.counts.rows_rejected, keyless as u64);
    assert_eq!(t.scalar("SELECT rows_rejected FROM etl_run").await, keyless as i64);

    // Each keyless row is in the quarantine, as sent, with its reason and the one window (the
    // local day, in UTC) whose answer held it, written with the window.
    let window = (DateTime::parse_from_rfc3339("2026-11-19T05:00:00Z").unwrap().to_utc(),
                  DateTime::parse_from_rfc3339("2026-11-20T05:00:00Z").unwrap().to_utc());
    let kept = quarantined(t.db()).await;
    let expected: Vec<Value> =
        served.iter().filter(|r| !r.contains_key("chat_id")).map(|r| Value::Object(r.clone())).collect();
    assert_eq!(kept.iter().map(|q| q.4.clone()).collect::<Vec<_>>(), expected, "every keyless row, in order");
    for (account, report, stream, reason, _, start, end, run_id) in &kept {
        assert_eq!((account.as_str(), report.as_str(), stream.as_str()), ("default", "chat_14", ""));
        assert_eq!(reason, "key field `chat_id` is missing");
        assert_eq!((*start, *end), window);
        assert_eq!(run_id, &outcome.run_id);
    }

    // A re-read counts them again in its run, and adds no copy to the quarantine.
    let again = t.sync(Range::Explicit { from, to: Some(to) }).await;
    assert_eq!(again.counts.rows_rejected, keyless as u64);
    assert_eq!(again.counts.rows_upserted, 0);
    assert_eq!(t.scalar("SELECT count(*) FROM etl_rejected").await, keyless as i64);
    assert_eq!(t.scalar("SELECT CAST(sum(rows_rejected) AS bigint) FROM etl_run").await, 2 * keyless as i64);
}

async fn status_counts_the_quarantined_rows_of_each_report(backend) {
    let sim = SimulatorConfig { keyless_every: 9, latency: std::time::Duration::from_millis(1), ..SimulatorConfig::default() };
    let t = spawn_app(backend, Options { sim, ..Options::default() }).await;
    let (from, to) = (local("2026-11-19 00:00:00"), local("2026-11-20 00:00:00"));
    t.sync(Range::Explicit { from, to: Some(to) }).await;
    let keyless = t.sim.ground_truth("chat_14", from, to - chrono::Duration::seconds(1)).len() / 9;
    assert!(keyless > 0);
    let cdr_1 = t.sync_job(&t.app.job("cdr_1").unwrap(), Range::Explicit { from, to: Some(to) }).await;
    let cdr_1_keyless = t.sim.ground_truth("cdr_1", from, to - chrono::Duration::seconds(1)).len() / 9;
    assert_eq!(cdr_1.counts.rows_rejected, cdr_1_keyless as u64);

    let status = |json: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wolkvox-etl"));
        cmd.env_clear().env("DATABASE_URL", &t.test_db.url).env("NO_COLOR", "1").arg("status");
        if json {
            cmd.arg("--json");
        }
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
    };
    let out = status(true).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let counted = |api: &str| {
        doc["reports"].as_array().unwrap().iter().find(|l| l["report"] == api).map(|l| l["rows_quarantined"].clone())
    };
    assert_eq!(counted("chat_14"), Some(Value::from(keyless)));
    assert_eq!(counted("cdr_1"), Some(Value::from(cdr_1_keyless)));
    assert_eq!(counted("agent_1"), Some(Value::from(0)), "an enabled report never run counts none");

    let out = status(false).await.unwrap();
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    let header = table.lines().find(|l| l.starts_with("ACCOUNT")).unwrap_or_else(|| panic!("{table}"));
    let end = header.find("QUARANTINED").unwrap() + "QUARANTINED".len();
    let column = |api: &str| {
        let line = table.lines().find(|l| l.contains(&format!(" {api} "))).unwrap_or_else(|| panic!("{table}"));
        line[..end].rsplit(' ').next().unwrap().to_string()
    };
    assert_eq!(column("chat_14"), keyless.to_string(), "{table}");
    assert_eq!(column("cdr_1"), cdr_1_keyless.to_string(), "{table}");
}
}

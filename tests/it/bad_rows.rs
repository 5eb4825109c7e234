//! The real API's bad rows, through the real path (simulator over HTTP, `run_once` or the
//! binary, a real database), on both backends: a text key that is a placeholder (`""`, `" "`,
//! `"-"`) is stored under that literal text; NUL characters are removed and counted, and the
//! window commits; two rows with one key in one answer end as the last copy on every run, are
//! counted, and are logged once per run.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use wolkvox_etl::simulator::SimulatorConfig;
use wolkvox_etl::store::runs::RunStatus;
use wolkvox_etl::sync::Range;

use crate::on_both_backends;
use crate::support::*;

/// The day every test syncs: the 19th, whole (its late rows all arrived by the test's "now").
fn day() -> Range {
    Range::Explicit { from: local("2026-11-19 00:00:00"), to: Some(local("2026-11-20 00:00:00")) }
}

fn served(t: &TestApp, api: &str) -> Vec<wolkvox_etl::wolkvox::Row> {
    t.sim.ground_truth(api, local("2026-11-19 00:00:00"), local("2026-11-19 23:59:59"))
}

fn quick(config: SimulatorConfig) -> Options {
    Options { sim: SimulatorConfig { latency: std::time::Duration::from_millis(1), ..config }, ..Options::default() }
}

/// The latest run's counter `column`.
async fn last(t: &TestApp, column: &str) -> i64 {
    t.scalar(&format!("SELECT {column} FROM etl_run ORDER BY id DESC LIMIT 1")).await
}

on_both_backends! {
async fn rows_whose_text_key_is_a_placeholder_are_stored_under_it_and_a_re_read_writes_nothing(backend) {
    let t = spawn_app(backend, quick(SimulatorConfig { placeholder_keys_every: 5, ..SimulatorConfig::default() })).await;
    let outcome = t.sync(day()).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);

    // chat_14: every row, placeholders included, exactly as the API sent it.
    let rows = served(&t, "chat_14");
    let placeholders = rows.iter().filter(|r| ["", " ", "-"].contains(&r["chat_id"].as_str().unwrap())).count();
    assert!(placeholders > rows.len() / 10, "{placeholders} of {}", rows.len());
    let truth = t.truth(local("2026-11-19 00:00:00"), local("2026-11-20 00:00:00"));
    assert_same_rows(&t.chat_14_rows().await, &truth);
    let stored = t.scalar("SELECT count(*) FROM chat_14 WHERE chat_id IN ('', ' ', '-')").await;
    let distinct_placeholders = truth.keys().filter(|(id, _)| ["", " ", "-"].contains(&id.as_str())).count();
    assert_eq!(stored, distinct_placeholders as i64);
    // Two placeholder rows of one second share a key: the same rule as any other key.
    assert_eq!(outcome.counts.rows_duplicate, (rows.len() - truth.len()) as u64);
    assert_eq!((outcome.counts.rows_fetched, outcome.counts.rows_rejected), (rows.len() as u64, 0));
    assert_eq!(outcome.counts.rows_upserted, truth.len() as u64);
    assert_eq!(t.scalar("SELECT count(*) FROM etl_rejected").await, 0);

    // cdr_1 (a call without an agent, …): its text keys are conn_id and agent_id.
    let cdr_1 = t.sync_job(&t.app.job("cdr_1").unwrap(), day()).await;
    let rows = served(&t, "cdr_1");
    let key = |r: &wolkvox_etl::wolkvox::Row| ["conn_id", "agent_id", "date"].map(|k| r[k].as_str().unwrap().to_string());
    let keys: BTreeSet<[String; 3]> = rows.iter().map(key).collect();
    let blank = |k: &[String; 3]| ["", " ", "-"].contains(&k[0].as_str()) || ["", " ", "-"].contains(&k[1].as_str());
    assert!(keys.iter().filter(|k| blank(k)).count() > rows.len() / 10);
    assert_eq!(t.scalar("SELECT count(*) FROM cdr_1").await, keys.len() as i64);
    let stored_blank =
        t.scalar("SELECT count(*) FROM cdr_1 WHERE conn_id IN ('', ' ', '-') OR agent_id IN ('', ' ', '-')").await;
    assert_eq!(stored_blank, keys.iter().filter(|k| blank(k)).count() as i64);
    assert_eq!((cdr_1.counts.rows_rejected, cdr_1.counts.rows_duplicate), (0, (rows.len() - keys.len()) as u64));

    // A re-read finds them stored unchanged: nothing is written.
    let before = t.synced_at().await;
    let again = t.sync(day()).await;
    assert_eq!((again.counts.rows_upserted, again.counts.rows_rejected), (0, 0));
    assert_eq!(t.synced_at().await, before);
}

async fn nul_characters_are_removed_counted_and_the_window_commits(backend) {
    let t = spawn_app(backend, quick(SimulatorConfig { nul_every: 10, ..SimulatorConfig::default() })).await;
    let outcome = t.sync(day()).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert_eq!(t.watermark().await, Some(local("2026-11-20 00:00:00")), "the window committed");

    let rows = served(&t, "chat_14");
    let nuls: usize = rows.iter().flat_map(|r| r.values()).filter_map(Value::as_str).map(|v| v.matches('\0').count()).sum();
    assert!(nuls > rows.len() / 20, "{nuls} NULs in {} rows", rows.len());
    assert_eq!(outcome.counts.nul_removed, nuls as u64);
    assert_eq!(last(&t, "nul_removed").await, nuls as i64);
    // Stored: every row, exactly as sent but for its NUL.
    let truth: BTreeMap<(String, String), Value> = t
        .truth(local("2026-11-19 00:00:00"), local("2026-11-20 00:00:00"))
        .into_values()
        .map(|mut row| {
            wolkvox_etl::wolkvox::values::remove_nul(&mut row);
            ((row["chat_id"].as_str().unwrap().to_string(), row["date"].as_str().unwrap().to_string()), row)
        })
        .collect();
    assert_eq!(truth.len(), rows.len());
    assert_same_rows(&t.chat_14_rows().await, &truth);

    // The same rows again: counted again, and nothing to write.
    let again = t.sync(day()).await;
    assert_eq!((again.counts.nul_removed, again.counts.rows_upserted), (nuls as u64, 0));
}

async fn duplicate_keys_in_one_answer_keep_the_last_copy_on_every_run(backend) {
    // 600 chats an hour: a day's answer spans several batches, and the copies come at its end.
    let sim = SimulatorConfig { duplicate_keys_every: 10, rows_per_hour: 600, ..SimulatorConfig::default() };
    let t = spawn_app(backend, quick(sim)).await;
    let rows = served(&t, "chat_14");
    let truth = t.truth(local("2026-11-19 00:00:00"), local("2026-11-20 00:00:00"));
    let copies = rows.len() - truth.len();
    assert!(copies > rows.len() / 20, "{copies} copies in {} rows", rows.len());
    assert!(truth.values().filter(|r| r.to_string().contains(" (copy)")).count() == copies, "the last copy is the truth");

    let mut synced_at = Vec::new();
    for run in 1..=3 {
        let outcome = t.sync(day()).await;
        assert_eq!(outcome.status, RunStatus::Succeeded, "run {run}: {:?}", outcome.error);
        assert_same_rows(&t.chat_14_rows().await, &truth);
        assert_eq!(outcome.counts.rows_fetched, rows.len() as u64, "run {run}");
        assert_eq!(outcome.counts.rows_duplicate, copies as u64, "run {run}");
        assert_eq!(last(&t, "rows_duplicate").await, copies as i64, "run {run}");
        if run == 1 {
            // A copy whose original was already written (a batch earlier) is written over it.
            let upserted = outcome.counts.rows_upserted;
            assert!((truth.len() as u64..=rows.len() as u64).contains(&upserted), "{upserted}");
        } else {
            // The old flip-flop wrote the first copy on run 2 and the last on run 3.
            assert_eq!(outcome.counts.rows_upserted, 0, "run {run}");
        }
        synced_at.push(t.synced_at().await);
    }
    assert_eq!(synced_at[1], synced_at[0], "run 2 rewrote nothing");
    assert_eq!(synced_at[2], synced_at[0], "run 3 rewrote nothing");
    assert_eq!(t.scalar("SELECT count(*) FROM chat_14").await, truth.len() as i64);
}

async fn a_sync_with_duplicate_keys_logs_one_warn_with_an_example_key(backend) {
    let sim = simulator_at_midnight(SimulatorConfig { duplicate_keys_every: 10, ..SimulatorConfig::default() }).await;
    let db = TestDb::new(backend).await;
    let (out, day) = sync_yesterday(&sim, &db, "chat_14").await;
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    let rows = sim.ground_truth("chat_14", day.and_hms_opt(0, 0, 0).unwrap(), day.and_hms_opt(23, 59, 59).unwrap());
    let keys: BTreeSet<(String, String)> =
        rows.iter().map(|r| (r["chat_id"].as_str().unwrap().into(), r["date"].as_str().unwrap().into())).collect();
    let copies = rows.len() - keys.len();
    assert!(copies > 0);
    let warns: Vec<&str> = stderr.lines().filter(|l| l.contains("same key more than once")).collect();
    assert_eq!(warns.len(), 1, "once per run: {stderr}");
    assert!(warns[0].contains(" WARN ") && warns[0].contains("report=\"chat_14\""), "{}", warns[0]);
    assert!(warns[0].contains(&format!("rows_duplicate={copies}")), "{}", warns[0]);
    assert!(warns[0].contains("example=chat_id=\"") && warns[0].contains(", date="), "{}", warns[0]);
    assert!(stdout.contains(&format!(", {copies} repeated a key (the last copy kept)")), "{stdout}");
    assert_eq!(scalar(&db.db().await, "SELECT rows_duplicate FROM etl_run").await, copies as i64);
}
}

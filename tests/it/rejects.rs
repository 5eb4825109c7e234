//! A row the API sends without its key cannot be stored under it: it is counted in
//! `rows_rejected` (the outcome and the run history), and every other row of the window lands.

use std::collections::BTreeMap;

use serde_json::Value;
use wolkvox_etl::simulator::SimulatorConfig;
use wolkvox_etl::sync::Range;

use crate::helpers::*;
use crate::on_both_backends;

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
        .into_iter()
        .filter(|r| r.contains_key("chat_id"))
        .map(|r| ((r["chat_id"].as_str().unwrap().to_string(), r["date"].as_str().unwrap().to_string()), Value::Object(r)))
        .collect();
    assert_same_rows(&t.chat_14_rows().await, &keyed);
    assert_eq!(outcome.counts.rows_rejected, keyless as u64);
    assert_eq!(t.scalar("SELECT rows_rejected FROM etl_run").await, keyless as i64);
}
}

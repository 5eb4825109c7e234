//! SIGTERM while a window's transaction is open: the daemon lets that window commit or roll back
//! whole, then exits 0 — never half a window, never a watermark past what is stored.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;
use wolkvox_etl::clock::Clock;
use wolkvox_etl::simulator::{Simulator, SimulatorConfig};
use wolkvox_etl::time::utc_to_local;

use crate::on_both_backends;
use crate::support::probe::Probe;
use crate::support::*;

on_both_backends! {
async fn sigterm_inside_a_windows_transaction_commits_or_rolls_back_the_window_whole_and_exits_zero(backend) {
    let db = TestDb::new(backend).await;
    // Frozen an hour back, dense enough that a day's window keeps its transaction open a while.
    let frozen = Utc::now() - chrono::Duration::hours(1);
    let bogota = chrono_tz::America::Bogota;
    let start = (utc_to_local(bogota, frozen).date() - chrono::Duration::days(2)).and_hms_opt(0, 0, 0).unwrap();
    let sim = Simulator::start(
        SimulatorConfig { rows_per_hour: 1_500, latency: Duration::from_millis(20), ..SimulatorConfig::default() },
        Clock::manual(frozen),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let probe = Probe::open(&db).await;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wolkvox-etl"));
    cmd.env_clear();
    // chat_14 alone: the other reports of the default set are switched off.
    for r in wolkvox_etl::config::Settings::load_with_env(None, Default::default()).unwrap().reports {
        if r.report.api != "chat_14" {
            cmd.env(format!("WOLKVOX_ETL__REPORTS__{}__ENABLED", r.report.api.to_uppercase()), "false");
        }
    }
    let child = cmd
        .env("WOLKVOX_ETL__WOLKVOX__BASE_URL", sim.base_url())
        .env("WOLKVOX_ETL__WOLKVOX__TOKEN", TOKEN)
        .env("DATABASE_URL", &db.url)
        .env("WOLKVOX_ETL__HTTP__BIND", "127.0.0.1:0")
        .env("WOLKVOX_ETL__SYNC__MAX_WINDOW_DAYS", "1")
        .env("WOLKVOX_ETL__SYNC__START_FROM", start.format("%Y-%m-%dT%H:%M:%S").to_string())
        .env("RUST_LOG", "info,sqlx=warn")
        .env("NO_COLOR", "1")
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Wait for a window's transaction to hold written rows (after the first request: start-up
    // schema changes are not a window), then signal at once.
    let deadline = Instant::now() + Duration::from_secs(120);
    while sim.requests().is_empty() || !probe.transaction_open().await {
        assert!(Instant::now() < deadline, "no window transaction opened within 2 minutes");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let wm_at_signal = probe.watermark().await;
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()),
    )
    .await
    .expect("the daemon stops within the 120 s grace period")
    .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {log}", out.status);
    assert!(log.contains("Shutdown requested"), "{log}");

    // Whole or nothing: everything below the watermark is exactly the API's rows, nothing above.
    let wm = probe.watermark().await;
    let stored: BTreeMap<(String, String), Value> = probe
        .raws()
        .await
        .into_iter()
        .map(|raw| {
            let raw: Value = serde_json::from_str(&raw).unwrap();
            let key = (raw["chat_id"].as_str().unwrap().to_string(), raw["date"].as_str().unwrap().to_string());
            (key, raw)
        })
        .collect();
    let truth: BTreeMap<(String, String), Value> = match wm {
        Some(wm) => sim
            .ground_truth("chat_14", start, utc_to_local(bogota, wm) - chrono::Duration::seconds(1))
            .into_iter()
            .map(|r| {
                let key = (r["chat_id"].as_str().unwrap().to_string(), r["date"].as_str().unwrap().to_string());
                (key, Value::Object(r))
            })
            .collect(),
        None => BTreeMap::new(),
    };
    assert_same_rows(&stored, &truth);
    // The window in flight was not abandoned half-way: either it committed (the watermark moved
    // by it) or it rolled back (the watermark stayed, and its rows are absent, as checked above).
    assert!(wm >= wm_at_signal, "the watermark never moves backwards");
}
}

//! The API's own spelling: reports whose key the docs name one way and the API sends another
//! (`channel` / `chanel`, `date` / `day`) land every row through the real binary, and a run in
//! which every row is rejected is recorded and reported as such, not as a success.

use std::process::Command;

use wolkvox_etl::simulator::SimulatorConfig;
use wolkvox_etl::store::Backend;

use crate::on_both_backends;
use crate::support::*;

on_both_backends! {
async fn reports_keyed_on_a_field_the_api_spells_differently_store_every_row(backend) {
    let sim = simulator_at_midnight(SimulatorConfig::default()).await;
    for (api, sent, documented) in [("chat_13", "chanel", "channel"), ("diagram_1_2", "day", "date")] {
        let db = TestDb::new(backend).await;
        let (out, day) = sync_yesterday(&sim, &db, api).await;
        let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{api}: {log}");
        let served = sim.ground_truth(api, day.and_hms_opt(0, 0, 0).unwrap(), day.and_hms_opt(23, 59, 59).unwrap());
        assert!(!served.is_empty() && served.iter().all(|r| r.contains_key(sent) && !r.contains_key(documented)));
        let store = db.db().await;
        assert_eq!(scalar(&store, &format!("SELECT count(*) FROM {api}")).await, served.len() as i64, "{api}");
        let keyed = format!("SELECT count(*) FROM {api} WHERE \"{documented}\" IS NOT NULL");
        assert_eq!(scalar(&store, &keyed).await, served.len() as i64, "{api}: the key column is filled");
        assert_eq!(scalar(&store, "SELECT rows_rejected FROM etl_run").await, 0, "{api}");
    }
}

async fn a_run_in_which_every_row_is_rejected_is_recorded_as_rejected_and_fails_the_sync(backend) {
    // Every row comes without its first key field.
    let sim = simulator_at_midnight(SimulatorConfig { keyless_every: 1, ..SimulatorConfig::default() }).await;
    let db = TestDb::new(backend).await;
    let (out, day) = sync_yesterday(&sim, &db, "chat_14").await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("every row was rejected"), "{stderr}");
    // One WARN names the report and an example by its hash and reason: the row itself (which may
    // hold a customer's data) stays in etl_rejected, and no log line carries it.
    let warn = stderr.lines().find(|l| l.contains("Every row of the run was rejected")).expect("the WARN");
    assert!(warn.contains(" WARN ") && warn.contains("report=\"chat_14\""), "{warn}");
    assert!(warn.contains("example=raw_hash=") && warn.contains("key field `chat_id` is missing"), "{warn}");
    assert!(!stderr.contains(&format!("\"date\":\"{day}")), "no row is logged whole: {stderr}");
    let served = sim.ground_truth("chat_14", day.and_hms_opt(0, 0, 0).unwrap(), day.and_hms_opt(23, 59, 59).unwrap());
    let store = db.db().await;
    assert_eq!(scalar(&store, "SELECT count(*) FROM chat_14").await, 0);
    assert_eq!(scalar(&store, "SELECT count(*) FROM etl_run WHERE status = 'rejected'").await, 1);
    assert_eq!(scalar(&store, "SELECT rows_rejected FROM etl_run").await, served.len() as i64);
}
}

#[tokio::test]
async fn status_shows_a_rejected_run() {
    let sim = simulator_at_midnight(SimulatorConfig { keyless_every: 1, ..SimulatorConfig::default() }).await;
    let db = TestDb::new(Backend::Sqlite).await;
    let _ = sync_yesterday(&sim, &db, "chat_14").await;
    let out = Command::new(env!("CARGO_BIN_EXE_wolkvox-etl"))
        .env_clear()
        .env("DATABASE_URL", &db.url)
        .arg("status")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.contains("chat_14")).unwrap_or_default();
    assert!(line.contains("rejected"), "{text}");
}

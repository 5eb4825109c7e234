//! Every report of the catalogue, end to end against the simulator, on both backends; and the
//! three sync strategies in focus.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Duration;
use serde_json::Value;
use wolkvox_etl::simulator::SimulatorConfig;
use wolkvox_etl::store::runs::RunStatus;
use wolkvox_etl::store::Db;
use wolkvox_etl::sync::Range;
use wolkvox_etl::wolkvox::catalog::{self, Report};
use wolkvox_etl::wolkvox::Row;

use crate::on_both_backends;
use crate::support::*;

/// What the simulator answers for `report` over [from, to), every stream, keys trimmed the way
/// the daemon reads them.
fn answers(t: &TestApp, report: &Report, params: &[(String, String)], from: &str, to: &str) -> Vec<Row> {
    let streams: Vec<&str> = if report.streams.is_empty() { vec![""] } else { report.streams.to_vec() };
    let mut out = Vec::new();
    for stream in streams {
        let params: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), if report.streams.contains(&v.as_str()) { stream } else { v.as_str() }))
            .collect();
        let rows = t.sim.ground_truth_with(report.api, &params, local(from), local(to) - Duration::seconds(1));
        out.extend(rows.into_iter().map(|row| row.into_iter().map(|(k, v)| (k.trim().to_string(), v)).collect()));
    }
    out
}

/// What the table should hold for `report` after syncing [from, to): the simulator's answer(s),
/// flattened, as canonical JSON → count.
fn expected(
    t: &TestApp,
    report: &Report,
    params: &[(String, String)],
    from: &str,
    to: &str,
) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for row in answers(t, report, params, from, to) {
        for mut flat in catalog::flatten(report, row) {
            flat.remove(catalog::ROW_HASH);
            *out.entry(Value::Object(flat).to_string()).or_default() += 1;
        }
    }
    out
}

/// The top-level field names of a report's answer in the API's official example (the research's
/// `fields_example`, as compiled into the catalogue), and the fields seen in live answers.
fn example_fields(api: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let research: Vec<Value> = serde_json::from_str(include_str!("../../src/wolkvox/catalog/reports.json")).unwrap();
    // The audit log is information.php's, described in the catalogue itself.
    let audit = serde_json::json!({"fields_example": ["date", "ip", "user", "action", "workstation"]});
    let entry = research.iter().find(|r| r["api"] == api).unwrap_or(&audit);
    let names = |key: &str| -> BTreeSet<String> {
        entry[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .filter(|n| !n.contains('.'))
                    .map(|n| n.trim_end_matches("[]").to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    (names("fields_example"), names("fields_observed_in_real_use"))
}

/// The `raw` column of a report's table, as canonical JSON → count.
async fn stored(t: &TestApp, report: &Report) -> BTreeMap<String, usize> {
    let table = wolkvox_etl::store::schema::quote_ident(report.table);
    let raws: Vec<String> = match t.db() {
        Db::Postgres(pool) => {
            sqlx::query_scalar(wolkvox_etl::store::sql::built(format!("SELECT raw::text FROM {table}")))
                .fetch_all(pool)
                .await
                .unwrap()
        }
        Db::Sqlite(pool) => sqlx::query_scalar(wolkvox_etl::store::sql::built(format!("SELECT raw FROM {table}")))
            .fetch_all(pool)
            .await
            .unwrap(),
    };
    let mut out = BTreeMap::new();
    for raw in raws {
        let value: Value = serde_json::from_str(&raw).unwrap();
        *out.entry(value.to_string()).or_default() += 1;
    }
    out
}

on_both_backends! {
    async fn every_report_in_the_catalogue_syncs_a_day_and_matches_ground_truth(backend) {
        let options = Options {
            env: vec![("WOLKVOX_ETL__REPORTS__AGENT_2__PARAMS__AGENT_ID", "12523".into())],
            ..Options::default()
        };
        let t = spawn_app(backend, options).await;
        let (from, to) = ("2026-11-19 00:00:00", "2026-11-20 00:00:00");
        let mut checked = 0;
        for report in catalog::all() {
            let job = t.app.job(report.api).unwrap();
            t.db().migrate(&[report]).await.unwrap();
            let outcome = t.sync_job(&job, Range::Explicit { from: local(from), to: Some(local(to)) }).await;
            assert_eq!(outcome.status, RunStatus::Succeeded, "{}: {:?}", report.api, outcome.error);
            assert_eq!(outcome.counts.rows_rejected, 0, "{}", report.api);
            // The simulator answers in the API's own spelling: exactly the example's fields
            // (plus those seen in live answers). cdr_4's data is an object of buckets instead.
            if report.api != "cdr_4" {
                let served: BTreeSet<String> =
                    answers(&t, report, &job.config.params, from, to).iter().flat_map(|r| r.keys().cloned()).collect();
                let (example, observed) = example_fields(report.api);
                assert!(example.is_subset(&served), "{}: example {example:?}, served {served:?}", report.api);
                let allowed: BTreeSet<String> = example.union(&observed).cloned().collect();
                assert!(served.is_subset(&allowed), "{}: served {served:?}, example {example:?}", report.api);
            }
            let want = expected(&t, report, &job.config.params, from, to);
            assert!(!want.is_empty(), "{}: the simulator serves rows", report.api);
            let got = stored(&t, report).await;
            assert_eq!(got.len(), want.len(), "{}: {} distinct rows stored, {} expected", report.api, got.len(), want.len());
            assert_eq!(got, want, "{}", report.api);
            checked += 1;
        }
        assert_eq!(checked, 105, "the 104 reports and the audit log");
    }

    async fn an_aggregate_day_is_replaced_whole_and_vanished_rows_are_removed(backend) {
        let t = spawn_app(backend, Options::default()).await;
        let report = catalog::find("agent_1").unwrap();
        let job = t.app.job("agent_1").unwrap();
        t.db().migrate(&[report]).await.unwrap();
        // The morning of the 20th: the day is partial; its rows summarise 00:00 → 09:58.
        t.clock.set(local_to_utc_bogota("2026-11-20 06:00:00"));
        assert_eq!(t.sync_job(&job, Range::Scheduled).await.status, RunStatus::Succeeded);
        let day = "2026-11-20";
        let morning = t.scalar(&format!("SELECT count(*) FROM agent_1 WHERE day = '{day}'")).await;
        assert!(morning > 0);
        // Plant a row the API will not send again: it must vanish when the day is replaced.
        let plant = format!(
            "INSERT INTO agent_1 (account, day, agent_id, raw, synced_at) VALUES ('default', '{day}', 'ghost', '{{}}', '2026-11-20T11:00:00Z')"
        );
        match t.db() {
            Db::Postgres(pool) => { sqlx::query(wolkvox_etl::store::sql::built(&plant)).execute(pool).await.unwrap(); }
            Db::Sqlite(pool) => { sqlx::query(wolkvox_etl::store::sql::built(&plant)).execute(pool).await.unwrap(); }
        }
        t.clock.set(local_to_utc_bogota("2026-11-20 18:00:00"));
        assert_eq!(t.sync_job(&job, Range::Scheduled).await.status, RunStatus::Succeeded);
        let ghosts = t.scalar("SELECT count(*) FROM agent_1 WHERE agent_id = 'ghost'").await;
        assert_eq!(ghosts, 0, "a row that vanished from the answer is removed");
        // The stored day is exactly what the API answers now for the whole day so far.
        let want = expected(&t, report, &job.config.params, "2026-11-20 00:00:00", "2026-11-20 17:58:00");
        let got = stored_day(&t, "agent_1", day).await;
        assert_eq!(got, want);
        // Closed days older than the look-back are not asked again.
        let before = t.sim.stats().requests;
        t.clock.set(local_to_utc_bogota("2026-11-20 18:05:00"));
        assert_eq!(t.sync_job(&job, Range::Scheduled).await.status, RunStatus::Succeeded);
        assert_eq!(t.sim.stats().requests - before, 1, "only today is re-queried");
    }

    async fn an_interval_report_across_a_day_boundary_keeps_each_days_slots_apart(backend) {
        let t = spawn_app(backend, Options::default()).await;
        let report = catalog::find("skill_4").unwrap();
        assert_eq!(report.grain, catalog::Grain::IntervalAggregate);
        let job = t.app.job("skill_4").unwrap();
        t.db().migrate(&[report]).await.unwrap();
        // 22:00 → 02:00 spans two local days: each is queried on its own, and whole.
        let outcome = t
            .sync_job(&job, Range::Explicit { from: local("2026-11-18 22:00:00"), to: Some(local("2026-11-19 02:00:00")) })
            .await;
        assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
        assert_eq!(outcome.counts.windows, 2, "one request per local day");
        let first = stored_day(&t, "skill_4", "2026-11-18").await;
        let second = stored_day(&t, "skill_4", "2026-11-19").await;
        assert_eq!(first, expected(&t, report, &job.config.params, "2026-11-18 00:00:00", "2026-11-19 00:00:00"));
        // A day is always stored whole: the backfill's end is rounded up to the next midnight.
        assert_eq!(second, expected(&t, report, &job.config.params, "2026-11-19 00:00:00", "2026-11-20 00:00:00"));
        // The same hour on both days is two rows, keyed by day + hour.
        let hours = t.scalar("SELECT count(*) FROM skill_4 WHERE hour = '23:00:00' OR hour = '00:00:00'").await;
        assert!(hours >= 2);
    }
}

fn local_to_utc_bogota(s: &str) -> chrono::DateTime<chrono::Utc> {
    wolkvox_etl::time::local_to_utc(chrono_tz::America::Bogota, local(s))
}
#[test]
#[cfg_attr(not(has_shared_catalogue), ignore = "../shared/wolkvox-reports.json is not beside the repository")]
fn the_catalogue_covers_every_report_of_the_shared_research_file() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/wolkvox-reports.json");
    let text = std::fs::read_to_string(path).expect("the build found the shared catalogue");
    let shared: Vec<Value> = serde_json::from_str(&text).unwrap();
    let apis: Vec<&str> = shared.iter().map(|r| r["api"].as_str().unwrap()).collect();
    assert_eq!(apis.len(), 104);
    for api in &apis {
        assert!(catalog::find(api).is_some(), "{api} is missing from the catalogue");
    }
    assert_eq!(catalog::all().len(), 105, "and information.php's audit_log");
}

#[tokio::test]
async fn enabling_every_report_and_running_sync_fills_104_tables() {
    let db = TestDb::new(wolkvox_etl::store::Backend::Sqlite).await;
    let sim = wolkvox_etl::simulator::Simulator::start(
        SimulatorConfig { latency: std::time::Duration::from_millis(1), ..SimulatorConfig::default() },
        wolkvox_etl::clock::Clock::system(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    // Yesterday in the operation's time zone (the binary's), not in UTC: from 19:00 Bogotá on,
    // UTC's date is already tomorrow's.
    let today = wolkvox_etl::time::utc_to_local(chrono_tz::America::Bogota, chrono::Utc::now()).date();
    let yesterday = (today - Duration::days(1)).format("%Y-%m-%d").to_string();
    let out = tokio::task::spawn_blocking({
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_wolkvox-etl"));
        cmd.env_clear()
            .env("WOLKVOX_ETL__WOLKVOX__BASE_URL", sim.base_url())
            .env("WOLKVOX_ETL__WOLKVOX__TOKEN", TOKEN)
            .env("DATABASE_URL", &db.url)
            .env("WOLKVOX_ETL__SYNC__ENABLE_ALL", "true")
            .env("WOLKVOX_ETL__REPORTS__AGENT_2__PARAMS__AGENT_ID", "12523")
            .args(["sync", "--from", &yesterday]);
        move || cmd.output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let succeeded =
        |dims: bool| stdout.lines().filter(|l| l.contains(": succeeded,") && l.starts_with("dim_") == dims).count();
    assert_eq!(succeeded(false), 105, "the 104 reports and the audit log: {stdout}");
    assert_eq!(succeeded(true), 8, "and the eight dimensions: {stdout}");
    let store = db.db().await;
    let mut filled = 0;
    for report in catalog::all() {
        if scalar(&store, &format!("SELECT count(*) FROM {}", report.table)).await > 0 {
            filled += 1;
        }
    }
    assert_eq!(filled, 105);
}

#[tokio::test]
async fn a_backfill_ending_mid_day_never_replaces_a_whole_aggregate_day_with_part_of_it() {
    let t = spawn_app(wolkvox_etl::store::Backend::Sqlite, Options::default()).await;
    let report = catalog::find("agent_1").unwrap();
    let job = t.app.job("agent_1").unwrap();
    t.db().migrate(&[report]).await.unwrap();
    let whole = Range::Explicit { from: local("2026-11-18 00:00:00"), to: Some(local("2026-11-19 00:00:00")) };
    assert_eq!(t.sync_job(&job, whole).await.status, RunStatus::Succeeded);
    let day = stored_day(&t, "agent_1", "2026-11-18").await;
    // Asked for 00:00–06:00 only: the day is still fetched and stored whole.
    let part = Range::Explicit { from: local("2026-11-18 00:00:00"), to: Some(local("2026-11-18 06:00:00")) };
    assert_eq!(t.sync_job(&job, part).await.status, RunStatus::Succeeded);
    assert_eq!(stored_day(&t, "agent_1", "2026-11-18").await, day);
    assert_eq!(day, expected(&t, report, &job.config.params, "2026-11-18 00:00:00", "2026-11-19 00:00:00"));
}

/// The dated aggregates, read in whole days whichever way the API totals a range: closed days
/// hold their whole-day totals and today its total from midnight to the last window's end.
async fn dated_aggregates_hold_whole_day_totals(backend: wolkvox_etl::store::Backend, range_totals: bool) {
    let sim =
        SimulatorConfig { range_totals, latency: std::time::Duration::from_millis(1), ..SimulatorConfig::default() };
    let t = spawn_app(backend, Options { sim, ..Options::default() }).await;
    let dated: Vec<&Report> =
        catalog::all().iter().copied().filter(|r| r.grain == catalog::Grain::DatedAggregate).collect();
    assert_eq!(dated.len(), 8);
    for report in dated {
        let job = t.app.job(report.api).unwrap();
        t.db().migrate(&[report]).await.unwrap();
        t.clock.set(test_now());
        // A 3-day backfill up to now − settle, then three 5-minute ticks.
        let backfill = Range::Explicit { from: local("2026-11-17 00:00:00"), to: None };
        let outcome = t.sync_job(&job, backfill).await;
        assert_eq!(outcome.status, RunStatus::Succeeded, "{}: {:?}", report.api, outcome.error);
        // One request per local day: 17, 18, 19 and today so far.
        assert_eq!((outcome.counts.windows, outcome.counts.requests), (4, 4), "{}", report.api);
        let mut want = BTreeMap::new();
        for (from, to) in [("17", "18"), ("18", "19"), ("19", "20")] {
            let (from, to) = (format!("2026-11-{from} 00:00:00"), format!("2026-11-{to} 00:00:00"));
            for (row, n) in expected(&t, report, &job.config.params, &from, &to) {
                *want.entry(row).or_insert(0) += n;
            }
        }
        let mut last = None;
        for _ in 0..3 {
            t.clock.advance(Duration::minutes(5));
            let outcome = t.sync_job(&job, Range::Scheduled).await;
            assert_eq!(outcome.status, RunStatus::Succeeded, "{}: {:?}", report.api, outcome.error);
            // Each tick re-reads today whole, from midnight: one request, one window.
            assert_eq!((outcome.counts.windows, outcome.counts.requests), (1, 1), "{}", report.api);
            last = outcome.watermark.map(|w| wolkvox_etl::time::utc_to_local(chrono_tz::America::Bogota, w));
        }
        let watermark = last.unwrap();
        assert_eq!(watermark, local("2026-11-20 10:13:00"), "now − settle after three ticks");
        let until = watermark.format("%Y-%m-%d %H:%M:%S").to_string();
        for (row, n) in expected(&t, report, &job.config.params, "2026-11-20 00:00:00", &until) {
            *want.entry(row).or_insert(0) += n;
        }
        assert!(!want.is_empty(), "{}: the scenario has rows", report.api);
        assert_eq!(stored(&t, report).await, want, "{} (range totals: {range_totals})", report.api);
    }
}

on_both_backends! {
    async fn dated_aggregates_hold_whole_day_totals_when_the_api_totals_whole_slots(backend) {
        dated_aggregates_hold_whole_day_totals(backend, false).await;
    }

    async fn dated_aggregates_hold_whole_day_totals_when_the_api_totals_only_the_range(backend) {
        dated_aggregates_hold_whole_day_totals(backend, true).await;
    }
}

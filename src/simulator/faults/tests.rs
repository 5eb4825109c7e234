//! The fault plan's tests: request faults through a running simulator, and the row and key
//! damage as pure functions of the seed and the row.

use std::collections::BTreeMap;

use chrono::{NaiveDateTime, TimeZone};
use serde_json::json;

use super::super::{data, Simulator, SimulatorConfig};
use super::*;
use crate::clock::Clock;
use crate::wolkvox::catalog::{self, DataShape};

fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
}

/// 12:00 in Bogotá, two hours after the window the tests ask for: its rows are all visible.
fn noon() -> Clock {
    Clock::manual(chrono_tz::America::Bogota.from_local_datetime(&at("2026-03-10 12:00:00")).unwrap().to_utc())
}

const WINDOW: &str = "api=chat_14&date_ini=20260310100000&date_end=20260310105959";

fn plan(kinds: &[FaultKind], rate: f64) -> FaultPlan {
    FaultPlan { rate, kinds: kinds.to_vec(), seed: 7, slow: Duration::from_millis(400), row_faults: false }
}

async fn start(faults: FaultPlan) -> Simulator {
    let config = SimulatorConfig { latency: Duration::ZERO, faults, ..SimulatorConfig::default() };
    Simulator::start(config, noon(), "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

/// A simulator that answers every valid request with `kind`.
async fn always(kind: FaultKind) -> Simulator {
    start(plan(&[kind], 1.0)).await
}

async fn send(client: &reqwest::Client, sim: &Simulator, token: &str, query: &str) -> reqwest::Result<Reply> {
    let url = format!("{}reports_manager.php?{query}", sim.base_url());
    let response = client.get(url).header("wolkvox-token", token).send().await?;
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    let body = response.bytes().await?.to_vec();
    Ok(Reply { status, content_type, body })
}

/// What a plain client gets for the test window on token `t`.
async fn get(sim: &Simulator) -> Reply {
    send(&reqwest::Client::new(), sim, "t", WINDOW).await.unwrap()
}

#[derive(Debug, PartialEq, Eq)]
struct Reply {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

/// The fault-free answer to the test window.
async fn clean() -> Reply {
    let sim = start(FaultPlan::default()).await;
    let reply = get(&sim).await;
    assert_eq!(reply.status, 200);
    reply
}

#[test]
fn every_kind_parses_from_its_name_and_lists_parse_with_transient_as_a_group() {
    for kind in FaultKind::ALL {
        assert_eq!(FaultKind::parse(kind.name()), Some(*kind));
        assert_eq!(kind.to_string(), kind.name());
    }
    assert_eq!(FaultKind::parse("reset"), Some(FaultKind::ConnectionReset));
    assert_eq!(FaultKind::parse("Reset"), None);
    assert_eq!(
        FaultPlan::parse_kinds(" http500, reset,slow,"),
        Ok(vec![FaultKind::Http500, FaultKind::ConnectionReset, FaultKind::Slow])
    );
    assert_eq!(FaultPlan::parse_kinds("transient").unwrap(), FaultKind::TRANSIENT);
    assert_eq!(FaultPlan::parse_kinds(""), Ok(Vec::new()));
    let error = FaultPlan::parse_kinds("http500,http504").unwrap_err();
    assert!(error.contains("`http504`") && error.contains("token_limit"), "{error}");
    assert!(!FaultKind::TRANSIENT.contains(&FaultKind::TokenLimit));
    assert!(!FaultKind::TRANSIENT.contains(&FaultKind::InvalidToken));
}

#[tokio::test]
async fn a_zero_rate_injects_nothing_even_with_every_kind() {
    let sim = start(plan(FaultKind::ALL, 0.0)).await;
    let expected = clean().await;
    for _ in 0..10 {
        assert_eq!(get(&sim).await, expected);
    }
    assert_eq!(sim.stats().faults_injected, 0);
}

#[tokio::test]
async fn a_rate_of_one_injects_into_every_accepted_request_and_faults_injected_counts_them() {
    let sim = always(FaultKind::Http503).await;
    for _ in 0..5 {
        assert_eq!(get(&sim).await.status, 503);
    }
    // Refused requests draw nothing: their refusal is the client's own doing.
    let refused = send(&reqwest::Client::new(), &sim, "t", "api=chat_99").await.unwrap();
    assert_eq!(refused.status, 400);
    let stats = sim.stats();
    assert_eq!((stats.requests, stats.faults_injected, stats.rows_served), (6, 5, 0));
}

#[tokio::test]
async fn the_draws_are_the_same_for_the_same_seed_and_differ_for_another() {
    let kinds = [FaultKind::Http500, FaultKind::Http502, FaultKind::CodeNot200, FaultKind::TokenLimit];
    let run = |seed| async move {
        let sim = start(FaultPlan { seed, ..plan(&kinds, 0.5) }).await;
        let mut replies = Vec::new();
        for _ in 0..24 {
            let reply = get(&sim).await;
            replies.push((reply.status, reply.body.len()));
        }
        (replies, sim.stats().faults_injected)
    };
    let (first, injected) = run(7).await;
    assert_eq!(run(7).await, (first.clone(), injected));
    assert!((4..=20).contains(&injected), "{injected} of 24 at a rate of 0.5");
    assert_ne!(run(8).await.0, first);
}

#[tokio::test]
async fn http_5xx_faults_answer_a_proxy_html_page_with_their_status() {
    for (kind, status, title) in [
        (FaultKind::Http500, 500, "500 Internal Server Error"),
        (FaultKind::Http502, 502, "502 Bad Gateway"),
        (FaultKind::Http503, 503, "503 Service Unavailable"),
    ] {
        let reply = get(&always(kind).await).await;
        assert_eq!(reply.status, status);
        assert!(reply.content_type.starts_with("text/html"), "{}", reply.content_type);
        assert!(reply.text().starts_with("<html>") && reply.text().contains(&format!("<h1>{title}</h1>")));
        assert!(serde_json::from_slice::<Value>(&reply.body).is_err());
    }
}

#[tokio::test]
async fn a_connection_reset_sends_the_headers_then_fails_the_body_and_frees_the_token() {
    let sim = always(FaultKind::ConnectionReset).await;
    let client = reqwest::Client::new();
    for _ in 0..2 {
        let url = format!("{}reports_manager.php?{WINDOW}", sim.base_url());
        let response = client.get(url).header("wolkvox-token", "t").send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        let error = response.bytes().await.unwrap_err();
        assert!(error.is_body() || error.is_decode(), "{error:?}");
    }
    // The second request on the same token was not an overlap: the cut released it.
    let stats = sim.stats();
    assert_eq!((stats.faults_injected, stats.simultaneous_violations, stats.rows_served), (2, 0, 0));
}

#[tokio::test]
async fn a_slow_answer_times_out_a_shorter_client_timeout_keeps_the_token_busy_and_is_normal_otherwise() {
    let sim = always(FaultKind::Slow).await;
    let impatient = reqwest::Client::builder().timeout(Duration::from_millis(100)).build().unwrap();
    let error = send(&impatient, &sim, "t", WINDOW).await.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    // The server has not noticed that the client left: the token stays busy until the
    // stall ends, so an immediate retry on it is a real overlap.
    let retry = send(&reqwest::Client::new(), &sim, "t", WINDOW).await.unwrap();
    assert_eq!((retry.status, sim.stats().simultaneous_violations), (403, 1));

    let patient = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let started = std::time::Instant::now();
    let reply = send(&patient, &sim, "other", WINDOW).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(reply, clean().await);
    assert_eq!(sim.stats().faults_injected, 2);
}

#[tokio::test]
async fn a_slow_answer_keeps_its_token_busy_while_it_stalls() {
    let sim = start(plan(&[FaultKind::Slow], 1.0)).await;
    let (slow, overlapping) = tokio::join!(get(&sim), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        get(&sim).await
    });
    assert_eq!(slow.status, 200);
    assert_eq!(overlapping.status, 403);
    let stats = sim.stats();
    assert_eq!((stats.simultaneous_violations, stats.faults_injected), (1, 1), "a real overlap counts");
}

#[tokio::test]
async fn truncated_json_is_the_first_half_of_the_normal_body_with_a_200() {
    let reply = get(&always(FaultKind::TruncatedJson).await).await;
    let clean = clean().await;
    assert_eq!((reply.status, reply.content_type.as_str()), (200, "application/json"));
    assert_eq!(reply.body, clean.body[..clean.body.len() / 2]);
    assert!(serde_json::from_slice::<Value>(&reply.body).is_err());
}

#[tokio::test]
async fn invalid_utf8_splices_ff_fe_into_the_msg_of_the_normal_body() {
    let reply = get(&always(FaultKind::InvalidUtf8).await).await;
    assert_eq!((reply.status, reply.content_type.as_str()), (200, "application/json"));
    assert!(std::str::from_utf8(&reply.body).is_err());
    assert!(reply.body.windows(2).any(|w| w == [0xFF, 0xFE]));
    assert!(serde_json::from_slice::<Value>(&reply.body).is_err());
    // Everything else is intact: a lossy decode gives the normal envelope with a damaged msg.
    let lossy: Value = serde_json::from_str(&String::from_utf8_lossy(&reply.body)).unwrap();
    let clean = clean().await.json();
    assert_eq!(lossy["data"], clean["data"]);
    assert_eq!(lossy["msg"], format!("\u{FFFD}\u{FFFD}{}", clean["msg"].as_str().unwrap()));
}

#[tokio::test]
async fn code_not_200_answers_a_failure_envelope_inside_an_http_200() {
    let reply = get(&always(FaultKind::CodeNot200).await).await;
    assert_eq!((reply.status, reply.content_type.as_str()), (200, "application/json"));
    assert_eq!(
        reply.json(),
        json!({
            "code": "500",
            "error": "INTERNAL SERVER ERROR",
            "msg": "AN INTERNAL ERROR HAS OCCURRED, PLEASE TRY AGAIN LATER",
            "data": []
        })
    );
}

#[tokio::test]
async fn an_injected_simultaneous_use_refusal_is_not_counted_as_a_violation() {
    let sim = always(FaultKind::SimultaneousUse).await;
    for _ in 0..3 {
        let reply = get(&sim).await;
        assert_eq!(reply.status, 403);
        assert_eq!(
            reply.json(),
            json!({"code": 403, "error": "FORBIDDEN", "msg": "EXCEEDS THE LIMIT OF SIMULTANEOUS REQUESTS PER TOKEN (2)"})
        );
    }
    let stats = sim.stats();
    assert_eq!((stats.simultaneous_violations, stats.faults_injected), (0, 3));
}

#[tokio::test]
async fn maintenance_answers_a_403_with_an_html_page() {
    let reply = get(&always(FaultKind::Maintenance).await).await;
    assert_eq!(reply.status, 403);
    assert!(reply.content_type.starts_with("text/html"));
    assert!(reply.text().starts_with("<html>") && reply.text().contains("mantenimiento"));
}

#[tokio::test]
async fn token_limit_and_invalid_token_answer_the_real_apis_403_refusals() {
    for (kind, msg) in
        [(FaultKind::TokenLimit, "TOKEN LIMIT EXCEEDED"), (FaultKind::InvalidToken, "PLEASE VALIDATE TOKEN")]
    {
        let reply = get(&always(kind).await).await;
        assert_eq!((reply.status, reply.content_type.as_str()), (403, "application/json"));
        assert_eq!(reply.json(), json!({"code": 403, "error": "FORBIDDEN", "msg": msg}));
    }
}

// -- Row faults ---------------------------------------------------------------------------

/// How `damaged` differs from `clean`: the added, missing and changed field names.
fn diff(clean: &Row, damaged: &Row) -> (Vec<String>, Vec<String>, Vec<String>) {
    let added = damaged.keys().filter(|k| !clean.contains_key(*k)).cloned().collect();
    let missing = clean.keys().filter(|k| !damaged.contains_key(*k)).cloned().collect();
    let changed = clean.iter().filter(|(k, v)| damaged.get(*k).is_some_and(|d| d != *v)).map(|(k, _)| k.clone());
    (added, missing, changed.collect())
}

/// The busy day of each report in `reports`, settled, with default parameters, as
/// (report, clean rows, damaged rows).
fn busy_day<'a>(
    reports: impl IntoIterator<Item = &'a &'static Report>,
    seed: u64,
) -> Vec<(&'static Report, Vec<Row>, Vec<Row>)> {
    let (from, to, now) = (at("2026-03-10 00:00:00"), at("2026-03-10 23:59:59"), at("2026-03-12 00:00:00"));
    reports
        .into_iter()
        .map(|report| {
            let clean = data::report_rows(report.api, 42, 120, from, to, now);
            let mut damaged = clean.clone();
            damage_rows(report.api, seed, &mut damaged);
            (*report, clean, damaged)
        })
        .collect()
}

/// The rows the daemon gets out of `rows`: cdr_4's buckets one by one, else the rows.
fn unit_rows<'a>(report: &Report, rows: &'a [Row]) -> Vec<&'a Row> {
    if report.data_shape != DataShape::BucketObject {
        return rows.iter().collect();
    }
    rows.iter().flat_map(|row| row.values().filter_map(Value::as_object)).collect()
}

#[test]
fn row_faults_add_drop_and_malform_a_few_fields_but_never_a_key_or_the_timestamp() {
    let mut counts = BTreeMap::from([("extra", 0), ("missing", 0), ("malformed", 0), ("intact", 0)]);
    for (report, clean, damaged) in busy_day(catalog::all(), 7) {
        assert_eq!(clean.len(), damaged.len(), "{}", report.api);
        for (c, d) in unit_rows(report, &clean).into_iter().zip(unit_rows(report, &damaged)) {
            let (added, missing, changed) = diff(c, d);
            let touched: Vec<&String> = added.iter().chain(&missing).chain(&changed).collect();
            for name in &touched {
                let name = name.trim();
                assert!(!report.key.contains(&name), "{}: key {name} damaged", report.api);
                assert_ne!(report.timestamp, Some(name), "{}: timestamp damaged", report.api);
            }
            let kind = match (added.as_slice(), missing.len(), changed.as_slice()) {
                ([], 0, []) => "intact",
                ([extra], 0, []) if extra == EXTRA_FIELD => "extra",
                ([], 1, []) => "missing",
                ([], 0, [name]) => {
                    let value = d[name].as_str().unwrap();
                    assert!(["abc", "n/a %", "maybe", "2026-13-45 99:00:00", "2026-13-45", "99:99"].contains(&value));
                    "malformed"
                }
                _ => panic!("{}: more than one damage in {d:?}", report.api),
            };
            *counts.get_mut(kind).unwrap() += 1;
        }
    }
    let total: i32 = counts.values().sum();
    for kind in ["extra", "missing", "malformed"] {
        let share = f64::from(counts[kind]) / f64::from(total);
        assert!((0.005..0.04).contains(&share), "{kind}: {share} of {total} rows ({counts:?})");
    }
}

#[test]
fn row_damage_is_a_fixed_fact_of_the_seed_and_the_row() {
    let reports: Vec<&'static Report> =
        ["chat_14", "cdr_1", "agent_1", "cdr_4", "agent_5"].iter().filter_map(|api| catalog::find(api)).collect();
    let damaged = |seed| busy_day(&reports, seed).into_iter().map(|(_, _, d)| d).collect::<Vec<_>>();
    assert_eq!(damaged(7), damaged(7));
    assert_ne!(damaged(7), damaged(8));
}

#[test]
fn an_event_rows_damage_stays_the_same_when_the_row_changes_later() {
    // chat_14 rows gain their typification minutes after they appear.
    let (from, to) = (at("2026-03-10 09:00:00"), at("2026-03-10 11:59:59"));
    let damaged_at = |now| {
        let mut rows = data::chat_14_rows(42, 600, from, to, at(now));
        damage_rows("chat_14", 7, &mut rows);
        rows.into_iter().map(|row| (row["chat_id"].as_str().unwrap().to_owned(), row)).collect::<BTreeMap<_, _>>()
    };
    let early = damaged_at("2026-03-10 12:00:00");
    let late = damaged_at("2026-03-11 00:00:00");
    let mut compared = 0;
    for (id, row) in &early {
        let shape = |row: &Row| (row.contains_key(EXTRA_FIELD), row.len());
        assert_eq!(shape(row), shape(&late[id]), "chat {id}");
        compared += usize::from(row != &late[id]);
    }
    assert!(compared > 0, "some rows must have changed in between");
}

/// A settled day of `api`, as served without faults.
fn settled_day(api: &str) -> Vec<Row> {
    let (from, to, now) = (at("2026-03-10 00:00:00"), at("2026-03-10 23:59:59"), at("2026-03-12 00:00:00"));
    data::report_rows(api, 42, 120, from, to, now)
}

#[test]
fn placeholder_keys_put_empty_blank_or_dash_in_a_text_key_of_about_one_row_in_n() {
    for (api, text_keys) in [("chat_14", &["chat_id"][..]), ("cdr_1", &["conn_id", "agent_id"][..])] {
        let clean = settled_day(api);
        let mut rows = clean.clone();
        placeholder_keys(api, 10, &mut rows);
        let mut seen = BTreeMap::new();
        for (c, d) in clean.iter().zip(&rows) {
            let (added, missing, changed) = diff(c, d);
            assert!(added.is_empty() && missing.is_empty() && changed.len() <= 1, "{api}: {d:?}");
            if let [name] = changed.as_slice() {
                assert!(text_keys.contains(&name.as_str()), "{api}: {name} is a text key");
                *seen.entry(d[name].as_str().unwrap().to_owned()).or_insert(0) += 1;
            }
        }
        let total: usize = seen.values().sum();
        assert!((clean.len() / 20..clean.len() / 5).contains(&total), "{api}: {total} of {}", clean.len());
        assert_eq!(seen.keys().cloned().collect::<Vec<_>>(), ["", " ", "-"], "{api}: all three placeholders");
    }
}

#[test]
fn nul_values_hide_one_nul_in_about_one_row_in_n_and_nothing_else() {
    let clean = settled_day("chat_14");
    let mut rows = clean.clone();
    nul_values("chat_14", 10, &mut rows);
    let mut with_nul = 0;
    for (c, d) in clean.iter().zip(&rows) {
        let text = serde_json::to_string(d).unwrap();
        let nuls = text.matches("\\u0000").count();
        assert!(nuls <= 1);
        with_nul += nuls;
        let mut stripped = Value::Object(d.clone());
        crate::wolkvox::values::remove_nul(&mut stripped);
        assert_eq!(&stripped, &Value::Object(c.clone()), "without the NUL the row is intact");
    }
    assert!((clean.len() / 20..clean.len() / 5).contains(&with_nul), "{with_nul} of {}", clean.len());
}

#[test]
fn duplicate_keys_append_a_changed_copy_of_about_one_row_in_n_picked_alike_in_every_answer() {
    let report = catalog::find("chat_14").unwrap();
    let key = |row: &Row| (row["chat_id"].clone(), row["date"].clone());
    let clean = settled_day("chat_14");
    let mut rows = clean.clone();
    duplicate_keys("chat_14", 10, &mut rows);
    assert_eq!(&rows[..clean.len()], &clean[..], "the originals come first, untouched");
    let copies = &rows[clean.len()..];
    assert!((clean.len() / 20..clean.len() / 5).contains(&copies.len()), "{} of {}", copies.len(), clean.len());
    for copy in copies {
        let original = clean.iter().find(|row| key(row) == key(copy)).expect("a copy of a served row");
        let (added, missing, changed) = diff(original, copy);
        assert!(added.is_empty() && missing.is_empty(), "{copy:?}");
        let [name] = changed.as_slice() else { panic!("one value changed: {copy:?}") };
        assert!(copy[name].as_str().unwrap().ends_with(" (copy)") && !report.key.contains(&name.as_str()));
    }
    // An answer for a part of the day copies the same rows.
    let part: Vec<Row> = clean.iter().skip(100).take(500).cloned().collect();
    let mut part_rows = part.clone();
    duplicate_keys("chat_14", 10, &mut part_rows);
    let in_part = |row: &&Row| part.iter().any(|p| key(p) == key(row));
    assert_eq!(part_rows[part.len()..].to_vec(), copies.iter().filter(in_part).cloned().collect::<Vec<_>>());
}

#[tokio::test]
async fn with_row_faults_every_report_serves_exactly_its_ground_truth() {
    let clock =
        Clock::manual(chrono_tz::America::Bogota.from_local_datetime(&at("2026-03-12 00:00:00")).unwrap().to_utc());
    let faults = FaultPlan { row_faults: true, ..plan(&[], 0.0) };
    let config = SimulatorConfig { latency: Duration::ZERO, faults, ..SimulatorConfig::default() };
    let sim = Simulator::start(config, clock, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let client = reqwest::Client::new();
    let mut damaged = 0;
    for report in catalog::all() {
        let params: Vec<(&str, &str)> =
            report.params.iter().map(|(n, d)| (*n, if d.is_empty() { "12523" } else { *d })).collect();
        let mut query = format!("api={}&date_ini=20260310000000&date_end=20260310235959", report.api);
        for (name, value) in &params {
            query.push_str(&format!("&{name}={value}"));
        }
        let reply = send(&client, &sim, "t", &query).await.unwrap();
        assert_eq!(reply.status, 200, "{}", report.api);
        let (from, to) = (at("2026-03-10 00:00:00"), at("2026-03-10 23:59:59"));
        let truth = sim.ground_truth_with(report.api, &params, from, to);
        let data = match report.data_shape {
            DataShape::Array => json!(truth),
            DataShape::BucketObject => json!(truth[0]),
        };
        assert_eq!(reply.json()["data"], data, "{}", report.api);
        damaged += unit_rows(report, &truth).iter().filter(|row| row.contains_key(EXTRA_FIELD)).count();
        if report.api == "chat_14" {
            assert_eq!(sim.ground_truth(report.api, from, to), truth, "ground_truth uses the defaults");
        }
    }
    assert!(damaged > 0, "the served ground truth carries damage");
}

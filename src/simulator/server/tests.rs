//! The simulator's HTTP surface, asked through real requests: refusals, envelopes, faults and
//! the token bookkeeping, as the real API answers them.

use std::time::Duration;

use chrono::TimeZone;
use serde_json::{json, Value};

use super::super::{SimStats, Simulator};
use super::*;

fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
}

/// A manual clock showing `local` in Bogotá.
fn bogota_clock(local: &str) -> Clock {
    Clock::manual(chrono_tz::America::Bogota.from_local_datetime(&at(local)).unwrap().to_utc())
}

/// The default config without latency, so tests only wait when they mean to.
fn quick() -> SimulatorConfig {
    SimulatorConfig { latency: Duration::ZERO, ..Default::default() }
}

async fn start(config: SimulatorConfig, clock: &Clock) -> Simulator {
    Simulator::start(config, clock.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

struct Received {
    status: u16,
    content_type: String,
    body: Value,
}

async fn call(sim: &Simulator, token: Option<&str>, query: &str) -> Received {
    let url = format!("{}reports_manager.php?{query}", sim.base_url());
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.header(TOKEN_HEADER, token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers()[CONTENT_TYPE].to_str().unwrap().to_owned();
    let body = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    Received { status, content_type, body }
}

async fn chat_14(sim: &Simulator, token: &str, ini: &str, end: &str) -> Received {
    call(sim, Some(token), &format!("api=chat_14&date_ini={ini}&date_end={end}")).await
}

fn refusal(status: u16, error: &str, msg: &str) -> Value {
    json!({"code": status, "error": error, "msg": msg})
}

#[tokio::test]
async fn a_window_with_rows_answers_200_with_the_ground_truth_newest_first() {
    let clock = bogota_clock("2026-03-10 12:00:00");
    let sim = start(quick(), &clock).await;
    let reply = chat_14(&sim, "t", "20260310100000", "20260310105959").await;
    let truth = sim.ground_truth("chat_14", at("2026-03-10 10:00:00"), at("2026-03-10 10:59:59"));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_type, "application/json");
    assert!(!truth.is_empty());
    assert_eq!(
        reply.body,
        json!({
            "code": "200",
            "error": null,
            "msg": format!("{} records were found", truth.len()),
            "data": truth,
        })
    );
    assert_eq!(
        sim.stats(),
        SimStats { requests: 1, simultaneous_violations: 0, rows_served: truth.len() as u64, faults_injected: 0 }
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn an_empty_window_answers_404_with_an_empty_data_array() {
    let clock = bogota_clock("2026-03-10 12:00:00");
    let sim = start(quick(), &clock).await;
    let reply = chat_14(&sim, "t", "20260311000000", "20260311235959").await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.content_type, "application/json");
    assert_eq!(reply.body, json!({"code": "404", "error": "NOT FOUND", "msg": "0 records were found", "data": []}));
    assert_eq!(sim.stats(), SimStats { requests: 1, simultaneous_violations: 0, rows_served: 0, faults_injected: 0 });
    sim.shutdown().await;
}

#[tokio::test]
async fn responses_are_truncated_silently_to_max_records_keeping_the_newest() {
    let clock = bogota_clock("2026-03-10 18:00:00");
    let sim = start(SimulatorConfig { max_records: 50, ..quick() }, &clock).await;
    let reply = chat_14(&sim, "t", "20260310100000", "20260310105959").await;
    let truth = sim.ground_truth("chat_14", at("2026-03-10 10:00:00"), at("2026-03-10 10:59:59"));
    assert_eq!(truth.len(), 120);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["msg"], "50 records were found");
    assert_eq!(reply.body["data"], json!(truth[..50]));
    assert_eq!(sim.stats().rows_served, 50);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_month_at_a_high_density_is_truncated_without_generating_every_row() {
    // 31 days at 6000 rows/h is 4.5 million rows; only the newest 100 may be built.
    let clock = bogota_clock("2026-02-05 00:00:00");
    let config = SimulatorConfig { rows_per_hour: 6000, max_records: 100, ..quick() };
    let sim = start(config, &clock).await;
    let started = std::time::Instant::now();
    let reply = chat_14(&sim, "t", "20260101000000", "20260201000000").await;
    // Building 4.5 million rows takes minutes; 100 take milliseconds. 10 s tells the two apart
    // even on a loaded machine.
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["msg"], "100 records were found");
    assert_eq!(reply.body["data"][0]["date"], "2026-02-01 00:00:00");
    let newest = data::newest_report_rows(
        "chat_14",
        42,
        6000,
        at("2026-01-01 00:00:00"),
        at("2026-02-01 00:00:00"),
        at("2026-02-05 00:00:00"),
        100,
    );
    assert_eq!(reply.body["data"], json!(newest));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_range_of_exactly_max_window_days_is_accepted_and_one_second_more_is_not() {
    // With "now" just after the window opens, the generator only has minutes to produce.
    let clock = bogota_clock("2026-01-01 00:10:00");
    let sim = start(quick(), &clock).await;
    let ok = chat_14(&sim, "t", "20260101000000", "20260201000000").await;
    assert_eq!(ok.status, 200);
    let too_long = chat_14(&sim, "t", "20260101000000", "20260201000001").await;
    assert_eq!(too_long.status, 400);
    assert_eq!(too_long.body, refusal(400, "BAD REQUEST", "THE MAXIMUM DATE RANGE IS 31 DAYS"));
    sim.shutdown().await;

    let sim = start(SimulatorConfig { max_window_days: 7, ..quick() }, &clock).await;
    let reply = chat_14(&sim, "t", "20260101000000", "20260109000000").await;
    assert_eq!(reply.body, refusal(400, "BAD REQUEST", "THE MAXIMUM DATE RANGE IS 7 DAYS"));
    sim.shutdown().await;
}

#[tokio::test]
async fn an_end_before_the_start_is_rejected_as_a_bad_range() {
    let sim = start(quick(), &bogota_clock("2026-03-10 12:00:00")).await;
    let reply = chat_14(&sim, "t", "20260310100000", "20260310095959").await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body, refusal(400, "BAD REQUEST", "THE MAXIMUM DATE RANGE IS 31 DAYS"));
    sim.shutdown().await;
}

#[tokio::test]
async fn missing_or_malformed_dates_are_rejected_as_missing_parameters() {
    let sim = start(quick(), &bogota_clock("2026-03-10 12:00:00")).await;
    for query in [
        "api=chat_14&date_ini=20260310100000",
        "api=chat_14&date_end=20260310100000",
        "api=chat_14&date_ini=2026-03-10&date_end=20260310100000",
        "api=chat_14&date_ini=2026031010000&date_end=20260310100000",
        "api=chat_14&date_ini=20261310100000&date_end=20261310110000",
        "api=chat_14&date_ini=20260310250000&date_end=20260310100000",
        "api=chat_14&date_ini=+20260310100000&date_end=20260310100000",
    ] {
        let reply = call(&sim, Some("t"), query).await;
        assert_eq!(reply.status, 400, "{query}");
        assert_eq!(reply.body, refusal(400, "BAD REQUEST", "SOME PARAMETERS ARE REQUIRED"), "{query}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn an_unknown_api_is_rejected_and_a_missing_one_is_a_missing_parameter() {
    let sim = start(quick(), &bogota_clock("2026-03-10 12:00:00")).await;
    let unknown = call(&sim, Some("t"), "api=chat_99&date_ini=20260310100000&date_end=20260310110000").await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.body, refusal(400, "BAD REQUEST", "THE API YOU WANT TO CONSULT DOES NOT EXIST"));
    // The api is checked before the dates, as on the real API.
    let unknown_no_dates = call(&sim, Some("t"), "api=chat_99").await;
    assert_eq!(unknown_no_dates.body["msg"], "THE API YOU WANT TO CONSULT DOES NOT EXIST");
    let missing = call(&sim, Some("t"), "date_ini=20260310100000&date_end=20260310110000").await;
    assert_eq!(missing.body, refusal(400, "BAD REQUEST", "SOME PARAMETERS ARE REQUIRED"));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_missing_or_empty_token_is_unauthorized() {
    let sim = start(quick(), &bogota_clock("2026-03-10 12:00:00")).await;
    let query = "api=chat_14&date_ini=20260310100000&date_end=20260310110000";
    for token in [None, Some("")] {
        let reply = call(&sim, token, query).await;
        assert_eq!(reply.status, 401);
        assert_eq!(reply.content_type, "application/json");
        assert_eq!(reply.body, refusal(401, "UNAUTHORIZED", "PLEASE ENTER THE WOLKVOX-TOKEN"));
    }
    assert_eq!(sim.stats().requests, 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn only_configured_tokens_are_accepted_and_any_token_when_none_are_configured() {
    let clock = bogota_clock("2026-03-10 12:00:00");
    let sim = start(SimulatorConfig { tokens: vec!["good".into()], ..quick() }, &clock).await;
    let bad = chat_14(&sim, "bad", "20260310100000", "20260310110000").await;
    assert_eq!(bad.status, 403);
    assert_eq!(bad.body, refusal(403, "FORBIDDEN", "PLEASE VALIDATE TOKEN"));
    assert_eq!(chat_14(&sim, "good", "20260310100000", "20260310110000").await.status, 200);
    sim.shutdown().await;

    let open = start(quick(), &clock).await;
    assert_eq!(chat_14(&open, "anything", "20260310100000", "20260310110000").await.status, 200);
    open.shutdown().await;
}

#[tokio::test]
async fn the_daily_limit_counts_calls_per_token_and_resets_at_local_midnight() {
    // 18:30 in Bogotá is 23:30 UTC: the UTC day turns first, the local day later.
    let clock = bogota_clock("2026-03-10 18:30:00");
    let sim = start(SimulatorConfig { daily_limit: Some(2), ..quick() }, &clock).await;
    let window = ("20260310100000", "20260310110000");
    assert_eq!(chat_14(&sim, "a", window.0, window.1).await.status, 200);
    // A refused request still costs a call, as on the real API.
    assert_eq!(call(&sim, Some("a"), "api=nope").await.status, 400);
    let over = chat_14(&sim, "a", window.0, window.1).await;
    assert_eq!(over.status, 403);
    assert_eq!(over.body, refusal(403, "FORBIDDEN", "TOKEN LIMIT EXCEEDED"));
    assert_eq!(chat_14(&sim, "b", window.0, window.1).await.status, 200, "quotas are per token");

    clock.advance(TimeDelta::hours(1)); // 00:30 UTC, still 19:30 local
    assert_eq!(chat_14(&sim, "a", window.0, window.1).await.status, 403);
    clock.set(bogota_clock("2026-03-11 00:00:01").now());
    assert_eq!(chat_14(&sim, "a", window.0, window.1).await.status, 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_second_simultaneous_request_on_one_token_is_rejected_and_counted() {
    let clock = bogota_clock("2026-03-10 12:00:00");
    let sim = start(SimulatorConfig { latency: Duration::from_millis(200), ..quick() }, &clock).await;
    let (a, b) = tokio::join!(
        chat_14(&sim, "t", "20260310100000", "20260310110000"),
        chat_14(&sim, "t", "20260310100000", "20260310110000"),
    );
    let (served, refused) = if a.status == 200 { (a, b) } else { (b, a) };
    assert_eq!(served.status, 200);
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body, refusal(403, "FORBIDDEN", "EXCEEDS THE LIMIT OF SIMULTANEOUS REQUESTS PER TOKEN (2)"));
    assert_eq!(sim.stats().simultaneous_violations, 1);
    // The token is free again once the first request has finished.
    assert_eq!(chat_14(&sim, "t", "20260310100000", "20260310110000").await.status, 200);
    assert_eq!(sim.stats().simultaneous_violations, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn simultaneous_requests_on_different_tokens_are_both_served() {
    let clock = bogota_clock("2026-03-10 12:00:00");
    let sim = start(SimulatorConfig { latency: Duration::from_millis(200), ..quick() }, &clock).await;
    let (a, b) = tokio::join!(
        chat_14(&sim, "one", "20260310100000", "20260310110000"),
        chat_14(&sim, "two", "20260310100000", "20260310110000"),
    );
    assert_eq!((a.status, b.status), (200, 200));
    assert_eq!(sim.stats().simultaneous_violations, 0);
    assert_eq!(sim.peak_tokens_in_flight(), 2, "the two requests overlapped");
    assert_eq!(sim.requests().len(), 2);
    assert_eq!(sim.requests()[0].date_ini, "20260310100000");
    sim.shutdown().await;
}

/// A chat_14 hour whose answer (about 30 MB: 120 rows padded to 256 KiB) is far larger than
/// what the socket buffers between the two ends can hold, so the simulator cannot have
/// written all of it before the client reads it.
fn heavy() -> SimulatorConfig {
    SimulatorConfig { pad_bytes: 256 * 1024, ..quick() }
}

const HEAVY_HOUR: &str = "api=chat_14&date_ini=20260310100000&date_end=20260310105959";
/// A light request on the same token (cdr_1 is not padded).
const LIGHT_HOUR: &str = "api=cdr_1&date_ini=20260310100000&date_end=20260310105959";

#[tokio::test]
async fn a_request_sent_while_the_previous_answer_is_still_being_read_is_a_simultaneous_request() {
    let sim = start(heavy(), &bogota_clock("2026-03-10 12:00:00")).await;
    let url = format!("{}reports_manager.php?{HEAVY_HOUR}", sim.base_url());
    let mut first = reqwest::Client::new().get(url).header(TOKEN_HEADER, "t").send().await.unwrap();
    assert_eq!(first.status(), 200);
    let length = first.content_length().expect("a known length");
    let mut read = first.chunk().await.unwrap().expect("a first chunk").len() as u64;
    assert!(read < length, "{read} of {length} bytes");
    // The headers and a first chunk are in: a client that freed its token here (at the
    // headers, not at the last byte) sends its next request now, on another connection.
    let second = call(&sim, Some("t"), LIGHT_HOUR).await;
    assert_eq!(second.status, 403, "the first answer is still being sent: {}", second.body["msg"]);
    assert_eq!(second.body, refusal(403, "FORBIDDEN", "EXCEEDS THE LIMIT OF SIMULTANEOUS REQUESTS PER TOKEN (2)"));
    assert_eq!(sim.stats().simultaneous_violations, 1);
    while let Some(chunk) = first.chunk().await.unwrap() {
        read += chunk.len() as u64;
    }
    assert_eq!(read, length, "the first answer arrives whole");
    // Read to its last byte: the token is free again.
    assert_eq!(call(&sim, Some("t"), LIGHT_HOUR).await.status, 200);
    assert_eq!(sim.stats().simultaneous_violations, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_client_that_hangs_up_in_the_middle_of_an_answer_frees_its_token() {
    let sim = start(heavy(), &bogota_clock("2026-03-10 12:00:00")).await;
    let url = format!("{}reports_manager.php?{HEAVY_HOUR}", sim.base_url());
    let mut first = reqwest::Client::new().get(url).header(TOKEN_HEADER, "t").send().await.unwrap();
    first.chunk().await.unwrap().expect("a first chunk");
    drop(first);
    // The simulator learns of it at its next write on the closed connection.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while call(&sim, Some("t"), LIGHT_HOUR).await.status != 200 {
        assert!(std::time::Instant::now() < deadline, "the token is still busy");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_request_sent_once_the_previous_answer_was_read_to_its_last_byte_is_served() {
    let sim = start(heavy(), &bogota_clock("2026-03-10 12:00:00")).await;
    let url = format!("{}reports_manager.php?{HEAVY_HOUR}", sim.base_url());
    // One client, so the next request may go on the same (kept-alive) connection or not.
    let client = reqwest::Client::new();
    for _ in 0..3 {
        let first = client.get(&url).header(TOKEN_HEADER, "t").send().await.unwrap();
        let body = first.bytes().await.unwrap();
        assert!(body.len() > 16 << 20, "{} bytes", body.len());
        let light = client.get(format!("{}reports_manager.php?{LIGHT_HOUR}", sim.base_url()));
        assert_eq!(light.header(TOKEN_HEADER, "t").send().await.unwrap().status(), 200);
        assert_eq!(call(&sim, Some("t"), LIGHT_HOUR).await.status, 200, "on a new connection");
    }
    assert_eq!(sim.stats().simultaneous_violations, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_refused_request_frees_its_token_for_the_next_one() {
    let clock = bogota_clock("2026-03-10 12:00:00");
    let sim = start(quick(), &clock).await;
    assert_eq!(chat_14(&sim, "t", "20260310110000", "20260310100000").await.status, 400);
    assert_eq!(chat_14(&sim, "t", "20260311000000", "20260311010000").await.status, 404);
    assert_eq!(chat_14(&sim, "t", "20260310100000", "20260310110000").await.status, 200);
    assert_eq!(sim.stats().simultaneous_violations, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn code_as_number_makes_success_and_empty_codes_numbers() {
    let clock = bogota_clock("2026-03-10 12:00:00");
    let sim = start(SimulatorConfig { code_as_number: true, ..quick() }, &clock).await;
    let full = chat_14(&sim, "t", "20260310100000", "20260310110000").await;
    assert_eq!(full.body["code"], json!(200));
    let empty = chat_14(&sim, "t", "20260311000000", "20260311010000").await;
    assert_eq!(empty.body, json!({"code": 404, "error": "NOT FOUND", "msg": "0 records were found", "data": []}));
    sim.shutdown().await;
}

#[tokio::test]
async fn an_unknown_path_answers_an_html_404_without_counting_as_a_report_request() {
    let sim = start(quick(), &bogota_clock("2026-03-10 12:00:00")).await;
    let response = reqwest::get(format!("{}information.php?api=unknown_api", sim.base_url())).await.unwrap();
    assert_eq!(response.status().as_u16(), 404);
    let body = response.text().await.unwrap();
    assert!(body.contains("<h1>Not Found</h1>"), "{body}");
    assert_eq!(sim.stats().requests, 0);
    sim.shutdown().await;
}

async fn token_info(sim: &Simulator, token: Option<&str>) -> Received {
    let mut request = reqwest::Client::new().get(format!("{}information.php?api=token_info", sim.base_url()));
    if let Some(token) = token {
        request = request.header(TOKEN_HEADER, token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers()[CONTENT_TYPE].to_str().unwrap().to_owned();
    let body = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    Received { status, content_type, body }
}

#[tokio::test]
async fn token_info_answers_todays_counts_with_this_call_included_and_other_integrations_added() {
    let clock = bogota_clock("2026-03-10 18:30:00");
    let config = SimulatorConfig { other_integration_calls: 40, ..quick() };
    let sim = start(config, &clock).await;
    let window = ("20260310100000", "20260310110000");
    assert_eq!(chat_14(&sim, "a", window.0, window.1).await.status, 200);
    assert_eq!(chat_14(&sim, "a", window.0, window.1).await.status, 200);
    assert_eq!(chat_14(&sim, "b", window.0, window.1).await.status, 200);
    let reply = token_info(&sim, Some("a")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_type, "application/json");
    assert_eq!(
        reply.body,
        json!({
            "code": "200",
            "error": null,
            "msg": "1 records were found",
            "data": [{
                "description": "wolkvox-etl simulator",
                "token_limit": "1000",
                "token_use_today": "3",
                "all_token_today": "44",
                "available_consumption_options": "997",
            }],
        })
    );
    // The read cost a call: the next one sees it.
    assert_eq!(token_info(&sim, Some("a")).await.body["data"][0]["token_use_today"], "4");
    assert_eq!((sim.calls_today("a"), sim.calls_today("b")), (4, 1));
    assert_eq!(sim.token_info_requests(), 2);
    assert_eq!(sim.stats().requests, 3, "report requests only");
    // A new local day starts every count again, the other integrations' included.
    clock.set(bogota_clock("2026-03-11 00:00:01").now());
    let next_day = token_info(&sim, Some("b")).await;
    assert_eq!(next_day.body["data"][0]["token_use_today"], "1");
    assert_eq!(next_day.body["data"][0]["all_token_today"], "41");
    sim.shutdown().await;
}

#[tokio::test]
async fn token_info_reports_the_daily_limit_and_is_refused_like_any_call_once_it_is_used_up() {
    let clock = bogota_clock("2026-03-10 12:00:00");
    let sim = start(SimulatorConfig { daily_limit: Some(2), ..quick() }, &clock).await;
    let first = token_info(&sim, Some("t")).await;
    assert_eq!(first.body["data"][0]["token_limit"], "2");
    assert_eq!(first.body["data"][0]["available_consumption_options"], "1");
    assert_eq!(token_info(&sim, Some("t")).await.body["data"][0]["available_consumption_options"], "0");
    let over = token_info(&sim, Some("t")).await;
    assert_eq!(over.status, 403);
    assert_eq!(over.body, refusal(403, "FORBIDDEN", "TOKEN LIMIT EXCEEDED"));
    assert_eq!(token_info(&sim, None).await.body, refusal(401, "UNAUTHORIZED", "PLEASE ENTER THE WOLKVOX-TOKEN"));
    sim.shutdown().await;

    let sim = start(SimulatorConfig { tokens: vec!["good".into()], ..quick() }, &clock).await;
    assert_eq!(token_info(&sim, Some("bad")).await.body, refusal(403, "FORBIDDEN", "PLEASE VALIDATE TOKEN"));
    sim.shutdown().await;
}

#[tokio::test]
async fn token_info_while_a_report_request_is_in_flight_on_the_token_is_a_simultaneous_request() {
    let clock = bogota_clock("2026-03-10 12:00:00");
    let sim = start(SimulatorConfig { latency: Duration::from_millis(300), ..quick() }, &clock).await;
    let (report, info) = tokio::join!(chat_14(&sim, "t", "20260310100000", "20260310110000"), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        token_info(&sim, Some("t")).await
    });
    assert_eq!(report.status, 200);
    assert_eq!(info.body, refusal(403, "FORBIDDEN", "EXCEEDS THE LIMIT OF SIMULTANEOUS REQUESTS PER TOKEN (2)"));
    assert_eq!(sim.stats().simultaneous_violations, 1);
    // And the other way round: a report request while token_info is in flight.
    let (info, report) = tokio::join!(token_info(&sim, Some("t")), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        chat_14(&sim, "t", "20260310100000", "20260310110000").await
    });
    assert_eq!((info.status, report.status), (200, 403));
    assert_eq!(sim.stats().simultaneous_violations, 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn token_info_can_answer_blank_figures_as_the_postman_example_does() {
    let sim = start(SimulatorConfig { token_info_blank: true, ..quick() }, &bogota_clock("2026-03-10 12:00:00")).await;
    let data = token_info(&sim, Some("t")).await.body["data"][0].clone();
    for field in ["token_limit", "token_use_today", "all_token_today", "available_consumption_options"] {
        assert_eq!(data[field], " ", "{field}");
    }
    assert_eq!(sim.calls_today("t"), 1, "still counted");
    sim.shutdown().await;
}

#[test]
fn api_datetimes_are_exactly_fourteen_digits_of_a_real_local_time() {
    assert_eq!(parse_api_datetime("20260310235959"), Some(at("2026-03-10 23:59:59")));
    assert_eq!(parse_api_datetime("20240229000000"), Some(at("2024-02-29 00:00:00")));
    for bad in ["20250229000000", "2026031023595", "202603102359590", "2026031023595x", "", "20260310240000"] {
        assert_eq!(parse_api_datetime(bad), None, "{bad}");
    }
}

/// The query for `report`'s busy day with its default parameters (agent_2: one agent).
fn day_query(report: &Report) -> String {
    let mut query = format!("api={}&date_ini=20260310000000&date_end=20260310235959", report.api);
    for (name, default) in report.params {
        let value = if default.is_empty() { "12523" } else { default };
        query.push_str(&format!("&{name}={value}"));
    }
    query
}

#[tokio::test]
async fn every_report_answers_a_busy_day_with_its_ground_truth_and_code_type() {
    let sim = start(quick(), &bogota_clock("2026-03-12 00:00:00")).await;
    for report in catalog::all() {
        let reply = call(&sim, Some("t"), &day_query(report)).await;
        assert_eq!(reply.status, 200, "{}: {}", report.api, reply.body);
        // information.php's audit log answers success as its Postman example does.
        let code = match report.api {
            "audit_log" => json!("0"),
            _ if report.code_is_text => json!("200"),
            _ => json!(200),
        };
        assert_eq!(reply.body["code"], code, "{}", report.api);
        let params: Vec<(&str, &str)> =
            report.params.iter().map(|(n, d)| (*n, if d.is_empty() { "12523" } else { *d })).collect();
        let truth = sim.ground_truth_with(report.api, &params, at("2026-03-10 00:00:00"), at("2026-03-10 23:59:59"));
        let data = match report.data_shape {
            DataShape::Array => json!(truth),
            DataShape::BucketObject => json!(truth[0]),
        };
        assert_eq!(reply.body["data"], data, "{}", report.api);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_missing_required_parameter_is_rejected_and_cod_act_selects_the_group() {
    let sim = start(quick(), &bogota_clock("2026-03-12 00:00:00")).await;
    let window = "date_ini=20260310000000&date_end=20260310235959";
    for query in [
        format!("api=skill_1&{window}"),
        format!("api=campaign_3&{window}"),
        format!("api=act_1&{window}"),
        format!("api=act_1&cod_act=cod_act3&{window}"),
        format!("api=agent_2&{window}"),
    ] {
        let reply = call(&sim, Some("t"), &query).await;
        assert_eq!(reply.body, refusal(400, "BAD REQUEST", "SOME PARAMETERS ARE REQUIRED"), "{query}");
    }
    let group = |g: &str| {
        let query = format!("api=act_5&cod_act={g}&{window}");
        let sim = &sim;
        async move { call(sim, Some("t"), &query).await.body["data"].clone() }
    };
    let (one, two) = (group("cod_act1").await, group("cod_act2").await);
    assert!(one.as_array().is_some_and(|a| !a.is_empty()));
    assert_ne!(one, two);
    let agent = call(&sim, Some("t"), &format!("api=agent_2&agent_id=777&{window}")).await;
    assert!(agent.body["data"].as_array().unwrap().iter().all(|r| r["agent_id"] == "777"));
    sim.shutdown().await;
}

#[tokio::test]
async fn skill_5_refuses_windows_over_24_hours() {
    let sim = start(quick(), &bogota_clock("2026-03-12 00:00:00")).await;
    let query = |end: &str| format!("api=skill_5&skill_id=all&date_ini=20260310000000&date_end={end}");
    assert_eq!(call(&sim, Some("t"), &query("20260311000000")).await.status, 200);
    let long = call(&sim, Some("t"), &query("20260311000001")).await;
    assert_eq!(long.body, refusal(400, "BAD REQUEST", "THE MAXIMUM DATE RANGE IS 1 DAYS"));
    sim.shutdown().await;
}

#[tokio::test]
async fn cdr_4_answers_an_object_of_buckets() {
    let sim = start(quick(), &bogota_clock("2026-03-12 00:00:00")).await;
    let reply = call(&sim, Some("t"), "api=cdr_4&date_ini=20260310000000&date_end=20260310235959").await;
    let data = reply.body["data"].as_object().unwrap();
    assert!(data.contains_key("0_5_seg") && data.contains_key("greater_than_121"));
    assert_eq!(reply.body["msg"], format!("{} records were found", data.len()));
    let empty = call(&sim, Some("t"), "api=cdr_4&date_ini=20260320000000&date_end=20260320235959").await;
    assert_eq!(empty.status, 404);
    sim.shutdown().await;
}

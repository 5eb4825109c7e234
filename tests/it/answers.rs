//! Every answer accounted for: answers a hostile API can send (rows that cannot be stored,
//! parents without children, envelopes that contradict themselves, information.php's own success
//! codes, a key sent three times, identical rejects on different days, a re-read the API can no
//! longer answer) each end with every row stored, quarantined or asked again — never erased,
//! dropped or stalled. The API here is [`HostileApi`]: it answers what each test scripts, so
//! none of these proofs shares the simulator's model of the API.

use serde_json::{json, Value};
use wolkvox_etl::store::Db;

use crate::on_both_backends;
use crate::support::hostile::*;
use crate::support::{scalar, text, TestDb};

const DAY_19: [&str; 4] = ["--from", "2026-11-19", "--to", "2026-11-20"];

fn sync(api: &HostileApi, db: &TestDb, report: &str, range: &[&str]) -> std::process::Command {
    let mut args = vec!["sync", "--report", report];
    args.extend_from_slice(range);
    binary(&api.base_url, &db.url, "warn", &args)
}

async fn count(db: &Db, sql: &str) -> i64 {
    scalar(db, sql).await
}

/// agent_1 rows of one agent each, keyed (or not) on `agent_id`.
fn agents(ids: &[Option<&str>]) -> Value {
    let rows: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let mut row = json!({"agent_dni": format!("9857046{i}"), "agent_name": "SERGIO FLOREZ", "calls": "4", "ready_time": "01:02:03"});
            if let Some(id) = id {
                row["agent_id"] = json!(id);
            }
            row
        })
        .collect();
    Value::Array(rows)
}

on_both_backends! {
/// Item 1: an answer whose every element is rejected or flattened away is an empty answer: the
/// day's stored rows stay, the day is suspect, the rejects are quarantined.
async fn an_answer_with_no_storable_row_never_erases_an_aggregate_day(backend) {
    let db = TestDb::new(backend).await;
    let api = HostileApi::start(|_| ok(agents(&[Some("101"), Some("102"), Some("103")]))).await;
    let first = run(sync(&api, &db, "agent_1", &DAY_19)).await;
    assert!(first.status.success(), "{}", text(&first));
    let pool = db.db().await;
    let day = "SELECT count(*) FROM agent_1 WHERE day = '2026-11-19'";
    assert_eq!(count(&pool, day).await, 3);

    // The same three agents, without their key.
    api.answer(|_| ok(agents(&[None, None, None])));
    let second = run(sync(&api, &db, "agent_1", &DAY_19)).await;
    assert!(!second.status.success(), "every row rejected is not a success: {}", text(&second));
    assert_eq!(count(&pool, day).await, 3, "the stored day is kept: {}", text(&second));
    assert_eq!(count(&pool, "SELECT count(*) FROM etl_suspect_day WHERE report = 'agent_1' AND day = '2026-11-19'").await, 1);
    assert_eq!(count(&pool, "SELECT count(*) FROM etl_rejected WHERE report = 'agent_1'").await, 3);

    // Nested parents whose child array is empty or missing: agent_5 (per hour) and agent_11.
    let agent_5 = |children: Value| ok(json!([{"agent_id": "101", "agent_name": "A", "status_x_hour": children},
                                             {"agent_id": "102", "agent_name": "B", "status_x_hour": [{"hour": "08:00", "calls": "2"}]}]));
    api.answer(move |_| agent_5(json!([{"hour": "07:00", "calls": "1"}])));
    assert!(run(sync(&api, &db, "agent_5", &DAY_19)).await.status.success());
    assert_eq!(count(&pool, "SELECT count(*) FROM agent_5 WHERE day = '2026-11-19'").await, 2);
    api.answer(|_| ok(json!([{"agent_id": "101", "agent_name": "A", "status_x_hour": []},
                             {"agent_id": "102", "agent_name": "B"}])));
    let out = run(sync(&api, &db, "agent_5", &DAY_19)).await;
    assert_eq!(count(&pool, "SELECT count(*) FROM agent_5 WHERE day = '2026-11-19'").await, 2, "{}", text(&out));
    assert_eq!(count(&pool, "SELECT count(*) FROM etl_suspect_day WHERE report = 'agent_5'").await, 1);
    // The parent without its list is quarantined; the one with an empty list is counted only.
    assert_eq!(count(&pool, "SELECT count(*) FROM etl_rejected WHERE report = 'agent_5'").await, 1);
    let recorded = "SELECT CAST(rows_fetched AS BIGINT) * 100 + CAST(rows_rejected AS BIGINT) * 10 + CAST(rows_empty AS BIGINT) \
                    FROM etl_run WHERE report = 'agent_5' ORDER BY id DESC LIMIT 1";
    assert_eq!(count(&pool, recorded).await, 111, "one parent fetched and rejected, one empty");

    api.answer(|_| ok(json!([{"skill_name": "VENTAS", "agents": [{"agent_id": "101", "calls": "3"}]}])));
    assert!(run(sync(&api, &db, "agent_11", &DAY_19)).await.status.success());
    api.answer(|_| ok(json!([{"skill_name": "VENTAS", "agents": null}])));
    run(sync(&api, &db, "agent_11", &DAY_19)).await;
    assert_eq!(count(&pool, "SELECT count(*) FROM agent_11 WHERE day = '2026-11-19'").await, 1);

    // cdr_4 answers one object of buckets; `{}` has none.
    let buckets = json!({"0_5_seg": {"INTERVAL": "0-5", "calls": "3", "minutes": "1"}, "6_20_seg": {"INTERVAL": "6-20", "calls": "1", "minutes": "2"}});
    api.answer(move |_| (200, json!({"code": 200, "error": null, "msg": "2 records were found", "data": buckets}).to_string()));
    assert!(run(sync(&api, &db, "cdr_4", &DAY_19)).await.status.success());
    assert_eq!(count(&pool, "SELECT count(*) FROM cdr_4 WHERE day = '2026-11-19'").await, 2);
    api.answer(|_| (200, r#"{"code":200,"error":null,"msg":"0 records were found","data":{}}"#.to_string()));
    let out = run(sync(&api, &db, "cdr_4", &DAY_19)).await;
    assert_eq!(count(&pool, "SELECT count(*) FROM cdr_4 WHERE day = '2026-11-19'").await, 2, "{}", text(&out));
    assert_eq!(count(&pool, "SELECT count(*) FROM etl_suspect_day WHERE report = 'cdr_4'").await, 1);
}

/// Item 2: information.php answers success as `"code": "0"` (audit_log, activity_codes) and
/// `"code": ""` (agents, campaigns), as its own examples show.
async fn information_php_success_codes_zero_and_blank_are_successes(backend) {
    let db = TestDb::new(backend).await;
    let api = HostileApi::start(|asked| {
        let (code, rows) = match asked.api() {
            "audit_log" => ("0", json!([{"date": "2026-11-19 08:00:00", "ip": "10.0.0.1", "user": "admin", "action": "LOGIN", "workstation": "PC1"},
                                        {"date": "2026-11-19 09:00:00", "ip": "10.0.0.1", "user": "admin", "action": "LOGOUT", "workstation": "PC1"}])),
            "activity_codes" => ("0", json!([{"type_code": "1", "cod_act": "101", "description_cod_act": "VENTA"}])),
            "agents" => ("", json!([{"agent_id": "101", "agent_name": "SERGIO FLOREZ"}])),
            "campaigns" => ("", json!([{"campaign_id": "7", "campaign_name": "COBRO"}])),
            _ => return empty(),
        };
        (200, json!({"code": code, "error": null, "msg": "1 records were found", "data": rows}).to_string())
    }).await;
    let out = run(sync(&api, &db, "audit_log", &DAY_19)).await;
    assert!(out.status.success(), "{}", text(&out));
    let pool = db.db().await;
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_log").await, 2, "{}", text(&out));
    let asked = api.asked();
    assert_eq!(asked.len(), 1, "one request, no retry and no split");
    assert_eq!((asked[0].file.as_str(), asked[0].api()), ("information.php", "audit_log"));
    for (dim, table) in [("dim_activity_code", "dim_activity_code"), ("dim_agent", "dim_agent"), ("dim_campaign", "dim_campaign")] {
        let out = run(sync(&api, &db, dim, &[])).await;
        assert!(out.status.success(), "{dim}: {}", text(&out));
        assert_eq!(count(&pool, &format!("SELECT count(*) FROM {table}")).await, 1, "{dim}");
    }
}

/// Item 3: an envelope that contradicts itself (an error code with rows, rows with an error
/// text) fails its window whole: nothing is written and the watermark stays.
async fn an_envelope_that_contradicts_itself_writes_nothing(backend) {
    let db = TestDb::new(backend).await;
    let rows: Vec<Value> = (0..300)
        .map(|i| json!({"chat_id": format!("c{i}"), "date": format!("2026-11-19 {:02}:{:02}:00", i / 60, i % 60), "agent_id": "101"}))
        .collect();
    let rows = Value::Array(rows);
    let pool = db.db().await;
    let wrong = [
        json!({"code": "404", "error": "NOT FOUND", "msg": "0 records were found", "data": rows}),
        json!({"data": rows, "code": 404, "error": "NOT FOUND", "msg": "NOT FOUND"}),
        json!({"code": "200", "error": "INTERNAL ERROR", "msg": "300 records were found", "data": rows}),
    ];
    for body in wrong {
        let body = body.to_string();
        let api = HostileApi::start(move |_| (200, body.clone())).await;
        let out = run(sync(&api, &db, "chat_14", &DAY_19)).await;
        assert!(!out.status.success(), "{}", text(&out));
        assert_eq!(count(&pool, "SELECT count(*) FROM chat_14").await, 0, "{}", text(&out));
        assert_eq!(count(&pool, "SELECT count(*) FROM etl_watermark WHERE report = 'chat_14'").await, 0);
        assert_eq!(api.asked().len(), 1, "not split: a contradiction is not a size problem");
        assert!(text(&out).contains("contradicts itself"), "{}", text(&out));
    }
    // The control: the same rows under a success envelope are all stored.
    let api = HostileApi::start(move |_| ok(rows.clone())).await;
    let out = run(sync(&api, &db, "chat_14", &DAY_19)).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(count(&pool, "SELECT count(*) FROM chat_14").await, 300);
}

/// Item 4: a chat_2 parent whose `conversation` is null, a string or holds non-objects yields
/// no row: it is counted and quarantined, never dropped unseen.
async fn parents_that_flatten_to_nothing_are_counted_and_quarantined(backend) {
    let db = TestDb::new(backend).await;
    let message = |date: &str, from: &str| json!({"date": date, "from": from, "message": "hola"});
    let good = json!({"conn_id": "k1", "agent_name": "A", "conversation": [message("2026-11-19 08:00:00", "a"), message("2026-11-19 08:01:00", "b")]});
    let mixed = json!({"conn_id": "k2", "agent_name": "A", "conversation": [message("2026-11-19 09:00:00", "a"), 7]});
    let answer = json!([good, mixed,
        {"conn_id": "k3", "agent_name": "A", "conversation": null},
        {"conn_id": "k4", "agent_name": "A", "conversation": "hola"},
        {"conn_id": "k5", "agent_name": "A", "conversation": [1, 2]}]);
    let api = HostileApi::start(move |_| ok(answer.clone())).await;
    let out = run(sync(&api, &db, "chat_2", &DAY_19)).await;
    let pool = db.db().await;
    assert_eq!(count(&pool, "SELECT count(*) FROM chat_2").await, 3, "{}", text(&out));
    assert_eq!(count(&pool, "SELECT count(*) FROM etl_rejected WHERE report = 'chat_2'").await, 4, "{}", text(&out));
    let run_row = "SELECT CAST(rows_fetched AS BIGINT) * 10 + CAST(rows_rejected AS BIGINT) FROM etl_run WHERE report = 'chat_2'";
    assert_eq!(count(&pool, run_row).await, 74, "3 rows and 4 parents fetched, 4 rejected");
    assert!(text(&out).contains("4 rejected"), "{}", text(&out));
}

/// Item 5: a key sent three times (A, more than a write batch of other rows, then B and X)
/// ends on its last copy on every read, whatever the batches.
async fn the_last_of_three_copies_wins_on_every_re_read(backend) {
    let db = TestDb::new(backend).await;
    let answer = |version: &str| {
        let copy = |v: &str| json!({"chat_id": "K", "date": "2026-11-19 00:00:00", "cod_act": v});
        let mut rows = vec![copy("A")];
        rows.extend((0..5_100).map(|i| json!({"chat_id": format!("f{i}"), "date": "2026-11-19 12:00:00", "cod_act": version})));
        rows.push(copy("B"));
        rows.push(copy("X"));
        Value::Array(rows)
    };
    let first = answer("v1");
    let api = HostileApi::start(move |_| ok(first.clone())).await;
    let pool = db.db().await;
    let last = "SELECT count(*) FROM chat_14 WHERE chat_id = 'K' AND cod_act = 'X'";
    for (run_no, version) in ["v1", "v2", "v2", "v3"].into_iter().enumerate() {
        let body = answer(version);
        api.answer(move |_| ok(body.clone()));
        let out = run(sync(&api, &db, "chat_14", &DAY_19)).await;
        assert!(out.status.success(), "{}", text(&out));
        assert_eq!(count(&pool, last).await, 1, "run {run_no} ({version}) ends on the last copy: {}", text(&out));
    }
}

/// Item 6: identical rejects of different days each keep their row in the quarantine, and a
/// re-read adds none.
async fn identical_rejects_of_different_days_each_keep_a_row(backend) {
    let db = TestDb::new(backend).await;
    let api = HostileApi::start(|_| ok(agents(&[None]))).await;
    let two_days = ["--from", "2026-11-18", "--to", "2026-11-20"];
    run(sync(&api, &db, "agent_1", &two_days)).await;
    let pool = db.db().await;
    let kept = "SELECT count(*) FROM etl_rejected WHERE report = 'agent_1'";
    assert_eq!(count(&pool, kept).await, 2, "one per day");
    run(sync(&api, &db, "agent_1", &two_days)).await;
    assert_eq!(count(&pool, kept).await, 2, "a re-read adds no copy");
}
}

/// Rows of chat_14 every 30 minutes of the local range `[date_ini, date_end]` the request asks.
fn half_hours(asked: &Asked) -> Value {
    let parse = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y%m%d%H%M%S").unwrap();
    let (from, to) = (parse(asked.date_ini()), parse(asked.date_end()));
    let mut at = from.date().and_hms_opt(from.time().format("%H").to_string().parse().unwrap(), 0, 0).unwrap();
    let mut rows = Vec::new();
    while at <= to {
        if at >= from {
            let date = at.format("%Y-%m-%d %H:%M:%S").to_string();
            rows.push(json!({"chat_id": at.format("c%Y%m%d%H%M").to_string(), "date": date, "cod_act": "1"}));
        }
        at += chrono::Duration::minutes(30);
    }
    Value::Array(rows)
}

fn rows_or_empty(rows: Value) -> (u16, String) {
    if rows.as_array().is_some_and(Vec::is_empty) {
        empty()
    } else {
        ok(rows)
    }
}

fn unavailable() -> (u16, String) {
    (503, r#"{"code":503,"error":"SERVICE UNAVAILABLE","msg":"try later"}"#.to_string())
}

async fn watermark(db: &Db, report: &str) -> chrono::DateTime<chrono::Utc> {
    let key = wolkvox_etl::store::watermark::StreamKey { account: "default", report, stream: "" };
    db.watermark(key).await.unwrap().expect("a watermark")
}

on_both_backends! {
/// Item 8: an hour inside the look-back (committed already) that the API can no longer answer
/// is recorded and skipped: the run still commits the new windows after it.
async fn a_re_read_the_api_cannot_answer_never_blocks_new_data(backend) {
    let db = TestDb::new(backend).await;
    let api = HostileApi::start(|asked| rows_or_empty(half_hours(asked))).await;
    let bogota = chrono_tz::America::Bogota;
    let yesterday = (wolkvox_etl::time::utc_to_local(bogota, chrono::Utc::now()).date() - chrono::Duration::days(1)).to_string();
    let first = run(sync(&api, &db, "chat_14", &["--from", &yesterday])).await;
    assert!(first.status.success(), "{}", text(&first));
    let pool = db.db().await;
    let committed = watermark(&pool, "chat_14").await;
    // Two hours before the watermark: inside the look-back, already committed.
    let broken = wolkvox_etl::time::utc_to_local(bogota, committed - chrono::Duration::hours(2));
    let stamp = broken.format("%Y%m%d%H%M%S").to_string();
    api.answer(move |asked| {
        if asked.date_ini() <= stamp.as_str() && stamp.as_str() <= asked.date_end() {
            unavailable()
        } else {
            rows_or_empty(half_hours(asked))
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    let second = run(sync(&api, &db, "chat_14", &[])).await;
    // Not a clean success: said, with the newer windows committed.
    assert!(!second.status.success(), "{}", text(&second));
    assert!(text(&second).contains("could not be answered by the API"), "{}", text(&second));
    assert!(watermark(&pool, "chat_14").await > committed, "the new windows committed: {}", text(&second));
    let recorded = "SELECT count(*) FROM etl_window WHERE report = 'chat_14' AND outcome = 'unanswered'";
    assert_eq!(count(&pool, recorded).await, 1, "{}", text(&second));
    assert!(text(&second).contains("could not answer"), "{}", text(&second));
    let status = run(binary(&api.base_url, &db.url, "warn", &["status"])).await;
    assert!(text(&status).contains("unanswered"), "{}", text(&status));
}

/// Item 8, aggregates: a suspect day the API cannot answer is recorded and skipped; the days
/// after it still commit.
async fn an_old_day_the_api_cannot_answer_never_blocks_the_days_after_it(backend) {
    let db = TestDb::new(backend).await;
    let api = HostileApi::start(|_| ok(agents(&[Some("101")]))).await;
    let days = ["--from", "2026-11-18", "--to", "2026-11-20"];
    assert!(run(sync(&api, &db, "agent_1", &days)).await.status.success());
    let pool = db.db().await;
    let committed = watermark(&pool, "agent_1").await;
    api.answer(|asked| if asked.date_ini().starts_with("20261118") { empty() } else { ok(agents(&[Some("101")])) });
    run(sync(&api, &db, "agent_1", &days)).await;
    assert_eq!(count(&pool, "SELECT count(*) FROM etl_suspect_day WHERE report = 'agent_1'").await, 1);
    api.answer(|asked| if asked.date_ini().starts_with("20261118") { unavailable() } else { ok(agents(&[Some("101")])) });
    let out = run(sync(&api, &db, "agent_1", &[])).await;
    assert!(text(&out).contains("1 re-read(s) of rows stored before could not be answered"), "{}", text(&out));
    assert!(watermark(&pool, "agent_1").await > committed + chrono::Duration::days(1), "{}", text(&out));
    let recorded = "SELECT count(*) FROM etl_window WHERE report = 'agent_1' AND outcome = 'unanswered'";
    assert_eq!(count(&pool, recorded).await, 1, "{}", text(&out));
    assert_eq!(count(&pool, "SELECT count(*) FROM agent_1 WHERE day = '2026-11-18'").await, 1, "kept");
}

/// Item 8's limit: a backfill of days never read before is not a re-read: a day the API cannot
/// answer fails the run, never skipped, even behind the watermark.
async fn a_backfill_of_never_read_days_is_never_skipped(backend) {
    let db = TestDb::new(backend).await;
    let api = HostileApi::start(|_| ok(agents(&[Some("101")]))).await;
    assert!(run(sync(&api, &db, "agent_1", &["--from", "2026-11-19", "--to", "2026-11-20"])).await.status.success());
    api.answer(|asked| if asked.date_ini().starts_with("20261110") { unavailable() } else { ok(agents(&[Some("101")])) });
    let out = run(sync(&api, &db, "agent_1", &["--from", "2026-11-10", "--to", "2026-11-12"])).await;
    assert!(!out.status.success(), "{}", text(&out));
    let pool = db.db().await;
    assert_eq!(count(&pool, "SELECT count(*) FROM etl_unanswered").await, 0, "{}", text(&out));
    assert!(text(&out).contains("failed"), "{}", text(&out));
}

/// Item 8: a refused connection is retried, never bisected (a split cannot help and each half
/// would be another failed call).
async fn a_refused_connection_is_retried_not_split(backend) {
    let db = TestDb::new(backend).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v2/", closed.local_addr().unwrap());
    drop(closed);
    let mut cmd = binary(&url, &db.url, "warn", &["sync", "--report", "chat_14", "--from", "2026-11-18", "--to", "2026-11-20"]);
    cmd.env("WOLKVOX_ETL__WOLKVOX__MAX_ATTEMPTS", "2");
    let out = run(cmd).await;
    assert!(!out.status.success());
    assert!(!text(&out).contains("splitting"), "{}", text(&out));
    let pool = db.db().await;
    let recorded = "SELECT CAST(requests AS BIGINT) * 10 + CAST(splits AS BIGINT) FROM etl_run WHERE report = 'chat_14'";
    assert_eq!(count(&pool, recorded).await, 20, "two attempts, no split: {}", text(&out));
}
}

//! Compressed answers through the real binary: a gzip, a zstd, a brotli and a deflate answer each
//! land every row; an answer whose `Content-Encoding` lies fails its window without storing
//! anything; a zip bomb (a small gzip body that expands to gigabytes of JSON whitespace) stops at
//! the 256 MiB answer cap, in flat memory. The server here is a few lines of this file that send
//! whatever bytes and headers a test gives them, compressed by the test itself.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_compression::tokio::bufread::{BrotliEncoder, GzipEncoder, ZlibEncoder, ZstdEncoder};
use async_compression::Level;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::hostile::{binary, request_head, run};
use crate::support::{scalar, text, TestDb};

/// One answer: status, `Content-Encoding` (if any), body bytes.
type Answer = (u16, Option<&'static str>, Arc<Vec<u8>>);

/// A server that answers every request with the current answer, and notes each request's
/// `Accept-Encoding`.
struct RawApi {
    base_url: String,
    answer: Arc<Mutex<Answer>>,
    accepted: Arc<Mutex<Vec<String>>>,
}

impl RawApi {
    async fn start(first: Answer) -> RawApi {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}/api/v2/", listener.local_addr().unwrap());
        let answer = Arc::new(Mutex::new(first));
        let accepted: Arc<Mutex<Vec<String>>> = Arc::default();
        let (a, seen) = (Arc::clone(&answer), Arc::clone(&accepted));
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (answer, seen) = (Arc::clone(&a), Arc::clone(&seen));
                tokio::spawn(async move {
                    let Some(head) = request_head(&mut socket).await else { return };
                    let head = head.to_ascii_lowercase();
                    let accept = head.lines().find_map(|l| l.strip_prefix("accept-encoding:")).unwrap_or_default();
                    seen.lock().unwrap().push(accept.trim().to_string());
                    let (status, encoding, body) = answer.lock().unwrap().clone();
                    let encoding = encoding.map(|e| format!("content-encoding: {e}\r\n")).unwrap_or_default();
                    let head = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{encoding}content-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(&body).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        RawApi { base_url, answer, accepted }
    }

    fn answer(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }
}

/// `bytes` in `encoding`, by the same encoders a web server would use.
async fn compress(encoding: &str, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        "gzip" => GzipEncoder::with_quality(bytes, Level::Fastest).read_to_end(&mut out).await,
        "zstd" => ZstdEncoder::with_quality(bytes, Level::Default).read_to_end(&mut out).await,
        "br" => BrotliEncoder::with_quality(bytes, Level::Precise(5)).read_to_end(&mut out).await,
        _ => ZlibEncoder::with_quality(bytes, Level::Default).read_to_end(&mut out).await,
    }
    .unwrap();
    out
}

/// 300 agent_1 rows of one day, as the API's envelope.
fn agents() -> Vec<u8> {
    let rows: Vec<Value> = (0..300)
        .map(|i| json!({"agent_id": format!("{}", 1000 + i), "agent_dni": format!("98{i}"), "agent_name": "SERGIO FLOREZ", "calls": "4", "ready_time": "01:02:03"}))
        .collect();
    json!({"code": "200", "error": null, "msg": "300 records were found", "data": rows}).to_string().into_bytes()
}

const DAY_19: [&str; 4] = ["--from", "2026-11-19", "--to", "2026-11-20"];

fn sync(api: &RawApi, db: &TestDb) -> std::process::Command {
    let mut args = vec!["sync", "--report", "agent_1"];
    args.extend_from_slice(&DAY_19);
    binary(&api.base_url, &db.url, "warn", &args)
}

#[tokio::test]
async fn gzip_zstd_brotli_and_deflate_answers_each_land_every_row_and_the_client_asks_for_them() {
    let plain = agents();
    for encoding in ["gzip", "zstd", "br", "deflate"] {
        let db = TestDb::new(wolkvox_etl::store::Backend::Postgres).await;
        let body = compress(encoding, &plain).await;
        let wire = body.len() as i64;
        assert!(body.len() * 5 < plain.len(), "{encoding}: {} of {} bytes", body.len(), plain.len());
        let api = RawApi::start((200, Some(encoding), Arc::new(body))).await;
        let out = run(sync(&api, &db)).await;
        assert!(out.status.success(), "{encoding}: {}", text(&out));
        let pool = db.db().await;
        assert_eq!(scalar(&pool, "SELECT count(*) FROM agent_1 WHERE day = '2026-11-19'").await, 300, "{encoding}");
        // The run history counts both: the body as sent, and as the parser read it.
        assert_eq!(scalar(&pool, "SELECT bytes_wire FROM etl_run").await, wire, "{encoding}");
        assert_eq!(scalar(&pool, "SELECT bytes_decoded FROM etl_run").await, plain.len() as i64, "{encoding}");
        let accepted = api.accepted.lock().unwrap().clone();
        assert_eq!(accepted, ["gzip, br, zstd, deflate"], "the client asks for every encoding it decodes");
    }
}

#[tokio::test]
async fn an_uncompressed_answer_still_lands_and_an_unasked_encoding_is_malformed() {
    let db = TestDb::new(wolkvox_etl::store::Backend::Sqlite).await;
    let api = RawApi::start((200, None, Arc::new(agents()))).await;
    let out = run(sync(&api, &db)).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(scalar(&db.db().await, "SELECT count(*) FROM agent_1").await, 300);
    // An encoding the client did not ask for cannot be read: the window fails, nothing moves.
    let other = TestDb::new(wolkvox_etl::store::Backend::Sqlite).await;
    api.answer((200, Some("compress"), Arc::new(agents())));
    let out = run(sync(&api, &other)).await;
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("an encoding we did not ask for (Content-Encoding: compress)"), "{}", text(&out));
    assert_eq!(scalar(&other.db().await, "SELECT count(*) FROM agent_1").await, 0);
}

#[tokio::test]
async fn a_body_whose_content_encoding_lies_fails_the_window_without_storing_anything() {
    for backend in [wolkvox_etl::store::Backend::Postgres, wolkvox_etl::store::Backend::Sqlite] {
        let db = TestDb::new(backend).await;
        // Says gzip, is plain JSON.
        let api = RawApi::start((200, Some("gzip"), Arc::new(agents()))).await;
        let out = run(sync(&api, &db)).await;
        assert!(!out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("is not the gzip it says it is"), "{}", text(&out));
        let pool = db.db().await;
        assert_eq!(scalar(&pool, "SELECT count(*) FROM agent_1").await, 0, "nothing stored");
        assert_eq!(scalar(&pool, "SELECT count(*) FROM etl_watermark").await, 0, "the watermark did not move");
        // A gzip body cut in the middle: the same.
        let whole = compress("gzip", &agents()).await;
        api.answer((200, Some("gzip"), Arc::new(whole[..whole.len() / 2].to_vec())));
        let out = run(sync(&api, &db)).await;
        assert!(!out.status.success(), "{}", text(&out));
        assert_eq!(scalar(&pool, "SELECT count(*) FROM agent_1").await, 0, "nothing stored of a cut body");
    }
}

/// Peak resident memory, in KiB, of a process (its high-water mark).
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test]
async fn a_zip_bomb_stops_at_the_answer_cap_in_flat_memory() {
    // An envelope whose `data` list never ends: a gigabyte of spaces (valid JSON whitespace, so
    // the parser keeps reading) in about a megabyte of gzip.
    let mut plain = br#"{"code":"200","error":null,"msg":"x","data":["#.to_vec();
    plain.resize(plain.len() + (1 << 30), b' ');
    let mut bomb = Vec::new();
    GzipEncoder::with_quality(&plain[..], Level::Best).read_to_end(&mut bomb).await.unwrap();
    drop(plain);
    assert!(bomb.len() < 2 << 20, "the bomb is small: {} bytes", bomb.len());
    let api = RawApi::start((200, Some("gzip"), Arc::new(bomb))).await;
    let db = TestDb::new(wolkvox_etl::store::Backend::Postgres).await;
    let mut cmd = sync(&api, &db);
    let log = std::env::temp_dir().join(format!("wolkvox_bomb_{:016x}.log", fastrand::u64(..)));
    cmd.stdout(Stdio::null()).stderr(std::fs::File::create(&log).unwrap());
    let (status, peak_kib, seconds) = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut child = cmd.spawn().unwrap();
        let mut peak = 0;
        let status = loop {
            peak = vm_hwm_kib(child.id()).unwrap_or(0).max(peak);
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if peak > 100 * 1024 || started.elapsed() > Duration::from_secs(120) {
                let _ = child.kill();
                break child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        (status, peak, started.elapsed().as_secs_f64())
    })
    .await
    .unwrap();
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    eprintln!("zip bomb: peak {peak_kib} KiB in {seconds:.1} s");
    assert!(!status.success(), "the window fails: {stderr}");
    assert!(peak_kib < 100 * 1024, "peak RSS {peak_kib} KiB");
    assert!(stderr.contains("longer than the 256 MiB it may take"), "{stderr}");
    assert_eq!(scalar(&db.db().await, "SELECT count(*) FROM agent_1").await, 0);
}

/// What the simulator answers to a request that accepts every encoding.
async fn simulator_encoding(sim: &wolkvox_etl::simulator::Simulator) -> Option<String> {
    let day = sim.now_local().date() - chrono::Duration::days(1);
    let url = format!(
        "{}reports_manager.php?api=chat_14&date_ini={}000000&date_end={}235959",
        sim.base_url(),
        day.format("%Y%m%d"),
        day.format("%Y%m%d")
    );
    let response = reqwest::Client::new()
        .get(url)
        .header("wolkvox-token", crate::support::TOKEN)
        .header("accept-encoding", "gzip, br, zstd, deflate")
        .send()
        .await
        .unwrap();
    response.headers().get("content-encoding").map(|v| v.to_str().unwrap().to_string())
}

/// The simulator compresses by default (so every suite runs over compressed answers), in one
/// encoding when told, or never; the same rows land whichever way they travelled.
#[tokio::test]
async fn the_simulator_compresses_when_asked_and_the_same_rows_land_compressed_or_not() {
    use wolkvox_etl::simulator::{Compression, SimulatorConfig};
    let mut stored = Vec::new();
    for (compression, expected) in
        [(Compression::Negotiate, Some("gzip")), (Compression::Only("zstd"), Some("zstd")), (Compression::Off, None)]
    {
        let sim =
            crate::support::simulator_at_midnight(SimulatorConfig { compression, ..SimulatorConfig::default() }).await;
        assert_eq!(simulator_encoding(&sim).await.as_deref(), expected, "{compression:?}");
        let db = TestDb::new(wolkvox_etl::store::Backend::Postgres).await;
        let (out, _) = crate::support::sync_yesterday(&sim, &db, "chat_14").await;
        assert!(out.status.success(), "{compression:?}: {}", text(&out));
        let pool = db.db().await;
        let wolkvox_etl::store::Db::Postgres(pg) = &pool else { unreachable!() };
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT chat_id, raw::text FROM chat_14 ORDER BY chat_id, date")
                .fetch_all(pg)
                .await
                .unwrap();
        assert!(rows.len() > 100, "{compression:?}: {} rows", rows.len());
        stored.push(rows);
    }
    assert!(stored[0] == stored[1] && stored[1] == stored[2], "the same rows whatever the encoding");
}

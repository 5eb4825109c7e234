//! A hostile or broken server cannot take the daemon's memory: an answer carrying one 200 MB
//! value, or a 200 MB error `msg` (inside a 200 or with a 400), is read by the real binary in
//! well under 100 MiB. A huge error fails the run with a short error; a row holding a huge value
//! goes to the quarantine (short, with its reason) and the rest of its window is stored, the
//! watermark moving as for any quarantined row.

use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use wolkvox_etl::simulator::faults::plant_huge;
use wolkvox_etl::simulator::{HugeAnswer, HugeKind, Simulator, SimulatorConfig};
use wolkvox_etl::store::{Backend, Db};
use wolkvox_etl::time::{local_to_utc, utc_to_local};
use wolkvox_etl::wolkvox::catalog;
use wolkvox_etl::wolkvox::envelope::{CUT_MARK_TEXT, VALUE_CAP};

use crate::support::*;

/// The hostile part of each answer.
/// Under the 256 MiB a 2xx answer may decode to (`REPORT_BODY_CAP`), which stops a longer one whole.
const HUGE_BYTES: usize = 200 * 1024 * 1024;

/// The most the binary may hold at its peak while reading such an answer.
const PEAK_LIMIT_KIB: u64 = 100 * 1024;

/// One `sync` of the binary, watched.
struct Watched {
    status: ExitStatus,
    stderr: String,
    peak_kib: u64,
    seconds: f64,
}

/// `sync --report chat_14` of yesterday (Bogotá) against `sim`, polling the process's peak
/// resident memory (VmHWM, the high-water mark, so a poll that comes late still sees the peak).
async fn sync_watched(sim: &Simulator, db: &TestDb) -> (Watched, NaiveDate) {
    let today = utc_to_local(chrono_tz::America::Bogota, Utc::now()).date();
    let day = today - chrono::Duration::days(1);
    let (from, to) = (day.to_string(), today.to_string());
    let mut cmd = binary(sim, db, "warn", &["sync", "--report", "chat_14", "--from", &from, "--to", &to]);
    // To a file, not a pipe: a pipe nobody reads while polling could stall the child.
    let log = std::env::temp_dir().join(format!("wolkvox_memory_{:016x}.log", fastrand::u64(..)));
    cmd.stdout(Stdio::null()).stderr(std::fs::File::create(&log).unwrap());
    let watched = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut child = cmd.spawn().expect("start the binary");
        let mut peak_kib = 0;
        let status = loop {
            if let Some(kib) = vm_hwm_kib(child.id()) {
                peak_kib = peak_kib.max(kib);
            }
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            // Over the limit, or stuck: stop it here (the assertions then fail) rather than let
            // it take the machine's memory or outlive the test.
            if peak_kib >= PEAK_LIMIT_KIB || started.elapsed() > Duration::from_secs(90) {
                let _ = child.kill();
                break child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let stderr = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        Watched { status, stderr, peak_kib, seconds: started.elapsed().as_secs_f64() }
    })
    .await
    .unwrap();
    assert!(watched.peak_kib > 0, "the peak was read at least once");
    assert!(watched.seconds < 90.0, "the sync took over 90 s and was stopped: {}", watched.stderr);
    (watched, day)
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn huge_simulator(kind: HugeKind) -> Simulator {
    let huge = HugeAnswer { kind, bytes: HUGE_BYTES };
    simulator_at_midnight(SimulatorConfig { huge: Some(huge), ..SimulatorConfig::default() }).await
}

/// A sync answered with a huge error `msg` fails, in bounded memory, with a short error.
async fn a_huge_error_fails_the_run_briefly(kind: HugeKind) {
    let sim = huge_simulator(kind).await;
    let db = TestDb::new(Backend::Postgres).await;
    let (run, _) = sync_watched(&sim, &db).await;
    eprintln!("{kind:?}: peak {} KiB in {:.1} s", run.peak_kib, run.seconds);
    assert!(!run.status.success(), "a failed run: {}", run.stderr);
    assert!(run.peak_kib < PEAK_LIMIT_KIB, "{kind:?}: peak RSS {} KiB", run.peak_kib);
    assert!(run.stderr.len() < 16 * 1024, "a short log: {} bytes", run.stderr.len());
    let pool = db.db().await;
    let Db::Postgres(pg) = &pool else { unreachable!("a Postgres test database") };
    let (status, kind_of, error): (String, Option<String>, Option<String>) =
        sqlx::query_as("SELECT status, error_kind, error FROM etl_run").fetch_one(pg).await.unwrap();
    let error = error.unwrap_or_default();
    assert_eq!((status.as_str(), kind_of.as_deref()), ("failed", Some("bad_request")), "{error}");
    assert!(error.contains("HTTP 400") && error.contains("xxxx"), "{error}");
    assert!(error.len() <= 1024, "a short stored error: {} bytes", error.len());
    assert_eq!(scalar(&pool, "SELECT count(*) FROM etl_watermark").await, 0, "nothing moved");
}

#[tokio::test]
async fn a_200_mb_error_msg_inside_a_200_fails_the_run_in_bounded_memory_with_a_short_error() {
    a_huge_error_fails_the_run_briefly(HugeKind::ErrorIn200).await;
}

#[tokio::test]
async fn a_200_mb_error_msg_in_a_400_fails_the_run_in_bounded_memory_with_a_short_error() {
    a_huge_error_fails_the_run_briefly(HugeKind::Error400).await;
}

#[tokio::test]
async fn a_row_with_a_200_mb_value_is_quarantined_in_bounded_memory_and_the_rest_of_its_window_is_stored() {
    let sim = huge_simulator(HugeKind::Value).await;
    let db = TestDb::new(Backend::Postgres).await;
    let (run, day) = sync_watched(&sim, &db).await;
    eprintln!("Value: peak {} KiB in {:.1} s", run.peak_kib, run.seconds);
    assert!(run.status.success(), "{}", run.stderr);
    assert!(run.peak_kib < PEAK_LIMIT_KIB, "peak RSS {} KiB", run.peak_kib);

    // The row the simulator spoilt, and where: the first of the answer.
    let mut truth =
        sim.ground_truth("chat_14", day.and_hms_opt(0, 0, 0).unwrap(), day.and_hms_opt(23, 59, 59).unwrap());
    assert!(truth.len() > 100, "a real day of rows: {}", truth.len());
    let field = plant_huge(catalog::chat_14(), &mut truth).expect("chat_14 has a plain text field");
    let spoilt = truth[0]["chat_id"].as_str().unwrap().to_string();

    let pool = db.db().await;
    let Db::Postgres(pg) = &pool else { unreachable!("a Postgres test database") };
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT chat_id FROM chat_14 ORDER BY chat_id").fetch_all(pg).await.unwrap();
    let mut expected: Vec<String> = truth[1..].iter().map(|r| r["chat_id"].as_str().unwrap().to_string()).collect();
    expected.sort();
    expected.dedup();
    assert_eq!(stored, expected, "every other row of the window, and not the spoilt one");

    let (reason, raw, raw_len): (String, serde_json::Value, i32) =
        sqlx::query_as("SELECT reason, raw, length(raw::text) FROM etl_rejected").fetch_one(pg).await.unwrap();
    assert_eq!(reason, format!("value of field `{field}` over {VALUE_CAP} bytes"));
    assert_eq!(raw["chat_id"].as_str(), Some(spoilt.as_str()), "found by its key");
    let value = raw[field].as_str().unwrap();
    // The binary's mark carries its own nonce: its visible start, and the closing bracket.
    assert!(value.starts_with("xxxx") && value.contains(CUT_MARK_TEXT) && value.ends_with(']'), "{value}");
    assert!(raw_len < 8 * 1024, "the quarantine keeps a short copy: {raw_len} bytes");
    assert_eq!(scalar(&pool, "SELECT rows_rejected FROM etl_run").await, 1);
    let logged: Vec<&str> = run.stderr.lines().filter(|l| l.contains("kept in etl_rejected")).collect();
    assert_eq!(logged.len(), 1, "{}", run.stderr);
    assert!(logged[0].contains("raw_hash=") && !logged[0].contains("xxxxxxxx"), "by hash, not by value: {}", logged[0]);

    // A quarantined row does not hold the watermark back: it moved to the end of the window.
    let watermark: DateTime<Utc> =
        sqlx::query_scalar("SELECT watermark FROM etl_watermark WHERE report = 'chat_14'").fetch_one(pg).await.unwrap();
    let end = local_to_utc(chrono_tz::America::Bogota, (day + chrono::Duration::days(1)).and_hms_opt(0, 0, 0).unwrap());
    assert_eq!(watermark, end);
}

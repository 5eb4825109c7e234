//! Every wait and every size bounded: a database that goes silent mid-window (no answer, no
//! close) fails the window within a bound and releases its token; hostile names and texts from
//! the API reach the log, `etl_run`, `etl_rejected` and `status` short and on one line.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;
use wolkvox_etl::clock::Clock;
use wolkvox_etl::simulator::{Simulator, SimulatorConfig};
use wolkvox_etl::startup::App;
use wolkvox_etl::store::runs::RunStatus;
use wolkvox_etl::store::{Backend, Db};
use wolkvox_etl::sync::{run_once, Faults, JobContext, Range, WindowHook};
use wolkvox_etl::time::utc_to_local;

use crate::on_both_backends;
use crate::support::hostile;
use crate::support::*;

/// A TCP proxy in front of PostgreSQL that can go silent: from then on it forwards nothing in
/// either direction and closes nothing, and new connections are accepted and never answered.
/// What a client sees when its server fails over or its route is black-holed.
struct SilentProxy {
    addr: SocketAddr,
    silent: Arc<AtomicBool>,
    /// Every connection's tasks: aborting them closes its sockets.
    live: Arc<Mutex<Vec<AbortHandle>>>,
}

impl SilentProxy {
    async fn start(upstream: SocketAddr) -> SilentProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = SilentProxy { addr: listener.local_addr().unwrap(), silent: Arc::default(), live: Arc::default() };
        let (silent, live) = (proxy.silent.clone(), proxy.live.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let silent = silent.clone();
                let task = tokio::spawn(async move {
                    // A black hole: the connection is held open and never answered.
                    if silent.load(Ordering::SeqCst) {
                        let _held = client;
                        return std::future::pending::<()>().await;
                    }
                    let Ok(server) = TcpStream::connect(upstream).await else { return };
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::join!(
                        pipe(client_read, server_write, silent.clone()),
                        pipe(server_read, client_write, silent)
                    );
                });
                live.lock().unwrap().push(task.abort_handle());
            }
        });
        proxy
    }

    fn go_silent(&self) {
        self.silent.store(true, Ordering::SeqCst);
    }

    /// The route is back: the connections it swallowed are reset (as the failed server's are),
    /// new ones are forwarded.
    fn heal(&self) {
        self.silent.store(false, Ordering::SeqCst);
        for conn in self.live.lock().unwrap().drain(..) {
            conn.abort();
        }
    }
}

/// Forwards one direction until either side closes; once the proxy is silent, what arrives is
/// swallowed and nothing more is sent or closed.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    silent: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if silent.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

#[tokio::test]
async fn a_database_that_goes_silent_mid_window_fails_the_run_within_a_bound_and_a_later_run_commits_everything() {
    let db = TestDb::new(Backend::Postgres).await;
    let admin = url::Url::parse(&admin_url()).unwrap();
    let host_port = format!("{}:{}", admin.host_str().unwrap(), admin.port().unwrap_or(5432));
    let upstream: SocketAddr = tokio::net::lookup_host(&host_port).await.unwrap().next().unwrap();
    let proxy = SilentProxy::start(upstream).await;
    let via_proxy = db.url.replacen(&host_port, &proxy.addr.to_string(), 1);
    assert_ne!(via_proxy, db.url, "the test database goes through the proxy");

    let clock = Clock::manual(test_now());
    // The API takes a second, so the window's transaction is open when the database goes silent.
    let sim_config = SimulatorConfig { latency: Duration::from_secs(1), ..SimulatorConfig::default() };
    let sim = Simulator::start(sim_config, clock.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let env = [
        ("WOLKVOX_ETL__SYNC__MAX_WINDOW_DAYS", "1".to_string()),
        ("WOLKVOX_ETL__WOLKVOX__MAX_ATTEMPTS", "1".to_string()),
        ("WOLKVOX_ETL__WOLKVOX__REQUEST_TIMEOUT_SECONDS", "5".to_string()),
        ("WOLKVOX_ETL__DATABASE__STATEMENT_TIMEOUT_SECONDS", "2".to_string()),
        ("WOLKVOX_ETL__DATABASE__LOCK_TIMEOUT_SECONDS", "2".to_string()),
        ("WOLKVOX_ETL__DATABASE__CONNECT_TIMEOUT_SECONDS", "2".to_string()),
    ];
    let app = App::build(settings(&sim.base_url(), &via_proxy, &env), clock.clone(), Faults::default()).await.unwrap();
    {
        // The server ends a transaction left idle longer than the daemon would ever leave one:
        // longer than a request (5 s), so a window waiting for its answer is never cut.
        let Db::Postgres(pool) = &app.ctx.db else { unreachable!("a Postgres test database") };
        let idle: String =
            sqlx::query_scalar("SHOW idle_in_transaction_session_timeout").fetch_one(pool).await.unwrap();
        assert_eq!(idle, "12s", "request 5 s + statement 2 s + 5 s");
    }

    // Silent 300 ms after the first window commits: the second window has taken its token and
    // opened its transaction, and waits for its answer.
    let (first_commit, mut committed) = tokio::sync::mpsc::unbounded_channel();
    let ctx = JobContext {
        on_window: WindowHook::new(move |_| {
            let _ = first_commit.send(());
        }),
        ..(*app.ctx).clone()
    };
    let job = app.job("chat_14").unwrap();
    let started = Instant::now();
    let run = {
        let job = job.clone();
        tokio::spawn(async move { run_once(&ctx, &job, Range::Scheduled, &CancellationToken::new()).await })
    };
    committed.recv().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.go_silent();
    let silent_at = Instant::now();
    let outcome = tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .expect("the run ended within 90 s of the database going silent")
        .unwrap();
    let took = silent_at.elapsed();
    eprintln!("the run ended {:.1} s after the database went silent: {:?}", took.as_secs_f64(), outcome.error);
    assert_eq!(outcome.status, RunStatus::Failed, "{:?}", outcome.error);
    let error = outcome.error.as_ref().map(ToString::to_string).unwrap_or_default();
    assert_eq!(outcome.error.as_ref().map(|e| e.kind()), Some("database"), "{error}");
    // Bounded either way: the window's own limit ("did not answer") when its transaction was
    // open, or the pool's wait when the silence came before it had its connection (a loaded
    // machine can be that slow to reach it).
    assert!(error.contains("did not answer") || error.contains("pool timed out"), "{error}");
    assert_eq!(outcome.counts.windows, 1, "the first window committed, the second did not");
    // Window 12 s, then the token's and the run's locks (2 s + 5 s each) and the run history's
    // connection (2 s): well under a minute.
    assert!(took < Duration::from_secs(60), "took {took:?}");

    // The route comes back; the server ends the swallowed sessions (and their locks).
    proxy.heal();
    let direct = db.db().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    const HELD: &str = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
                        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";
    while scalar(&direct, HELD).await > 0 {
        assert!(Instant::now() < deadline, "the swallowed sessions' advisory locks ended");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let later = run_once(&app.ctx, &job, Range::Scheduled, &CancellationToken::new()).await;
    assert_eq!(later.status, RunStatus::Succeeded, "{:?}", later.error);
    let t = TestApp { test_db: db, sim, clock, app };
    let wm = t.watermark().await.unwrap();
    assert_eq!(wm, local("2026-11-20 09:58:00"));
    assert_same_rows(&t.chat_14_rows().await, &t.truth(local("2026-11-18 00:00:00"), wm));
    assert!(started.elapsed() < Duration::from_secs(120));
}

/// `sync --report chat_14` of one hour of yesterday (Bogotá): `(from, to)` local.
fn hour_of_yesterday(hour: u32) -> (String, String) {
    let day = utc_to_local(chrono_tz::America::Bogota, Utc::now()).date() - chrono::Duration::days(1);
    let at = |h: u32| day.and_hms_opt(h, 0, 0).unwrap().format("%Y-%m-%dT%H:%M:%S").to_string();
    (at(hour), at(hour + 1))
}

/// A line of log text that would pass for the daemon's own, if a name could break a line.
const FORGED: &str = "2026-01-01T00:00:00.000000Z  INFO wolkvox_etl: forged";

/// chat_14 rows of `hour` of yesterday as the simulator serves them.
async fn chat_rows(hour: u32) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let sim = simulator_at_midnight(SimulatorConfig::default()).await;
    let (from, to) = hour_of_yesterday(hour);
    let parse = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap();
    let rows = sim.ground_truth("chat_14", parse(&from), parse(&to) - chrono::Duration::seconds(1));
    assert!(rows.len() > 2, "the simulator has chats in that hour");
    rows
}

fn envelope(rows: Vec<serde_json::Map<String, serde_json::Value>>) -> String {
    let data = serde_json::Value::Array(rows.into_iter().map(serde_json::Value::Object).collect());
    serde_json::json!({"code": "200", "error": null, "msg": "found", "data": data}).to_string()
}

/// Every line of `text` is at most `chars` long and none passes for a forged log line.
fn assert_lines_short_and_unforged(what: &str, text: &str, chars: usize) {
    for line in text.lines() {
        assert!(line.chars().count() <= chars, "{what}: a line of {} chars: {:.300}…", line.chars().count(), line);
        assert!(!line.starts_with(FORGED) && !line.starts_with("FORGED"), "{what}: a forged line: {line:.300}");
    }
}

on_both_backends! {
    /// 200 unknown field names, each with CR/LF and a forged log line, the first row with all of
    /// them: the WARN names 20, cleaned and cut, and says how many more there were.
    async fn unknown_field_names_are_kept_at_twenty_cleaned_cut_and_counted(backend) {
        let db = TestDb::new(backend).await;
        let api = hostile::HostileApi::start(|_| (200, String::new())).await;
        let mut rows = chat_rows(3).await;
        for i in 0..200 {
            let name = format!("evil_{i:03}\r\n{FORGED} {i} {}", "n".repeat(500));
            rows[i % 2].insert(name, serde_json::Value::from(i));
        }
        let body = envelope(rows);
        api.answer(move |_| (200, body.clone()));
        let (from, to) = hour_of_yesterday(3);
        let out = hostile::run(hostile::binary(&api.base_url, &db.url, "warn", &["sync", "--report", "chat_14", "--from", &from, "--to", &to])).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr:.2000}");
        let warn = stderr.lines().find(|l| l.contains("fields the catalogue does not know")).expect("the WARN");
        assert_eq!(warn.matches("evil_").count(), 20, "20 named: {warn:.600}");
        assert!(warn.contains("evil_000  2026-01-01"), "CR/LF made spaces: {warn:.600}");
        assert!(warn.contains("180 more"), "the rest counted: {warn:.600}");
        assert_lines_short_and_unforged("the log", &stderr, 8_000);
    }

    /// A key value of 1 MB with CR/LF: the row goes to the quarantine with a short, single-line
    /// reason, and the log says so briefly.
    async fn a_hostile_rejection_reason_ends_short_and_single_line_in_etl_rejected_and_the_log(backend) {
        let db = TestDb::new(backend).await;
        let api = hostile::HostileApi::start(|_| (200, String::new())).await;
        let mut rows = chat_rows(4).await;
        let hostile = format!("\r\nFORGED reason\r\n{FORGED}\n{}", "z".repeat(1_000_000));
        rows[0].insert("date".into(), serde_json::Value::String(hostile));
        let body = envelope(rows);
        api.answer(move |_| (200, body.clone()));
        let (from, to) = hour_of_yesterday(4);
        let out = hostile::run(hostile::binary(&api.base_url, &db.url, "warn", &["sync", "--report", "chat_14", "--from", &from, "--to", &to])).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr:.2000}");
        assert!(stderr.len() < 16 * 1024, "a short log: {} bytes", stderr.len());
        assert_lines_short_and_unforged("the log", &stderr, 2_000);
        let pool = db.db().await;
        let reasons: Vec<String> = match &pool {
            Db::Postgres(p) => sqlx::query_scalar("SELECT reason FROM etl_rejected").fetch_all(p).await.unwrap(),
            Db::Sqlite(p) => sqlx::query_scalar("SELECT reason FROM etl_rejected").fetch_all(p).await.unwrap(),
        };
        assert_eq!(reasons.len(), 1, "the one row is quarantined");
        let reason = &reasons[0];
        assert!(reason.chars().count() <= 1_001 && !reason.contains(['\r', '\n']), "{:.300}", reason);
        assert!(reason.contains("key field `date`"), "{reason:.300}");
    }

    /// An answer whose parse error echoes 1 MB of the API's text (CR/LF included): the run
    /// fails with a short, single-line error, in the log, in `etl_run` and in `status`; and an
    /// `etl_run.error` stored whole by an older release is shown cut and on one line too.
    async fn a_hostile_error_text_ends_short_and_single_line_in_etl_run_and_status(backend) {
        let db = TestDb::new(backend).await;
        let api = hostile::HostileApi::start(|_| (200, String::new())).await;
        let text = format!("\r\nFORGED error\r\n{FORGED}\n{}", "q".repeat(1_000_000));
        let body = serde_json::Value::String(text).to_string();
        api.answer(move |_| (200, body.clone()));
        let (from, to) = hour_of_yesterday(5);
        let out = hostile::run(hostile::binary(&api.base_url, &db.url, "warn", &["sync", "--report", "chat_14", "--from", &from, "--to", &to])).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "the run fails");
        assert!(stderr.len() < 16 * 1024, "a short log: {} bytes", stderr.len());
        assert_lines_short_and_unforged("the log", &stderr, 2_000);
        let pool = db.db().await;
        const LAST: &str = "SELECT status, error FROM etl_run ORDER BY id DESC LIMIT 1";
        let (status, error): (String, Option<String>) = match &pool {
            Db::Postgres(p) => sqlx::query_as(LAST).fetch_one(p).await.unwrap(),
            Db::Sqlite(p) => sqlx::query_as(LAST).fetch_one(p).await.unwrap(),
        };
        let error = error.unwrap_or_default();
        assert_eq!(status, "failed");
        assert!(error.contains("malformed"), "{error:.300}");
        assert!(error.chars().count() <= 1_001 && !error.contains(['\r', '\n']), "{:.300}", error);
        let show = || async {
            let table = hostile::run(hostile::binary(&api.base_url, &db.url, "warn", &["status"])).await;
            let json = hostile::run(hostile::binary(&api.base_url, &db.url, "warn", &["status", "--json"])).await;
            assert!(table.status.success() && json.status.success());
            (String::from_utf8_lossy(&table.stdout).into_owned(), String::from_utf8_lossy(&json.stdout).into_owned())
        };
        let (table, json) = show().await;
        // The JSON also holds the 31-day calendar of every enabled report (about 60 KiB): the
        // bound is on what the error could add, which is at most its 1,000 characters.
        for (what, text, bound) in [("status", &table, 16 * 1024), ("status --json", &json, 128 * 1024)] {
            assert!(text.contains("malformed"), "{what} shows the error: {text:.2000}");
            assert!(text.len() < bound, "{what}: {} bytes", text.len());
            assert_lines_short_and_unforged(what, text, 2_000);
        }
        // As an older release stored it: whole, its line breaks raw.
        let stored = format!("boom\r\nFORGED stored\n{}", "s".repeat(1_000_000));
        const SET: &str = "UPDATE etl_run SET error = $1";
        match &pool {
            Db::Postgres(p) => sqlx::query(SET).bind(&stored).execute(p).await.map(|_| ()).unwrap(),
            Db::Sqlite(p) => sqlx::query(SET).bind(&stored).execute(p).await.map(|_| ()).unwrap(),
        }
        let (table, json) = show().await;
        for (what, text, bound) in [("status", &table, 16 * 1024), ("status --json", &json, 128 * 1024)] {
            assert!(text.contains("boom"), "{what} shows the error: {text:.2000}");
            assert!(text.len() < bound, "{what}: {} bytes", text.len());
            assert_lines_short_and_unforged(what, text, 2_000);
        }
    }
}

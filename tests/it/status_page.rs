//! The status page and `/status.json`, served by the real binary over a database whose state the
//! test wrote itself: each calendar cell's state and row count is checked against that state,
//! `/status.json` is compared byte for byte with `status --json` for the same instant, an error
//! holding HTML is shown as text, and headless Chromium renders the page (where it is installed).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use wolkvox_etl::clock::Clock;
use wolkvox_etl::simulator::{Simulator, SimulatorConfig};
use wolkvox_etl::store::{Backend, Db};

use crate::on_both_backends;
use crate::support::{TestDb, TOKEN};

/// The run error the known state holds: HTML that must reach the page as text.
const HOSTILE_ERROR: &str = "<script>alert('x')</script> & <b>bold</b>";
/// The reports enabled without configuration: the calendar's rows.
const DEFAULT_REPORTS: usize = 10;
/// The zone of the default configuration, which has no daylight saving time.
const ZONE: chrono_tz::Tz = chrono_tz::America::Bogota;

/// Runs one statement with binds on either backend.
macro_rules! exec {
    ($db:expr, $sql:expr $(, $bind:expr)* $(,)?) => {
        match $db {
            Db::Postgres(pool) => { sqlx::query($sql)$(.bind($bind))*.execute(pool).await.unwrap(); }
            Db::Sqlite(pool) => { sqlx::query($sql)$(.bind($bind))*.execute(pool).await.unwrap(); }
        }
    };
}

/// The instant local midnight of `day` is.
fn midnight(day: NaiveDate) -> DateTime<Utc> {
    ZONE.from_local_datetime(&day.and_time(NaiveTime::MIN)).unwrap().with_timezone(&Utc)
}

/// The known state, relative to `today`: per (report, day) the state its cell must show and its
/// rows. chat_14: complete, suspect, unanswered, short (partial), complete, and today in progress
/// (partial); agent_1: yesterday complete. Its last run failed with [`HOSTILE_ERROR`].
async fn write_known_state(
    db: &Db,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> BTreeMap<(&'static str, NaiveDate), (&'static str, i64)> {
    let day = |back: u64| today.checked_sub_days(Days::new(back)).unwrap();
    let mut expected = BTreeMap::new();
    let days: [(&str, NaiveDate, i64, &str); 7] = [
        ("chat_14", day(5), 100, "complete"),
        ("chat_14", day(4), 0, "suspect"),
        ("chat_14", day(3), 50, "unanswered"),
        ("chat_14", day(2), 70, "partial"),
        ("chat_14", day(1), 80, "complete"),
        ("chat_14", today, 10, "partial"),
        ("agent_1", day(1), 12, "complete"),
    ];
    for (report, d, rows, state) in days {
        let (start, end) = (midnight(d), midnight(d + Days::new(1)));
        exec!(db, "INSERT INTO etl_day (account, report, stream, day, day_end, rows, last_read) VALUES ('default', $1, '', $2, $3, $4, $5)",
            report, d, end, rows, now);
        expected.insert((report, d), (state, rows));
        let _ = start;
    }
    // The reconciliation of day(2) found fewer rows in the API than stored: short.
    exec!(db, "UPDATE etl_day SET checked_at = $1, check_before = 70, check_api = 60, check_added = 0 WHERE report = 'chat_14' AND day = $2",
        now, day(2));
    exec!(db, "INSERT INTO etl_suspect_day (account, report, stream, day, first_seen, last_seen, asks) VALUES ('default', 'chat_14', '', $1, $2, $2, 3)",
        day(4), now);
    exec!(db, "INSERT INTO etl_unanswered (account, report, stream, window_start, window_end, day, first_failed, last_failed, asks, error) \
               VALUES ('default', 'chat_14', '', $1, $2, $3, $4, $4, 2, 'HTTP 503')",
        midnight(day(3)), midnight(day(2)), day(3), now);
    // chat_14 is inside today; agent_1 has finished yesterday.
    for (report, watermark) in [("chat_14", midnight(today) + chrono::Duration::hours(1)), ("agent_1", midnight(today))]
    {
        exec!(db, "INSERT INTO etl_watermark (account, report, stream, watermark, updated_at) VALUES ('default', $1, '', $2, $3)",
            report, watermark, now);
    }
    exec!(db, "INSERT INTO etl_run (account, report, stream, token_label, started_at, finished_at, status, windows, requests, \
               retries, splits, rows_fetched, rows_upserted, rows_rejected, error_kind, error, duration_ms) \
               VALUES ('default', 'chat_14', '', 'default', $1, $1, 'failed', 1, 1, 0, 0, 0, 0, 0, 'api', $2, 1500)",
        now - chrono::Duration::minutes(3), HOSTILE_ERROR);
    expected
}

/// The binary with the test's environment: the simulator, the token, the database, nothing
/// scheduled while the test looks (no run at start, schedules on 1 January only).
fn binary(sim: &Simulator, db: &TestDb, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wolkvox-etl"));
    cmd.env_clear()
        .env("WOLKVOX_ETL__WOLKVOX__BASE_URL", sim.base_url())
        .env("WOLKVOX_ETL__WOLKVOX__TOKEN", TOKEN)
        .env("DATABASE_URL", &db.url)
        .env("NO_COLOR", "1")
        .env("WOLKVOX_ETL__SYNC__RUN_ON_START", "false")
        .env("WOLKVOX_ETL__SYNC__SCHEDULE", "0 0 0 1 1 *")
        .env("WOLKVOX_ETL__DIMENSIONS__ENABLED", "false")
        .env("WOLKVOX_ETL__TOKEN_INFO__ENABLED", "false")
        .env("WOLKVOX_ETL__RECONCILE__ENABLED", "false");
    for report in ["agent_1", "agent_7", "skill_1", "skill_4", "chat_16"] {
        cmd.env(format!("WOLKVOX_ETL__REPORTS__{}__SCHEDULE", report.to_uppercase()), "0 0 0 1 1 *");
    }
    cmd.args(args);
    cmd
}

/// `run` serving on a free loopback port; killed when dropped.
struct Daemon {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_daemon(sim: &Simulator, db: &TestDb) -> Daemon {
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let child = binary(sim, db, &["run"])
        .env("WOLKVOX_ETL__HTTP__BIND", addr.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let daemon = Daemon { child, addr };
    for _ in 0..200 {
        if get(addr, "/healthz").await.is_some_and(|(status, _)| status == 200) {
            return daemon;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the daemon did not serve {addr}");
}

async fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let response = reqwest::get(format!("http://{addr}{path}")).await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.text().await.ok()?))
}

/// A fresh database of `backend`, migrated, holding the known state; the instant it describes.
async fn known(
    backend: Backend,
) -> (Simulator, TestDb, DateTime<Utc>, BTreeMap<(&'static str, NaiveDate), (&'static str, i64)>) {
    let sim =
        Simulator::start(SimulatorConfig::default(), Clock::system(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let db = TestDb::new(backend).await;
    let out = binary(&sim, &db, &["migrate"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let now = Utc::now().with_nanosecond(0).unwrap();
    let today = now.with_timezone(&ZONE).date_naive();
    let expected = write_known_state(&db.db().await, today, now).await;
    (sim, db, now, expected)
}

/// The calendar's cells of the page: (report, day) → (state, rows), from their attributes.
fn cells(page: &str) -> BTreeMap<(String, NaiveDate), (String, Option<i64>)> {
    let mut out = BTreeMap::new();
    for row in page.split("<tr data-report=\"").skip(1) {
        let report = &row[..row.find('"').unwrap()];
        if !row.contains("data-state=") {
            continue;
        }
        for cell in row.split("<td class=\"cell").skip(1) {
            let attr = |name: &str| {
                let at = cell.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                cell[at..at + cell[at..].find('"').unwrap()].to_string()
            };
            let rows = attr("data-rows");
            out.insert(
                (report.to_string(), attr("data-day").parse().unwrap()),
                (attr("data-state"), (!rows.is_empty()).then(|| rows.parse().unwrap())),
            );
        }
    }
    out
}

/// Each cell against the known state: the state and rows written, `not-synced` elsewhere.
fn check_cells(page: &str, expected: &BTreeMap<(&'static str, NaiveDate), (&'static str, i64)>) {
    let cells = cells(page);
    assert_eq!(cells.len(), 31 * DEFAULT_REPORTS, "31 days × {DEFAULT_REPORTS} reports");
    for ((report, day), (state, rows)) in &cells {
        match expected.get(&(report.as_str(), *day)) {
            Some((want, want_rows)) => {
                assert_eq!((state.as_str(), *rows), (*want, Some(*want_rows)), "{report} {day}");
            }
            None => assert_eq!((state.as_str(), *rows), ("not-synced", None), "{report} {day}"),
        }
    }
    let count = |s: &str| cells.values().filter(|(state, _)| state == s).count();
    assert_eq!(
        [count("complete"), count("partial"), count("suspect"), count("unanswered"), count("not-synced")],
        [3, 2, 1, 1, 31 * DEFAULT_REPORTS - 7]
    );
}

on_both_backends! {
/// Every cell against the state written, the failed run's light and error, and `/status.json`
/// byte for byte against `status --json`.
async fn the_page_shows_each_days_state_and_rows_and_status_json_is_status_json(backend) {
    let (sim, db, now, expected) = known(backend).await;
    let daemon = start_daemon(&sim, &db).await;
    let at = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (status, page) = get(daemon.addr, &format!("/?at={at}")).await.unwrap();
    assert_eq!(status, 200);
    check_cells(&page, &expected);
    // Today is marked; the failed run's light and its error, as text.
    let today = now.with_timezone(&ZONE).date_naive();
    assert!(page.contains(&format!("class=\"cell partial today\" data-day=\"{today}\"")), "today is not marked");
    assert!(page.contains("data-report=\"chat_14\" data-light=\"failing\""));
    assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;"));
    assert!(!page.contains("<script") && !page.contains("<b>bold"));
    // /status.json is what `status --json` prints for the same database and instant.
    let (status, served) = get(daemon.addr, &format!("/status.json?at={at}")).await.unwrap();
    assert_eq!(status, 200);
    let printed = binary(&sim, &db, &["status", "--json", "--at", &at]).output().unwrap();
    assert!(printed.status.success(), "{}", String::from_utf8_lossy(&printed.stderr));
    assert!(served.as_bytes() == printed.stdout.as_slice(), "/status.json and status --json differ:\n{served}");
    // The page is that document: its calendar's cells are the JSON's.
    let doc: serde_json::Value = serde_json::from_str(&served).unwrap();
    let from_json: usize = doc["calendar"]["rows"].as_array().unwrap().iter().map(|r| r["cells"].as_array().unwrap().len()).sum();
    assert_eq!(from_json, 31 * DEFAULT_REPORTS);
}

/// Forty loads at once get one document; `http.status_page = false` serves neither.
async fn a_refresh_storm_reaches_the_database_once_and_the_page_can_be_turned_off(backend) {
    let (sim, db, _, _) = known(backend).await;
    let daemon = start_daemon(&sim, &db).await;
    // Forty loads at once: all answered, from one document (the cache keeps it five seconds).
    let loads: Vec<_> = (0..40).map(|_| tokio::spawn(get(daemon.addr, "/status.json"))).collect();
    let mut bodies = std::collections::BTreeSet::new();
    for load in loads {
        let (status, body) = load.await.unwrap().unwrap();
        assert_eq!(status, 200);
        bodies.insert(body);
    }
    assert_eq!(bodies.len(), 1, "the storm built more than one document");
    drop(daemon);
    // Off: no page, no document; the metrics stay.
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let child = binary(&sim, &db, &["run"])
        .env("WOLKVOX_ETL__HTTP__BIND", addr.to_string())
        .env("WOLKVOX_ETL__HTTP__STATUS_PAGE", "false")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let off = Daemon { child, addr };
    let mut metrics = None;
    for _ in 0..200 {
        metrics = get(off.addr, "/metrics").await;
        if metrics.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(metrics.map(|(s, _)| s), Some(200));
    assert_eq!(get(off.addr, "/").await.map(|(s, _)| s), Some(404));
    assert_eq!(get(off.addr, "/status.json").await.map(|(s, _)| s), Some(404));
}
}

/// Headless Chromium's DOM of `url`, after it has rendered the page.
fn chromium_dom(url: &str) -> String {
    let out = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", url])
        .output()
        .expect("chromium runs");
    assert!(out.status.success(), "chromium: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
#[cfg_attr(not(has_chromium), ignore = "chromium is not installed (apt-get install chromium)")]
async fn chromium_renders_the_calendar_with_the_right_cells_and_the_error_as_text() {
    let (sim, db, now, expected) = known(Backend::Sqlite).await;
    let daemon = start_daemon(&sim, &db).await;
    let at = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let url = format!("http://{}/?at={at}", daemon.addr);
    let dom = tokio::task::spawn_blocking(move || chromium_dom(&url)).await.unwrap();
    // The browser's DOM, not our bytes: the table body Chromium inserts is there.
    assert!(dom.contains("<tbody>"), "not a rendered DOM:\n{}", &dom[..dom.len().min(500)]);
    check_cells(&dom, &expected);
    // The error is a text node: no script element came out of it.
    assert!(
        dom.contains("&lt;script&gt;alert('x')&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;"),
        "the error is not shown as text"
    );
    assert!(!dom.contains("<script") && !dom.contains("<b>bold</b>"));
}

/// Regenerates the README's picture of the page (docs/images/status-page.png), from a daemon
/// that has synced three days of the simulator:
/// `cargo test --locked --test it -- --ignored status_page::the_readme_picture`.
#[tokio::test]
#[ignore = "writes docs/images/status-page.png; run it to regenerate the README's picture"]
async fn the_readme_picture() {
    let sim =
        Simulator::start(SimulatorConfig::default(), Clock::system(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let db = TestDb::new(Backend::Sqlite).await;
    let from = (Utc::now().with_timezone(&ZONE).date_naive() - Days::new(3)).to_string();
    // The simulator answers on this test's runtime: the command is awaited, not blocked on.
    let mut sync = binary(&sim, &db, &["sync", "--from", &from]);
    let out = tokio::task::spawn_blocking(move || sync.output().unwrap()).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let daemon = start_daemon(&sim, &db).await;
    let picture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/images/status-page.png");
    std::fs::create_dir_all(picture.parent().unwrap()).unwrap();
    let (url, target) = (format!("http://{}/", daemon.addr), format!("--screenshot={}", picture.display()));
    let out = tokio::task::spawn_blocking(move || {
        Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--window-size=1500,1250",
                &target,
                &url,
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success() && picture.is_file(), "{}", String::from_utf8_lossy(&out.stderr));
}

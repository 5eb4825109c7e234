//! The crash-and-recover harness: the real binary, SIGKILLed at chosen moments, must never
//! have lost a row behind its committed watermark, and must end with every row exactly once and
//! a watermark that never lies — on Postgres and on the embedded SQLite default.
//!
//! It starts the simulator in this process, with faults on (25% of requests answered with a
//! random transient fault: 5xx, resets, truncated JSON, invalid UTF-8, error codes in HTTP 200,
//! simultaneous-use and maintenance 403s; and damaged rows), in this process so it can read
//! ground truth, the requests the binary made and the simultaneous-request counter. Then it
//! starts `wolkvox-etl sync --report chat_14` (the scheduled path: each run resumes from the
//! committed watermark) again and again, and SIGKILLs each run at a moment it waits for:
//!
//! - **in a transaction**: the binary's log (DEBUG, read from its stderr) says it wrote a batch
//!   of rows in a window's transaction; the run is frozen there (SIGSTOP), the database must show
//!   that transaction open with writes (Postgres: a transaction id in `pg_stat_activity`; SQLite:
//!   the write lock held), the run goes on for 0–2 ms, and the committed watermark must not have
//!   moved across the kill;
//! - **after a commit**: the committed watermark moved during this run; the next run that asks
//!   the API must then start exactly at that watermark minus the look-back;
//! - **any time**: a random delay, as a control.
//!
//! After every run, killed or not, before the next one starts, the table is checked against the
//! committed watermark (`Truth`): every ground-truth row dated before it is stored, and no stored
//! row is one the API never served or in a version it did not serve since the watermark passed
//! it (by the API's key and the typification that changes after the fact). The look-back (6 h) is
//! shorter than a window (a day), so a window lost at a kill is not simply re-read by the next
//! run, and the end state shows it too. Every run's first request must start where the committed
//! watermark says, the watermark never moves backwards, and after one uninterrupted recovery run
//! the table must equal ground truth (missing, stale, unexpected and duplicated rows by the API's
//! own key, read from `raw`) with a watermark at exactly `now − settle` of that run. The harness
//! fails if fewer than half of the runs aimed at each moment were killed inside a transaction,
//! or after a commit that a later run resumed from; a panic fails it too (the summary line says
//! so).
//!
//! The control that proves it can fail: `cargo test --test crash --features
//! broken-watermark-own-tx` builds a binary that commits each window's watermark in its own
//! transaction before the window's rows (src/sync/attempt.rs), and the harness must fail, with
//! `LOST ROWS` lines from the check after a kill.
//!
//! Run alone: `cargo test --test crash` (`CRASH_KILLS=50` for more; `CRASH_SEED` replays).

#[path = "it/support/mod.rs"]
#[allow(dead_code)]
mod support;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::panic::AssertUnwindSafe;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, Timelike, Utc};
use serde_json::Value;
use support::probe::Probe;
use support::{TestDb, BIN, TOKEN};
use wolkvox_etl::clock::Clock;
use wolkvox_etl::simulator::{FaultKind, FaultPlan, Simulator, SimulatorConfig};
use wolkvox_etl::store::Backend;
use wolkvox_etl::time::utc_to_local;

/// The binary's look-back, set explicitly: shorter than a window (a day), so a run does not
/// re-read all a kill could have lost and a lost window shows in the end state too; long enough
/// to re-read every row that can still change (rows dated up to [`SETTLED_AFTER_MINUTES`] before
/// a simulator clock that runs 2 h behind the binary's: 5 h), with an hour to spare.
const LOOKBACK_MINUTES: i64 = 6 * 60;
/// Rows dated this long before the simulator's clock no longer change: every late row has
/// arrived (at most 180 min after its date) and every typification is in (5–40 min after it).
const SETTLED_AFTER_MINUTES: i64 = 180;
/// The binary's settle delay, set explicitly so the final watermark can be checked exactly.
const SETTLE_SECONDS: i64 = 120;
/// Longest wait for a chosen moment before the run is killed anyway (counted as "any time").
const MOMENT_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Moment {
    InTransaction,
    AfterCommit,
    AnyTime,
}

#[derive(Default)]
struct Figures {
    kills: u32,
    in_transaction: u32,
    after_commit_resumed: u32,
    finished_early: u32,
    wrong_resumes: u32,
    watermark_backwards: u32,
    rows_checked: usize,
    missing: usize,
    duplicates: usize,
    stale: usize,
    extra: usize,
    violations: u64,
    faults: u64,
    watermark_exact: bool,
    /// Checks of the table against ground truth after a kill (and after every other run).
    checks: u32,
    /// Of them, checks that found a ground-truth row before the committed watermark not stored.
    checks_losing: u32,
    /// The most ground-truth rows before the committed watermark one check found not stored.
    lost: usize,
    /// The most stored rows one check found that match no version the API served since the
    /// watermark passed them, or are a second copy of a key.
    wrong: usize,
    /// The most stored rows one check found that the API never served.
    phantom: usize,
    /// What the previous check found (lost, wrong, never served), printed only when it changes.
    last_finding: (usize, usize, usize),
}

impl Figures {
    fn ok(&self, floors: (u32, u32)) -> bool {
        self.missing == 0
            && self.duplicates == 0
            && self.stale == 0
            && self.extra == 0
            && self.violations == 0
            && self.wrong_resumes == 0
            && self.watermark_backwards == 0
            && self.watermark_exact
            && self.rows_checked > 0
            && self.checks > 0
            && self.lost == 0
            && self.wrong == 0
            && self.phantom == 0
            && self.in_transaction >= floors.0
            && self.after_commit_resumed >= floors.1
    }
}

fn main() -> ExitCode {
    let kills: u32 = std::env::var("CRASH_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(18);
    let seed: u64 = std::env::var("CRASH_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| fastrand::u64(..));
    let mut all_ok = true;
    // SQLite gets fewer kills: its runs are the same code path, and time is shared with CI.
    for (backend, kills) in [(Backend::Postgres, kills), (Backend::Sqlite, (kills / 2).max(3))] {
        println!("crash harness ({backend:?}): {kills} runs to kill, seed {seed} (CRASH_SEED={seed} replays it)");
        let started = Instant::now();
        // A panic (an assertion, a lost database) fails the harness like a failed figure: the
        // summary line below must still say so. The runtime is the backend's own, so a panic
        // cannot leave the next backend a broken one; its children are killed as it unwinds.
        let run = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
            rt.block_on(harness(backend, kills, seed))
        }));
        let Ok(f) = run else {
            println!(
                "crash harness ({backend:?}): PANICKED (the message is above) after {:.1} s",
                started.elapsed().as_secs_f64()
            );
            all_ok = false;
            continue;
        };
        // A third of the runs aim inside a transaction (runs 0, 3, …), a third after a commit
        // (runs 1, 4, …); at least half of each must have landed there (a transaction can commit
        // between the check and the kill, and a run can end first: those are not counted).
        let aimed = (kills.div_ceil(3), (kills + 1) / 3);
        let floors = (aimed.0.div_ceil(2), aimed.1.div_ceil(2));
        let ok = f.ok(floors);
        all_ok &= ok;
        println!(
            "crash harness ({backend:?}): kills {} (inside a transaction with rows written {} of {} aimed, floor \
             {}; after a commit a later run resumed from {} of {} aimed, floor {}), runs that finished before \
             their kill {}, wrong resume points {}, watermark moved backwards {}, checks after each run {} (that \
             found rows lost {}; most in one check: ground-truth rows before the committed watermark not stored \
             {}, wrong {}, never served {}), final: rows checked {}, missing {}, duplicates {}, stale {}, \
             unexpected {}, simultaneous-request violations {}, final watermark {}, faults injected {} ({:.1} s)",
            f.kills,
            f.in_transaction,
            aimed.0,
            floors.0,
            f.after_commit_resumed,
            aimed.1,
            floors.1,
            f.finished_early,
            f.wrong_resumes,
            f.watermark_backwards,
            f.checks,
            f.checks_losing,
            f.lost,
            f.wrong,
            f.phantom,
            f.rows_checked,
            f.missing,
            f.duplicates,
            f.stale,
            f.extra,
            f.violations,
            if f.watermark_exact { "exact" } else { "WRONG" },
            f.faults,
            started.elapsed().as_secs_f64()
        );
    }
    // The line test-summary readers look for.
    println!(
        "test result: {}. {} passed; {} failed; 0 ignored; 0 measured; 0 filtered out",
        if all_ok { "ok" } else { "FAILED" },
        u8::from(all_ok),
        u8::from(!all_ok)
    );
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn harness(backend: Backend, kills: u32, seed: u64) -> Figures {
    let mut rng = fastrand::Rng::with_seed(seed);
    let db = TestDb::new(backend).await;
    // The simulator's clock starts two hours back and moves 5 minutes per run, so rows arrive
    // late and typification codes change between crashes; it stays behind the binary's own
    // (system) clock, so the binary's windows always cover everything the simulator serves.
    let now = Utc::now() - chrono::Duration::hours(2);
    let sim_clock = Clock::manual(now);
    // Faults on: every transient kind at 25% of requests, plus damaged rows. `slow` is left to
    // its own test (tests/it/faults.rs): here a debug-built simulator's normal answers already
    // take a while, and a client timeout that tells them apart would dominate the run time.
    let kinds: Vec<FaultKind> = FaultKind::TRANSIENT.iter().copied().filter(|k| *k != FaultKind::Slow).collect();
    let faults = FaultPlan { rate: 0.25, kinds, seed, slow: Duration::ZERO, row_faults: true };
    let sim_config = SimulatorConfig {
        rows_per_hour: 600,
        latency: Duration::from_millis(40),
        faults,
        ..SimulatorConfig::default()
    };
    let sim = Simulator::start(sim_config, sim_clock.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let bogota = chrono_tz::America::Bogota;
    // One instant decides where both the binary and the ground truth start: the binary is told
    // `sync.start_from` explicitly instead of computing "3 days back" from its own (system)
    // clock, which is a local day ahead of the simulator's for two hours every night.
    let from = (utc_to_local(bogota, now).date() - chrono::Duration::days(3)).and_hms_opt(0, 0, 0).unwrap();
    let start_from = from.format("%Y-%m-%dT%H:%M:%S").to_string();

    let command = || {
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .env("WOLKVOX_ETL__WOLKVOX__BASE_URL", sim.base_url())
            .env("WOLKVOX_ETL__WOLKVOX__TOKEN", TOKEN)
            .env("DATABASE_URL", &db.url)
            .env("WOLKVOX_ETL__SYNC__MAX_WINDOW_DAYS", "1")
            .env("WOLKVOX_ETL__SYNC__LOOKBACK_MINUTES", LOOKBACK_MINUTES.to_string())
            .env("WOLKVOX_ETL__SYNC__SETTLE_SECONDS", SETTLE_SECONDS.to_string())
            .env("WOLKVOX_ETL__WOLKVOX__RETRY_INITIAL_BACKOFF_MS", "50")
            .env("WOLKVOX_ETL__WOLKVOX__RETRY_MAX_BACKOFF_SECONDS", "1")
            .env("WOLKVOX_ETL__WOLKVOX__MAX_ATTEMPTS", "10")
            .env("WOLKVOX_ETL__SYNC__START_FROM", &start_from)
            // The attempt's DEBUG lines say when a window's transaction holds rows (`Running`).
            .env("RUST_LOG", "warn,wolkvox_etl::sync::attempt=debug")
            .args(["sync", "--report", "chat_14"])
            .stdout(Stdio::null());
        cmd
    };
    // Where a run must send its first request, given the watermark committed when it started.
    let resume_point = |wm: Option<DateTime<Utc>>| -> String {
        let start = match wm {
            Some(wm) => (utc_to_local(bogota, wm) - chrono::Duration::minutes(LOOKBACK_MINUTES)).max(from),
            None => from,
        };
        start.format("%Y%m%d%H%M%S").to_string()
    };

    let probe = Probe::open(&db).await;
    let mut truth = Truth::new(&sim, from, utc_to_local(bogota, now));
    let mut f = Figures::default();
    let mut last_wm: Option<DateTime<Utc>> = None;
    let mut commit_to_resume: Option<DateTime<Utc>> = None;
    for i in 0..kills {
        sim_clock.advance(chrono::Duration::minutes(5));
        truth.run_starts(&sim);
        let moment = [Moment::InTransaction, Moment::AfterCommit, Moment::AnyTime][i as usize % 3];
        let wm_before = probe.watermark().await;
        if wm_before < last_wm {
            f.watermark_backwards += 1;
        }
        last_wm = wm_before;
        let asked_before = sim.requests().len();
        let run = Running::start(&mut command(), moment == Moment::InTransaction);
        let landed = wait_for(moment, &run, &probe, wm_before, &mut rng).await;
        let killed = match landed {
            Wait::Exited => {
                f.finished_early += 1;
                false
            }
            Wait::Ready { transaction_open } => {
                run.kill();
                f.kills += 1;
                let wm_after = probe.watermark().await;
                if moment == Moment::InTransaction && transaction_open && wm_after == wm_before {
                    f.in_transaction += 1;
                }
                if moment == Moment::AfterCommit && wm_after > wm_before {
                    commit_to_resume = wm_after;
                }
                true
            }
        };
        drop(run);
        // The first request of this run started where the watermark committed before it said.
        if let Some(first) = sim.requests().get(asked_before).filter(|r| r.api == "chat_14") {
            if first.date_ini != resume_point(wm_before) {
                f.wrong_resumes += 1;
                println!(
                    "run {i}: first request from {} but the watermark said {}",
                    first.date_ini,
                    resume_point(wm_before)
                );
            } else if commit_to_resume.is_some() && commit_to_resume == wm_before {
                f.after_commit_resumed += 1;
                commit_to_resume = None;
            }
        }
        // Postgres rolls back a killed client's transaction once it notices the closed socket.
        wait_until_idle(&probe).await;
        // Before the next run can re-read anything: the table against what the watermark says.
        check_table(&mut f, &mut truth, &probe, bogota, &format!("run {i} ({moment:?}, killed: {killed})")).await;
    }
    // Recovery: one uninterrupted run must finish cleanly.
    let wm_before = probe.watermark().await;
    if wm_before < last_wm {
        f.watermark_backwards += 1;
    }
    let asked_before = sim.requests().len();
    if commit_to_resume.is_some() && commit_to_resume == wm_before {
        let first = sim.requests().get(asked_before).cloned();
        if first.is_some_and(|r| r.date_ini == resume_point(wm_before)) {
            f.after_commit_resumed += 1;
        }
    }
    let started = Utc::now();
    let mut last = command();
    last.stdout(Stdio::piped()).stderr(Stdio::piped());
    let out = tokio::task::spawn_blocking(move || last.output().expect("final run")).await.unwrap();
    let ended = Utc::now();
    assert!(
        out.status.success(),
        "the recovery run failed: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if sim.requests().get(asked_before).is_some_and(|r| r.date_ini != resume_point(wm_before)) {
        f.wrong_resumes += 1;
    }
    check_table(&mut f, &mut truth, &probe, bogota, "the recovery run").await;

    let watermark = probe.watermark().await.expect("a watermark after the recovery run");
    // The last window ends at `now − settle` of the recovery run, truncated to the second.
    let settle = chrono::Duration::seconds(SETTLE_SECONDS);
    let earliest = started - settle - chrono::Duration::seconds(1);
    f.watermark_exact = watermark >= earliest && watermark <= ended - settle;
    let wm_local = utc_to_local(bogota, watermark);

    let truth: BTreeMap<(String, String), Value> = sim
        .ground_truth("chat_14", from, wm_local - chrono::Duration::seconds(1))
        .into_iter()
        .map(|r| {
            ((r["chat_id"].as_str().unwrap().to_string(), r["date"].as_str().unwrap().to_string()), Value::Object(r))
        })
        .collect();
    let raws = probe.raws().await;
    let stored_count = raws.len();
    let stored: BTreeMap<(String, String), Value> = raws
        .into_iter()
        .map(|raw| {
            let raw: Value = serde_json::from_str(&raw).unwrap();
            let key = (
                raw["chat_id"].as_str().unwrap_or_default().to_string(),
                raw["date"].as_str().unwrap_or_default().to_string(),
            );
            (key, raw)
        })
        .collect();
    f.rows_checked = truth.len();
    f.missing = truth.keys().filter(|k| !stored.contains_key(*k)).count();
    f.stale = truth.iter().filter(|(k, v)| stored.get(*k).is_some_and(|s| s != *v)).count();
    f.extra = stored.keys().filter(|k| !truth.contains_key(*k)).count();
    // The table's key is typed (account, chat_id, date as an instant); two stored rows that are
    // one row by the API's own key (chat_id and the date text it sent) are a duplicate.
    f.duplicates = stored_count - stored.len();
    f.violations = sim.stats().simultaneous_violations;
    f.faults = sim.stats().faults_injected;
    f
}

/// A started run of the binary, its log (stderr) followed on a thread. Dropping it (also when
/// the harness panics) SIGKILLs the run if it still runs, reaps it and ends the thread.
struct Running {
    /// Behind a lock so the thread can signal the run without racing its reaping (a reaped
    /// run's pid may be reused).
    child: Arc<Mutex<Child>>,
    /// Set once the run is frozen right after writing rows in a window's transaction.
    frozen: Arc<AtomicBool>,
    log: Option<JoinHandle<()>>,
}

/// The DEBUG line (`sync::attempt`) the binary writes after each batch of rows it writes in a
/// window's transaction, before the transaction goes on.
const ROWS_WRITTEN: &str = "Rows written in the window's open transaction";

impl Running {
    /// Starts `command`. With `freeze`, the run is stopped (SIGSTOP) as soon as its log says it
    /// wrote a batch of rows: its window's transaction is then open with rows in it, which the
    /// database alone cannot show on SQLite (another connection sees only the write lock, and
    /// `BEGIN IMMEDIATE` takes that when the answer opens, before any row).
    fn start(command: &mut Command, freeze: bool) -> Running {
        let mut child = command.stderr(Stdio::piped()).spawn().expect("start the binary");
        let stderr = child.stderr.take().expect("stderr piped");
        let child = Arc::new(Mutex::new(child));
        let frozen = Arc::new(AtomicBool::new(false));
        let (run, done) = (Arc::clone(&child), Arc::clone(&frozen));
        let log = std::thread::spawn(move || {
            let (mut stderr, mut line) = (BufReader::new(stderr), Vec::new());
            while stderr.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                if freeze && !done.load(Ordering::SeqCst) && String::from_utf8_lossy(&line).contains(ROWS_WRITTEN) {
                    let mut run = run.lock().unwrap_or_else(PoisonError::into_inner);
                    if matches!(run.try_wait(), Ok(None)) {
                        signal(&run, libc::SIGSTOP);
                        done.store(true, Ordering::SeqCst);
                    }
                }
                line.clear();
            }
        });
        Running { child, frozen, log: Some(log) }
    }

    fn child(&self) -> MutexGuard<'_, Child> {
        self.child.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the run has ended (it is reaped if so).
    fn exited(&self) -> bool {
        self.child().try_wait().expect("poll the run").is_some()
    }

    fn frozen(&self) -> bool {
        self.frozen.load(Ordering::SeqCst)
    }

    /// Lets a frozen run go on.
    fn resume(&self) {
        signal(&self.child(), libc::SIGCONT);
    }

    /// SIGKILL (std's `kill` on Unix; it also ends a frozen run), then reaps the run.
    fn kill(&self) {
        let mut child = self.child();
        child.kill().expect("SIGKILL");
        let _ = child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        {
            let mut child = self.child();
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        if let Some(log) = self.log.take() {
            let _ = log.join();
        }
    }
}

/// Sends `signal` to a run that is not reaped (its pid is still its own).
fn signal(child: &Child, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).expect("a pid");
    // SAFETY: kill(2) has no memory effects; the pid is our child's, not reaped yet.
    unsafe { libc::kill(pid, signal) };
}

/// The check after every run: the table against ground truth and the committed watermark.
async fn check_table(f: &mut Figures, truth: &mut Truth, probe: &Probe, tz: chrono_tz::Tz, run: &str) {
    let watermark = probe.watermark().await.map(|wm| utc_to_local(tz, wm));
    let c = truth.check(watermark, stored_rows(probe).await);
    f.checks += 1;
    f.checks_losing += u32::from(!c.lost.is_empty());
    f.lost = f.lost.max(c.lost.len());
    f.wrong = f.wrong.max(c.wrong);
    f.phantom = f.phantom.max(c.phantom);
    let finding = (c.lost.len(), c.wrong, c.phantom);
    let new = finding != std::mem::replace(&mut f.last_finding, finding);
    if new && finding != (0, 0, 0) {
        let dates = |k: Option<&Key>| k.map_or_else(String::new, |k| k.1.clone());
        println!(
            "{run}: LOST ROWS: the committed watermark is {}, and {} ground-truth rows before it are not stored \
             (dated {} to {}); stored rows no served version matches {}, never served {}",
            watermark.map_or_else(|| "none".to_string(), date_text),
            c.lost.len(),
            dates(c.lost.first()),
            dates(c.lost.last()),
            c.wrong,
            c.phantom
        );
    }
}

/// A row's identity by the API's own fields: its `chat_id` and the `date` text it was sent with
/// (`YYYY-MM-DD HH:MM:SS`, so the texts sort as the instants they name).
type Key = (String, String);

/// A local instant as the API writes a row's `date`.
fn date_text(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A row's `cod_act` (`None`: the field is missing), the one field of a chat that changes after
/// the fact (the typification). Every other field is compared once, at the end.
type Version = Option<String>;

/// The rows the simulator serves, by key.
fn served(rows: Vec<wolkvox_etl::wolkvox::Row>) -> HashMap<Key, Version> {
    rows.into_iter()
        .map(|row| {
            let text = |field: &str| row.get(field).and_then(Value::as_str).map(str::to_string);
            ((text("chat_id").unwrap_or_default(), text("date").unwrap_or_default()), text("cod_act"))
        })
        .collect()
}

/// Every stored chat_14 row: its key and version, read from `raw` in the database (a few
/// columns of every row after every run, where parsing every `raw` here would take seconds).
async fn stored_rows(probe: &Probe) -> Vec<(Option<String>, Option<String>, Version)> {
    match probe {
        Probe::Postgres(pool) => {
            sqlx::query_as("SELECT raw->>'chat_id', raw->>'date', raw->>'cod_act' FROM chat_14").fetch_all(pool).await
        }
        Probe::Sqlite(pool) => {
            sqlx::query_as(
                "SELECT json_extract(raw, '$.chat_id'), json_extract(raw, '$.date'), json_extract(raw, '$.cod_act') \
             FROM chat_14",
            )
            .fetch_all(pool)
            .await
        }
    }
    .expect("read the stored rows")
}

/// What one check found.
#[derive(Default)]
struct Check {
    /// Ground-truth rows before the committed watermark that are not stored, by date.
    lost: Vec<Key>,
    /// Stored rows that match no version served since the watermark first passed them, and
    /// second copies of a key.
    wrong: usize,
    /// Stored rows the API never served.
    phantom: usize,
}

/// Ground truth for the check after every run, kept apart from the binary: the rows as the
/// simulator served them at each run's clock, read from the simulator itself.
///
/// The simulator's clock moves between runs, and a recent row moves with it (late rows appear,
/// `cod_act` fills in). So every row served at the clock of the run whose commit first put the
/// row's date behind the watermark must be stored (that run committed it), and a stored row must
/// be the row as served at the clock of that run or of any later one (a later run may have
/// re-read it). Rows dated [`SETTLED_AFTER_MINUTES`] before the first clock have one version.
struct Truth {
    /// Rows dated before this (a `date` text) are settled.
    settled_before: NaiveDateTime,
    settled: HashMap<Key, Version>,
    /// The other rows, as served at each run's clock, by run.
    runs: Vec<HashMap<Key, Version>>,
    /// Each point the committed watermark reached first (a `date` text), and the run it did in.
    passed: Vec<(String, usize)>,
}

impl Truth {
    /// The settled rows from `from`, as the simulator serves them at local time `now`.
    fn new(sim: &Simulator, from: NaiveDateTime, now: NaiveDateTime) -> Truth {
        let settled_before = now.with_nanosecond(0).unwrap() - chrono::Duration::minutes(SETTLED_AFTER_MINUTES);
        let settled = served(sim.ground_truth("chat_14", from, settled_before - chrono::Duration::seconds(1)));
        Truth { settled_before, settled, runs: Vec::new(), passed: Vec::new() }
    }

    /// Records the other rows as the simulator serves them now, for the run about to start.
    fn run_starts(&mut self, sim: &Simulator) {
        let (from, to) = (self.settled_before, self.settled_before + chrono::Duration::days(30));
        self.runs.push(served(sim.ground_truth("chat_14", from, to)));
    }

    /// Checks the stored rows against the committed `watermark` after the latest run.
    fn check(
        &mut self,
        watermark: Option<NaiveDateTime>,
        rows: Vec<(Option<String>, Option<String>, Version)>,
    ) -> Check {
        let latest = self.runs.len() - 1;
        let wm = watermark.map(date_text);
        if let Some(wm) = &wm {
            if self.passed.last().is_none_or(|(p, _)| wm > p) {
                self.passed.push((wm.clone(), latest));
            }
        }
        let settled_before = date_text(self.settled_before);
        let passed = &self.passed;
        // The run whose commit first put `date` behind the watermark (`None`: not behind it).
        let passed_in = |date: &str| passed.iter().find(|(p, _)| date < p.as_str()).map(|(_, run)| *run);
        let mut c = Check::default();
        let count = rows.len();
        let stored: HashMap<Key, Version> = rows
            .into_iter()
            .map(|(id, date, version)| ((id.unwrap_or_default(), date.unwrap_or_default()), version))
            .collect();
        c.wrong += count - stored.len();
        for (key, version) in &stored {
            let (versions, first): (Vec<Option<&Version>>, usize) = if key.1 < settled_before {
                (vec![self.settled.get(key)], 0)
            } else {
                (self.runs.iter().map(|run| run.get(key)).collect(), passed_in(&key.1).unwrap_or(0))
            };
            if versions.iter().all(Option::is_none) {
                c.phantom += 1;
            } else if !versions[first..].contains(&Some(version)) {
                c.wrong += 1;
            }
        }
        let Some(wm) = wm else { return c };
        let settled = self.settled.keys().filter(|k| k.1 < wm);
        // A recent row must be stored if the run that put it behind the watermark was served it.
        let recent = self.runs[latest]
            .keys()
            .filter(|k| k.1 < wm && passed_in(&k.1).is_some_and(|run| self.runs[run].contains_key(*k)));
        c.lost = settled.chain(recent).filter(|k| !stored.contains_key(*k)).cloned().collect();
        c.lost.sort_by(|a, b| a.1.cmp(&b.1));
        c
    }
}

enum Wait {
    /// The run ended on its own before its moment came.
    Exited,
    /// Its moment came (or the wait timed out); whether a transaction was open just before.
    Ready { transaction_open: bool },
}

/// Waits for the moment to kill `run`, polling every couple of milliseconds.
async fn wait_for(
    moment: Moment,
    run: &Running,
    probe: &Probe,
    wm_before: Option<DateTime<Utc>>,
    rng: &mut fastrand::Rng,
) -> Wait {
    let deadline = match moment {
        Moment::AnyTime => Instant::now() + Duration::from_millis(rng.u64(20..3_000)),
        _ => Instant::now() + MOMENT_TIMEOUT,
    };
    loop {
        if run.exited() {
            return Wait::Exited;
        }
        if Instant::now() >= deadline {
            return Wait::Ready { transaction_open: false };
        }
        match moment {
            // Frozen right after writing rows (its log said so), in a transaction the database
            // must show open (Postgres: with a transaction id; SQLite: the write lock held).
            Moment::InTransaction if run.frozen() => {
                let open = writes_open(probe).await;
                // Killed there, or let go on for a moment: not always right after a batch.
                let on = rng.u64(0..3);
                if on > 0 {
                    run.resume();
                    tokio::time::sleep(Duration::from_millis(on)).await;
                }
                return Wait::Ready { transaction_open: open };
            }
            Moment::AfterCommit if probe.watermark().await > wm_before => {
                return Wait::Ready { transaction_open: false };
            }
            _ => tokio::time::sleep(Duration::from_millis(2)).await,
        }
    }
}

/// Whether another session holds a transaction open with writes in it, whatever it wrote
/// (Postgres: a transaction id; SQLite: the write lock). For a run stopped just after its log
/// said it wrote rows in a window's transaction, that transaction. (`Probe::transaction_open`
/// also asks, on Postgres, that its latest statement name chat_14 or the watermark; the last
/// statement of a COPY of rows releases a savepoint, and the ledger's come after the rows.)
async fn writes_open(probe: &Probe) -> bool {
    match probe {
        Probe::Postgres(pool) => sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL)",
        )
        .fetch_one(pool)
        .await
        .unwrap_or(false),
        Probe::Sqlite(_) => probe.transaction_open().await,
    }
}

/// Waits (a few seconds at most) until no transaction of a killed run is left open.
async fn wait_until_idle(probe: &Probe) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while writes_open(probe).await && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

//! The crash-and-recover harness: the real binary, SIGKILLed at chosen moments, must still end
//! with every row exactly once and a watermark that never lies — on Postgres and on the embedded
//! SQLite default.
//!
//! It starts the simulator in this process, with faults on (25% of requests answered with a
//! random transient fault: 5xx, resets, truncated JSON, invalid UTF-8, error codes in HTTP 200,
//! simultaneous-use and maintenance 403s; and damaged rows), in this process so it can read
//! ground truth, the requests the binary made and the simultaneous-request counter. Then it
//! starts `wolkvox-etl sync --report chat_14` (the scheduled path: each run resumes from the
//! committed watermark) again and again, and SIGKILLs each run at a moment it waits for:
//!
//! - **in a transaction**: the database shows the window's transaction open with rows written
//!   (Postgres: `pg_stat_activity`, a transaction id and chat_14/watermark statements; SQLite:
//!   the write lock is held), and the committed watermark did not move across the kill;
//! - **after a commit**: the committed watermark moved during this run; the next run that asks
//!   the API must then start exactly at that watermark minus the look-back;
//! - **any time**: a random delay, as a control.
//!
//! Every run's first request must start where the committed watermark says, the watermark never
//! moves backwards, and after one uninterrupted recovery run the table must equal ground truth
//! (missing, stale, unexpected and duplicated rows by the API's own key, read from `raw`) with a
//! watermark at exactly `now − settle` of that run. The harness fails if fewer than a third of
//! the runs aimed at each moment were killed inside a transaction, or after a commit that a
//! later run resumed from.
//!
//! Run alone: `cargo test --test crash` (`CRASH_KILLS=50` for more; `CRASH_SEED` replays).

#[path = "it/helpers.rs"]
#[allow(dead_code)]
mod helpers;
#[path = "it/probe.rs"]
mod probe;

use std::collections::BTreeMap;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use helpers::{TestDb, TOKEN};
use probe::Probe;
use serde_json::Value;
use wolkvox_etl::clock::Clock;
use wolkvox_etl::simulator::{FaultKind, FaultPlan, Simulator, SimulatorConfig};
use wolkvox_etl::store::Backend;
use wolkvox_etl::time::utc_to_local;

const BIN: &str = env!("CARGO_BIN_EXE_wolkvox-etl");
/// The binary's look-back, set explicitly: a day, so every run has a window to commit before
/// the one it is still working on, and "after a commit" kills land while the process lives.
const LOOKBACK_MINUTES: i64 = 24 * 60;
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
}

impl Figures {
    fn ok(&self, floor: u32) -> bool {
        self.missing == 0
            && self.duplicates == 0
            && self.stale == 0
            && self.extra == 0
            && self.violations == 0
            && self.wrong_resumes == 0
            && self.watermark_backwards == 0
            && self.watermark_exact
            && self.rows_checked > 0
            && self.in_transaction >= floor
            && self.after_commit_resumed >= floor
    }
}

fn main() -> ExitCode {
    let kills: u32 = std::env::var("CRASH_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(18);
    let seed: u64 = std::env::var("CRASH_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| fastrand::u64(..));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let mut all_ok = true;
    // SQLite gets fewer kills: its runs are the same code path, and time is shared with CI.
    for (backend, kills) in [(Backend::Postgres, kills), (Backend::Sqlite, (kills / 2).max(3))] {
        println!("crash harness ({backend:?}): {kills} runs to kill, seed {seed} (CRASH_SEED={seed} replays it)");
        let started = Instant::now();
        let f = rt.block_on(harness(backend, kills, seed));
        // A third of the runs aim inside a transaction, a third after a commit; at least a
        // third of each must have landed there (typically four in five do: a transaction can
        // commit between the check and the kill, and those are not counted).
        let floor = (kills.div_ceil(3) / 3).max(1);
        let ok = f.ok(floor);
        all_ok &= ok;
        println!(
            "crash harness ({backend:?}): kills {} (inside a transaction {}, after a commit a later run resumed \
             from {}; floor {floor} each), runs that finished before their kill {}, wrong resume points {}, \
             watermark moved backwards {}, rows checked {}, missing {}, duplicates {}, stale {}, unexpected {}, \
             simultaneous-request violations {}, final watermark {}, faults injected {} ({:.1} s)",
            f.kills,
            f.in_transaction,
            f.after_commit_resumed,
            f.finished_early,
            f.wrong_resumes,
            f.watermark_backwards,
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
            .env("RUST_LOG", "warn")
            .args(["sync", "--report", "chat_14"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
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
    let mut f = Figures::default();
    let mut last_wm: Option<DateTime<Utc>> = None;
    let mut commit_to_resume: Option<DateTime<Utc>> = None;
    for i in 0..kills {
        sim_clock.advance(chrono::Duration::minutes(5));
        let moment = [Moment::InTransaction, Moment::AfterCommit, Moment::AnyTime][i as usize % 3];
        let wm_before = probe.watermark().await;
        if wm_before < last_wm {
            f.watermark_backwards += 1;
        }
        last_wm = wm_before;
        let asked_before = sim.requests().len();
        let mut child = command().spawn().expect("start the binary");
        let landed =
            wait_for(moment, &mut child, &probe, wm_before, || sim.requests().len() > asked_before, &mut rng).await;
        let killed = match landed {
            Wait::Exited => {
                f.finished_early += 1;
                false
            }
            Wait::Ready { transaction_open } => {
                child.kill().expect("SIGKILL"); // std's kill() is SIGKILL on Unix
                let _ = child.wait();
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
        if !killed {
            let _ = child.wait();
        }
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

enum Wait {
    /// The run ended on its own before its moment came.
    Exited,
    /// Its moment came (or the wait timed out); whether a transaction was open just before.
    Ready { transaction_open: bool },
}

/// Waits for the moment to kill `child`, polling the database every couple of milliseconds.
async fn wait_for(
    moment: Moment,
    child: &mut Child,
    probe: &Probe,
    wm_before: Option<DateTime<Utc>>,
    asked: impl Fn() -> bool,
    rng: &mut fastrand::Rng,
) -> Wait {
    let deadline = match moment {
        Moment::AnyTime => Instant::now() + Duration::from_millis(rng.u64(20..3_000)),
        _ => Instant::now() + MOMENT_TIMEOUT,
    };
    loop {
        if child.try_wait().expect("poll child").is_some() {
            return Wait::Exited;
        }
        if Instant::now() >= deadline {
            return Wait::Ready { transaction_open: probe.transaction_open().await };
        }
        match moment {
            // Only after the run's first request: start-up schema changes are not a window's.
            Moment::InTransaction if asked() && probe.transaction_open().await => {
                // Somewhere inside it, not always at its first statement.
                tokio::time::sleep(Duration::from_millis(rng.u64(0..4))).await;
                return Wait::Ready { transaction_open: probe.transaction_open().await };
            }
            Moment::AfterCommit if probe.watermark().await > wm_before => {
                return Wait::Ready { transaction_open: false };
            }
            _ => tokio::time::sleep(Duration::from_millis(2)).await,
        }
    }
}

/// Waits (a few seconds at most) until no transaction of a killed run is left open.
async fn wait_until_idle(probe: &Probe) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while probe.transaction_open().await && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

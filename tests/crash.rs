//! The crash-and-recover harness: the real binary, SIGKILLed at random moments, must still end
//! with every row exactly once and a watermark that never lies.
//!
//! It starts the simulator in this process, with faults on (25% of requests answered with a
//! random transient fault: 5xx, resets, slow answers, truncated JSON, invalid UTF-8, error codes
//! in HTTP 200, simultaneous-use and maintenance 403s; and damaged rows), in this process so it
//! can read ground truth and the simultaneous-request counter. Then `CRASH_KILLS` times (default 20) starts `wolkvox-etl sync` against a
//! fresh Postgres database and kills it with SIGKILL after a random delay — before, during or
//! after a window's transaction. Then it lets one run finish and compares the table with the
//! simulator: missing rows, duplicate keys, stale values, the watermark, and violations of the
//! one-request-per-token rule. `CRASH_SEED` replays a sequence of kill times.
//!
//! Run alone: `cargo test --test crash` (`CRASH_KILLS=50` for more).

#[path = "it/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::collections::BTreeMap;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use helpers::{admin_url, scalar, TestDb, TOKEN};
use serde_json::Value;
use wolkvox_etl::clock::Clock;
use wolkvox_etl::simulator::{FaultKind, FaultPlan, Simulator, SimulatorConfig};
use wolkvox_etl::store::{Backend, Db};
use wolkvox_etl::wolkvox::values::utc_to_local;

const BIN: &str = env!("CARGO_BIN_EXE_wolkvox-etl");

struct Figures {
    kills: u32,
    finished_early: u32,
    rows_checked: usize,
    missing: usize,
    duplicates: i64,
    stale: usize,
    extra: usize,
    violations: u64,
    faults: u64,
    watermark_ok: bool,
}

fn main() -> ExitCode {
    let kills: u32 = std::env::var("CRASH_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let seed: u64 = std::env::var("CRASH_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| fastrand::u64(..));
    println!("crash harness: {kills} SIGKILLs, seed {seed} (CRASH_SEED={seed} replays it)");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let started = Instant::now();
    let f = rt.block_on(harness(kills, seed));
    // Most runs must really have been killed, or the harness proved nothing.
    let ok = f.missing == 0
        && f.duplicates == 0
        && f.stale == 0
        && f.extra == 0
        && f.violations == 0
        && f.watermark_ok
        && f.kills * 2 >= kills;
    println!(
        "crash harness: kills survived {}, runs that finished before their kill {}, rows checked {}, \
         missing {}, duplicates {}, stale {}, unexpected {}, simultaneous-request violations {}, watermark {}, \
         faults injected {} ({:.1} s)",
        f.kills,
        f.finished_early,
        f.rows_checked,
        f.missing,
        f.duplicates,
        f.stale,
        f.extra,
        f.violations,
        if f.watermark_ok { "ok" } else { "WRONG" },
        f.faults,
        started.elapsed().as_secs_f64()
    );
    // The line test-summary readers look for.
    println!(
        "test result: {}. {} passed; {} failed; 0 ignored; 0 measured; 0 filtered out",
        if ok { "ok" } else { "FAILED" },
        u8::from(ok),
        u8::from(!ok)
    );
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn harness(kills: u32, seed: u64) -> Figures {
    let mut rng = fastrand::Rng::with_seed(seed);
    let db = TestDb::new(Backend::Postgres).await;
    assert!(admin_url().starts_with("postgres"), "the harness runs on Postgres");
    // The simulator's clock starts two hours back and moves 5 minutes per kill, so rows arrive
    // late and typification codes change between crashes; it stays behind the binary's own
    // (system) clock, so the binary's windows always cover everything the simulator serves.
    let now = Utc::now() - chrono::Duration::hours(2);
    let sim_clock = Clock::manual(now);
    // Faults on: every transient kind at 25% of requests, plus damaged rows. `slow` is left to
    // its own test (tests/it/faults.rs): here a debug-built simulator's normal answers already
    // take seconds, and a client timeout that tells them apart would dominate the run time.
    let kinds: Vec<FaultKind> = FaultKind::TRANSIENT.iter().copied().filter(|k| *k != FaultKind::Slow).collect();
    let faults = FaultPlan { rate: 0.25, kinds, seed, slow: Duration::ZERO, row_faults: true };
    let sim_config = SimulatorConfig {
        rows_per_hour: 1_500,
        latency: Duration::from_millis(40),
        faults,
        ..SimulatorConfig::default()
    };
    let sim = Simulator::start(sim_config, sim_clock.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let bogota = chrono_tz::America::Bogota;
    let from = (utc_to_local(bogota, now).date() - chrono::Duration::days(3)).and_hms_opt(0, 0, 0).unwrap();

    let command = || {
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .env("WOLKVOX_ETL__WOLKVOX__BASE_URL", sim.base_url())
            .env("WOLKVOX_ETL__WOLKVOX__TOKEN", TOKEN)
            .env("DATABASE_URL", &db.url)
            .env("WOLKVOX_ETL__SYNC__MAX_WINDOW_DAYS", "1")
            .env("WOLKVOX_ETL__WOLKVOX__RETRY_INITIAL_BACKOFF_MS", "50")
            .env("WOLKVOX_ETL__WOLKVOX__RETRY_MAX_BACKOFF_SECONDS", "1")
            .env("WOLKVOX_ETL__WOLKVOX__MAX_ATTEMPTS", "10")
            .env("WOLKVOX_ETL__SYNC__INITIAL_DAYS", "3")
            .env("RUST_LOG", "warn")
            // The scheduled path: each run resumes from the committed watermark (minus the
            // look-back), so a watermark that ever covered missing rows would leave them missing.
            .args(["sync", "--report", "chat_14"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    };

    let mut figures = Figures {
        kills: 0,
        finished_early: 0,
        rows_checked: 0,
        missing: 0,
        duplicates: 0,
        stale: 0,
        extra: 0,
        violations: 0,
        faults: 0,
        watermark_ok: false,
    };
    for _ in 0..kills {
        sim_clock.advance(chrono::Duration::minutes(5).min(chrono::Duration::minutes(100) / kills.max(1) as i32));
        let mut child = command().spawn().expect("start the binary");
        let delay = Duration::from_millis(rng.u64(20..2_500));
        let deadline = Instant::now() + delay;
        let mut exited = false;
        while Instant::now() < deadline {
            if child.try_wait().expect("poll child").is_some() {
                exited = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if exited {
            figures.finished_early += 1;
        } else {
            child.kill().expect("SIGKILL"); // std's kill() is SIGKILL on Unix
            figures.kills += 1;
        }
        let _ = child.wait();
    }
    // Recovery: one uninterrupted run must finish cleanly.
    let mut last = command();
    last.stdout(Stdio::piped()).stderr(Stdio::piped());
    let out = tokio::task::spawn_blocking(move || last.output().expect("final run")).await.unwrap();
    assert!(
        out.status.success(),
        "the recovery run failed: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let store = db.db().await;
    let Db::Postgres(pool) = &store else { unreachable!("Postgres harness") };
    let watermark: chrono::DateTime<Utc> =
        sqlx::query_scalar("SELECT watermark FROM etl_watermark WHERE report = 'chat_14'")
            .fetch_one(pool)
            .await
            .unwrap();
    let wm_local = utc_to_local(bogota, watermark);
    // The watermark never claims data the API could not have served yet, and it covers the run.
    figures.watermark_ok = watermark <= Utc::now() && wm_local > from;

    let truth: BTreeMap<(String, String), Value> = sim
        .ground_truth("chat_14", from, wm_local - chrono::Duration::seconds(1))
        .into_iter()
        .map(|r| {
            ((r["chat_id"].as_str().unwrap().to_string(), r["date"].as_str().unwrap().to_string()), Value::Object(r))
        })
        .collect();
    let stored: Vec<(String, String)> =
        sqlx::query_as("SELECT chat_id, raw::text FROM chat_14").fetch_all(pool).await.unwrap();
    let stored: BTreeMap<(String, String), Value> = stored
        .into_iter()
        .map(|(id, raw)| {
            let raw: Value = serde_json::from_str(&raw).unwrap();
            ((id, raw["date"].as_str().unwrap_or_default().to_string()), raw)
        })
        .collect();
    figures.rows_checked = truth.len();
    figures.missing = truth.keys().filter(|k| !stored.contains_key(*k)).count();
    figures.stale = truth.iter().filter(|(k, v)| stored.get(*k).is_some_and(|s| s != *v)).count();
    figures.extra = stored.keys().filter(|k| !truth.contains_key(*k)).count();
    figures.duplicates =
        scalar(&store, "SELECT count(*) - count(DISTINCT (account, chat_id, date)) FROM chat_14").await;
    figures.violations = sim.stats().simultaneous_violations;
    figures.faults = sim.stats().faults_injected;
    figures
}

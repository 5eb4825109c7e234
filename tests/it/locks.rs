//! Bounded lock waits: a token's lock or the schema lock kept by another process makes this one
//! give up after `database.lock_timeout_seconds`, skipping the run (nothing requested, nothing
//! moved, not a failure) or stopping start-up with what to do; the next tick works again.

use std::time::{Duration, Instant};

use wolkvox_etl::health::Streak;
use wolkvox_etl::store::locks::{Coordinator, WaitedLock};
use wolkvox_etl::store::runs::RunStatus;
use wolkvox_etl::store::StoreError;
use wolkvox_etl::sync::{Range, SyncError};

use crate::on_both_backends;
use crate::support::*;

/// The lock timeout the tests configure, short so they run quickly.
const WAIT: Duration = Duration::from_secs(1);

fn short_lock_timeout() -> Options {
    Options { env: vec![("WOLKVOX_ETL__DATABASE__LOCK_TIMEOUT_SECONDS", "1".into())], ..Options::default() }
}

on_both_backends! {
    async fn a_token_lock_held_elsewhere_skips_the_run_after_the_lock_timeout_and_the_next_run_works(backend) {
        let t = spawn_app(backend, short_lock_timeout()).await;
        let job = t.app.job("chat_14").unwrap();
        // Another process: a coordinator of its own on the same database (its own connection
        // on PostgreSQL, its own open lock file on SQLite), with a far longer wait of its own.
        let other = Coordinator::new(t.db(), 1, Duration::from_secs(300));
        let held = other.lock_token(job.token.gate_id()).await.unwrap();

        let started = Instant::now();
        let outcome = t.sync(Range::Scheduled).await;
        let took = started.elapsed();
        assert_eq!(outcome.status, RunStatus::Skipped, "{:?}", outcome.error);
        match &outcome.error {
            Some(SyncError::Store(StoreError::LockBusy { lock: WaitedLock::Token, waited })) => {
                assert!(*waited >= WAIT && *waited < WAIT * 3, "waited {waited:?}");
            }
            other => panic!("expected the token's lock to be busy, got {other:?}"),
        }
        assert!(took >= WAIT && took < WAIT * 5, "the run took {took:?}");
        assert_eq!(outcome.counts.requests, 0, "nothing was sent");
        assert_eq!(t.sim.stats().requests, 0, "the simulator saw no request");
        assert_eq!(t.sim.calls_today(TOKEN), 0);
        assert_eq!(t.scalar("SELECT COUNT(*) FROM etl_token_usage WHERE calls > 0").await, 0, "no call counted");
        assert_eq!(t.watermark().await, None, "the watermark did not move");
        assert_eq!(t.scalar("SELECT COUNT(*) FROM etl_run").await, 0, "a skip is not a run to record");
        // The coordinator's own wait bounds it, whatever its pool was opened with (300 s here).
        let default_timeouts = t.test_db.db().await;
        let started = Instant::now();
        let busy = Coordinator::new(&default_timeouts, 1, WAIT).lock_token(job.token.gate_id()).await;
        assert!(matches!(busy, Err(StoreError::LockBusy { lock: WaitedLock::Token, .. })), "{busy:?}");
        assert!(started.elapsed() < WAIT * 3, "{:?}", started.elapsed());
        // Not a failure: a success now would be "healthy", not "recovered from failing".
        let streak = t.app.ctx.health.record_run("default/chat_14", RunStatus::Succeeded, test_now());
        assert_eq!(streak, Streak::Healthy);

        held.release().await;
        let outcome = t.sync(Range::Scheduled).await;
        assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
        assert!(t.sim.stats().requests > 0);
        assert!(t.watermark().await.is_some(), "the next run moves the watermark");
        assert_eq!(t.last_run().await, ("succeeded".to_string(), None));
    }

    async fn a_sync_command_waiting_on_a_busy_token_warns_naming_the_lock_and_exits_non_zero(backend) {
        let t = spawn_app(backend, short_lock_timeout()).await;
        let job = t.app.job("chat_14").unwrap();
        let held = Coordinator::new(t.db(), 1, WAIT).lock_token(job.token.gate_id()).await.unwrap();
        let mut cmd = binary(&t.sim, &t.test_db, "warn", &["sync", "--report", "chat_14"]);
        cmd.env("WOLKVOX_ETL__DATABASE__LOCK_TIMEOUT_SECONDS", "1");
        let started = Instant::now();
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
        let took = started.elapsed();
        held.release().await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{stdout}\n{stderr}");
        let warn = stderr.lines().find(|l| l.contains("WARN") && l.contains("lock of token")).unwrap_or_else(|| panic!("{stderr}"));
        assert!(warn.contains("Another process holds the lock of token default: waited 1."), "{warn}");
        assert!(warn.contains("skipping this run, the next tick tries again"), "{warn}");
        assert!(stderr.contains("error: chat_14 was not synced: another process holds the token lock"), "{stderr}");
        assert!(stdout.contains("chat_14: skipped, 0 windows, 0 requests"), "{stdout}");
        assert!(!stderr.contains("slow statement"), "waiting for a lock is not a slow statement: {stderr}");
        assert!(!stderr.contains(TOKEN) && !stdout.contains(TOKEN), "the token is never printed");
        assert!(took < Duration::from_secs(20), "{took:?}");
        assert_eq!(t.sim.stats().requests, 0);
    }

    async fn start_up_gives_up_on_a_schema_lock_held_elsewhere_and_says_what_to_do(backend) {
        let t = spawn_app(backend, short_lock_timeout()).await;
        let held = Coordinator::new(t.db(), 1, WAIT).lock_schema().await.unwrap();
        // A schema already up to date needs no lock at all: a newly enabled report's table does.
        let mut cmd = binary(&t.sim, &t.test_db, "warn", &["migrate"]);
        cmd.env("WOLKVOX_ETL__DATABASE__LOCK_TIMEOUT_SECONDS", "1").env("WOLKVOX_ETL__REPORTS__AGENT_3__ENABLED", "true");
        let started = Instant::now();
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
        let took = started.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(stderr.contains("another process holds the schema lock: gave up after waiting 1."), "{stderr}");
        assert!(stderr.contains("(database.lock_timeout_seconds). Fix: another replica or a `migrate`"), "{stderr}");
        assert!(took >= WAIT && took < Duration::from_secs(20), "{took:?}");

        held.release().await;
        let mut cmd = binary(&t.sim, &t.test_db, "warn", &["migrate"]);
        cmd.env("WOLKVOX_ETL__DATABASE__LOCK_TIMEOUT_SECONDS", "1").env("WOLKVOX_ETL__REPORTS__AGENT_3__ENABLED", "true");
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

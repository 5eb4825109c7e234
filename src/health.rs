//! Failure streaks and readiness: which reports have been failing, since when, and whether the
//! scheduler is running.
//!
//! Every run's outcome goes through
//! [`Health::record_run`](crate::health::Health::record_run), which keeps one streak per failing
//! report (stream). The streak decides how loudly a run is logged
//! ([`Streak`](crate::health::Streak): in full when a report starts failing, then once an hour)
//! and whether the process is ready: a report failing for longer than
//! `http.max_failing_minutes`, or a stopped scheduler, makes `/readyz` fail. `crate::http` only
//! serves what this module judges.
//!
//! The database part of readiness is a ping whose result is reused for [`DB_PING_CACHE`]: however
//! often `/readyz` is scraped, the pool sees at most one ping per period.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::clock::Clock;
use crate::store::runs::RunStatus;

/// What `/readyz` judges: the scheduler's state and each report's failure streak.
#[derive(Debug)]
pub struct Health {
    scheduler_running: AtomicBool,
    failing: Mutex<HashMap<String, FailureStreak>>,
    max_failing: chrono::Duration,
    clock: Clock,
    /// The last database ping's result and when it was taken. An async mutex: requests that
    /// arrive while a ping is in flight wait for it and share its result.
    db_check: tokio::sync::Mutex<Option<(tokio::time::Instant, &'static str)>>,
    db_pings: AtomicU64,
}

/// How long a database ping's result answers `/readyz`, so scrapes cannot flood the pool.
pub const DB_PING_CACHE: Duration = Duration::from_secs(3);

/// A run of consecutive failed runs of one report (stream).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FailureStreak {
    since: DateTime<Utc>,
    failures: u32,
    last_logged: DateTime<Utc>,
}

/// How often a report that keeps failing is logged again at full level.
const REMIND_EVERY: chrono::Duration = chrono::Duration::hours(1);

/// Where a run leaves its report's failure streak: decides how loudly the run is logged, so a
/// report that keeps failing does not repeat the same ERROR every five minutes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Streak {
    /// It succeeded, as did the run before.
    Healthy,
    /// It failed after a success: log it in full.
    Started,
    /// It failed again; `remind` is true once per hour of failing.
    Continuing {
        /// When the streak began.
        since: DateTime<Utc>,
        /// Failed runs so far, this one included.
        failures: u32,
        /// Whether to log it in full this time.
        remind: bool,
    },
    /// It succeeded after failing.
    Recovered {
        /// When the streak began.
        since: DateTime<Utc>,
        /// How many runs failed.
        failures: u32,
    },
    /// Cancelled or paused: the streak, if any, is unchanged.
    Unchanged,
}

impl Health {
    /// A report failing continuously for longer than `max_failing` makes the process unready.
    pub fn new(max_failing: chrono::Duration, clock: Clock) -> Self {
        Health {
            scheduler_running: AtomicBool::new(false),
            failing: Mutex::default(),
            max_failing,
            clock,
            db_check: tokio::sync::Mutex::new(None),
            db_pings: AtomicU64::new(0),
        }
    }

    /// The database's state for readiness (`"ok"`, `"error"`, `"timeout"`): `ping`'s result,
    /// reused for [`DB_PING_CACHE`] after it was taken.
    pub async fn database(&self, ping: impl Future<Output = &'static str>) -> &'static str {
        let mut cached = self.db_check.lock().await;
        if let Some((at, state)) = *cached {
            if at.elapsed() < DB_PING_CACHE {
                return state;
            }
        }
        self.db_pings.fetch_add(1, Ordering::SeqCst);
        let state = ping.await;
        *cached = Some((tokio::time::Instant::now(), state));
        state
    }

    /// How many database pings [`Health::database`] has sent (what the cache saves is visible
    /// to tests).
    pub fn database_pings(&self) -> u64 {
        self.db_pings.load(Ordering::SeqCst)
    }

    /// Marks the scheduler as started or stopped.
    pub fn set_scheduler_running(&self, running: bool) {
        self.scheduler_running.store(running, Ordering::SeqCst);
    }

    /// Whether the scheduler is running, as last marked by [`Health::set_scheduler_running`].
    pub fn scheduler_running(&self) -> bool {
        self.scheduler_running.load(Ordering::SeqCst)
    }

    /// Notes a run's outcome: a failure starts (or continues) a streak, a success ends it.
    pub fn record_run(&self, report: &str, status: RunStatus, at: DateTime<Utc>) -> Streak {
        let mut failing = self.failing.lock().unwrap_or_else(PoisonError::into_inner);
        match status {
            // A report whose rows are all rejected is as broken for its users as a failing one.
            RunStatus::Failed | RunStatus::Rejected => match failing.get_mut(report) {
                None => {
                    failing.insert(report.to_string(), FailureStreak { since: at, failures: 1, last_logged: at });
                    Streak::Started
                }
                Some(streak) => {
                    streak.failures += 1;
                    let remind = at - streak.last_logged >= REMIND_EVERY;
                    if remind {
                        streak.last_logged = at;
                    }
                    Streak::Continuing { since: streak.since, failures: streak.failures, remind }
                }
            },
            RunStatus::Succeeded => match failing.remove(report) {
                Some(streak) => Streak::Recovered { since: streak.since, failures: streak.failures },
                None => Streak::Healthy,
            },
            RunStatus::Cancelled | RunStatus::Paused | RunStatus::Skipped => Streak::Unchanged,
        }
    }

    /// Reports failing for longer than allowed, with how long.
    pub fn failing_too_long(&self) -> Vec<(String, i64)> {
        let now = self.clock.now();
        let failing = self.failing.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out: Vec<(String, i64)> = failing
            .iter()
            .filter(|(_, streak)| now - streak.since > self.max_failing)
            .map(|(r, streak)| (r.clone(), (now - streak.since).num_seconds()))
            .collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_that_keeps_failing_is_logged_in_full_once_then_hourly() {
        let start = DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z").unwrap().to_utc();
        let health = Health::new(chrono::Duration::minutes(30), Clock::manual(start));
        let at = |minutes: i64| start + chrono::Duration::minutes(minutes);
        assert_eq!(health.record_run("cdr_1", RunStatus::Failed, at(0)), Streak::Started);
        let quiet = (1..12).filter(|i| {
            matches!(health.record_run("cdr_1", RunStatus::Failed, at(5 * i)), Streak::Continuing { remind: false, .. })
        });
        assert_eq!(quiet.count(), 11, "the next hour of failures is quiet");
        assert_eq!(
            health.record_run("cdr_1", RunStatus::Failed, at(60)),
            Streak::Continuing { since: start, failures: 13, remind: true }
        );
        assert_eq!(
            health.record_run("cdr_1", RunStatus::Succeeded, at(65)),
            Streak::Recovered { since: start, failures: 13 }
        );
        assert_eq!(health.record_run("cdr_1", RunStatus::Succeeded, at(70)), Streak::Healthy);
    }

    #[test]
    fn a_failure_streak_counts_from_its_first_failure_and_ends_on_success() {
        let start = DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z").unwrap().to_utc();
        let clock = Clock::manual(start);
        let health = Health::new(chrono::Duration::minutes(30), clock.clone());
        health.record_run("chat_14", RunStatus::Failed, start);
        clock.advance(chrono::Duration::minutes(20));
        health.record_run("chat_14", RunStatus::Failed, clock.now());
        assert!(health.failing_too_long().is_empty());
        clock.advance(chrono::Duration::minutes(15));
        assert_eq!(health.failing_too_long(), vec![("chat_14".to_string(), 35 * 60)]);
        health.record_run("chat_14", RunStatus::Succeeded, clock.now());
        assert!(health.failing_too_long().is_empty());
    }
}

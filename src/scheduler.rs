//! The daemon's schedule: a thin tokio-cron-scheduler shell around `sync::run_once` (and
//! `sync::api_token_count::read_once`).
//!
//! One cron job per enabled report, and one per token reading the API's own token count, in the
//! operation's time zone. tokio-cron-scheduler does not stop a job overlapping its previous run,
//! so each job has a guard: a tick that finds the previous run still going is skipped (not
//! queued — queued ticks would pile up requests when the server is slower than the interval).
//! Runs are spawned on a task tracker so shutdown can stop the ticks and then wait for in-flight
//! runs, which finish or roll back their transaction.

use std::sync::Arc;

use tokio::sync::Mutex;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::config::ReconcileSettings;
use crate::sync::api_token_count::{read_once, ReadOutcome, TokenInfoJob};
use crate::sync::dimensions::DimensionJob;
use crate::sync::{run_once, JobContext, Range, ReportJob};

/// The scheduler could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("scheduler error: {0}")]
pub struct SchedulerError(#[from] JobSchedulerError);

/// Starts one job per report (and the reconciliation, when enabled) and runs until `shutdown`
/// is cancelled, then waits for in-flight runs to end. With `run_on_start`, every report also
/// runs once immediately, and every token's count is read.
pub async fn run(
    ctx: Arc<JobContext>,
    jobs: Vec<ReportJob>,
    token_info: Vec<TokenInfoJob>,
    run_on_start: bool,
    reconcile: ReconcileSettings,
    dimensions: Option<DimensionJob>,
    shutdown: CancellationToken,
) -> Result<(), SchedulerError> {
    let tracker = TaskTracker::new();
    let mut scheduler = JobScheduler::new().await?;
    add_token_info_jobs(&mut scheduler, &ctx, token_info, run_on_start, &tracker, &shutdown).await?;
    if let Some(job) = dimensions {
        add_dimensions(&mut scheduler, &ctx, job, &tracker, &shutdown).await?;
    }
    let mut triggers = Vec::new();
    for job in jobs {
        let skip_cap = max_skip(&job.config.schedule, ctx.timezone);
        let trigger = Trigger {
            ctx: Arc::clone(&ctx),
            job: Arc::new(job),
            guard: Arc::new(Mutex::new(())),
            tracker: tracker.clone(),
            shutdown: shutdown.clone(),
            backoff: Arc::default(),
            max_skip: skip_cap,
        };
        let on_tick = trigger.clone();
        let cron = Job::new_async_tz(trigger.job.config.schedule.as_str(), ctx.timezone, move |_, _| {
            let t = on_tick.clone();
            Box::pin(async move { t.fire() })
        })?;
        scheduler.add(cron).await?;
        info!(report = trigger.job.config.report.api, token = trigger.job.token.label(), schedule = %trigger.job.config.schedule, "Scheduled report");
        triggers.push(trigger);
    }
    if reconcile.enabled {
        add_reconcile(&mut scheduler, &ctx, &triggers, &reconcile, &tracker, &shutdown).await?;
    }
    scheduler.start().await?;
    ctx.health.set_scheduler_running(true);
    if run_on_start {
        triggers.iter().for_each(Trigger::fire);
    }
    shutdown.cancelled().await;
    info!("Shutdown requested; no new runs will start, waiting for runs in flight");
    ctx.health.set_scheduler_running(false);
    scheduler.shutdown().await?;
    tracker.close();
    tracker.wait().await;
    info!("All runs finished; scheduler stopped");
    Ok(())
}

#[derive(Clone)]
struct Trigger {
    ctx: Arc<JobContext>,
    job: Arc<ReportJob>,
    guard: Arc<Mutex<()>>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
    backoff: Arc<std::sync::Mutex<Backoff>>,
    /// The most ticks a failing report skips in a row: it still runs at least once an hour.
    max_skip: u32,
}

/// Ticks skipped after failing runs, so one broken window costs a bounded number of calls a
/// day: after the n-th failure in a row, 2^(n−1) − 1 ticks are skipped (the interval doubles),
/// capped at an hour between runs. A run that does not fail resets it.
#[derive(Debug, Default, PartialEq, Eq)]
struct Backoff {
    failures: u32,
    skip: u32,
}

impl Backoff {
    /// Whether this tick runs (otherwise it is one of the ticks skipped).
    fn tick(&mut self) -> bool {
        if self.skip == 0 {
            return true;
        }
        self.skip -= 1;
        false
    }

    /// Records how a run ended.
    fn ran(&mut self, failed: bool, max_skip: u32) {
        if !failed {
            *self = Backoff::default();
            return;
        }
        self.failures += 1;
        let doubling = (1u64 << (self.failures - 1).min(32)) - 1;
        self.skip = u32::try_from(doubling).unwrap_or(u32::MAX).min(max_skip);
    }
}

/// The most ticks of `schedule` that fit in an hour, minus the one that runs.
fn max_skip(schedule: &str, tz: chrono_tz::Tz) -> u32 {
    let per_day = crate::budget::runs_per_day(schedule, tz).max(1);
    (per_day / 24).saturating_sub(1)
}

impl Trigger {
    /// Starts a run unless the previous one is still going or shutdown has begun.
    fn fire(&self) {
        if self.shutdown.is_cancelled() {
            return;
        }
        if !self.backoff.lock().unwrap_or_else(std::sync::PoisonError::into_inner).tick() {
            debug!(report = self.job.config.report.api, "Backing off after failing runs; skipping this tick");
            return;
        }
        let held = match Arc::clone(&self.guard).try_lock_owned() {
            Ok(held) => Some(held),
            // A test's control only: the tick runs anyway (see `Faults::ignore_run_guard`).
            Err(_) if self.ctx.faults.ignore_run_guard => None,
            Err(_) => {
                crate::metrics::tick_skipped(&self.ctx.account, self.job.config.report.api, "running");
                warn!(
                    report = self.job.config.report.api,
                    token = self.job.token.label(),
                    "Previous run still in progress; skipping this tick"
                );
                return;
            }
        };
        let (ctx, job, shutdown) = (Arc::clone(&self.ctx), Arc::clone(&self.job), self.shutdown.clone());
        let (backoff, max_skip) = (Arc::clone(&self.backoff), self.max_skip);
        self.tracker.spawn(async move {
            // The guard lives as long as the run.
            let _held = held;
            let outcome = run_once(&ctx, &job, Range::Scheduled, &shutdown).await;
            let failed = outcome.status == crate::store::runs::RunStatus::Failed;
            backoff.lock().unwrap_or_else(std::sync::PoisonError::into_inner).ran(failed, max_skip);
        });
    }
}

/// The dimensions' reads on their own schedule, and once at start-up when any was never read.
/// One pass at a time; a tick that finds the previous pass going is skipped.
async fn add_dimensions(
    scheduler: &mut JobScheduler,
    ctx: &Arc<JobContext>,
    job: DimensionJob,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) -> Result<(), SchedulerError> {
    let guard = Arc::new(Mutex::new(()));
    let tz = ctx.timezone;
    let (ctx, tracker, shutdown) = (Arc::clone(ctx), tracker.clone(), shutdown.clone());
    let token = job.token.clone();
    let fire = move |only_if_never_read: bool| {
        let (ctx, tracker, shutdown, token, guard) =
            (Arc::clone(&ctx), tracker.clone(), shutdown.clone(), token.clone(), Arc::clone(&guard));
        async move {
            if shutdown.is_cancelled() || (only_if_never_read && !crate::sync::dimensions::never_read(&ctx).await) {
                return;
            }
            let Ok(held) = guard.try_lock_owned() else {
                warn!("The previous read of the dimensions is still going; skipping this one");
                return;
            };
            tracker.spawn(async move {
                let _held = held;
                crate::sync::dimensions::read_all(&ctx, &token, &shutdown).await;
            });
        }
    };
    let on_tick = fire.clone();
    let cron = Job::new_async_tz(job.schedule.as_str(), tz, move |_, _| {
        let fire = on_tick.clone();
        Box::pin(async move { fire(false).await })
    })?;
    scheduler.add(cron).await?;
    info!(schedule = %job.schedule, token = job.token.label(), "Scheduled the dimensions");
    fire(true).await;
    Ok(())
}

/// A report and the guard its runs hold.
type Guarded = (Arc<ReportJob>, Arc<Mutex<()>>);

/// The reconciliation on its own schedule: one pass at a time, each report re-read while
/// holding that report's guard, so a pass never overlaps the report's normal runs in this
/// process (the run lock keeps it apart from other processes').
async fn add_reconcile(
    scheduler: &mut JobScheduler,
    ctx: &Arc<JobContext>,
    triggers: &[Trigger],
    settings: &ReconcileSettings,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) -> Result<(), SchedulerError> {
    let reports: Arc<Vec<Guarded>> =
        Arc::new(triggers.iter().map(|t| (Arc::clone(&t.job), Arc::clone(&t.guard))).collect());
    let pass = Arc::new(Mutex::new(()));
    let (ctx, tracker, shutdown) = (Arc::clone(ctx), tracker.clone(), shutdown.clone());
    let (days, ledger) = (settings.days, settings.ledger);
    let cron = Job::new_async_tz(settings.schedule.as_str(), ctx.timezone, move |_, _| {
        let (ctx, reports, pass, shutdown) =
            (Arc::clone(&ctx), Arc::clone(&reports), Arc::clone(&pass), shutdown.clone());
        let tracker = tracker.clone();
        Box::pin(async move {
            if shutdown.is_cancelled() {
                return;
            }
            let Ok(held) = pass.try_lock_owned() else {
                warn!("The previous reconciliation is still running; skipping this one");
                return;
            };
            tracker.spawn(async move {
                let _held = held;
                info!(account = %ctx.account, days, "Reconciliation started");
                for (job, guard) in reports.iter() {
                    let _report = guard.lock().await;
                    if shutdown.is_cancelled() {
                        return;
                    }
                    crate::sync::reconcile_report(&ctx, job, days, &shutdown).await;
                }
                crate::sync::prune_ledger(&ctx, ledger).await;
                info!(account = %ctx.account, "Reconciliation finished");
            });
        })
    })?;
    scheduler.add(cron).await?;
    info!(schedule = %settings.schedule, days, "Scheduled the reconciliation");
    Ok(())
}

/// Adds one cron job per token reading the API's own token count. Each is guarded like a report
/// (a tick that finds the previous read still going is skipped, never queued), and its reads are
/// spawned on `tracker`, so shutdown waits for a read in flight. With `run_on_start`, each token
/// is read once now. A failed read is logged at WARN; the next one is on schedule.
async fn add_token_info_jobs(
    scheduler: &mut JobScheduler,
    ctx: &Arc<JobContext>,
    jobs: Vec<TokenInfoJob>,
    run_on_start: bool,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) -> Result<(), SchedulerError> {
    let tz = ctx.timezone;
    for job in jobs {
        let (ctx, tracker, shutdown) = (Arc::clone(ctx), tracker.clone(), shutdown.clone());
        let (token, guard) = (job.token.clone(), Arc::new(Mutex::new(())));
        let fire = move || {
            if shutdown.is_cancelled() {
                return;
            }
            let Ok(held) = Arc::clone(&guard).try_lock_owned() else {
                let (account, token) = (&ctx.account, token.label());
                warn!(%account, token, "Previous token_info read still in progress; skipping this tick");
                return;
            };
            let (ctx, token) = (Arc::clone(&ctx), token.clone());
            tracker.spawn(async move {
                // The guard lives as long as the read.
                let _held = held;
                match read_once(&ctx, &token).await {
                    Ok(ReadOutcome::Read(_)) => {}
                    Ok(ReadOutcome::Paused(until)) => {
                        let (account, token) = (&ctx.account, token.label());
                        debug!(%account, token, %until, "Token paused by the daily budget; no token_info read");
                    }
                    Err(e) => warn!(
                        account = %ctx.account,
                        token = token.label(),
                        error_kind = e.kind(),
                        "Could not read the API's token count; the next read is on schedule: {e}"
                    ),
                }
            });
        };
        let on_tick = fire.clone();
        let cron = Job::new_async_tz(job.schedule.as_str(), tz, move |_, _| {
            on_tick();
            Box::pin(async {})
        })?;
        scheduler.add(cron).await?;
        info!(token = job.token.label(), schedule = %job.schedule, "Scheduled token_info reads");
        if run_on_start {
            fire();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_runs_skip_doubling_numbers_of_ticks_up_to_an_hour_and_a_success_resets() {
        // Every 5 minutes: at most 11 ticks skipped, so a failing report runs hourly.
        let cap = max_skip("0 */5 * * * *", chrono_tz::America::Bogota);
        assert_eq!(cap, 11);
        let mut b = Backoff::default();
        let mut ran = Vec::new();
        for _ in 0..40 {
            let runs = b.tick();
            ran.push(runs);
            if runs {
                b.ran(true, cap);
            }
        }
        let at: Vec<usize> = ran.iter().enumerate().filter(|(_, r)| **r).map(|(i, _)| i).collect();
        // Gaps of 1, 2, 4, 8, then 12 ticks (the hour cap).
        assert_eq!(at, [0, 1, 3, 7, 15, 27, 39]);
        b.ran(false, cap);
        assert_eq!(b, Backoff::default());
        assert!(b.tick());
        assert_eq!(max_skip("0 0 * * * *", chrono_tz::America::Bogota), 0, "hourly reports never skip");
    }
}

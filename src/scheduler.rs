//! The daemon's schedule: a thin tokio-cron-scheduler shell around `sync::run_once`.
//!
//! One cron job per enabled report, in the operation's time zone. tokio-cron-scheduler does not
//! stop a job overlapping its previous run, so each report has a guard: a tick that finds the
//! previous run still going is skipped (not queued — queued ticks would pile up requests when the
//! server is slower than the interval). Runs are spawned on a task tracker so shutdown can stop
//! the ticks and then wait for in-flight runs, which finish or roll back their transaction.

use std::sync::Arc;

use tokio::sync::Mutex;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::sync::{run_once, JobContext, Range, ReportJob};

/// The scheduler could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("scheduler error: {0}")]
pub struct SchedulerError(#[from] JobSchedulerError);

/// Starts one job per report and runs until `shutdown` is cancelled, then waits for in-flight
/// runs to end. With `run_on_start`, every report also runs once immediately.
pub async fn run(
    ctx: Arc<JobContext>,
    jobs: Vec<ReportJob>,
    run_on_start: bool,
    shutdown: CancellationToken,
) -> Result<(), SchedulerError> {
    let tracker = TaskTracker::new();
    let mut scheduler = JobScheduler::new().await?;
    let mut triggers = Vec::new();
    for job in jobs {
        let trigger = Trigger {
            ctx: Arc::clone(&ctx),
            job: Arc::new(job),
            guard: Arc::new(Mutex::new(())),
            tracker: tracker.clone(),
            shutdown: shutdown.clone(),
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
}

impl Trigger {
    /// Starts a run unless the previous one is still going or shutdown has begun.
    fn fire(&self) {
        if self.shutdown.is_cancelled() {
            return;
        }
        let Ok(held) = Arc::clone(&self.guard).try_lock_owned() else {
            warn!(
                report = self.job.config.report.api,
                token = self.job.token.label(),
                "Previous run still in progress; skipping this tick"
            );
            return;
        };
        let (ctx, job, shutdown) = (Arc::clone(&self.ctx), Arc::clone(&self.job), self.shutdown.clone());
        self.tracker.spawn(async move {
            // The guard lives as long as the run.
            let _held = held;
            run_once(&ctx, &job, Range::Scheduled, &shutdown).await;
        });
    }
}

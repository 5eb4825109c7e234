//! The reconciliation pass: re-reads each report's most recent local days whole, after the
//! look-back has passed them, through the same [`run_once`] (gates, locks, transactions) as a
//! normal run. What it finds per day goes into `etl_day` (see [`super::attempt`]); it never moves
//! a watermark, because its windows all end at or before it.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::context::{JobContext, Range, ReportJob};
use super::error::SyncError;
use super::outcome::RunOutcome;
use super::run::run_once;
use crate::store::runs::RunStatus;

/// How long a pass waits between tries for a stream another run holds (a normal run of the
/// same report, here or in another process), and how many times it tries.
const BUSY_RETRY: Duration = Duration::from_secs(3);
const BUSY_TRIES: u32 = 100;

/// Re-reads the `days` most recent local days of every report in `jobs` that has dated rows,
/// one report after another, then prunes the ledger older than `ledger`. Returns each
/// report's outcome.
pub async fn reconcile(
    ctx: &JobContext,
    jobs: &[ReportJob],
    days: u32,
    ledger: chrono::Duration,
    shutdown: &CancellationToken,
) -> Vec<(&'static str, RunOutcome)> {
    let mut outcomes = Vec::new();
    for job in jobs {
        let Some(outcome) = reconcile_report(ctx, job, days, shutdown).await else {
            continue;
        };
        let cancelled = outcome.status == RunStatus::Cancelled;
        outcomes.push((job.config.report.api, outcome));
        if cancelled {
            return outcomes;
        }
    }
    prune_ledger(ctx, ledger).await;
    outcomes
}

/// Re-reads the `days` most recent local days of one report; `None` for a report whose rows
/// carry no date (a snapshot is read whole on every run anyway).
pub async fn reconcile_report(
    ctx: &JobContext,
    job: &ReportJob,
    days: u32,
    shutdown: &CancellationToken,
) -> Option<RunOutcome> {
    if !job.config.report.is_dated() {
        return None;
    }
    let mut tries = 0;
    loop {
        let outcome = run_once(ctx, job, Range::Reconcile { days }, shutdown).await;
        tries += 1;
        // The stream is being synced right now: wait for that run rather than skip the day. A
        // skip because the token's lock stayed busy already waited its bound: not again.
        let busy_token = outcome.error.as_ref().is_some_and(SyncError::is_lock_busy);
        if outcome.status != RunStatus::Skipped || busy_token || tries >= BUSY_TRIES || shutdown.is_cancelled() {
            return Some(outcome);
        }
        tokio::select! {
            () = tokio::time::sleep(BUSY_RETRY) => {}
            () = shutdown.cancelled() => {}
        }
    }
}

/// Deletes ledger rows (`etl_window`) committed longer than `ledger` ago; their days stay in
/// `etl_day`.
pub async fn prune_ledger(ctx: &JobContext, ledger: chrono::Duration) {
    match ctx.db.prune_ledger(ctx.clock.now() - ledger).await {
        Ok(0) => {}
        Ok(n) => info!(account = %ctx.account, windows = n, "Pruned the window ledger"),
        Err(e) => warn!(account = %ctx.account, error = %e, "Could not prune the window ledger"),
    }
}

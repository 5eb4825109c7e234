//! What a run is given: the job (a report with its token), the range to cover, and the context
//! shared by every run of an operation (database, client, clock, budget, health, locks).

use std::sync::Arc;

use chrono::NaiveDateTime;
use chrono_tz::Tz;

use super::error::SyncError;
use super::window::Window;
use crate::budget::Budget;
use crate::clock::Clock;
use crate::config::ReportConfig;
use crate::health::Health;
use crate::store::locks::Coordinator;
use crate::store::{Db, DbTimeouts};
use crate::wolkvox::{Token, WolkvoxClient};

/// Faults a test can inject to prove the transaction rule.
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    /// Fail every window after its rows are upserted and before the commit.
    pub fail_before_commit: bool,
    /// The scheduler starts a run at every tick, ignoring the guard that skips a tick while the
    /// report's previous run is going: the broken scheduler the overlap test must catch.
    pub ignore_run_guard: bool,
}

/// What every run needs: database, API client, operation, clock.
#[derive(Clone, Debug)]
pub struct JobContext {
    /// The database (Postgres or SQLite).
    pub db: Db,
    /// Its timeouts: a window's waits on it are bounded by them ([`DbTimeouts::window`]).
    pub db_timeouts: DbTimeouts,
    /// The API client.
    pub client: WolkvoxClient,
    /// The `account` label stored with every row.
    pub account: String,
    /// The operation's time zone (the API's dates are local to it).
    pub timezone: Tz,
    /// The source of "now".
    pub clock: Clock,
    /// Injected faults (none in production).
    pub faults: Faults,
    /// The daily token budget (counts calls, pauses tokens at the limit).
    pub budget: Budget,
    /// Per-report failure streaks, for `/readyz`.
    pub health: Arc<Health>,
    /// Called after each committed window (the `sync` command's progress lines).
    pub on_window: WindowHook,
    /// Cross-replica locks (per token, per report stream).
    pub coordinator: Coordinator,
    /// Runs allowed at once in this process. Runs on one token take turns anyway, so more than
    /// a couple per token only hold connections.
    pub run_slots: Arc<tokio::sync::Semaphore>,
}

impl JobContext {
    /// One whole-body call on `token` (`information.php`, not a report window), attempt after
    /// attempt as the client's retry policy allows; each attempt takes the token's turn (the
    /// permit in this process, the lock across processes) and gives it back once the body is
    /// read. Returns the result and the attempts made (each cost a call).
    pub(crate) async fn call_on_token<T, F, Fut>(
        &self,
        token: &Token,
        api: &str,
        call: F,
    ) -> (Result<T, SyncError>, u32)
    where
        F: Fn(tokio::sync::OwnedSemaphorePermit) -> Fut,
        Fut: std::future::Future<Output = Result<T, crate::wolkvox::ApiError>>,
    {
        let mut retrier = self.client.retrier();
        let result = loop {
            let attempt = async {
                let permit = token.acquire().await;
                let lock = self.coordinator.lock_token(token.gate_id()).await?;
                let answer = call(permit).await;
                lock.release().await;
                Ok(answer?)
            }
            .await;
            // Nothing was sent (another process kept the token's lock): not a call, no retry.
            if attempt.as_ref().is_err_and(SyncError::is_lock_busy) {
                break attempt;
            }
            if !retrier.again(api, token, &attempt).await {
                break attempt;
            }
        };
        (result, retrier.attempts())
    }
}

/// What a committed window reports to [`JobContext::on_window`].
#[derive(Clone, Copy, Debug)]
pub struct WindowDone<'a> {
    /// The report.
    pub report: &'a str,
    /// The window committed.
    pub window: Window,
    /// Rows received.
    pub rows: u64,
    /// Rows inserted or changed.
    pub upserted: u64,
}

/// An optional callback per committed window.
#[derive(Clone, Default)]
pub struct WindowHook(Option<Arc<WindowFn>>);

/// The callback behind a [`WindowHook`].
type WindowFn = dyn Fn(WindowDone<'_>) + Send + Sync;

impl WindowHook {
    /// A hook calling `f`.
    pub fn new(f: impl Fn(WindowDone<'_>) + Send + Sync + 'static) -> Self {
        WindowHook(Some(Arc::new(f)))
    }

    pub(super) fn call(&self, done: WindowDone<'_>) {
        if let Some(f) = &self.0 {
            f(done);
        }
    }
}

impl std::fmt::Debug for WindowHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "WindowHook(set)" } else { "WindowHook(none)" })
    }
}

/// One configured report with the token it uses.
#[derive(Clone, Debug)]
pub struct ReportJob {
    /// Report, schedule and window policy.
    pub config: ReportConfig,
    /// Its token (and so its place in the token's queue).
    pub token: Token,
}

/// Which range a run covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Range {
    /// From the watermark minus the look-back to now minus the settle delay.
    Scheduled,
    /// An explicit backfill `[from, to)` in local time (`to` defaults to now minus settle).
    Explicit {
        /// First local second.
        from: NaiveDateTime,
        /// End (exclusive), local.
        to: Option<NaiveDateTime>,
    },
    /// The reconciliation pass: the `days` most recent local days up to the watermark (the
    /// watermark's own day included), each re-read whole; the watermark does not move.
    Reconcile {
        /// How many local days.
        days: u32,
    },
}

//! Why a run failed, shaped by what happens next: retried on the next schedule, or an operator
//! must act.

use super::window::Window;
use crate::store::StoreError;
use crate::wolkvox::ApiError;

/// A run's failure.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The API call failed (after the client's retries).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The database failed (after the commit retries).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A one-second window still hits the record limit, so it cannot be fetched completely.
    #[error("window {window} returns {rows} rows, at the API's record limit, and cannot be split further")]
    Unsplittable {
        /// The window.
        window: Window,
        /// Rows in the (truncated) response.
        rows: usize,
    },
    /// A test asked for the transaction to fail before commit.
    #[error("fault injected before commit")]
    Injected,
}

impl SyncError {
    /// Whether the next scheduled run may succeed without an operator.
    pub fn is_retryable(&self) -> bool {
        match self {
            SyncError::Api(e) => e.is_retryable(),
            SyncError::Store(e) => e.is_retryable(),
            SyncError::Unsplittable { .. } => false,
            // An injected failure stands for a crash at the worst moment: not retried in-run.
            SyncError::Injected => false,
        }
    }

    /// Whether another process kept a lock this run waited for (the token's) past
    /// `database.lock_timeout_seconds`: nothing was sent, and the run is skipped, not failed.
    pub fn is_lock_busy(&self) -> bool {
        matches!(self, SyncError::Store(StoreError::LockBusy { .. }))
    }

    /// A short, stable name for the failure (run history, metrics).
    pub fn kind(&self) -> &'static str {
        match self {
            SyncError::Api(e) => e.kind(),
            SyncError::Store(StoreError::LockBusy { .. }) => "lock_busy",
            SyncError::Store(_) => "database",
            SyncError::Unsplittable { .. } => "unsplittable",
            SyncError::Injected => "injected",
        }
    }
}

impl crate::wolkvox::client::Retryable for SyncError {
    fn is_retryable(&self) -> bool {
        SyncError::is_retryable(self)
    }
    fn kind(&self) -> &'static str {
        SyncError::kind(self)
    }
}

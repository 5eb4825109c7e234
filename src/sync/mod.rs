//! Syncing a report: what a run is given (`context`), window planning (`window`, pure), the run
//! and its window loop (`run`), the re-read of recent days (`reconcile`), one attempt at one
//! window (`attempt`), row typing (`typing`, pure) and what a run did (`outcome`). Beside the
//! report runs, the daemon's other reads of the API: the dimensions (`dimensions`) and the API's
//! own token count (`api_token_count`).

pub mod api_token_count;
mod attempt;
mod context;
pub mod dimensions;
mod error;
mod outcome;
mod reconcile;
mod run;
mod typing;
pub mod window;

pub use attempt::MAX_RECORDS;
pub use context::{Faults, JobContext, Range, ReportJob, WindowDone, WindowHook};
pub use error::SyncError;
pub use outcome::{RunCounts, RunOutcome};
pub use reconcile::{prune_ledger, reconcile, reconcile_report};
pub(crate) use run::record_run;
pub use run::run_once;
pub use window::Window;

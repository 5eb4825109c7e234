//! Syncing a report: window planning (pure) and the run itself (`job::run_once`).

mod error;
pub mod job;
pub mod window;

pub use error::SyncError;
pub use job::{run_once, Faults, JobContext, Range, ReportJob, RunOutcome, WindowDone, WindowHook};
pub use window::Window;

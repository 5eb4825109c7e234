//! Reference data: the dimensions of `information.php` (agents, skills, campaigns, activity
//! codes, routing points, connectors, agents per skill, services), read whole on their own
//! schedule into `dim_*` tables with history. `catalog` says which API fills which table and
//! which attributes are versioned; `read` asks the API and applies one snapshot.

mod catalog;
mod read;

pub use catalog::{Ask, Dimension, ALL};

/// The daemon's reads of the dimensions: which token, on which schedule.
#[derive(Clone, Debug)]
pub struct DimensionJob {
    /// The token the reads use.
    pub token: crate::wolkvox::Token,
    /// Six-field cron expression, in the operation's time zone.
    pub schedule: String,
}
pub use read::{never_read, read, read_all};

//! `[sync]`: the default schedule and window policy every report starts from. Owns the rules that
//! a window is at most 31 days (the API's limit), that `start_from` is a local date, and that a
//! schedule is a six-field cron expression valid in the operation's zone.

use chrono_tz::Tz;

use super::raw::RawSync;
use super::{ConfigError, SyncPolicy};
use crate::time::parse_local_datetime;

/// Validates `[sync]` into the window policy of a report that does not override it.
pub(super) fn validate(s: &RawSync, timezone: Tz) -> Result<SyncPolicy, ConfigError> {
    if !(1..=31).contains(&s.max_window_days) {
        return Err(ConfigError::invalid(
            "sync.max_window_days",
            format!("is {}", s.max_window_days),
            "use 1 to 31: the API refuses windows longer than 31 days",
        ));
    }
    let start_from = match &s.start_from {
        None => None,
        Some(text) => Some(parse_local_datetime(text).ok_or_else(|| {
            ConfigError::invalid(
                "sync.start_from",
                format!("{text:?} is not a date"),
                "use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS in the operation's local time",
            )
        })?),
    };
    validate_schedule("sync.schedule", &s.schedule, timezone)?;
    Ok(SyncPolicy {
        lookback: chrono::Duration::minutes(i64::from(s.lookback_minutes)),
        settle: chrono::Duration::seconds(i64::from(s.settle_seconds)),
        start_from,
        initial_days: s.initial_days,
        max_window: chrono::Duration::days(i64::from(s.max_window_days)),
    })
}

/// Checks that `schedule` (the value of `key`) is a cron expression the scheduler accepts.
pub(super) fn validate_schedule(key: &str, schedule: &str, tz: Tz) -> Result<(), ConfigError> {
    tokio_cron_scheduler::Job::new_async_tz(schedule, tz, |_, _| Box::pin(async {})).map(|_| ()).map_err(|_| {
        ConfigError::invalid(
            key,
            format!("{schedule:?} is not a cron expression"),
            "use six fields with seconds first, e.g. \"0 */5 * * * *\" for every 5 minutes",
        )
    })
}

//! `[reconcile]`: the nightly re-read of recent days (see `crate::sync::reconcile`). Owns the
//! rules that a pass re-reads at least one day and at most the API's 31, and that its schedule
//! is a cron expression valid in the operation's zone.

use chrono_tz::Tz;

use super::raw::RawReconcile;
use super::{ConfigError, ReconcileSettings};

/// Validates `[reconcile]`.
pub(super) fn validate(raw: &RawReconcile, tz: Tz) -> Result<ReconcileSettings, ConfigError> {
    if raw.days == 0 || raw.days > 31 {
        return Err(ConfigError::invalid(
            "reconcile.days",
            format!("is {}", raw.days),
            "use 1 to 31 (default 2: yesterday and today); to switch the pass off, set reconcile.enabled = false",
        ));
    }
    if raw.ledger_days == 0 {
        return Err(ConfigError::invalid(
            "reconcile.ledger_days",
            "is 0",
            "use a number of days, e.g. 90 (the default)",
        ));
    }
    super::sync::validate_schedule("reconcile.schedule", &raw.schedule, tz)?;
    Ok(ReconcileSettings {
        enabled: raw.enabled,
        schedule: raw.schedule.trim().to_string(),
        days: raw.days,
        ledger: chrono::Duration::days(i64::from(raw.ledger_days)),
    })
}

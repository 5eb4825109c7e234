//! `[dimensions]`: when the reference data of information.php is read. Owns the rule that its
//! schedule is a cron expression valid in the operation's zone.

use chrono_tz::Tz;

use super::raw::RawDimensions;
use super::{ConfigError, DimensionSettings};

/// Validates `[dimensions]`.
pub(super) fn validate(raw: &RawDimensions, tz: Tz) -> Result<DimensionSettings, ConfigError> {
    super::sync::validate_schedule("dimensions.schedule", &raw.schedule, tz)?;
    Ok(DimensionSettings {
        enabled: raw.enabled,
        schedule: raw.schedule.trim().to_string(),
        token_label: raw.token.clone().filter(|t| !t.trim().is_empty()),
    })
}

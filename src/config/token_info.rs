//! `[token_info]`: reading the API's own count of each token's daily calls
//! (`information.php?api=token_info`). Owns the rule that its schedule is a six-field cron
//! expression valid in the operation's zone, like every other schedule.

use chrono_tz::Tz;

use super::raw::RawTokenInfo;
use super::sync::validate_schedule;
use super::{ConfigError, TokenInfoSettings};

/// Validates `[token_info]`.
pub(super) fn validate(raw: &RawTokenInfo, timezone: Tz) -> Result<TokenInfoSettings, ConfigError> {
    validate_schedule("token_info.schedule", &raw.schedule, timezone)?;
    Ok(TokenInfoSettings { enabled: raw.enabled, schedule: raw.schedule.trim().to_owned() })
}

#[cfg(test)]
mod tests {
    use super::super::tests::{error_text, load};

    #[test]
    fn token_info_is_read_hourly_by_default_and_can_be_switched_off_or_rescheduled() {
        let defaults = load(&[]).unwrap().token_info;
        assert!(defaults.enabled);
        assert_eq!(defaults.schedule, "0 7 * * * *");
        let set = load(&[
            ("WOLKVOX_ETL__TOKEN_INFO__ENABLED", "false"),
            ("WOLKVOX_ETL__TOKEN_INFO__SCHEDULE", "0 30 */2 * * *"),
        ])
        .unwrap()
        .token_info;
        assert!(!set.enabled);
        assert_eq!(set.schedule, "0 30 */2 * * *");
    }

    #[test]
    fn a_bad_schedule_or_key_names_it_and_the_fix() {
        let text = error_text(&[("WOLKVOX_ETL__TOKEN_INFO__SCHEDULE", "hourly")]);
        assert!(text.contains("`token_info.schedule`") && text.contains("Fix: use six fields"), "{text}");
        let text = error_text(&[("WOLKVOX_ETL__TOKEN_INFO__ENABLED", "sometimes")]);
        assert!(text.contains("token_info.enabled"), "{text}");
    }
}

//! `[http]`: the metrics and health endpoints served while `run` is running. Owns the rule that
//! the bind address is an explicit `address:port` (no name lookup at start-up).

use super::raw::RawHttp;
use super::{ConfigError, HttpSettings};

/// Validates `[http]`.
pub(super) fn validate(raw: &RawHttp) -> Result<HttpSettings, ConfigError> {
    let bind = raw.bind.trim().parse().map_err(|_| {
        ConfigError::invalid(
            "http.bind",
            format!("{:?} is not an address:port", raw.bind),
            "use e.g. \"127.0.0.1:9187\" (or \"0.0.0.0:9187\" inside a container)",
        )
    })?;
    Ok(HttpSettings {
        enabled: raw.enabled,
        bind,
        max_failing: chrono::Duration::minutes(i64::from(raw.max_failing_minutes)),
        status_page: raw.status_page,
    })
}

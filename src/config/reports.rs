//! `[reports.<api>]`: which reports of the catalogue are synced, and each one's schedule, token,
//! look-back and request parameters. Owns the rules that only catalogued reports and parameters
//! are accepted, that a report's token label exists, and that a parameter without a default is
//! configured before its report runs.

use std::collections::BTreeMap;

use chrono_tz::Tz;

use super::raw::{RawReport, RawSync};
use super::sync::validate_schedule;
use super::{ConfigError, ReportConfig, Settings, SyncPolicy};
use crate::wolkvox::catalog::{self, Report};
use crate::wolkvox::token::NamedToken;

/// Validates `[reports.*]` into the enabled reports, in catalogue order. A report without its own
/// keys takes `[sync]`'s schedule and `defaults`; unset `enabled` follows `sync.enable_all`.
pub(super) fn validate(
    raw: &BTreeMap<String, RawReport>,
    sync: &RawSync,
    defaults: SyncPolicy,
    tokens: &[NamedToken],
    timezone: Tz,
) -> Result<Vec<ReportConfig>, ConfigError> {
    reject_unknown(raw)?;
    let mut reports = Vec::new();
    let unset = RawReport::default();
    for report in catalog::all().iter().copied() {
        let api = report.api;
        let key = format!("reports.{api}");
        let r = raw.get(api).unwrap_or(&unset);
        let needs_params = report.params.iter().any(|(p, d)| d.is_empty() && !r.params.contains_key(*p));
        if !r.enabled.unwrap_or(sync.enable_all && !needs_params) {
            continue;
        }
        let schedule = r.schedule.clone().unwrap_or_else(|| sync.schedule.clone());
        validate_schedule(&format!("{key}.schedule"), &schedule, timezone)?;
        let token_label = token_label(&key, r.token.as_deref(), tokens)?;
        let mut policy = defaults;
        if let Some(minutes) = r.lookback_minutes {
            policy.lookback = chrono::Duration::minutes(i64::from(minutes));
        }
        let params = resolve_params(report, &r.params)?;
        reports.push(ReportConfig { report, schedule, token_label, policy, params });
    }
    Ok(reports)
}

/// Refuses a `[reports.<api>]` section for a report the catalogue does not have.
fn reject_unknown(raw: &BTreeMap<String, RawReport>) -> Result<(), ConfigError> {
    for api in raw.keys() {
        if catalog::find(api).is_none() {
            let known: Vec<_> = catalog::all().iter().map(|r| r.api).collect();
            return Err(ConfigError::invalid(
                format!("reports.{api}"),
                format!("{api:?} is not a known report"),
                format!("use one of: {}", known.join(", ")),
            ));
        }
    }
    Ok(())
}

/// The label of the token report `key` uses: its own `token`, which must be configured, or the
/// first configured token.
fn token_label(key: &str, configured: Option<&str>, tokens: &[NamedToken]) -> Result<String, ConfigError> {
    match configured {
        Some(label) => {
            if !tokens.is_empty() && !tokens.iter().any(|t| t.label == label) {
                let known: Vec<_> = tokens.iter().map(|t| t.label.as_str()).collect();
                return Err(ConfigError::invalid(
                    format!("{key}.token"),
                    format!("no token is labelled {label:?}"),
                    format!("use one of the labels under [wolkvox.tokens]: {}", known.join(", ")),
                ));
            }
            Ok(label.to_string())
        }
        // Tokens are sorted by label, so "the first" is stable across restarts.
        None => Ok(tokens.first().map(|t| t.label.clone()).unwrap_or_else(|| "default".into())),
    }
}

impl Settings {
    /// The configuration of report `api`: its own if enabled, otherwise the defaults (so
    /// `sync --report` works for a report the schedule does not run).
    pub fn report_config(&self, api: &str) -> Result<ReportConfig, ConfigError> {
        if let Some(enabled) = self.reports.iter().find(|r| r.report.api == api) {
            return Ok(enabled.clone());
        }
        let report = catalog::find(api).ok_or_else(|| {
            ConfigError::invalid(
                "--report",
                format!("{api:?} is not a known report"),
                format!(
                    "did you mean {}? (`wolkvox-etl reports` lists all {})",
                    catalog::closest(api, 3).join(", "),
                    catalog::all().len()
                ),
            )
        })?;
        Ok(ReportConfig {
            report,
            schedule: self.default_schedule.clone(),
            token_label: self.tokens.first().map(|t| t.label.clone()).unwrap_or_else(|| "default".into()),
            policy: self.default_policy,
            params: resolve_params(report, self.configured_params.get(api).unwrap_or(&BTreeMap::new()))?,
        })
    }
}

/// The report's request parameters: catalogue defaults, overridden by `reports.<api>.params`.
/// A parameter without a default (agent_2's `agent_id`) must be configured.
fn resolve_params(
    report: &Report,
    configured: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, ConfigError> {
    for name in configured.keys() {
        if !report.params.iter().any(|(p, _)| p == name) {
            let known: Vec<&str> = report.params.iter().map(|(p, _)| *p).collect();
            return Err(ConfigError::invalid(
                format!("reports.{}.params.{name}", report.api),
                format!("{} takes no parameter {name:?}", report.api),
                if known.is_empty() {
                    "remove it: this report takes no extra parameters".to_string()
                } else {
                    format!("use one of: {}", known.join(", "))
                },
            ));
        }
    }
    report
        .params
        .iter()
        .map(|(name, default)| {
            let value = configured.get(*name).map(String::as_str).unwrap_or(default).trim().to_string();
            if value.is_empty() {
                return Err(ConfigError::invalid(
                    format!("reports.{}.params.{name}", report.api),
                    "is required and has no default",
                    format!(
                        "set it, e.g. WOLKVOX_ETL__REPORTS__{}__PARAMS__{}=…",
                        report.api.to_uppercase(),
                        name.to_uppercase()
                    ),
                ));
            }
            Ok((name.to_string(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{error_text, load};

    #[test]
    fn a_required_parameter_without_a_default_names_its_key_and_unknown_ones_are_refused() {
        let text = error_text(&[("WOLKVOX_ETL__REPORTS__AGENT_2__ENABLED", "true")]);
        assert!(text.contains("`reports.agent_2.params.agent_id`"), "{text}");
        let s = load(&[
            ("WOLKVOX_ETL__REPORTS__AGENT_2__ENABLED", "true"),
            ("WOLKVOX_ETL__REPORTS__AGENT_2__PARAMS__AGENT_ID", "12523"),
        ])
        .unwrap();
        assert_eq!(s.report_config("agent_2").unwrap().params, vec![("agent_id".to_string(), "12523".to_string())]);
        assert_eq!(s.report_config("skill_1").unwrap().params, vec![("skill_id".to_string(), "all".to_string())]);
        let text = error_text(&[
            ("WOLKVOX_ETL__REPORTS__CHAT_14__PARAMS__SKILL_ID", "3"),
            ("WOLKVOX_ETL__REPORTS__CHAT_14__ENABLED", "true"),
        ]);
        assert!(text.contains("`reports.chat_14.params.skill_id`"), "{text}");
    }

    #[test]
    fn an_unknown_report_for_sync_names_the_flag() {
        let s = load(&[]).unwrap();
        let text = s.report_config("chat_99").unwrap_err().to_string();
        assert!(text.contains("`--report`") && text.contains("did you mean chat_9, chat_1, chat_10?"), "{text}");
    }
}

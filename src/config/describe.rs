//! `describe()`: the effective settings as `check-config` prints them, TOML-like, one section per
//! table and one per enabled report. Owns the rule that no secret is printed: tokens show only
//! their labels, and every URL is printed redacted (the API's without user name or password, the
//! database's without password).

use secrecy::ExposeSecret;

use super::{redact_url, redact_userinfo, Settings};

impl Settings {
    /// The effective settings as TOML-like text, with every secret redacted (`check-config`).
    pub fn describe(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let base = self.base_url.as_ref().map_or_else(|| "(not set)".to_string(), redact_userinfo);
        let tokens: Vec<String> = self.tokens.iter().map(|t| format!("{} = \"[REDACTED]\"", t.label)).collect();
        let _ = writeln!(out, "[wolkvox]");
        let _ = writeln!(out, "account = {:?}", self.account);
        let _ = writeln!(out, "base_url = {base:?}");
        if let Some(ca) = &self.ca_file {
            let n = ca.certificates.len();
            let _ =
                writeln!(out, "ca_file = {:?}  # {n} CA certificate(s), trusted besides the built-in roots", ca.path);
        }
        let _ = writeln!(out, "timezone = {:?}", self.timezone.name());
        let _ = writeln!(out, "tokens = {{ {} }}", tokens.join(", "));
        let _ = writeln!(out, "request_timeout_seconds = {}", self.request_timeout.as_secs());
        let _ = writeln!(out, "max_attempts = {}", self.retry.max_attempts);
        let _ = writeln!(out, "retry_initial_backoff_ms = {}", self.retry.initial_backoff.as_millis());
        let _ = writeln!(out, "retry_max_backoff_seconds = {}", self.retry.max_backoff.as_secs());
        let _ = writeln!(out, "\n[database]");
        let default_note = if self.database_is_default { "  # default: embedded SQLite" } else { "" };
        let _ = writeln!(out, "url = {:?}{default_note}", redact_url(self.database_url.expose_secret()));
        let _ = writeln!(out, "max_connections = {}", self.db_max_connections);
        let _ = writeln!(out, "connect_timeout_seconds = {}", self.db_timeouts.connect.as_secs());
        let _ = writeln!(out, "statement_timeout_seconds = {}", self.db_timeouts.statement.as_secs());
        let _ = writeln!(out, "lock_timeout_seconds = {}", self.db_timeouts.lock.as_secs());
        match &self.db_schema {
            Some(schema) => {
                let _ = writeln!(out, "schema = {schema:?}");
            }
            None => {
                let _ = writeln!(out, "schema = {:?}  # default (PostgreSQL)", crate::store::DEFAULT_SCHEMA);
            }
        }
        let _ = writeln!(out, "\n[sync]");
        let _ = writeln!(out, "run_on_start = {}", self.run_on_start);
        let _ = writeln!(out, "\n[http]");
        let _ = writeln!(out, "enabled = {}", self.http.enabled);
        let _ = writeln!(out, "bind = \"{}\"", self.http.bind);
        let _ = writeln!(out, "max_failing_minutes = {}", self.http.max_failing.num_minutes());
        let _ = writeln!(out, "\n[dimensions]");
        let _ = writeln!(out, "enabled = {}", self.dimensions.enabled);
        let _ = writeln!(out, "schedule = {:?}", self.dimensions.schedule);
        if let Some(label) = &self.dimensions.token_label {
            let _ = writeln!(out, "token = {label:?}");
        }
        let _ = writeln!(out, "\n[reconcile]");
        let _ = writeln!(out, "enabled = {}", self.reconcile.enabled);
        let _ = writeln!(out, "schedule = {:?}", self.reconcile.schedule);
        let _ = writeln!(out, "days = {}", self.reconcile.days);
        let _ = writeln!(out, "ledger_days = {}", self.reconcile.ledger.num_days());
        let _ = writeln!(out, "\n[token_info]");
        let _ = writeln!(out, "enabled = {}", self.token_info.enabled);
        let _ = writeln!(out, "schedule = {:?}", self.token_info.schedule);
        let _ = writeln!(out, "\n[log]");
        let _ = writeln!(out, "format = {:?}", format!("{:?}", self.log.format).to_lowercase());
        let _ = writeln!(out, "level = {:?}", self.log.level);
        for r in &self.reports {
            let p = r.policy;
            let _ = writeln!(out, "\n[reports.{}]  # enabled", r.report.api);
            let _ = writeln!(out, "schedule = {:?}", r.schedule);
            let _ = writeln!(out, "token = {:?}", r.token_label);
            let _ = writeln!(out, "lookback_minutes = {}", p.lookback.num_minutes());
            let _ = writeln!(out, "settle_seconds = {}", p.settle.num_seconds());
            let start = p.start_from.map_or_else(|| format!("{} days back", p.initial_days), |d| d.to_string());
            let _ = writeln!(out, "start_from = {start:?}");
            let _ = writeln!(out, "max_window_days = {}", p.max_window.num_days());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::redact_url;
    use super::super::tests::load;

    #[test]
    fn check_config_output_shows_the_settings_but_no_secret() {
        let s = load(&[
            ("WOLKVOX_ETL__WOLKVOX__TOKEN", "tok-SECRET-1"),
            ("WOLKVOX_ETL__WOLKVOX__SERVER", "0010"),
            ("DATABASE_URL", "postgres://etl:pw-SECRET@db:5432/wolkvox?sslmode=verify-full"),
        ])
        .unwrap();
        let text = s.describe();
        assert!(!text.contains("SECRET"), "{text}");
        assert!(text.contains("postgres://etl:REDACTED@db:5432/wolkvox?sslmode=verify-full"), "{text}");
        assert_eq!(
            redact_url("postgres://u@h/db?password=hunter2&sslmode=require"),
            "postgres://u@h/db?password=REDACTED&sslmode=require"
        );
        assert!(text.contains("[reports.chat_14]") && text.contains("wv0010"), "{text}");
        let api = reqwest::Url::parse("https://token-SECRET@api.example.com/v2/").unwrap();
        assert_eq!(super::super::redact_userinfo(&api), "https://REDACTED@api.example.com/v2/");
    }
}

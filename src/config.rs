//! Configuration: typed settings, layered and validated once at start-up.
//!
//! Layers, later ones win: the built-in defaults (`config/default.toml`, compiled in) → the TOML
//! file given with `--config` → environment variables `WOLKVOX_ETL__SECTION__KEY` (plus the
//! conventional `DATABASE_URL`). The raw layers deserialize into [`RawSettings`]; [`Settings`] is
//! the validated, typed result. Every error names the offending key and says how to fix it, so a
//! daemon never starts half-configured. Tokens and the database URL are [`SecretString`]s: their
//! `Debug` output is redacted and they are exposed only where a header or a connection is built.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use chrono_tz::Tz;
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::wolkvox::catalog::{self, Report};

/// The built-in defaults, also the documentation of what a bare install does.
const DEFAULTS: &str = include_str!("../config/default.toml");

/// The database used when none is configured: an SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://wolkvox-etl.db";

/// Prefix of the environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "WOLKVOX_ETL";

/// A configuration problem, always naming the key and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A key holds a value that cannot be used.
    #[error("invalid configuration: `{key}`: {problem}. Fix: {fix}")]
    Invalid {
        /// The dotted key, e.g. `wolkvox.timezone`.
        key: String,
        /// What is wrong with the value.
        problem: String,
        /// What the operator should do.
        fix: String,
    },
    /// The layers could not be read or merged (unreadable file, bad TOML, wrong value type).
    #[error("invalid configuration: {0}. Fix: correct the key named above in the config file or its WOLKVOX_ETL__… environment variable; config/example.toml documents every key")]
    Load(#[from] config::ConfigError),
    /// Like `Load`, with any configured secret value blanked out of the message.
    #[error("invalid configuration: {0}. Fix: correct the key named above in the config file or its WOLKVOX_ETL__… environment variable; config/example.toml documents every key")]
    Scrubbed(String),
}

impl ConfigError {
    fn invalid(key: impl Into<String>, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        ConfigError::Invalid { key: key.into(), problem: problem.into(), fix: fix.into() }
    }
}

/// The configuration layers as written, before validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    /// `[wolkvox]`: the operation and how to reach its API.
    pub wolkvox: RawWolkvox,
    /// `[database]`: where rows land.
    pub database: RawDatabase,
    /// `[sync]`: windows, look-back and schedule defaults.
    pub sync: RawSync,
    /// `[reports.<api>]`: per-report switches.
    #[serde(default)]
    pub reports: BTreeMap<String, RawReport>,
    /// `[log]`: log format and level.
    pub log: LogSettings,
    /// `[http]`: metrics and health endpoints.
    pub http: RawHttp,
    /// `[accounts.<name>]`: several operations in one deployment (read by `load_all`).
    #[serde(default)]
    pub accounts: BTreeMap<String, config::Value>,
}

/// `[http]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    /// Serve `/metrics`, `/healthz`, `/readyz` while `run` is running.
    pub enabled: bool,
    /// Address to listen on.
    pub bind: String,
    /// `/readyz` fails once a report has failed continuously for this long.
    pub max_failing_minutes: u32,
}

/// The metrics/health endpoint settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpSettings {
    /// Whether `run` serves them.
    pub enabled: bool,
    /// Listen address.
    pub bind: std::net::SocketAddr,
    /// Failure streak after which `/readyz` fails.
    pub max_failing: chrono::Duration,
}

/// `[wolkvox]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWolkvox {
    /// Label stored in every row's `account` column.
    pub account: String,
    /// The operation's 4-digit server code (`wv{server}.wolkvox.com`).
    pub server: Option<String>,
    /// Overrides the URL derived from `server`.
    pub base_url: Option<String>,
    /// Allow a plain-http `base_url` on a non-loopback host (e.g. the simulator in compose).
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// IANA zone the API's local dates are in.
    pub timezone: String,
    /// A single token, labelled `default`.
    pub token: Option<SecretString>,
    /// Named tokens.
    #[serde(default)]
    pub tokens: BTreeMap<String, SecretString>,
    /// The operation's licences: its daily API budget is licences x 1000 calls.
    pub licenses: Option<u32>,
    /// Whole-request timeout.
    pub request_timeout_seconds: u64,
    /// Attempts per request for retryable errors (1 = no retry).
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt.
    pub retry_initial_backoff_ms: u64,
    /// Cap on the retry delay.
    pub retry_max_backoff_seconds: u64,
}

/// `[database]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    /// Connection URL (`postgres://…`).
    pub url: Option<SecretString>,
    /// Pool size.
    pub max_connections: u32,
}

/// `[sync]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSync {
    /// Default cron schedule (with seconds) for every report.
    pub schedule: String,
    /// How far behind the watermark each run re-reads.
    pub lookback_minutes: u32,
    /// How far behind "now" a window must end.
    pub settle_seconds: u32,
    /// First local date or datetime to sync when a report has no watermark.
    pub start_from: Option<String>,
    /// When `start_from` is unset: how many days back the first sync starts.
    pub initial_days: u32,
    /// Longest window per request (the API allows 31 days).
    pub max_window_days: u32,
    /// Run every report once at start-up instead of waiting for the first tick.
    pub run_on_start: bool,
    /// Enable every report of the catalogue that is not explicitly disabled (those needing a
    /// parameter without a default only once it is configured).
    #[serde(default)]
    pub enable_all: bool,
}

/// `[reports.<api>]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReport {
    /// Whether the report is synced (unset: only with `sync.enable_all`).
    pub enabled: Option<bool>,
    /// Cron schedule overriding `sync.schedule`.
    pub schedule: Option<String>,
    /// Label of the token this report uses.
    pub token: Option<String>,
    /// Look-back overriding `sync.lookback_minutes`.
    pub lookback_minutes: Option<u32>,
    /// Values for the report's request parameters (`skill_id`, `campaign_id`, `agent_id`, …),
    /// overriding the catalogue's defaults.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
}

/// How log lines are rendered.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable, for terminals.
    #[default]
    Pretty,
    /// One JSON object per line, for log shippers.
    Json,
}

/// `[log]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `pretty` or `json`.
    pub format: LogFormat,
    /// A tracing filter such as `info` or `wolkvox_etl=debug`; `RUST_LOG` wins when set.
    pub level: String,
}

/// A named API token. `Debug` shows only the label.
#[derive(Clone)]
pub struct NamedToken {
    /// The label used in logs and config (`default` for `wolkvox.token`).
    pub label: String,
    /// The secret sent in the `wolkvox-token` header.
    pub secret: SecretString,
}

impl std::fmt::Debug for NamedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NamedToken({}: [REDACTED])", self.label)
    }
}

/// Retry policy for transient API errors: doubling backoff with a cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, at least 1.
    pub max_attempts: u32,
    /// Delay before the second attempt.
    pub initial_backoff: Duration,
    /// The delay never grows past this.
    pub max_backoff: Duration,
}

/// How a report's windows are planned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncPolicy {
    /// Re-read this much before the watermark on every run (late and changed rows).
    pub lookback: chrono::Duration,
    /// Windows end this long before now (rows still being written).
    pub settle: chrono::Duration,
    /// Where a report without a watermark starts, local time; `None` = `initial_days` back.
    pub start_from: Option<NaiveDateTime>,
    /// Days back the first sync starts when `start_from` is unset.
    pub initial_days: u32,
    /// Longest window per request.
    pub max_window: chrono::Duration,
}

/// One enabled report with its resolved schedule, token and policy.
#[derive(Clone, Debug)]
pub struct ReportConfig {
    /// The catalogue entry.
    pub report: &'static Report,
    /// Six-field cron expression (seconds first), in the operation's time zone.
    pub schedule: String,
    /// Label of the token it uses.
    pub token_label: String,
    /// Its window policy.
    pub policy: SyncPolicy,
    /// Request parameters with their values (the catalogue's defaults, overridden by config).
    pub params: Vec<(String, String)>,
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Label stored in the `account` column.
    pub account: String,
    /// Base URL of the API (`…/api/v2/`), if a server or URL was configured.
    pub base_url: Option<Url>,
    /// The operation's time zone.
    pub timezone: Tz,
    /// Every configured token, by label.
    pub tokens: Vec<NamedToken>,
    /// Licences of the operation (daily budget = licences x 1000), if configured.
    pub licenses: Option<u32>,
    /// Timeout for one whole request.
    pub request_timeout: Duration,
    /// Retry policy for transient errors.
    pub retry: RetryPolicy,
    /// Database URL: the configured one, or the embedded SQLite default.
    pub database_url: SecretString,
    /// True when no database was configured and the embedded SQLite file is used.
    pub database_is_default: bool,
    /// Pool size.
    pub db_max_connections: u32,
    /// Run each report at start-up.
    pub run_on_start: bool,
    /// Enabled reports.
    pub reports: Vec<ReportConfig>,
    /// Schedule of a report that does not set its own.
    pub default_schedule: String,
    /// Window policy of a report that does not override it.
    pub default_policy: SyncPolicy,
    /// `reports.<api>.params` as configured, for reports run by `sync` without being enabled.
    pub configured_params: BTreeMap<String, BTreeMap<String, String>>,
    /// Logging.
    pub log: LogSettings,
    /// Metrics and health endpoints.
    pub http: HttpSettings,
}

/// The settings the API client needs, present only when a server and a token are configured.
#[derive(Clone, Debug)]
pub struct ApiSettings<'a> {
    /// Base URL ending in `/`.
    pub base_url: &'a Url,
    /// All tokens.
    pub tokens: &'a [NamedToken],
}

impl Settings {
    /// The effective settings as TOML-like text, with every secret redacted (`check-config`).
    pub fn describe(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let base = self.base_url.as_ref().map_or_else(|| "(not set)".to_string(), Url::to_string);
        let tokens: Vec<String> = self.tokens.iter().map(|t| format!("{} = \"[REDACTED]\"", t.label)).collect();
        let _ = writeln!(out, "[wolkvox]");
        let _ = writeln!(out, "account = {:?}", self.account);
        let _ = writeln!(out, "base_url = {base:?}");
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
        let _ = writeln!(out, "\n[sync]");
        let _ = writeln!(out, "run_on_start = {}", self.run_on_start);
        let _ = writeln!(out, "\n[http]");
        let _ = writeln!(out, "enabled = {}", self.http.enabled);
        let _ = writeln!(out, "bind = \"{}\"", self.http.bind);
        let _ = writeln!(out, "max_failing_minutes = {}", self.http.max_failing.num_minutes());
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

    /// Loads the layers from the defaults, the optional file and the process environment.
    pub fn load(path: Option<&Path>) -> Result<Settings, ConfigError> {
        Self::load_with_env(path, std::env::vars().collect())
    }

    /// Like [`Settings::load`] but with an explicit environment, so tests need not touch the
    /// process's (which is shared by tests running in parallel).
    pub fn load_with_env(path: Option<&Path>, env: HashMap<String, String>) -> Result<Settings, ConfigError> {
        let mut all = Self::load_all_with_env(path, env)?;
        // load_all returns at least one account.
        Ok(all.remove(0))
    }

    /// Every configured operation: the top level alone (one account), or one per
    /// `[accounts.<name>]` section, each layered over the top level.
    pub fn load_all(path: Option<&Path>) -> Result<Vec<Settings>, ConfigError> {
        Self::load_all_with_env(path, std::env::vars().collect())
    }

    /// Like [`Settings::load_all`] with an explicit environment.
    pub fn load_all_with_env(path: Option<&Path>, env: HashMap<String, String>) -> Result<Vec<Settings>, ConfigError> {
        let builder = Self::layers(path, env)?;
        let merged = builder.clone().build()?;
        // The config crate quotes offending values in its errors: keep secrets out of them.
        let secrets = secret_values(&merged);
        let scrub = |e: config::ConfigError| -> ConfigError {
            let mut text = e.to_string();
            for secret in &secrets {
                text = text.replace(secret.as_str(), "[REDACTED]");
            }
            ConfigError::Scrubbed(text)
        };
        Self::load_accounts(builder, merged).map_err(|e| match e {
            ConfigError::Load(inner) => scrub(inner),
            other => other,
        })
    }

    fn load_accounts(
        builder: config::ConfigBuilder<config::builder::DefaultState>,
        merged: config::Config,
    ) -> Result<Vec<Settings>, ConfigError> {
        let accounts: BTreeMap<String, config::Value> = merged.get("accounts").unwrap_or_default();
        if accounts.is_empty() {
            return Ok(vec![Self::from_raw(merged.try_deserialize()?)?]);
        }
        let mut all = Vec::with_capacity(accounts.len());
        for (name, section) in accounts {
            // The section's keys override the top level's, leaf by leaf, so an account only
            // states what differs (its server, tokens, zone, reports).
            let mut leaves = Vec::new();
            collect_leaves(&format!("accounts.{name}"), "", section, &mut leaves)?;
            let mut layered = builder.clone().set_override("wolkvox.account", name.clone())?;
            for (key, value) in leaves {
                layered = layered.set_override(key, value)?;
            }
            all.push(Self::from_raw(layered.build()?.try_deserialize()?)?);
        }
        Ok(all)
    }

    fn layers(
        path: Option<&Path>,
        env: HashMap<String, String>,
    ) -> Result<config::ConfigBuilder<config::builder::DefaultState>, ConfigError> {
        let mut builder =
            config::Config::builder().add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        if let Some(path) = path {
            if !path.exists() {
                return Err(ConfigError::invalid(
                    "--config",
                    format!("file {} does not exist", path.display()),
                    "pass the path of a TOML file (see config/example.toml) or omit --config",
                ));
            }
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml).required(true));
        }
        // DATABASE_URL is honoured as the conventional name, but the specific variable wins.
        let database_url = env.get("DATABASE_URL").cloned();
        let specific_db = format!("{ENV_PREFIX}__DATABASE__URL");
        let has_specific_db = env.contains_key(&specific_db);
        builder = builder.add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("__")
                .separator("__")
                .source(Some(env.into_iter().filter(|(k, _)| k.starts_with(ENV_PREFIX)).collect())),
        );
        if let (Some(url), false) = (database_url, has_specific_db) {
            builder = builder.set_override("database.url", url)?;
        }
        Ok(builder)
    }

    /// Validates the raw layers into typed settings.
    pub fn from_raw(raw: RawSettings) -> Result<Settings, ConfigError> {
        let w = &raw.wolkvox;
        if w.account.trim().is_empty() {
            return Err(ConfigError::invalid(
                "wolkvox.account",
                "is empty",
                "set a short label for this operation, e.g. account = \"acme\"",
            ));
        }
        let timezone: Tz = w.timezone.parse().map_err(|_| {
            ConfigError::invalid(
                "wolkvox.timezone",
                format!("{:?} is not an IANA time zone", w.timezone),
                "use a name such as \"America/Bogota\" (the zone of the operation's wolkvox server)",
            )
        })?;
        let base_url = resolve_base_url(w.server.as_deref(), w.base_url.as_deref(), w.allow_insecure_http)?;
        let tokens = resolve_tokens(w.token.as_ref(), &w.tokens)?;
        if w.request_timeout_seconds == 0 {
            return Err(ConfigError::invalid(
                "wolkvox.request_timeout_seconds",
                "is 0",
                "use a positive number of seconds; the API itself stops at 60, so 90 is a good value",
            ));
        }
        if w.max_attempts == 0 {
            return Err(ConfigError::invalid(
                "wolkvox.max_attempts",
                "is 0",
                "use 1 for no retries, or more (default 5)",
            ));
        }
        let retry = RetryPolicy {
            max_attempts: w.max_attempts,
            initial_backoff: Duration::from_millis(w.retry_initial_backoff_ms),
            max_backoff: Duration::from_secs(w.retry_max_backoff_seconds),
        };
        if raw.database.max_connections == 0 {
            return Err(ConfigError::invalid(
                "database.max_connections",
                "is 0",
                "use a pool size of at least 1 (default 5)",
            ));
        }
        let database_is_default = raw.database.url.as_ref().is_none_or(|u| u.expose_secret().trim().is_empty());
        let database_url = match raw.database.url {
            Some(url) if !url.expose_secret().trim().is_empty() => {
                if crate::store::Backend::of_url(url.expose_secret()).is_none() {
                    return Err(ConfigError::invalid(
                        "database.url",
                        "is neither a postgres:// nor a sqlite:// URL",
                        "use postgres://USER:PASSWORD@HOST:5432/DATABASE, or sqlite://FILE.db for the embedded database",
                    ));
                }
                url
            }
            _ => SecretString::from(DEFAULT_DATABASE_URL.to_string()),
        };

        let s = &raw.sync;
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
        let base_policy = SyncPolicy {
            lookback: chrono::Duration::minutes(i64::from(s.lookback_minutes)),
            settle: chrono::Duration::seconds(i64::from(s.settle_seconds)),
            start_from,
            initial_days: s.initial_days,
            max_window: chrono::Duration::days(i64::from(s.max_window_days)),
        };

        let mut reports = Vec::new();
        for api in raw.reports.keys() {
            if catalog::find(api).is_none() {
                let known: Vec<_> = catalog::all().iter().map(|r| r.api).collect();
                return Err(ConfigError::invalid(
                    format!("reports.{api}"),
                    format!("{api:?} is not a known report"),
                    format!("use one of: {}", known.join(", ")),
                ));
            }
        }
        let unset = RawReport::default();
        for report in catalog::all().iter().copied() {
            let api = report.api;
            let key = format!("reports.{api}");
            let r = raw.reports.get(api).unwrap_or(&unset);
            let needs_params = report.params.iter().any(|(p, d)| d.is_empty() && !r.params.contains_key(*p));
            if !r.enabled.unwrap_or(s.enable_all && !needs_params) {
                continue;
            }
            let schedule = r.schedule.clone().unwrap_or_else(|| s.schedule.clone());
            validate_schedule(&format!("{key}.schedule"), &schedule, timezone)?;
            let token_label = match &r.token {
                Some(label) => {
                    if !tokens.is_empty() && !tokens.iter().any(|t| &t.label == label) {
                        let known: Vec<_> = tokens.iter().map(|t| t.label.as_str()).collect();
                        return Err(ConfigError::invalid(
                            format!("{key}.token"),
                            format!("no token is labelled {label:?}"),
                            format!("use one of the labels under [wolkvox.tokens]: {}", known.join(", ")),
                        ));
                    }
                    label.clone()
                }
                // Tokens are sorted by label, so "the first" is stable across restarts.
                None => tokens.first().map(|t| t.label.clone()).unwrap_or_else(|| "default".into()),
            };
            let mut policy = base_policy;
            if let Some(minutes) = r.lookback_minutes {
                policy.lookback = chrono::Duration::minutes(i64::from(minutes));
            }
            let params = resolve_params(report, &r.params)?;
            reports.push(ReportConfig { report, schedule, token_label, policy, params });
        }

        let bind = raw.http.bind.trim().parse().map_err(|_| {
            ConfigError::invalid(
                "http.bind",
                format!("{:?} is not an address:port", raw.http.bind),
                "use e.g. \"127.0.0.1:9187\" (or \"0.0.0.0:9187\" inside a container)",
            )
        })?;
        let http = HttpSettings {
            enabled: raw.http.enabled,
            bind,
            max_failing: chrono::Duration::minutes(i64::from(raw.http.max_failing_minutes)),
        };
        Ok(Settings {
            http,
            account: w.account.trim().to_string(),
            base_url,
            timezone,
            tokens,
            request_timeout: Duration::from_secs(w.request_timeout_seconds),
            licenses: w.licenses,
            retry,
            database_url,
            database_is_default,
            db_max_connections: raw.database.max_connections,
            run_on_start: s.run_on_start,
            reports,
            default_schedule: s.schedule.clone(),
            default_policy: base_policy,
            configured_params: raw.reports.iter().map(|(api, r)| (api.clone(), r.params.clone())).collect(),
            log: raw.log,
        })
    }

    /// The API settings, or an error naming what is missing. Commands that call the API use this;
    /// `migrate` and `status` do not need a server or a token.
    pub fn api(&self) -> Result<ApiSettings<'_>, ConfigError> {
        let base_url = self.base_url.as_ref().ok_or_else(|| {
            ConfigError::invalid(
                "wolkvox.server",
                "is not set (nor wolkvox.base_url)",
                "set the operation's 4-digit server code, e.g. WOLKVOX_ETL__WOLKVOX__SERVER=0010",
            )
        })?;
        if self.tokens.is_empty() {
            return Err(ConfigError::invalid(
                "wolkvox.token",
                "no API token is configured",
                "set WOLKVOX_ETL__WOLKVOX__TOKEN, or add labelled tokens under [wolkvox.tokens]",
            ));
        }
        Ok(ApiSettings { base_url, tokens: &self.tokens })
    }

    /// The configuration of report `api`: its own if enabled, otherwise the defaults (so
    /// `sync --report` works for a report the schedule does not run).
    pub fn report_config(&self, api: &str) -> Result<ReportConfig, ConfigError> {
        if let Some(enabled) = self.reports.iter().find(|r| r.report.api == api) {
            return Ok(enabled.clone());
        }
        let report = catalog::find(api).ok_or_else(|| {
            let known: Vec<_> = catalog::all().iter().map(|r| r.api).collect();
            ConfigError::invalid(
                "--report",
                format!("{api:?} is not a known report"),
                format!("use one of: {}", known.join(", ")),
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

fn resolve_base_url(
    server: Option<&str>,
    base_url: Option<&str>,
    allow_insecure_http: bool,
) -> Result<Option<Url>, ConfigError> {
    let (key, text) = match (base_url.filter(|u| !u.trim().is_empty()), server) {
        (Some(url), _) => ("wolkvox.base_url", url.trim().to_string()),
        (None, Some(server)) => {
            let server = server.trim();
            if server.len() != 4 || !server.chars().all(|c| c.is_ascii_digit()) {
                return Err(ConfigError::invalid(
                    "wolkvox.server",
                    format!("{server:?} is not a 4-digit server code"),
                    "use the digits after \"wv\" in your wolkvox address, e.g. \"0010\" for wv0010.wolkvox.com",
                ));
            }
            ("wolkvox.server", format!("https://wv{server}.wolkvox.com/api/v2/"))
        }
        (None, None) => return Ok(None),
    };
    let with_slash = if text.ends_with('/') { text } else { format!("{text}/") };
    let url = Url::parse(&with_slash).map_err(|e| {
        ConfigError::invalid(
            key,
            format!("{with_slash:?} is not a URL ({e})"),
            "use e.g. https://wv0010.wolkvox.com/api/v2/",
        )
    })?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    match url.scheme() {
        "https" => Ok(Some(url)),
        // Plain http would send the token in clear text; allow it only to this machine.
        "http" if loopback || allow_insecure_http => Ok(Some(url)),
        _ => Err(ConfigError::invalid(
            key,
            format!("{url} does not use https"),
            "use an https:// URL (plain http is accepted for 127.0.0.1/localhost, or anywhere with wolkvox.allow_insecure_http = true, which sends the token in clear text)",
        )),
    }
}

fn resolve_tokens(
    single: Option<&SecretString>,
    named: &BTreeMap<String, SecretString>,
) -> Result<Vec<NamedToken>, ConfigError> {
    let mut tokens = Vec::new();
    if let Some(secret) = single.filter(|s| !s.expose_secret().trim().is_empty()) {
        if named.contains_key("default") {
            return Err(ConfigError::invalid(
                "wolkvox.tokens.default",
                "clashes with wolkvox.token, which is labelled \"default\"",
                "remove one of them or rename the labelled token",
            ));
        }
        tokens.push(NamedToken { label: "default".into(), secret: secret.clone() });
    }
    for (label, secret) in named {
        if secret.expose_secret().trim().is_empty() {
            return Err(ConfigError::invalid(
                format!("wolkvox.tokens.{label}"),
                "is empty",
                "paste the token from wolkvox Manager → Configuration → Tokens, or remove the entry",
            ));
        }
        tokens.push(NamedToken { label: label.clone(), secret: secret.clone() });
    }
    tokens.sort_by(|a, b| a.label.cmp(&b.label));
    Ok(tokens)
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

fn validate_schedule(key: &str, schedule: &str, tz: Tz) -> Result<(), ConfigError> {
    tokio_cron_scheduler::Job::new_async_tz(schedule, tz, |_, _| Box::pin(async {})).map(|_| ()).map_err(|_| {
        ConfigError::invalid(
            key,
            format!("{schedule:?} is not a cron expression"),
            "use six fields with seconds first, e.g. \"0 */5 * * * *\" for every 5 minutes",
        )
    })
}

/// A database URL with its password replaced, for display.
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = Url::parse(url) else {
        return "[REDACTED: unparsable URL]".to_string();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("REDACTED"));
    }
    // libpq also takes the password as a query parameter.
    let secret_param = |k: &str| matches!(k.to_ascii_lowercase().as_str(), "password" | "sslpassword");
    if parsed.query_pairs().any(|(k, _)| secret_param(&k)) {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret_param(&k) { "REDACTED".to_string() } else { v.into_owned() };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// Every string under a key that holds a secret (`token`, `tokens`, `database.url`), anywhere in
/// the merged layers, so error messages can be scrubbed of them.
fn secret_values(merged: &config::Config) -> Vec<String> {
    fn walk(path: &str, value: config::Value, secret: bool, out: &mut Vec<String>) {
        match value.kind {
            config::ValueKind::Table(table) => {
                for (k, v) in table {
                    let key = format!("{path}.{k}");
                    let is_secret =
                        secret || k.starts_with("token") || key.ends_with("database.url") || k == "password";
                    walk(&key, v, is_secret, out);
                }
            }
            config::ValueKind::Array(items) => items.into_iter().for_each(|v| walk(path, v, secret, out)),
            config::ValueKind::Nil => {}
            kind if secret => {
                let text = config::Value::new(None, kind).to_string();
                if text.len() >= 4 {
                    out.push(text);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(root) = merged.get::<config::Value>("") {
        walk("", root, false, &mut out);
    } else if let Ok(table) = merged.clone().try_deserialize::<BTreeMap<String, config::Value>>() {
        for (k, v) in table {
            let secret = k.starts_with("token");
            walk(&k, v, secret, &mut out);
        }
    }
    // Longest first, so a secret containing another is replaced whole.
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out
}

/// Flattens an `[accounts.<name>]` section into `(dotted key, value)` overrides. Only the
/// per-operation sections may appear there; the database, HTTP and log settings are shared.
fn collect_leaves(
    section_key: &str,
    prefix: &str,
    value: config::Value,
    out: &mut Vec<(String, config::Value)>,
) -> Result<(), ConfigError> {
    match value.kind {
        config::ValueKind::Table(table) => {
            for (k, v) in table {
                if prefix.is_empty() && !matches!(k.as_str(), "wolkvox" | "reports" | "sync") {
                    return Err(ConfigError::invalid(
                        format!("{section_key}.{k}"),
                        "cannot be set per account",
                        "set [wolkvox], [reports.*] and [sync] keys per account; [database], [http] and [log] are shared by all",
                    ));
                }
                let key = if prefix.is_empty() { k } else { format!("{prefix}.{k}") };
                collect_leaves(section_key, &key, v, out)?;
            }
            Ok(())
        }
        _ if prefix.is_empty() => Err(ConfigError::invalid(
            section_key,
            "is not a table",
            "write it as [accounts.NAME.wolkvox] with server, token, timezone, …",
        )),
        kind => {
            out.push((prefix.to_string(), config::Value::new(None, kind)));
            Ok(())
        }
    }
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS` or `YYYY-MM-DD HH:MM:SS` as a local datetime.
pub fn parse_local_datetime(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(date.and_time(NaiveTime::MIN));
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn load(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::load_with_env(None, env(pairs))
    }

    fn error_text(pairs: &[(&str, &str)]) -> String {
        load(pairs).expect_err("config should be rejected").to_string()
    }

    #[test]
    fn the_defaults_alone_are_valid_and_enable_chat_14_every_five_minutes() {
        let s = load(&[]).unwrap();
        assert_eq!(s.account, "default");
        assert_eq!(s.timezone, chrono_tz::America::Bogota);
        let chat_14 = s.reports.iter().find(|r| r.report.api == "chat_14").expect("chat_14 is enabled");
        assert_eq!(chat_14.schedule, "0 */5 * * * *");
        assert!(s.reports.iter().all(|r| r.report.enabled_by_default), "defaults need no parameter");
        assert!(s.base_url.is_none());
        assert!(s.api().is_err());
        assert_eq!(s.database_url.expose_secret(), DEFAULT_DATABASE_URL);
        assert!(s.database_is_default);
    }

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
    fn plain_http_to_another_host_needs_an_explicit_opt_in() {
        let url = ("WOLKVOX_ETL__WOLKVOX__BASE_URL", "http://simulator:8089/api/v2/");
        assert!(load(&[url]).is_err());
        let s = load(&[url, ("WOLKVOX_ETL__WOLKVOX__ALLOW_INSECURE_HTTP", "true")]).unwrap();
        assert_eq!(s.base_url.unwrap().as_str(), "http://simulator:8089/api/v2/");
    }

    #[test]
    fn env_variables_override_nested_keys_and_database_url_is_honoured() {
        let s = load(&[
            ("WOLKVOX_ETL__WOLKVOX__BASE_URL", "http://127.0.0.1:8089/api/v2"),
            ("WOLKVOX_ETL__WOLKVOX__TOKEN", "secret-token"),
            ("WOLKVOX_ETL__SYNC__LOOKBACK_MINUTES", "30"),
            ("DATABASE_URL", "postgres://u@h/db"),
        ])
        .unwrap();
        assert_eq!(s.base_url.unwrap().as_str(), "http://127.0.0.1:8089/api/v2/");
        assert!(s.reports.iter().all(|r| r.policy.lookback == chrono::Duration::minutes(30)));
        assert_eq!(s.database_url.expose_secret(), "postgres://u@h/db");
        assert_eq!(s.tokens[0].label, "default");
    }

    #[test]
    fn the_specific_database_variable_wins_over_database_url() {
        let s = load(&[
            ("DATABASE_URL", "postgres://generic/db"),
            ("WOLKVOX_ETL__DATABASE__URL", "postgres://specific/db"),
        ])
        .unwrap();
        assert_eq!(s.database_url.expose_secret(), "postgres://specific/db");
    }

    #[test]
    fn each_bad_value_is_rejected_with_its_key_and_a_fix() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("WOLKVOX_ETL__WOLKVOX__TIMEZONE", "Mars/Olympus")], "`wolkvox.timezone`"),
            (&[("WOLKVOX_ETL__WOLKVOX__SERVER", "10")], "`wolkvox.server`"),
            (&[("WOLKVOX_ETL__WOLKVOX__BASE_URL", "http://api.example.com/")], "`wolkvox.base_url`"),
            (&[("WOLKVOX_ETL__WOLKVOX__REQUEST_TIMEOUT_SECONDS", "0")], "`wolkvox.request_timeout_seconds`"),
            (&[("WOLKVOX_ETL__WOLKVOX__MAX_ATTEMPTS", "0")], "`wolkvox.max_attempts`"),
            (&[("WOLKVOX_ETL__WOLKVOX__ACCOUNT", " ")], "`wolkvox.account`"),
            (&[("WOLKVOX_ETL__DATABASE__URL", "mysql://x")], "`database.url`"),
            (&[("WOLKVOX_ETL__DATABASE__MAX_CONNECTIONS", "0")], "`database.max_connections`"),
            (&[("WOLKVOX_ETL__SYNC__MAX_WINDOW_DAYS", "32")], "`sync.max_window_days`"),
            (&[("WOLKVOX_ETL__SYNC__START_FROM", "yesterday")], "`sync.start_from`"),
            (&[("WOLKVOX_ETL__SYNC__SCHEDULE", "every 5 minutes")], "`sync.schedule`"),
            (&[("WOLKVOX_ETL__REPORTS__CHAT_14__SCHEDULE", "*/5 * * *")], "`reports.chat_14.schedule`"),
            (&[("WOLKVOX_ETL__REPORTS__CHAT_99__ENABLED", "true")], "`reports.chat_99`"),
            (
                &[("WOLKVOX_ETL__WOLKVOX__TOKEN", "t"), ("WOLKVOX_ETL__REPORTS__CHAT_14__TOKEN", "other")],
                "`reports.chat_14.token`",
            ),
            (&[("WOLKVOX_ETL__WOLKVOX__TOKENS__BACKUP", " ")], "`wolkvox.tokens.backup`"),
            (&[("WOLKVOX_ETL__HTTP__BIND", "localhost")], "`http.bind`"),
            (&[("WOLKVOX_ETL__WOLKVOX__BASE_URL", "https://exa mple.com:99999/")], "`wolkvox.base_url`"),
            (
                &[("WOLKVOX_ETL__WOLKVOX__TOKEN", "a"), ("WOLKVOX_ETL__WOLKVOX__TOKENS__DEFAULT", "b")],
                "`wolkvox.tokens.default`",
            ),
        ];
        for (pairs, key) in cases {
            let text = error_text(pairs);
            assert!(text.contains(key), "{pairs:?}: {text}");
            assert!(text.contains("Fix:"), "{pairs:?}: {text}");
        }
    }

    #[test]
    fn an_unknown_report_for_sync_names_the_flag() {
        let s = load(&[]).unwrap();
        let text = s.report_config("chat_99").unwrap_err().to_string();
        assert!(text.contains("`--report`") && text.contains("chat_14"), "{text}");
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_key() {
        let text = error_text(&[("WOLKVOX_ETL__SYNC__LOOKBACK_MINUTES", "lots")]);
        assert!(text.contains("lookback_minutes"), "{text}");
    }

    #[test]
    fn an_unknown_key_in_a_file_is_named() {
        let dir = std::env::temp_dir().join(format!("wolkvox-etl-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("typo.toml");
        std::fs::write(&path, "[sync]\nlookbak_minutes = 5\n").unwrap();
        let text = Settings::load_with_env(Some(&path), HashMap::new()).unwrap_err().to_string();
        assert!(text.contains("lookbak_minutes"), "{text}");
        let missing = Settings::load_with_env(Some(&dir.join("absent.toml")), HashMap::new());
        assert!(missing.unwrap_err().to_string().contains("`--config`"));
    }

    #[test]
    fn missing_api_settings_name_the_key_to_set() {
        let s = load(&[("WOLKVOX_ETL__WOLKVOX__SERVER", "0010")]).unwrap();
        assert!(s.api().unwrap_err().to_string().contains("`wolkvox.token`"));
    }

    #[test]
    fn tokens_never_appear_in_debug_output() {
        let s = load(&[
            ("WOLKVOX_ETL__WOLKVOX__TOKEN", "tok-SECRET-1"),
            ("WOLKVOX_ETL__WOLKVOX__TOKENS__BACKUP", "tok-SECRET-2"),
            ("DATABASE_URL", "postgres://user:pw-SECRET@h/db"),
        ])
        .unwrap();
        let debug = format!("{s:?}");
        assert!(!debug.contains("SECRET"), "{debug}");
        assert!(debug.contains("backup"));
    }

    #[test]
    fn several_accounts_each_layer_their_own_keys_over_the_top_level() {
        let dir = std::env::temp_dir().join(format!("wolkvox-etl-acct-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("accounts.toml");
        std::fs::write(
            &path,
            r#"
[sync]
lookback_minutes = 60
[accounts.acme.wolkvox]
server = "0010"
token = "t-acme"
[accounts.globex.wolkvox]
server = "0033"
token = "t-globex"
timezone = "America/Guatemala"
[accounts.globex.reports.chat_14]
enabled = false
[accounts.globex.reports.act_5]
enabled = true
"#,
        )
        .unwrap();
        let all = Settings::load_all_with_env(Some(&path), HashMap::new()).unwrap();
        assert_eq!(all.iter().map(|s| s.account.as_str()).collect::<Vec<_>>(), ["acme", "globex"]);
        assert_eq!(all[0].base_url.as_ref().unwrap().as_str(), "https://wv0010.wolkvox.com/api/v2/");
        assert_eq!(all[1].timezone, chrono_tz::America::Guatemala);
        assert_eq!(all[0].timezone, chrono_tz::America::Bogota, "the top level's default");
        assert!(all[0].report_config("chat_14").is_ok() && all[0].reports.iter().any(|r| r.report.api == "chat_14"));
        assert!(!all[1].reports.iter().any(|r| r.report.api == "chat_14"));
        assert!(all[1].reports.iter().any(|r| r.report.api == "act_5"));
        assert!(all.iter().all(|s| s.reports.iter().all(|r| r.policy.lookback == chrono::Duration::minutes(60))));

        std::fs::write(&path, "[accounts.acme.database]\nurl = \"postgres://x/y\"\n").unwrap();
        let text = Settings::load_all_with_env(Some(&path), HashMap::new()).unwrap_err().to_string();
        assert!(text.contains("`accounts.acme.database`"), "{text}");
    }

    #[test]
    fn check_config_output_shows_the_settings_but_no_secret() {
        let s = load(&[
            ("WOLKVOX_ETL__WOLKVOX__TOKEN", "tok-SECRET-1"),
            ("WOLKVOX_ETL__WOLKVOX__SERVER", "0010"),
            ("DATABASE_URL", "postgres://etl:pw-SECRET@db:5432/wolkvox"),
        ])
        .unwrap();
        let text = s.describe();
        assert!(!text.contains("SECRET"), "{text}");
        assert!(text.contains("postgres://etl:REDACTED@db:5432/wolkvox"), "{text}");
        assert_eq!(
            redact_url("postgres://u@h/db?password=hunter2&sslmode=require"),
            "postgres://u@h/db?password=REDACTED&sslmode=require"
        );
        assert!(text.contains("[reports.chat_14]") && text.contains("wv0010"), "{text}");
    }

    #[test]
    fn a_secret_in_a_badly_typed_value_is_kept_out_of_the_error() {
        let text = error_text(&[("WOLKVOX_ETL__WOLKVOX__TOKENS", "supersecret123")]);
        assert!(!text.contains("supersecret123"), "{text}");
        assert!(text.contains("tokens"), "{text}");
    }

    #[test]
    fn local_datetimes_parse_in_the_three_accepted_forms() {
        let expect = NaiveDate::from_ymd_opt(2026, 11, 18).unwrap().and_hms_opt(6, 30, 0).unwrap();
        assert_eq!(parse_local_datetime("2026-11-18T06:30:00"), Some(expect));
        assert_eq!(parse_local_datetime("2026-11-18 06:30:00"), Some(expect));
        assert_eq!(
            parse_local_datetime("2026-11-18"),
            Some(NaiveDate::from_ymd_opt(2026, 11, 18).unwrap().and_time(NaiveTime::MIN))
        );
        assert_eq!(parse_local_datetime("18/11/2026"), None);
    }
}

//! Configuration: typed settings, layered and validated once at start-up.
//!
//! Layers, later ones win: the built-in defaults (`config/default.toml`, compiled in) → the TOML
//! files given with `--config`, in order → environment variables `WOLKVOX_ETL__SECTION__KEY` (plus the
//! conventional `DATABASE_URL`). The raw layers deserialize into [`RawSettings`]; [`Settings`] is
//! the validated, typed result. Every error names the offending key and says how to fix it, so a
//! daemon never starts half-configured. Tokens and the database URL are [`SecretString`]s: their
//! `Debug` output is redacted and they are exposed only where a header or a connection is built.
//!
//! This module owns the public types; the work is done by its parts:
//!
//! - `raw`: the serde layer, the configuration as written ([`RawSettings`] and its sections);
//! - `load`: merging defaults, file and environment, one [`Settings`] per `[accounts.<name>]`,
//!   and keeping secrets out of load errors ([`Settings::load`], [`Settings::load_all`]);
//! - one validator per section, called in a fixed order by [`Settings::from_raw`]: `wolkvox`
//!   (URL, tokens, retry; also [`Settings::api`]), `database` (backend URL; [`redact_url`]),
//!   `sync` (window policy, cron; `start_from` is read by [`crate::time::parse_local_datetime`]),
//!   `reports` (enabled reports and their parameters; also [`Settings::report_config`]), `http`,
//!   `token_info` (reading the API's own token count), and `accounts` (what an account may
//!   override);
//! - `describe`: [`Settings::describe`], the text `check-config` prints.
//!
//! [`NamedToken`] and [`RetryPolicy`] belong to the API client (`crate::wolkvox`), which needs
//! them without depending on configuration; they are re-exported here because [`Settings`]
//! holds them.

mod accounts;
mod database;
mod describe;
mod dimensions;
mod http;
mod load;
mod raw;
mod reconcile;
mod reports;
mod sync;
mod token_info;
mod wolkvox;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::NaiveDateTime;
use chrono_tz::Tz;
use reqwest::Url;
use secrecy::SecretString;
use serde::Deserialize;

use crate::wolkvox::catalog::Report;

pub use self::database::{redact_url, redact_userinfo};
pub use self::raw::{RawDatabase, RawHttp, RawReport, RawSettings, RawSync, RawTokenInfo, RawWolkvox};
pub use self::wolkvox::CaFile;
pub use crate::wolkvox::client::RetryPolicy;
pub use crate::wolkvox::token::NamedToken;

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

/// Reads a secret from the file `path` named by `key` (`wolkvox.token_file`, …), trailing
/// newlines and spaces removed. Errors name the key and the path, never the content.
fn read_secret_file(key: &str, path: &str) -> Result<SecretString, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::invalid(
            key,
            format!("cannot read {path:?} ({e})"),
            "give the path of a file the service user can read (with systemd: LoadCredential= and the %d specifier, see deploy/systemd), or unset the key",
        )
    })?;
    let secret = text.trim_end();
    if secret.trim().is_empty() {
        return Err(ConfigError::invalid(
            key,
            format!("the file {path:?} is empty"),
            "write the secret into the file (one line), or unset the key",
        ));
    }
    Ok(SecretString::from(secret.to_string()))
}

impl ConfigError {
    fn invalid(key: impl Into<String>, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        ConfigError::Invalid { key: key.into(), problem: problem.into(), fix: fix.into() }
    }
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

/// The metrics/health endpoint settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpSettings {
    /// Whether `run` serves them.
    pub enabled: bool,
    /// Listen address.
    pub bind: std::net::SocketAddr,
    /// Failure streak after which `/readyz` fails.
    pub max_failing: chrono::Duration,
    /// Whether `/` (the status page) and `/status.json` are served beside them.
    pub status_page: bool,
}

/// `[token_info]`: reading the API's own count of each token's daily calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInfoSettings {
    /// Whether `run` reads it, once per token on `schedule` (each read costs one call).
    pub enabled: bool,
    /// Six-field cron expression (seconds first), in the operation's time zone.
    pub schedule: String,
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
    /// CA certificates the API client trusts besides the built-in roots (`wolkvox.ca_file`).
    pub ca_file: Option<CaFile>,
    /// Database URL: the configured one, or the embedded SQLite default.
    pub database_url: SecretString,
    /// True when no database was configured and the embedded SQLite file is used.
    pub database_is_default: bool,
    /// Pool size.
    pub db_max_connections: u32,
    /// Connect, statement and lock timeouts of the database.
    pub db_timeouts: crate::store::DbTimeouts,
    /// A PostgreSQL host reached without verified TLS, accepted by `database.allow_unverified_tls`.
    pub db_unverified_host: Option<String>,
    /// The PostgreSQL schema of the tables, when configured (unset: `wolkvox`, or `public` for a
    /// database whose tables a release from before schemas made there).
    pub db_schema: Option<String>,
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
    /// The reconciliation pass.
    pub reconcile: ReconcileSettings,
    /// Reading the API's own token count.
    pub token_info: TokenInfoSettings,
    /// Reading the dimensions.
    pub dimensions: DimensionSettings,
    /// The `--config` files read, in the order they were layered (`check-config` lists them).
    pub config_files: Vec<std::path::PathBuf>,
}

/// When the dimensions (information.php reference data) are read.
#[derive(Clone, Debug)]
pub struct DimensionSettings {
    /// Read them at all.
    pub enabled: bool,
    /// Six-field cron expression, in the operation's time zone.
    pub schedule: String,
    /// The token label the reads use; `None`: the first configured token.
    pub token_label: Option<String>,
}

/// The reconciliation pass: when, and how far back.
#[derive(Clone, Debug)]
pub struct ReconcileSettings {
    /// Run it in the daemon.
    pub enabled: bool,
    /// Six-field cron expression, in the operation's time zone.
    pub schedule: String,
    /// Local days re-read per pass (the watermark's day included).
    pub days: u32,
    /// How long the window ledger keeps its rows.
    pub ledger: chrono::Duration,
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
    /// Validates the raw layers into typed settings. Sections are checked in a fixed order
    /// (`[wolkvox]`, `[database]`, `[sync]`, `[reports.*]`, `[http]`, `[token_info]`), so the first
    /// problem found is always the same one.
    pub fn from_raw(raw: RawSettings) -> Result<Settings, ConfigError> {
        let w = wolkvox::validate(&raw.wolkvox)?;
        let db = database::validate(raw.database, w.request_timeout)?;
        let default_policy = sync::validate(&raw.sync, w.timezone)?;
        let reports = reports::validate(&raw.reports, &raw.sync, default_policy, &w.tokens, w.timezone)?;
        let http = http::validate(&raw.http)?;
        let reconcile = reconcile::validate(&raw.reconcile, w.timezone)?;
        let token_info = token_info::validate(&raw.token_info, w.timezone)?;
        let dimensions = dimensions::validate(&raw.dimensions, w.timezone)?;
        if let Some(label) = &dimensions.token_label {
            if !w.tokens.iter().any(|t| &t.label == label) {
                return Err(ConfigError::invalid(
                    "dimensions.token",
                    format!("no token is labelled {label:?}"),
                    "use a label defined under [wolkvox.tokens], or leave it unset for the first token",
                ));
            }
        }
        Ok(Settings {
            dimensions,
            http,
            reconcile,
            token_info,
            account: w.account,
            base_url: w.base_url,
            timezone: w.timezone,
            tokens: w.tokens,
            request_timeout: w.request_timeout,
            licenses: w.licenses,
            retry: w.retry,
            ca_file: w.ca_file,
            database_url: db.url,
            database_is_default: db.is_default,
            db_max_connections: db.max_connections,
            db_timeouts: db.timeouts,
            db_unverified_host: db.unverified_host,
            db_schema: db.schema,
            run_on_start: raw.sync.run_on_start,
            reports,
            default_schedule: raw.sync.schedule.clone(),
            default_policy,
            configured_params: raw.reports.iter().map(|(api, r)| (api.clone(), r.params.clone())).collect(),
            log: raw.log,
            config_files: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    pub(super) fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    pub(super) fn load(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::load_with_env(None, env(pairs))
    }

    pub(super) fn error_text(pairs: &[(&str, &str)]) -> String {
        load(pairs).expect_err("config should be rejected").to_string()
    }

    #[test]
    fn a_remote_postgres_without_verified_tls_is_refused_unless_allowed_and_then_advised() {
        let url = |u: &str| vec![("WOLKVOX_ETL__DATABASE__URL", u.to_string())];
        let with = |pairs: Vec<(&'static str, String)>| {
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            load(&pairs)
        };
        let refused = with(url("postgres://etl:pw@db.example.com/etl")).unwrap_err().to_string();
        assert!(refused.contains("`database.url`") && refused.contains("sslmode=verify-full"), "{refused}");
        assert!(!refused.contains("pw"), "no password in the error: {refused}");
        with(url("postgres://etl@db.example.com/etl?sslmode=require")).unwrap_err();
        assert!(with(url("postgres://etl@db.example.com/etl?sslmode=verify-full&sslrootcert=/ca.pem")).is_ok());
        assert!(with(url("postgres://etl@127.0.0.1:5432/etl")).is_ok());
        assert!(with(url("postgres://etl@localhost/etl")).is_ok());
        let mut allowed = url("postgres://etl@postgres:5432/etl");
        allowed.push(("WOLKVOX_ETL__DATABASE__ALLOW_UNVERIFIED_TLS", "true".into()));
        let advice = with(allowed).unwrap().advice();
        assert!(
            advice.iter().any(|a| a.contains("postgres") && a.contains("database.allow_unverified_tls")),
            "{advice:?}"
        );
    }

    #[test]
    fn a_request_timeout_within_the_apis_own_gets_advice_naming_the_key() {
        assert!(load(&[]).unwrap().advice().is_empty(), "the defaults need no advice");
        let advice = load(&[("WOLKVOX_ETL__WOLKVOX__REQUEST_TIMEOUT_SECONDS", "30")]).unwrap().advice();
        assert_eq!(advice.len(), 1);
        assert!(
            advice[0].starts_with("wolkvox.request_timeout_seconds = 30 gives up before the API does"),
            "{advice:?}"
        );
        assert!(advice[0].contains("Fix: use more than 60"), "{advice:?}");
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
            (&[("WOLKVOX_ETL__RECONCILE__DAYS", "0")], "`reconcile.days`"),
            (&[("WOLKVOX_ETL__DATABASE__CONNECT_TIMEOUT_SECONDS", "0")], "`database.connect_timeout_seconds`"),
            (&[("WOLKVOX_ETL__DATABASE__LOCK_TIMEOUT_SECONDS", "0")], "`database.lock_timeout_seconds`"),
            (&[("WOLKVOX_ETL__DIMENSIONS__SCHEDULE", "daily")], "`dimensions.schedule`"),
            (&[("WOLKVOX_ETL__RECONCILE__SCHEDULE", "nightly")], "`reconcile.schedule`"),
            (&[("WOLKVOX_ETL__TOKEN_INFO__SCHEDULE", "0 7 * *")], "`token_info.schedule`"),
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
    fn tokens_never_appear_in_debug_output() {
        let s = load(&[
            ("WOLKVOX_ETL__WOLKVOX__TOKEN", "tok-SECRET-1"),
            ("WOLKVOX_ETL__WOLKVOX__TOKENS__BACKUP", "tok-SECRET-2"),
            ("DATABASE_URL", "postgres://user:pw-SECRET@h/db?sslmode=verify-full"),
        ])
        .unwrap();
        let debug = format!("{s:?}");
        assert!(!debug.contains("SECRET"), "{debug}");
        assert!(debug.contains("backup"));
    }
}

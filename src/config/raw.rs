//! The raw layer: the configuration exactly as written in the files and environment variables,
//! deserialized by serde before any validation. Unknown keys are refused here
//! (`deny_unknown_fields`), so a typo is named instead of silently ignored; every value is
//! checked and typed afterwards by the section modules.

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::Deserialize;

use super::LogSettings;

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
    /// `[reconcile]`: the nightly re-read of recent days.
    pub reconcile: RawReconcile,
    /// `[dimensions]`: the reference data of information.php.
    pub dimensions: RawDimensions,
    /// `[token_info]`: reading the API's own count of each token's daily calls.
    pub token_info: RawTokenInfo,
    /// `[accounts.<name>]`: several operations in one deployment (read by `load_all`).
    #[serde(default)]
    pub accounts: BTreeMap<String, config::Value>,
}

/// `[dimensions]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDimensions {
    /// Read the dimensions (daemon, `sync` without `--report`, `demo`).
    pub enabled: bool,
    /// Six-field cron expression (seconds first), in the operation's time zone.
    pub schedule: String,
    /// The label of the token the reads use (default: the first configured).
    pub token: Option<String>,
}

/// `[reconcile]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReconcile {
    /// Run the reconciliation in the daemon.
    pub enabled: bool,
    /// Six-field cron expression (seconds first), in the operation's time zone.
    pub schedule: String,
    /// How many recent local days each pass re-reads (the watermark's day included).
    pub days: u32,
    /// How many days the window ledger (`etl_window`) keeps.
    pub ledger_days: u32,
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
    /// Serve the status page (`/`) and `/status.json`.
    pub status_page: bool,
}

/// `[token_info]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTokenInfo {
    /// Read `information.php?api=token_info` for every token on `schedule`.
    pub enabled: bool,
    /// Cron schedule (with seconds) of the reads, in the operation's time zone.
    pub schedule: String,
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
    /// A file holding the single token (instead of `token`), e.g. a systemd credential.
    pub token_file: Option<String>,
    /// Files holding named tokens, by label (instead of `tokens.<label>`).
    #[serde(default)]
    pub token_files: BTreeMap<String, String>,
    /// A PEM file of CA certificates the API client trusts besides the built-in roots (a
    /// corporate TLS-inspecting proxy's root, a private CA).
    pub ca_file: Option<String>,
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
    /// A file holding the connection URL (instead of `url`), e.g. a systemd credential.
    pub url_file: Option<String>,
    /// Pool size.
    pub max_connections: u32,
    /// How long connecting (and waiting for a pooled connection) may take.
    pub connect_timeout_seconds: u64,
    /// PostgreSQL `statement_timeout`: the longest a statement may run.
    pub statement_timeout_seconds: u64,
    /// PostgreSQL `lock_timeout`: the longest a statement (or an advisory lock) waits for a lock.
    pub lock_timeout_seconds: u64,
    /// Accept a PostgreSQL server on another host reached without `sslmode=verify-full`.
    pub allow_unverified_tls: bool,
    /// The PostgreSQL schema of the daemon's tables (unset: `wolkvox`).
    pub schema: Option<String>,
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

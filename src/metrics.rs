//! Prometheus metrics: one function per event, so a call site reads as what happened.
//!
//! Labels are bounded: `account`, `report` and `token` come from the configuration and the
//! catalogue, `outcome`/`kind`/`status` from fixed sets (error kinds, run statuses). Nothing
//! per-row, per-window or per-request is ever a label.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

use chrono::{DateTime, Utc};
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
/// Latest committed watermark per (account, report).
type Watermarks = Mutex<HashMap<(String, String), DateTime<Utc>>>;

static WATERMARKS: OnceLock<Watermarks> = OnceLock::new();

/// Run-duration buckets, seconds: a run is usually well under a second, a backfill minutes.
const DURATION_BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 180.0, 600.0];

/// Installs the global recorder (once per process) and returns the handle that renders it.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), DURATION_BUCKETS)
            .map(|b| b.build_recorder());
        match recorder {
            Ok(recorder) => {
                let handle = recorder.handle();
                // Fails only if another recorder is installed; then this handle simply stays empty.
                let _ = metrics::set_global_recorder(recorder);
                handle
            }
            // The buckets are a valid constant, so this arm is unreachable in practice.
            Err(_) => PrometheusBuilder::new().build_recorder().handle(),
        }
    })
}

/// The exposition text, with watermark lags computed at scrape time.
pub fn render() -> String {
    let now = Utc::now();
    for ((account, report), wm) in watermarks().lock().unwrap_or_else(PoisonError::into_inner).iter() {
        let lag = (now - *wm).num_seconds().max(0) as f64;
        gauge!("wolkvox_etl_watermark_lag_seconds", "account" => account.clone(), "report" => report.clone()).set(lag);
    }
    install().render()
}

fn watermarks() -> &'static Watermarks {
    WATERMARKS.get_or_init(Default::default)
}

/// One API call ended with `outcome` (`ok` or an error kind).
pub fn request(report: &str, token: &str, outcome: &'static str) {
    counter!("wolkvox_etl_requests_total", "report" => report.to_string(), "token" => token.to_string(), "outcome" => outcome)
        .increment(1);
}

/// An answer's body ended: its bytes on the wire and decoded, by the encoding it came in.
pub fn response_bytes(encoding: &'static str, wire: u64, decoded: u64) {
    counter!("wolkvox_etl_response_bytes_total", "encoding" => encoding).increment(wire);
    counter!("wolkvox_etl_response_decoded_bytes_total", "encoding" => encoding).increment(decoded);
}

/// A failed call is being retried.
pub fn retry(report: &str, kind: &'static str) {
    counter!("wolkvox_etl_retries_total", "report" => report.to_string(), "kind" => kind).increment(1);
}

/// A truncated window was split in two.
pub fn window_split(account: &str, report: &str) {
    counter!("wolkvox_etl_window_splits_total", "account" => account.to_string(), "report" => report.to_string())
        .increment(1);
}

/// A scheduled run did not start: its previous run was still going in this process
/// (`running`), or another process (a replica, a `sync`) held its run lock (`another_holder`).
pub fn tick_skipped(account: &str, report: &str, reason: &'static str) {
    counter!(
        "wolkvox_etl_runs_skipped_total",
        "account" => account.to_string(),
        "report" => report.to_string(),
        "reason" => reason
    )
    .increment(1);
}

/// A re-read the API could not answer was recorded and skipped.
pub fn window_unanswered(account: &str, report: &str) {
    counter!("wolkvox_etl_windows_unanswered_total", "account" => account.to_string(), "report" => report.to_string())
        .increment(1);
}

/// Rows were inserted or changed.
pub fn rows_upserted(account: &str, report: &str, rows: u64) {
    counter!("wolkvox_etl_rows_upserted_total", "account" => account.to_string(), "report" => report.to_string())
        .increment(rows);
}

/// A run ended.
pub fn run_finished(account: &str, report: &str, status: &'static str, seconds: f64, error_kind: Option<&'static str>) {
    let (a, r) = (account.to_string(), report.to_string());
    counter!("wolkvox_etl_runs_total", "account" => a.clone(), "report" => r.clone(), "status" => status).increment(1);
    histogram!("wolkvox_etl_run_duration_seconds", "account" => a.clone(), "report" => r.clone()).record(seconds);
    if let Some(kind) = error_kind {
        counter!("wolkvox_etl_errors_total", "account" => a, "report" => r, "kind" => kind).increment(1);
    }
}

/// The committed watermark of a report (its lag is computed at each scrape).
pub fn watermark(account: &str, report: &str, at: DateTime<Utc>) {
    watermarks().lock().unwrap_or_else(PoisonError::into_inner).insert((account.to_string(), report.to_string()), at);
}

/// Calls made today on a token.
pub fn token_calls_today(account: &str, token: &str, calls: i64) {
    gauge!("wolkvox_etl_token_calls_today", "account" => account.to_string(), "token" => token.to_string())
        .set(calls as f64);
}

/// Rows a reconciliation found that the normal runs had missed.
pub fn reconcile_rows_added(account: &str, report: &str, rows: u64) {
    counter!("wolkvox_etl_reconcile_rows_added_total", "account" => account.to_string(), "report" => report.to_string())
        .increment(rows);
}

/// The suspect days a report holds now (after its last run).
pub fn suspect_days(account: &str, report: &str, days: usize) {
    gauge!("wolkvox_etl_suspect_days", "account" => account.to_string(), "report" => report.to_string())
        .set(days as f64);
}

/// What the API's `token_info` said: the token's daily limit and its calls today, and the whole
/// operation's calls today. A figure the API left blank leaves its gauge as it was.
pub fn api_token_info(account: &str, token: &str, limit: Option<i64>, use_today: Option<i64>, all_today: Option<i64>) {
    let (a, t) = (account.to_string(), token.to_string());
    if let Some(limit) = limit {
        gauge!("wolkvox_etl_api_token_limit", "account" => a.clone(), "token" => t.clone()).set(limit as f64);
    }
    if let Some(used) = use_today {
        gauge!("wolkvox_etl_api_token_use_today", "account" => a.clone(), "token" => t).set(used as f64);
    }
    if let Some(all) = all_today {
        gauge!("wolkvox_etl_api_all_tokens_today", "account" => a).set(all as f64);
    }
}

/// A day of `report` answered empty while holding rows (kept, marked suspect).
pub fn suspect_empty_day(account: &str, report: &str) {
    counter!("wolkvox_etl_suspect_empty_days_total", "account" => account.to_string(), "report" => report.to_string())
        .increment(1);
}

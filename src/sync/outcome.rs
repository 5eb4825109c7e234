//! What a run did: its status, its [`RunCounts`], and how the outcomes of a report's streams add
//! up; how a window's attempt and a run's window loop end; the run's summary line and its
//! `etl_run` record.
//!
//! The invariant it protects: one set of counters ([`RunCounts`]) travels from a window's
//! attempt to the progress lines, the run summary and the run history, so they cannot disagree.

use chrono::{DateTime, Utc};
use tracing::{debug, error, info, warn};

use super::error::SyncError;
use super::window::Window;
use crate::health::Streak;
pub use crate::store::runs::RunCounts;
use crate::store::runs::{RunRecord, RunStatus};

/// What a run did.
#[derive(Debug)]
pub struct RunOutcome {
    /// A short random id carried by every log line of the run.
    pub run_id: String,
    /// How it ended.
    pub status: RunStatus,
    /// The whole planned range, if anything was planned.
    pub planned: Option<Window>,
    /// What it counted: windows, requests, retries, splits, rows.
    pub counts: RunCounts,
    /// The committed watermark after the run.
    pub watermark: Option<DateTime<Utc>>,
    /// Why it failed, if it did.
    pub error: Option<SyncError>,
    /// Wall time.
    pub duration: std::time::Duration,
}

impl RunOutcome {
    /// Adds another stream's outcome to this one: counters add up, the worst status wins, the
    /// planned ranges join, and the watermark is the one furthest behind.
    pub(super) fn merge(mut self, other: RunOutcome) -> RunOutcome {
        let rank = |s: RunStatus| match s {
            RunStatus::Succeeded => 0,
            RunStatus::Paused | RunStatus::Skipped => 1,
            RunStatus::Cancelled => 2,
            RunStatus::Rejected => 3,
            RunStatus::Failed => 4,
        };
        if rank(other.status) > rank(self.status) {
            self.status = other.status;
        }
        self.planned = match (self.planned, other.planned) {
            (Some(a), Some(b)) => Some(Window::new(a.start.min(b.start), a.end.max(b.end))),
            (a, b) => a.or(b),
        };
        self.counts += other.counts;
        self.watermark = match (self.watermark, other.watermark) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.error = self.error.or(other.error);
        self.duration += other.duration;
        self
    }

    /// The `etl_run` row of one stream's run.
    pub(super) fn record(&self, key: RecordKey<'_>, started_at: DateTime<Utc>) -> RunRecord {
        RunRecord {
            account: key.account.to_string(),
            report: key.report.to_string(),
            stream: key.stream.to_string(),
            token_label: key.token_label.to_string(),
            window_start: self.planned.map(|w| w.start),
            window_end: self.planned.map(|w| w.end),
            started_at,
            finished_at: started_at + chrono::Duration::from_std(self.duration).unwrap_or_default(),
            status: self.status,
            counts: self.counts,
            watermark: self.watermark,
            error_kind: self.error.as_ref().map(|e| e.kind().to_string()),
            error: self.error.as_ref().map(ToString::to_string),
            duration_ms: i64::try_from(self.duration.as_millis()).unwrap_or(i64::MAX),
        }
    }

    /// One line per run. A failure is logged in full when a streak starts and once an hour
    /// while it lasts (quietly, at DEBUG, in between), so a report that keeps failing does not
    /// flood the log; the recovery is logged too.
    pub(super) fn log(&self, streak: Streak) {
        let window = self.planned.map(|w| w.to_string()).unwrap_or_else(|| "-".into());
        let watermark =
            self.watermark.map(|w| w.format("%Y-%m-%dT%H:%M:%SZ").to_string()).unwrap_or_else(|| "-".into());
        let duration_ms = self.duration.as_millis() as u64;
        let c = &self.counts;
        let Some(e) = self.error.as_ref().filter(|_| self.status == RunStatus::Failed) else {
            if let Streak::Recovered { since, failures } = streak {
                info!(since = %since, failures, "Report recovered after failing runs");
            }
            info!(
                window = %window, status = self.status.as_str(), windows = c.windows, requests = c.requests,
                retries = c.retries, splits = c.splits, rows_fetched = c.rows_fetched, rows_upserted = c.rows_upserted,
                rows_rejected = c.rows_rejected, rows_duplicate = c.rows_duplicate, nul_removed = c.nul_removed,
                watermark = %watermark, duration_ms,
                "Run finished"
            );
            return;
        };
        // The error may quote the API: one line, cut.
        let e_text = crate::text::one_line(&e.to_string(), crate::text::MESSAGE_CHARS);
        let (loud, failures) = match streak {
            Streak::Started => (true, 1),
            Streak::Continuing { failures, remind, .. } => (remind, failures),
            _ => (true, 1),
        };
        if !loud {
            debug!(window = %window, failures, error_kind = e.kind(), "Run failed again: {e_text}");
        } else if e.is_retryable() {
            warn!(
                window = %window, windows = c.windows, requests = c.requests, retries = c.retries,
                rows_upserted = c.rows_upserted, watermark = %watermark, duration_ms, error_kind = e.kind(), failures,
                "Run failed; it will be retried on the next schedule: {e_text}"
            );
        } else {
            error!(
                window = %window, windows = c.windows, requests = c.requests, retries = c.retries,
                rows_upserted = c.rows_upserted, watermark = %watermark, duration_ms, error_kind = e.kind(), failures,
                "Run failed and needs an operator: {e_text}"
            );
        }
    }
}

/// Who a run record belongs to.
#[derive(Clone, Copy, Debug)]
pub(super) struct RecordKey<'a> {
    pub account: &'a str,
    pub report: &'a str,
    pub stream: &'a str,
    pub token_label: &'a str,
}

/// How a run's window loop ended, when it did not fail.
#[derive(Debug)]
pub(super) enum Ended {
    /// Every planned window was committed.
    Completed,
    /// Shutdown stopped it between windows.
    Cancelled,
    /// The token is paused by the daily budget until then; nothing was requested.
    Paused(DateTime<Utc>),
    /// The API answered "token limit exceeded" during this run: the token is now paused until
    /// the local midnight reset. Not a failure: nothing is broken, the budget is spent.
    LimitReached,
    /// Another replica holds this stream's run lock: it is doing the work.
    Elsewhere,
}

/// How one window ended (one attempt at it, or all of its attempts).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum WindowWrite {
    /// Its rows and the watermark were committed; what was fetched, upserted and rejected.
    Committed(RunCounts),
    /// The response reached the record limit; nothing was written.
    Truncated {
        /// Records received when the limit was reached.
        rows: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    /// Hour `h` of 2026-11-20 in Bogota.
    fn at(h: u32) -> DateTime<Utc> {
        let local = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap().and_hms_opt(h, 0, 0).unwrap();
        crate::time::range_start(chrono_tz::America::Bogota, local)
    }

    fn outcome(status: RunStatus, window: (u32, u32), rows: u64, watermark: u32) -> RunOutcome {
        RunOutcome {
            run_id: "r".into(),
            status,
            planned: Some(Window::new(at(window.0), at(window.1))),
            counts: RunCounts { windows: 1, requests: 2, retries: 1, rows_fetched: rows, ..RunCounts::default() },
            watermark: Some(at(watermark)),
            error: None,
            duration: std::time::Duration::from_millis(10),
        }
    }

    #[test]
    fn merging_streams_adds_counters_joins_ranges_and_keeps_the_watermark_furthest_behind() {
        let merged = outcome(RunStatus::Succeeded, (1, 3), 5, 3).merge(outcome(RunStatus::Succeeded, (2, 6), 7, 6));
        let expected = RunCounts { windows: 2, requests: 4, retries: 2, rows_fetched: 12, ..RunCounts::default() };
        assert_eq!(merged.counts, expected);
        assert_eq!(merged.planned, Some(Window::new(at(1), at(6))));
        assert_eq!(merged.watermark, Some(at(3)));
        assert_eq!(merged.duration, std::time::Duration::from_millis(20));
    }

    #[test]
    fn the_worst_status_of_the_streams_is_the_runs_status() {
        let table = [
            (RunStatus::Succeeded, RunStatus::Skipped, RunStatus::Skipped),
            (RunStatus::Paused, RunStatus::Cancelled, RunStatus::Cancelled),
            (RunStatus::Failed, RunStatus::Cancelled, RunStatus::Failed),
            (RunStatus::Rejected, RunStatus::Succeeded, RunStatus::Rejected),
            (RunStatus::Cancelled, RunStatus::Rejected, RunStatus::Rejected),
            (RunStatus::Succeeded, RunStatus::Succeeded, RunStatus::Succeeded),
        ];
        for (a, b, worst) in table {
            assert_eq!(outcome(a, (1, 2), 0, 2).merge(outcome(b, (1, 2), 0, 2)).status, worst, "{a:?} + {b:?}");
        }
    }

    #[test]
    fn a_run_record_carries_the_counts_and_utc_times() {
        let o = outcome(RunStatus::Succeeded, (1, 3), 5, 3);
        let key = RecordKey { account: "acme", report: "chat_14", stream: "", token_label: "main" };
        let started = DateTime::parse_from_rfc3339("2026-11-20T15:00:00Z").unwrap().to_utc();
        let r = o.record(key, started);
        assert_eq!(r.counts, o.counts);
        assert_eq!(r.window_start.unwrap().to_rfc3339(), "2026-11-20T06:00:00+00:00");
        assert_eq!(r.watermark.unwrap().to_rfc3339(), "2026-11-20T08:00:00+00:00");
        assert_eq!(r.finished_at - r.started_at, chrono::Duration::milliseconds(10));
        assert_eq!((r.account.as_str(), r.token_label.as_str(), r.duration_ms), ("acme", "main", 10));
    }
}

//! The window ledger (`etl_window`) and its roll-up per local day (`etl_day`), read through the
//! view `etl_completeness`. The invariant: a window's ledger row and its days' summaries are
//! written in the window's own transaction, so the ledger says exactly what was committed.

use chrono::{DateTime, NaiveDate, Utc};

use super::watermark::StreamKey;
use super::{Db, StoreError, Tx};

/// How a committed window ended, as the ledger spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowOutcome {
    /// The answer had rows.
    Rows,
    /// The answer was empty (and nothing stored was at stake).
    Empty,
    /// An aggregate day answered empty while holding rows: they were kept.
    SuspectEmpty,
    /// A window of the reconciliation pass.
    Reconciled,
    /// A re-read (rows committed before) the API could not answer: skipped, recorded in
    /// `etl_unanswered`, asked again by later runs.
    Unanswered,
}

impl WindowOutcome {
    /// The name stored in `etl_window.outcome`.
    pub fn as_str(self) -> &'static str {
        match self {
            WindowOutcome::Rows => "rows",
            WindowOutcome::Empty => "empty",
            WindowOutcome::SuspectEmpty => "suspect_empty",
            WindowOutcome::Reconciled => "reconciled",
            WindowOutcome::Unanswered => "unanswered",
        }
    }
}

/// One committed window.
#[derive(Clone, Debug)]
pub struct WindowEntry<'a> {
    /// The run that committed it.
    pub run_id: &'a str,
    /// Its range, `[start, end)`.
    pub start: DateTime<Utc>,
    /// See `start`.
    pub end: DateTime<Utc>,
    /// Rows in the answer.
    pub rows_received: u64,
    /// Rows inserted or changed.
    pub rows_changed: u64,
    /// Requests it took (retries included).
    pub requests: u32,
    /// Splits of the range it came from since the previous committed window.
    pub splits: u32,
    /// How it ended.
    pub outcome: WindowOutcome,
    /// When it was committed.
    pub committed_at: DateTime<Utc>,
}

/// A local day a committed window touched, with the day's stored rows after it.
#[derive(Clone, Copy, Debug)]
pub struct DayEntry {
    /// The local day.
    pub day: NaiveDate,
    /// The instant it ends.
    pub day_end: DateTime<Utc>,
    /// Rows stored for it after the window.
    pub rows: i64,
    /// When it was read.
    pub read_at: DateTime<Utc>,
}

/// What a reconciliation window found for its day (added to the same run's other windows of
/// that day, when a day took several).
#[derive(Clone, Copy, Debug)]
pub struct DayCheck<'a> {
    /// The reconciliation run.
    pub run_id: &'a str,
    /// The day.
    pub day: NaiveDate,
    /// Rows stored before the re-read.
    pub before: i64,
    /// Rows the API returned.
    pub api: i64,
    /// Rows the re-read added (the normal runs had missed them).
    pub added: i64,
    /// Rows the re-read changed.
    pub changed: i64,
    /// When.
    pub at: DateTime<Utc>,
}

const WINDOW: &str = "INSERT INTO etl_window (account, report, stream, run_id, window_start, window_end, rows_received,
         rows_changed, requests, splits, outcome, committed_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     ON CONFLICT (account, report, stream, run_id, window_start) DO UPDATE SET
         window_end = excluded.window_end, rows_received = excluded.rows_received,
         rows_changed = excluded.rows_changed, requests = excluded.requests, splits = excluded.splits,
         outcome = excluded.outcome, committed_at = excluded.committed_at";

const DAY: &str = "INSERT INTO etl_day (account, report, stream, day, day_end, rows, last_read)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (account, report, stream, day) DO UPDATE SET
         day_end = excluded.day_end, rows = excluded.rows, last_read = excluded.last_read";

/// A day's first window in a reconciliation run sets its check; the run's later windows of
/// the same day (a split day) add to it.
const CHECK: &str = "UPDATE etl_day SET
         check_before  = CASE WHEN check_run_id = $5 THEN check_before + $6 ELSE $6 END,
         check_api     = CASE WHEN check_run_id = $5 THEN check_api + $7 ELSE $7 END,
         check_added   = CASE WHEN check_run_id = $5 THEN check_added + $8 ELSE $8 END,
         check_changed = CASE WHEN check_run_id = $5 THEN check_changed + $9 ELSE $9 END,
         check_run_id = $5, checked_at = $10
     WHERE account = $1 AND report = $2 AND stream = $3 AND day = $4";

const PRUNE: &str = "DELETE FROM etl_window WHERE committed_at < $1";

impl Tx {
    /// Records a committed window in the ledger, as part of its transaction.
    pub async fn record_window(&mut self, key: StreamKey<'_>, w: &WindowEntry<'_>) -> Result<(), StoreError> {
        let (received, changed) = (to_i64(w.rows_received), to_i64(w.rows_changed));
        let (requests, splits) = (to_i32(w.requests), to_i32(w.splits));
        on_tx!(self, conn => {
            sqlx::query(WINDOW)
                .bind(key.account).bind(key.report).bind(key.stream).bind(w.run_id).bind(w.start).bind(w.end)
                .bind(received).bind(changed).bind(requests).bind(splits).bind(w.outcome.as_str()).bind(w.committed_at)
                .execute(conn).await?;
        });
        Ok(())
    }

    /// Records a local day a committed window touched, with its stored rows after it, as part of
    /// its transaction.
    pub async fn touch_day(&mut self, key: StreamKey<'_>, d: &DayEntry) -> Result<(), StoreError> {
        on_tx!(self, conn => {
            sqlx::query(DAY)
                .bind(key.account).bind(key.report).bind(key.stream).bind(d.day).bind(d.day_end).bind(d.rows).bind(d.read_at)
                .execute(conn).await?;
        });
        Ok(())
    }

    /// Records what a reconciliation window found for its day (after [`Tx::touch_day`]).
    pub async fn check_day(&mut self, key: StreamKey<'_>, c: &DayCheck<'_>) -> Result<(), StoreError> {
        on_tx!(self, conn => {
            sqlx::query(CHECK)
                .bind(key.account).bind(key.report).bind(key.stream).bind(c.day).bind(c.run_id)
                .bind(c.before).bind(c.api).bind(c.added).bind(c.changed).bind(c.at)
                .execute(conn).await?;
        });
        Ok(())
    }
}

impl Db {
    /// Deletes ledger rows committed before `before`; returns how many went.
    pub async fn prune_ledger(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query(PRUNE).bind(before).execute(pool).await?.rows_affected()))
    }

    /// Every report's days from `since` on, oldest first.
    pub async fn completeness(&self, since: NaiveDate) -> Result<Vec<DayStatus>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(COMPLETENESS).bind(since).fetch_all(pool).await?))
    }

    /// The last complete day of every stream that has one.
    pub async fn last_complete(&self) -> Result<Vec<(String, String, String, NaiveDate)>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(LAST_COMPLETE).fetch_all(pool).await?))
    }

    /// The days run `run_id` of `report` reconciled.
    pub async fn checked_days(&self, account: &str, report: &str, run_id: &str) -> Result<Vec<CheckedDay>, StoreError> {
        Ok(
            on_pool!(self, pool => sqlx::query_as(CHECKED).bind(account).bind(report).bind(run_id).fetch_all(pool).await?),
        )
    }
}

/// One day of `etl_completeness`.
#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize)]
pub struct DayStatus {
    /// Operation label.
    pub account: String,
    /// Report api name.
    pub report: String,
    /// Stream within the report.
    pub stream: String,
    /// The local day.
    pub day: NaiveDate,
    /// `complete`, `pending`, `suspect` or `short`.
    pub status: String,
    /// Rows stored for the day.
    pub rows: i64,
    /// The day's last reconciliation.
    pub last_checked: Option<DateTime<Utc>>,
    /// Rows that reconciliation added.
    pub rows_added_at_check: Option<i64>,
}

const COMPLETENESS: &str = "SELECT account, report, stream, day, status, rows, last_checked, rows_added_at_check
     FROM etl_completeness WHERE day >= $1 ORDER BY account, report, stream, day";

const LAST_COMPLETE: &str = "SELECT account, report, stream, max(day) FROM etl_completeness
     WHERE status = 'complete' GROUP BY account, report, stream";

/// A day's last reconciliation, with its status now.
#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize)]
pub struct CheckedDay {
    /// Stream within the report.
    pub stream: String,
    /// The local day.
    pub day: NaiveDate,
    /// Its status in `etl_completeness`.
    pub status: String,
    /// Rows stored before the re-read.
    pub check_before: i64,
    /// Rows the API returned.
    pub check_api: i64,
    /// Rows the re-read added.
    pub check_added: i64,
    /// Rows the re-read changed.
    pub check_changed: i64,
}

const CHECKED: &str = "SELECT d.stream, d.day, c.status, d.check_before, d.check_api, d.check_added, d.check_changed
     FROM etl_day d JOIN etl_completeness c
       ON c.account = d.account AND c.report = d.report AND c.stream = d.stream AND c.day = d.day
     WHERE d.account = $1 AND d.report = $2 AND d.check_run_id = $3
     ORDER BY d.stream, d.day";

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

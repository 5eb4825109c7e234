//! Re-reads the API could not answer (`etl_unanswered`): a window whose rows were committed
//! before (a look-back hour, a suspect day, a reconciliation day) that failed after its retries
//! and splits. The run records it here and goes on, so one unanswerable hour never holds back
//! the new data after it. A later committed window that covers the range (the nightly
//! reconciliation re-reads whole days) clears it, in that window's transaction.

use chrono::{DateTime, NaiveDate, Utc};

use super::ledger::{WindowEntry, WindowOutcome};
use super::watermark::StreamKey;
use super::{Db, StoreError, Tx};

/// One re-read the API could not answer.
#[derive(Clone, Debug)]
pub struct Unanswered<'a> {
    /// The run that asked.
    pub run_id: &'a str,
    /// The window, `[start, end)`.
    pub start: DateTime<Utc>,
    /// See `start`.
    pub end: DateTime<Utc>,
    /// The local day it starts in.
    pub day: NaiveDate,
    /// Requests it took, retries included.
    pub requests: u32,
    /// Splits of the range it came from.
    pub splits: u32,
    /// The last failure, cleaned and cut.
    pub error: String,
    /// When it was given up.
    pub at: DateTime<Utc>,
}

/// One open entry, as `status` shows it.
#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize)]
pub struct OpenEntry {
    /// Operation label.
    pub account: String,
    /// Report api name.
    pub report: String,
    /// Stream within the report.
    pub stream: String,
    /// The window's start.
    pub window_start: DateTime<Utc>,
    /// The window's end.
    pub window_end: DateTime<Utc>,
    /// How many runs asked it and failed.
    pub asks: i32,
    /// The last failure.
    pub error: String,
}

const RECORD: &str = "INSERT INTO etl_unanswered (account, report, stream, window_start, window_end, day,
         first_failed, last_failed, asks, error)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 1, $8)
     ON CONFLICT (account, report, stream, window_start, window_end) DO UPDATE SET
         last_failed = excluded.last_failed, asks = etl_unanswered.asks + 1, error = excluded.error";

const CLEAR_PG: &str = "DELETE FROM etl_unanswered WHERE account = $1 AND report = $2 AND stream = $3
     AND window_start >= $4 AND window_end <= $5";
const CLEAR_LITE: &str = "DELETE FROM etl_unanswered WHERE account = $1 AND report = $2 AND stream = $3
     AND julianday(window_start) >= julianday($4) AND julianday(window_end) <= julianday($5)";

const READ: &str = "SELECT count(*) FROM etl_day WHERE account = $1 AND report = $2 AND stream = $3 AND day = $4";

const OPEN: &str = "SELECT account, report, stream, window_start, window_end, CAST(asks AS INTEGER) AS asks, error
     FROM etl_unanswered ORDER BY account, report, stream, window_start";

impl Db {
    /// Records a re-read the API could not answer: its ledger row (`etl_window`, outcome
    /// `unanswered`) and its open entry, in a transaction of their own (the window wrote nothing).
    pub async fn record_unanswered(&self, key: StreamKey<'_>, u: &Unanswered<'_>) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let entry = WindowEntry {
            run_id: u.run_id,
            start: u.start,
            end: u.end,
            rows_received: 0,
            rows_changed: 0,
            requests: u.requests,
            splits: u.splits,
            outcome: WindowOutcome::Unanswered,
            committed_at: u.at,
        };
        tx.record_window(key, &entry).await?;
        on_tx!(&mut tx, conn => {
            sqlx::query(RECORD)
                .bind(key.account).bind(key.report).bind(key.stream).bind(u.start).bind(u.end).bind(u.day)
                .bind(u.at).bind(&u.error)
                .execute(conn).await?;
        });
        tx.commit().await
    }

    /// Whether a committed window touched local `day` of the stream (the ledger's `etl_day`).
    pub async fn day_was_read(&self, key: StreamKey<'_>, day: NaiveDate) -> Result<bool, StoreError> {
        let n: i64 = on_pool!(self, pool => sqlx::query_scalar(READ)
            .bind(key.account).bind(key.report).bind(key.stream).bind(day)
            .fetch_one(pool).await?);
        Ok(n > 0)
    }

    /// Every open entry, oldest first per report.
    pub async fn unanswered(&self) -> Result<Vec<OpenEntry>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(OPEN).fetch_all(pool).await?))
    }
}

impl Tx {
    /// Clears the open entries inside `[start, end)`: a committed window answered them.
    pub async fn clear_unanswered(
        &mut self,
        key: StreamKey<'_>,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let sql = match self {
            Tx::Postgres(_) => CLEAR_PG,
            Tx::Sqlite(_) => CLEAR_LITE,
        };
        Ok(on_tx!(self, conn => {
            sqlx::query(sql)
                .bind(key.account).bind(key.report).bind(key.stream).bind(start).bind(end)
                .execute(conn).await?.rows_affected()
        }))
    }
}

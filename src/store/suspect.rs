//! Suspect-empty days (`etl_suspect_day`): days an aggregate report answered empty while rows for
//! them were stored. The invariant it supports: an empty answer never erases stored rows — the
//! day stays as it was, is asked again on later runs, and only an answer with rows (or an
//! operator accepting the day as empty) clears it.

use chrono::{DateTime, NaiveDate, Utc};

use super::watermark::StreamKey;
use super::{Db, StoreError, Tx};

/// One statement: a new day starts at one empty answer, a known one counts another.
const MARK: &str = "INSERT INTO etl_suspect_day (account, report, stream, day, first_seen, last_seen, asks)
     VALUES ($1, $2, $3, $4, $5, $5, 1)
     ON CONFLICT (account, report, stream, day)
     DO UPDATE SET last_seen = excluded.last_seen, asks = etl_suspect_day.asks + 1
     RETURNING asks";
const CLEAR: &str = "DELETE FROM etl_suspect_day WHERE account = $1 AND report = $2 AND stream = $3 AND day = $4";
const DAYS: &str = "SELECT day FROM etl_suspect_day WHERE account = $1 AND report = $2 AND stream = $3 ORDER BY day";
const ALL: &str =
    "SELECT account, report, stream, day, asks FROM etl_suspect_day ORDER BY account, report, stream, day";

impl Tx {
    /// Marks `day` suspect (or counts one more empty answer for it); true when it is newly marked.
    pub async fn mark_suspect(
        &mut self,
        key: StreamKey<'_>,
        day: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let asks: i32 = on_tx!(self, conn => {
            sqlx::query_scalar(MARK).bind(key.account).bind(key.report).bind(key.stream).bind(day).bind(now).fetch_one(&mut *conn).await?
        });
        Ok(asks == 1)
    }

    /// Clears `day`'s mark (an answer with rows replaced it, or an operator accepted it).
    pub async fn clear_suspect(&mut self, key: StreamKey<'_>, day: NaiveDate) -> Result<bool, StoreError> {
        let n = on_tx!(self, conn => {
            sqlx::query(CLEAR).bind(key.account).bind(key.report).bind(key.stream).bind(day).execute(&mut *conn).await?.rows_affected()
        });
        Ok(n > 0)
    }
}

impl Db {
    /// The stream's suspect days, oldest first (asked again on every run).
    pub async fn suspect_days(&self, key: StreamKey<'_>) -> Result<Vec<NaiveDate>, StoreError> {
        let rows: Vec<(NaiveDate,)> = on_pool!(self, pool => {
            sqlx::query_as(DAYS).bind(key.account).bind(key.report).bind(key.stream).fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(|(d,)| d).collect())
    }

    /// Every suspect day of every report (`status`).
    pub async fn suspect_all(&self) -> Result<Vec<SuspectDay>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(ALL).fetch_all(pool).await?))
    }
}

/// One suspect day, for `status`.
#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize)]
pub struct SuspectDay {
    /// Operation label.
    pub account: String,
    /// Report api name.
    pub report: String,
    /// Stream within the report.
    pub stream: String,
    /// The local day answered empty.
    pub day: NaiveDate,
    /// Empty answers received for it so far.
    pub asks: i32,
}

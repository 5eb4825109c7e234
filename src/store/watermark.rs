//! Reading and moving watermarks. Moving one needs a [`Tx`], so a watermark is only ever
//! written together with the rows it covers.

use chrono::{DateTime, Utc};

use super::{Db, StoreError, Tx};

/// Identifies one watermark: an operation, a report and a stream within it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamKey<'a> {
    /// The `account` label.
    pub account: &'a str,
    /// The report's api name.
    pub report: &'a str,
    /// The stream within the report (`""` for reports synced as one stream).
    pub stream: &'a str,
}

const GET: &str = "SELECT watermark FROM etl_watermark WHERE account = $1 AND report = $2 AND stream = $3";

impl Db {
    /// The committed watermark, if the stream was ever synced.
    pub async fn watermark(&self, key: StreamKey<'_>) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row: Option<(DateTime<Utc>,)> = on_pool!(self, pool => {
            sqlx::query_as(GET).bind(key.account).bind(key.report).bind(key.stream).fetch_optional(pool).await?
        });
        Ok(row.map(|(w,)| w))
    }
}

impl Tx {
    /// The stream's watermark as this transaction sees it (what an operator change replaces).
    pub async fn watermark(&mut self, key: StreamKey<'_>) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row: Option<(DateTime<Utc>,)> = on_tx!(self, conn => {
            sqlx::query_as(GET).bind(key.account).bind(key.report).bind(key.stream).fetch_optional(conn).await?
        });
        Ok(row.map(|(w,)| w))
    }

    /// Moves the watermark forward to `to`; if another process already moved it further, that
    /// stays (`GREATEST` / SQLite's scalar `max`).
    pub async fn advance_watermark(&mut self, key: StreamKey<'_>, to: DateTime<Utc>) -> Result<(), StoreError> {
        let greatest = match self {
            Tx::Postgres(_) => "GREATEST",
            Tx::Sqlite(_) => "max",
        };
        // A fixed statement; only the name of the larger-of function is picked by backend.
        let sql = super::sql::built(upsert_sql(&format!("{greatest}(etl_watermark.watermark, excluded.watermark)")));
        let now = Utc::now();
        on_tx!(self, conn => {
            sqlx::query(sql).bind(key.account).bind(key.report).bind(key.stream).bind(to).bind(now).execute(conn).await?;
        });
        Ok(())
    }

    /// Sets the watermark to `to`, backwards or forwards: an operator's decision (`watermark set`),
    /// never used by the sync itself. In the caller's transaction, so its audit entry commits with it.
    pub async fn force_watermark(&mut self, key: StreamKey<'_>, to: DateTime<Utc>) -> Result<(), StoreError> {
        let sql = super::sql::built(upsert_sql("excluded.watermark"));
        let now = Utc::now();
        on_tx!(self, conn => {
            sqlx::query(sql).bind(key.account).bind(key.report).bind(key.stream).bind(to).bind(now).execute(conn).await?;
        });
        Ok(())
    }

    /// Deletes the watermark in the caller's transaction; returns whether there was one.
    pub async fn reset_watermark(&mut self, key: StreamKey<'_>) -> Result<bool, StoreError> {
        let n = on_tx!(self, conn => {
            sqlx::query(DELETE).bind(key.account).bind(key.report).bind(key.stream).execute(conn).await?.rows_affected()
        });
        Ok(n > 0)
    }
}

/// `INSERT … ON CONFLICT` of a watermark; `keep` decides the stored value on conflict.
fn upsert_sql(keep: &str) -> String {
    format!(
        "INSERT INTO etl_watermark (account, report, stream, watermark, updated_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (account, report, stream)
         DO UPDATE SET watermark = {keep}, updated_at = excluded.updated_at"
    )
}

const DELETE: &str = "DELETE FROM etl_watermark WHERE account = $1 AND report = $2 AND stream = $3";

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

/// The committed watermark, if the stream was ever synced.
pub(super) async fn get(db: &Db, key: StreamKey<'_>) -> Result<Option<DateTime<Utc>>, StoreError> {
    let row: Option<(DateTime<Utc>,)> = match db {
        Db::Postgres(pool) => {
            sqlx::query_as(GET).bind(key.account).bind(key.report).bind(key.stream).fetch_optional(pool).await?
        }
        Db::Sqlite(pool) => {
            sqlx::query_as(GET).bind(key.account).bind(key.report).bind(key.stream).fetch_optional(pool).await?
        }
    };
    Ok(row.map(|(w,)| w))
}

/// Moves the watermark forward to `to`; if another process already moved it further, that
/// stays (`GREATEST` / SQLite's scalar `max`).
pub(super) async fn advance(tx: &mut Tx, key: StreamKey<'_>, to: DateTime<Utc>) -> Result<(), StoreError> {
    let upsert = |greatest: &str| {
        format!(
            "INSERT INTO etl_watermark (account, report, stream, watermark, updated_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (account, report, stream)
             DO UPDATE SET watermark = {greatest}(etl_watermark.watermark, excluded.watermark),
                           updated_at = excluded.updated_at"
        )
    };
    let now = Utc::now();
    match tx {
        Tx::Postgres(tx) => {
            sqlx::query(&upsert("GREATEST"))
                .bind(key.account)
                .bind(key.report)
                .bind(key.stream)
                .bind(to)
                .bind(now)
                .execute(&mut **tx)
                .await?;
        }
        Tx::Sqlite(tx) => {
            sqlx::query(&upsert("max"))
                .bind(key.account)
                .bind(key.report)
                .bind(key.stream)
                .bind(to)
                .bind(now)
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}

const SET: &str = "INSERT INTO etl_watermark (account, report, stream, watermark, updated_at)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (account, report, stream)
     DO UPDATE SET watermark = excluded.watermark, updated_at = excluded.updated_at";

/// Sets the watermark to `to`, backwards or forwards: an operator's decision (`watermark set`),
/// never used by the sync itself.
pub async fn force(db: &Db, key: StreamKey<'_>, to: DateTime<Utc>) -> Result<(), StoreError> {
    let now = Utc::now();
    match db {
        Db::Postgres(pool) => {
            sqlx::query(SET)
                .bind(key.account)
                .bind(key.report)
                .bind(key.stream)
                .bind(to)
                .bind(now)
                .execute(pool)
                .await?;
        }
        Db::Sqlite(pool) => {
            sqlx::query(SET)
                .bind(key.account)
                .bind(key.report)
                .bind(key.stream)
                .bind(to)
                .bind(now)
                .execute(pool)
                .await?;
        }
    }
    Ok(())
}

const DELETE: &str = "DELETE FROM etl_watermark WHERE account = $1 AND report = $2 AND stream = $3";

/// Deletes the watermark; returns whether there was one.
pub async fn reset(db: &Db, key: StreamKey<'_>) -> Result<bool, StoreError> {
    let n = match db {
        Db::Postgres(pool) => {
            sqlx::query(DELETE).bind(key.account).bind(key.report).bind(key.stream).execute(pool).await?.rows_affected()
        }
        Db::Sqlite(pool) => {
            sqlx::query(DELETE).bind(key.account).bind(key.report).bind(key.stream).execute(pool).await?.rows_affected()
        }
    };
    Ok(n > 0)
}

//! Reading and moving watermarks. `set` takes the caller's transaction, so a watermark is only
//! ever written together with the rows it covers.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::StoreError;

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

/// The committed watermark, if the stream was ever synced.
pub async fn get(
    conn: &mut PgConnection,
    key: StreamKey<'_>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let row: Option<(DateTime<Utc>,)> = sqlx::query_as(
        "SELECT watermark FROM etl_watermark WHERE account = $1 AND report = $2 AND stream = $3",
    )
    .bind(key.account)
    .bind(key.report)
    .bind(key.stream)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(w,)| w))
}

/// Moves the watermark forward to `watermark` (never backwards: if another process already moved
/// it further, that stays). Call it inside the transaction that wrote the rows it covers.
pub async fn advance(
    conn: &mut PgConnection,
    key: StreamKey<'_>,
    watermark: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO etl_watermark (account, report, stream, watermark, updated_at)
         VALUES ($1, $2, $3, $4, now())
         ON CONFLICT (account, report, stream)
         DO UPDATE SET watermark = GREATEST(etl_watermark.watermark, EXCLUDED.watermark), updated_at = now()",
    )
    .bind(key.account)
    .bind(key.report)
    .bind(key.stream)
    .bind(watermark)
    .execute(conn)
    .await?;
    Ok(())
}

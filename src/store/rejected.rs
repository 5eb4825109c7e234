//! The quarantine (`etl_rejected`): rows the API sent whose key cannot be read, kept with their
//! raw JSON, the reason and the window they came in, inside the caller's transaction.
//!
//! The invariant it protects: no row is dropped silently. A row that cannot be stored in its
//! report's table (it has no key to be stored under) is written here in the same transaction as
//! its window's rows and watermark, so the watermark never moves past a row that is nowhere. A
//! re-read of the same row (the look-back) adds no copy: a row is kept once per
//! `(account, report, stream, raw_hash)`.

use chrono::{DateTime, Utc};

use super::{StoreError, Tx};

/// A row whose key cannot be read, as the quarantine keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    /// Why its key cannot be read (which field, and what it held).
    pub reason: String,
    /// The row as the API sent it (NUL characters removed), serialized JSON.
    pub raw: String,
    /// [`super::rows::raw_hash`] of `raw`.
    pub raw_hash: i64,
}

/// Where quarantined rows came from: one window of one stream, fetched by one run.
#[derive(Clone, Copy, Debug)]
pub struct Origin<'a> {
    /// Operation label.
    pub account: &'a str,
    /// Report api name.
    pub report: &'a str,
    /// Stream within the report (`""` for most).
    pub stream: &'a str,
    /// The window's start (UTC).
    pub window_start: DateTime<Utc>,
    /// The window's end (UTC, exclusive).
    pub window_end: DateTime<Utc>,
    /// The run's id, as its log lines carry it.
    pub run_id: &'a str,
}

/// `$1..$6` the origin, `$7` reason, `$8` raw, `$9` raw_hash, `$10` rejected_at. The same
/// statement serves both backends; only `raw`'s cast differs.
fn insert_sql(raw: &str) -> String {
    format!(
        "INSERT INTO etl_rejected (account, report, stream, window_start, window_end, run_id, reason, raw, raw_hash, \
         rejected_at) VALUES ($1, $2, $3, $4, $5, $6, $7, {raw}, $9, $10) \
         ON CONFLICT (account, report, stream, raw_hash) DO NOTHING"
    )
}

impl Tx {
    /// Keeps rows whose key cannot be read in the quarantine (`etl_rejected`), as part of this
    /// transaction; returns how many were new (a row already kept is not copied).
    pub async fn quarantine(&mut self, origin: &Origin<'_>, rows: &[Rejected]) -> Result<u64, StoreError> {
        let sql = match self {
            Tx::Postgres(_) => insert_sql("$8::jsonb"),
            Tx::Sqlite(_) => insert_sql("$8"),
        };
        // A fixed statement; only the cast of `raw` is picked by backend.
        let sql = super::sql::built(sql);
        let now = Utc::now();
        let mut added = 0;
        // Rejected rows are few, so one statement per row is enough on both backends.
        for row in rows {
            // The reason may quote the API: stored on one line and cut.
            let reason = crate::text::one_line(&row.reason, crate::text::MESSAGE_CHARS);
            added += on_tx!(self, conn => {
                sqlx::query(sql.clone())
                    .bind(origin.account)
                    .bind(origin.report)
                    .bind(origin.stream)
                    .bind(origin.window_start)
                    .bind(origin.window_end)
                    .bind(origin.run_id)
                    .bind(&reason)
                    .bind(&row.raw)
                    .bind(row.raw_hash)
                    .bind(now)
                    .execute(conn)
                    .await?
                    .rows_affected()
            });
        }
        Ok(added)
    }
}

//! The `etl_token_info` table: the API's own count of the daily token budget, one row per read
//! per token, kept as history.
//!
//! A read is one statement, like `etl_token_usage`'s counts (nothing else must commit with it).
//! Two reads of one token at the same instant are one row, the later one's figures.

use chrono::{DateTime, Utc};

use super::{Db, StoreError};

/// One read of `token_info`, as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct TokenInfoRead {
    /// The operation.
    pub account: String,
    /// The token's label (never its secret).
    pub token_label: String,
    /// When it was read.
    pub read_at: DateTime<Utc>,
    /// `token_limit`: calls allowed per day; NULL when the API left it blank.
    pub token_limit: Option<i64>,
    /// `token_use_today`: this token's calls today, the read included.
    pub token_use_today: Option<i64>,
    /// `all_token_today`: every token of the operation, today.
    pub all_token_today: Option<i64>,
    /// `available_consumption_options`: what the API says is left today.
    pub available: Option<i64>,
    /// Our own count of this token's calls today right after the read (`etl_token_usage`).
    pub our_calls_today: i64,
}

const INSERT: &str = "INSERT INTO etl_token_info
     (account, token_label, read_at, token_limit, token_use_today, all_token_today, available, our_calls_today)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (account, token_label, read_at) DO UPDATE SET
         token_limit = excluded.token_limit, token_use_today = excluded.token_use_today,
         all_token_today = excluded.all_token_today, available = excluded.available,
         our_calls_today = excluded.our_calls_today";

impl Db {
    /// Keeps one read of `token_info`.
    pub async fn record_token_info(&self, read: &TokenInfoRead) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            sqlx::query(INSERT)
                .bind(&read.account)
                .bind(&read.token_label)
                .bind(read.read_at)
                .bind(read.token_limit)
                .bind(read.token_use_today)
                .bind(read.all_token_today)
                .bind(read.available)
                .bind(read.our_calls_today)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The latest read of each of `account`'s tokens, by label.
    pub async fn latest_token_info(&self, account: &str) -> Result<Vec<TokenInfoRead>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(LATEST).bind(account).fetch_all(pool).await?))
    }
}

const LATEST: &str = "SELECT account, token_label, read_at, token_limit, token_use_today, all_token_today, available,
         our_calls_today
     FROM etl_token_info t
     WHERE account = $1
       AND read_at = (SELECT max(read_at) FROM etl_token_info l
                      WHERE l.account = t.account AND l.token_label = t.token_label)
     ORDER BY token_label";

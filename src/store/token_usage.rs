//! The `etl_token_usage` table: API calls counted per token per local day, and token pauses.

use chrono::{DateTime, NaiveDate, Utc};

use super::{Db, StoreError};

/// One token's usage on one day.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct TokenUsage {
    /// The token's label.
    pub token_label: String,
    /// Calls made that local day.
    pub calls: i64,
    /// When set and in the future, the token is paused until then.
    pub paused_until: Option<DateTime<Utc>>,
}

const ADD: &str = "INSERT INTO etl_token_usage (account, token_label, day, calls) VALUES ($1, $2, $3, $4)
     ON CONFLICT (account, token_label, day) DO UPDATE SET calls = etl_token_usage.calls + excluded.calls
     RETURNING calls";

impl Db {
    /// Adds `calls` to a token's count for `day`; returns the day's total.
    pub async fn add_token_calls(
        &self,
        account: &str,
        token: &str,
        day: NaiveDate,
        calls: i64,
    ) -> Result<i64, StoreError> {
        Ok(on_pool!(self, pool => {
            sqlx::query_scalar(ADD).bind(account).bind(token).bind(day).bind(calls).fetch_one(pool).await?
        }))
    }

    /// Pauses a token until `until` (recorded on `day`, the local day the limit was hit).
    pub async fn pause_token(
        &self,
        account: &str,
        token: &str,
        day: NaiveDate,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            sqlx::query(PAUSE).bind(account).bind(token).bind(day).bind(until).execute(pool).await?;
        });
        Ok(())
    }

    /// Every token's usage on `day`.
    pub async fn token_usage(&self, account: &str, day: NaiveDate) -> Result<Vec<TokenUsage>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(USAGE).bind(account).bind(day).fetch_all(pool).await?))
    }

    /// The latest pause ever recorded for a token (the caller compares it with now).
    pub async fn latest_token_pause(&self, account: &str, token: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_scalar(LATEST_PAUSE).bind(account).bind(token).fetch_one(pool).await?))
    }
}

const PAUSE: &str =
    "INSERT INTO etl_token_usage (account, token_label, day, calls, paused_until) VALUES ($1, $2, $3, 0, $4)
     ON CONFLICT (account, token_label, day) DO UPDATE SET paused_until = excluded.paused_until";

const USAGE: &str = "SELECT token_label, calls, paused_until FROM etl_token_usage
     WHERE account = $1 AND day = $2 ORDER BY token_label";

const LATEST_PAUSE: &str = "SELECT max(paused_until) FROM etl_token_usage WHERE account = $1 AND token_label = $2";

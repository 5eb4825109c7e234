//! The daily token budget: every API call costs one of the operation's daily tokens (licences ×
//! 1000, shared by all its tokens, reset at local midnight).
//!
//! Calls are counted per token per local day in the database, so the count survives restarts.
//! When the API answers `403 TOKEN LIMIT EXCEEDED`, the token is paused until the next local
//! midnight: its jobs skip their runs quietly (one WARN when the pause starts, not one error per
//! tick), and resume by themselves after midnight.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

use crate::clock::Clock;
use crate::store::budget::{self, TokenUsage};
use crate::store::{Db, StoreError};
use crate::wolkvox::values::{local_to_utc, utc_to_local};

/// Budget bookkeeping for one operation.
#[derive(Clone, Debug)]
pub struct Budget {
    db: Db,
    account: String,
    timezone: Tz,
    clock: Clock,
}

impl Budget {
    /// Bookkeeping for `account`, whose local days are in `timezone`.
    pub fn new(db: Db, account: String, timezone: Tz, clock: Clock) -> Self {
        Budget { db, account, timezone, clock }
    }

    fn today(&self) -> NaiveDate {
        utc_to_local(self.timezone, self.clock.now()).date()
    }

    /// When the token is paused, until when.
    pub async fn paused_until(&self, token: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let latest = budget::latest_pause(&self.db, &self.account, token).await?;
        Ok(latest.filter(|until| *until > self.clock.now()))
    }

    /// Counts `calls` made on `token` now; returns today's total.
    pub async fn record(&self, token: &str, calls: u32) -> Result<i64, StoreError> {
        let total = budget::add_calls(&self.db, &self.account, token, self.today(), i64::from(calls)).await?;
        crate::metrics::token_calls_today(&self.account, token, total);
        Ok(total)
    }

    /// Pauses `token` until the next local midnight; returns that instant.
    pub async fn pause(&self, token: &str) -> Result<DateTime<Utc>, StoreError> {
        let until = next_local_midnight(self.timezone, self.clock.now());
        budget::pause(&self.db, &self.account, token, self.today(), until).await?;
        Ok(until)
    }

    /// Every token's usage today.
    pub async fn usage_today(&self) -> Result<Vec<TokenUsage>, StoreError> {
        budget::usage(&self.db, &self.account, self.today()).await
    }
}

/// The first instant of the next local day in `tz` (when wolkvox resets the daily budget).
pub fn next_local_midnight(tz: Tz, now: DateTime<Utc>) -> DateTime<Utc> {
    let tomorrow = utc_to_local(tz, now).date() + Duration::days(1);
    local_to_utc(tz, tomorrow.and_time(NaiveTime::MIN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_resets_at_the_operations_local_midnight() {
        let now = DateTime::parse_from_rfc3339("2026-11-21T03:30:00Z").unwrap().to_utc();
        // 22:30 on the 20th in Bogota: the reset is at 05:00 UTC on the 21st.
        let bogota = next_local_midnight(chrono_tz::America::Bogota, now);
        assert_eq!(bogota.to_rfc3339(), "2026-11-21T05:00:00+00:00");
        assert_eq!(next_local_midnight(chrono_tz::UTC, now).to_rfc3339(), "2026-11-22T00:00:00+00:00");
    }
}

//! The API's own token count: one read of `information.php?api=token_info` per token, on the
//! `[token_info]` schedule and by `wolkvox-etl token-info`.
//!
//! [`read_once`] is a plain async function returning what it read; the scheduler and the command
//! both call it. The invariants it protects: a read is a request like a report's — it waits for
//! the token's permit in this process and its lock across processes, holds both until the body
//! has been read, and is counted in our own budget whatever its outcome, since every call costs
//! one of the day's tokens; and a read that succeeded is stored (`etl_token_info`), exported
//! (metrics) and checked against the day's budget ([`crate::budget::Budget::assess`]) before it
//! is returned.

use chrono::{DateTime, Utc};
use tracing::{info, warn, Instrument};

use super::{JobContext, SyncError};
use crate::budget::Concern;
use crate::store::api_token_count::TokenInfoRead;
use crate::wolkvox::{ApiError, Token, TokenInfo};

/// The name the reads go by in request metrics and logs (beside the reports' names).
pub const API: &str = "token_info";

/// One token's reads, on a schedule.
#[derive(Clone, Debug)]
pub struct TokenInfoJob {
    /// The token read (and so its place in the token's queue).
    pub token: Token,
    /// Six-field cron expression, in the operation's time zone.
    pub schedule: String,
}

/// How a read ended without an error.
#[derive(Clone, Debug, PartialEq)]
pub enum ReadOutcome {
    /// Read, stored, exported and checked.
    Read(Reading),
    /// The token is paused by the daily budget until then: nothing was asked.
    Paused(DateTime<Utc>),
}

/// One successful read.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    /// What the API said.
    pub info: TokenInfo,
    /// Our own count of this token's calls today, the read included.
    pub our_calls_today: i64,
    /// Our own count of every token of the operation today, the read included.
    pub ours_all_tokens: i64,
    /// The concerns this read raised for the first time today (each also logged at WARN).
    pub concerns: Vec<Concern>,
}

/// Reads `token_info` for `token` once (with the client's retries of transient failures),
/// counts the calls in the budget, and stores, exports and checks what it read. A token paused
/// by the daily budget is not asked; a `TOKEN LIMIT EXCEEDED` answer pauses it, as for reports.
pub async fn read_once(ctx: &JobContext, token: &Token) -> Result<ReadOutcome, SyncError> {
    // ERROR-level spans are enabled whatever the filter, so every line names the token.
    let span = tracing::error_span!("token_info", account = %ctx.account, token = token.label());
    read(ctx, token).instrument(span).await
}

async fn read(ctx: &JobContext, token: &Token) -> Result<ReadOutcome, SyncError> {
    if let Some(until) = ctx.budget.paused_until(token.label()).await? {
        return Ok(ReadOutcome::Paused(until));
    }
    // The client holds the permit until the body is read; the lock is held until then too.
    let (result, attempts) = ctx.call_on_token(token, API, |permit| ctx.client.token_info(token, permit)).await;
    // Every attempt sent a request, and every request costs a call.
    let recorded = ctx.budget.record(token.label(), attempts).await;
    let info = match result {
        Ok(info) => info,
        Err(e) => {
            if let Err(store) = &recorded {
                warn!(error = %store, "Could not count API calls in the token budget");
            }
            if matches!(e, SyncError::Api(ApiError::TokenLimit { .. })) {
                ctx.budget.limit_reached(token.label()).await;
            }
            return Err(e);
        }
    };
    let our_calls_today = recorded?;
    let ours_all_tokens = ctx.budget.usage_today().await?.iter().map(|u| u.calls).sum();
    let stored = TokenInfoRead {
        account: ctx.account.clone(),
        token_label: token.label().to_owned(),
        read_at: ctx.clock.now(),
        token_limit: info.limit,
        token_use_today: info.use_today,
        all_token_today: info.all_today,
        available: info.available,
        our_calls_today,
    };
    ctx.db.record_token_info(&stored).await?;
    crate::metrics::api_token_info(&ctx.account, token.label(), info.limit, info.use_today, info.all_today);
    info!(
        token_limit = %shown(info.limit),
        token_use_today = %shown(info.use_today),
        all_token_today = %shown(info.all_today),
        available = %shown(info.available),
        our_calls_today,
        ours_all_tokens,
        "Read the API's token count"
    );
    let concerns = ctx.budget.assess(token.label(), &info, ours_all_tokens);
    Ok(ReadOutcome::Read(Reading { info, our_calls_today, ours_all_tokens, concerns }))
}

/// A figure as logs and commands show it: the number, or `?` where the API left it blank.
pub fn shown(figure: Option<i64>) -> String {
    figure.map_or_else(|| "?".to_owned(), |n| n.to_string())
}

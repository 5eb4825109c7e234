//! The HTTP client for `reports_manager.php`, with one choke point: [`WolkvoxClient::request`].
//!
//! `request` owns everything about a call: the token header, the timeout, holding the token's
//! in-flight permit exactly while a request is on the wire, decoding the envelope, mapping
//! statuses to [`ApiError`], and retrying. It retries only what [`ApiError::is_retryable`] calls
//! transient (timeouts, network, 5xx, malformed bodies, simultaneous use, maintenance), with a
//! doubling, jittered backoff capped at `retry.max_backoff`; the permit is released while it
//! sleeps so other jobs on the same token are not starved.

use std::time::Duration;

use chrono::NaiveDateTime;
use reqwest::Url;
use tracing::debug;

use super::envelope::{self, Row};
use super::error::ApiError;
use super::token::Token;
use crate::config::RetryPolicy;

/// The API's datetime parameter format: 14 digits of local time.
const PARAM_FORMAT: &str = "%Y%m%d%H%M%S";

/// The result of one call, successful or not, with what it cost.
#[derive(Debug)]
pub struct Fetched {
    /// The rows (keys trimmed), or the error left after retries.
    pub result: Result<Vec<Row>, ApiError>,
    /// How many requests were sent (1 = no retry); each costs one daily token.
    pub attempts: u32,
}

/// A client for one wolkvox server.
#[derive(Clone, Debug)]
pub struct WolkvoxClient {
    http: reqwest::Client,
    base: Url,
    timeout: Duration,
    retry: RetryPolicy,
}

impl WolkvoxClient {
    /// A client for the API at `base` (ending in `/api/v2/`).
    pub fn new(base: Url, timeout: Duration, retry: RetryPolicy) -> Result<Self, ApiError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("wolkvox-etl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::Network(format!("cannot build the HTTP client: {e}")))?;
        Ok(WolkvoxClient { http, base, timeout, retry })
    }

    /// Fetches one report for the inclusive local window `[from, to]`, with extra parameters.
    pub async fn fetch(
        &self,
        token: &Token,
        api: &str,
        from: NaiveDateTime,
        to: NaiveDateTime,
        params: &[(&str, &str)],
    ) -> Fetched {
        let mut url = match self.base.join("reports_manager.php") {
            Ok(url) => url,
            Err(e) => {
                return Fetched { result: Err(ApiError::Network(format!("bad base URL: {e}"))), attempts: 0 };
            }
        };
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("api", api);
            query.append_pair("date_ini", &from.format(PARAM_FORMAT).to_string());
            query.append_pair("date_end", &to.format(PARAM_FORMAT).to_string());
            for (k, v) in params {
                query.append_pair(k, v);
            }
        }
        self.request(token, api, url).await
    }

    /// The choke point: send, decode, classify, retry. See the module docs for the policy.
    async fn request(&self, token: &Token, api: &str, url: Url) -> Fetched {
        let mut attempt = 1;
        loop {
            let result = self.attempt(token, url.clone()).await;
            crate::metrics::request(api, token.label(), result.as_ref().map_or_else(ApiError::kind, |_| "ok"));
            match result {
                Ok(rows) => return Fetched { result: Ok(rows), attempts: attempt },
                Err(error) if error.is_retryable() && attempt < self.retry.max_attempts => {
                    crate::metrics::retry(api, error.kind());
                    let delay = backoff(self.retry, attempt);
                    // DEBUG: the run's summary counts retries, and a failing run is logged once.
                    debug!(
                        attempt,
                        max_attempts = self.retry.max_attempts,
                        error_kind = error.kind(),
                        backoff_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        "Request failed, retrying: {error}"
                    );
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(error) => return Fetched { result: Err(error), attempts: attempt },
            }
        }
    }

    async fn attempt(&self, token: &Token, url: Url) -> Result<Vec<Row>, ApiError> {
        // The permit covers send *and* body read: the API counts the request until it is done.
        let permit = token.acquire().await;
        let response = self
            .http
            .get(url)
            .header("wolkvox-token", token.secret())
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|e| self.transport_error(e))?;
        drop(permit);
        envelope::decode(status, &body)
    }

    fn transport_error(&self, error: reqwest::Error) -> ApiError {
        if error.is_timeout() {
            ApiError::Timeout { seconds: self.timeout.as_secs() }
        } else {
            // reqwest's message names the URL (which holds no secret) and the cause.
            ApiError::Network(error.to_string())
        }
    }
}

/// Delay before attempt `attempt + 1`: initial × 2^(attempt−1), capped, with ±50 % jitter so
/// jobs that failed together do not retry together.
pub fn backoff(policy: RetryPolicy, attempt: u32) -> Duration {
    let exp = policy.initial_backoff.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
    let capped = exp.min(policy.max_backoff);
    let half = capped / 2;
    half + half.mul_f64(fastrand::f64() * 2.0).min(capped - half)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_never_passes_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
        };
        for _ in 0..100 {
            let first = backoff(policy, 1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100), "{first:?}");
            let third = backoff(policy, 3);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400), "{third:?}");
            assert!(backoff(policy, 30) <= Duration::from_secs(1));
        }
    }
}

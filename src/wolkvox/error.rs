//! The API's failures, shaped by what the caller does next.
//!
//! Every variant says whether retrying can help ([`ApiError::is_retryable`]). Messages carry the
//! HTTP status and the API's own `error`/`msg` texts but never the token: the token travels only
//! in a request header, and no variant stores a header or a request.

/// One failed API call (after the client's own retries).
#[derive(Clone, Debug, thiserror::Error)]
pub enum ApiError {
    /// The request did not complete within the configured timeout.
    #[error("the API did not answer within {seconds} s")]
    Timeout {
        /// The timeout that expired.
        seconds: u64,
    },
    /// The connection failed (reset, cut) before a full response arrived.
    #[error("network error talking to the API: {0}")]
    Network(String),
    /// No connection could be made (refused, DNS, unreachable): the request never reached the
    /// API, so a smaller window cannot help.
    #[error("cannot connect to the API: {0}")]
    Connect(String),
    /// The envelope says one thing and carries another (rows under an error or "no records"
    /// code, or under an error text): nothing of it can be trusted, so nothing of it is stored.
    #[error("the API's answer contradicts itself ({what}); nothing of it was stored")]
    Contradictory {
        /// What it said and what it carried, cut.
        what: String,
    },
    /// The API refused a second request on the same token (its concurrency limit).
    #[error("the API refused a simultaneous request on this token: {msg}")]
    SimultaneousUse {
        /// The API's message.
        msg: String,
    },
    /// The operation's daily token budget is used up; calls resume after local midnight.
    #[error("the daily token limit is exceeded: {msg}")]
    TokenLimit {
        /// The API's message.
        msg: String,
    },
    /// The token was rejected or missing; an operator must fix the configuration.
    #[error("the API rejected the token (HTTP {status}): {msg}")]
    InvalidToken {
        /// HTTP status (401 or 403).
        status: u16,
        /// The API's message.
        msg: String,
    },
    /// Any other 403, which wolkvox uses during maintenance windows.
    #[error("the API is refusing calls (HTTP 403, maintenance?): {msg}")]
    Forbidden {
        /// The API's message.
        msg: String,
    },
    /// The report name is unknown to this server.
    #[error("the API does not know this report: {msg}")]
    UnknownReport {
        /// The API's message.
        msg: String,
    },
    /// The API rejected the request's parameters (missing parameter, window too long, …).
    #[error("the API rejected the request (HTTP {status}): {msg}")]
    BadRequest {
        /// HTTP status or envelope code.
        status: u16,
        /// The API's message.
        msg: String,
    },
    /// A 5xx or another unexpected status.
    #[error("the API failed with HTTP {status}: {body}")]
    Server {
        /// HTTP status or envelope code.
        status: u16,
        /// The start of the body, for the log.
        body: String,
    },
    /// The body was not the JSON envelope we expect (truncated, HTML, bad UTF-8, wrong shape).
    #[error("the API sent a malformed response (HTTP {status}): {reason}")]
    Malformed {
        /// HTTP status.
        status: u16,
        /// What was wrong, with the start of the body.
        reason: String,
    },
}

impl ApiError {
    /// Whether the same request may succeed if sent again later.
    ///
    /// Transient: timeouts, network errors, 5xx, malformed bodies (often a cut connection),
    /// simultaneous use and the maintenance 403. Permanent: bad token, unknown report, bad
    /// parameters, and the daily limit (retrying before midnight only burns nothing but time).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ApiError::Timeout { .. }
                | ApiError::Network(_)
                | ApiError::Connect(_)
                | ApiError::Contradictory { .. }
                | ApiError::SimultaneousUse { .. }
                | ApiError::Forbidden { .. }
                | ApiError::Server { .. }
                | ApiError::Malformed { .. }
        )
    }

    /// A short, stable name for the kind of failure (run history, metrics labels).
    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::Timeout { .. } => "timeout",
            ApiError::Network(_) => "network",
            ApiError::Connect(_) => "connect",
            ApiError::Contradictory { .. } => "contradictory",
            ApiError::SimultaneousUse { .. } => "simultaneous_use",
            ApiError::TokenLimit { .. } => "token_limit",
            ApiError::InvalidToken { .. } => "invalid_token",
            ApiError::Forbidden { .. } => "forbidden",
            ApiError::UnknownReport { .. } => "unknown_report",
            ApiError::BadRequest { .. } => "bad_request",
            ApiError::Server { .. } => "server",
            ApiError::Malformed { .. } => "malformed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_failures_are_retryable_and_operator_errors_are_not() {
        let retryable = [
            ApiError::Timeout { seconds: 1 },
            ApiError::Network("reset".into()),
            ApiError::SimultaneousUse { msg: String::new() },
            ApiError::Forbidden { msg: String::new() },
            ApiError::Server { status: 502, body: String::new() },
            ApiError::Malformed { status: 200, reason: String::new() },
        ];
        let permanent = [
            ApiError::TokenLimit { msg: String::new() },
            ApiError::InvalidToken { status: 403, msg: String::new() },
            ApiError::UnknownReport { msg: String::new() },
            ApiError::BadRequest { status: 400, msg: String::new() },
        ];
        assert!(retryable.iter().all(ApiError::is_retryable));
        assert!(!permanent.iter().any(ApiError::is_retryable));
    }
}

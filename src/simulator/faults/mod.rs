//! What can go wrong between the daemon and wolkvox, on demand: the simulator's fault plan.
//!
//! The real API sits behind proxies and a maintenance switch, reports some failures inside a 200
//! envelope, and sends fields it never documented (chat_1's `date_close`); a value nobody can
//! parse or a missing field is only a matter of time. A
//! daemon that has only ever met a perfect server has never been tested against any of that, so
//! a [`FaultPlan`] makes the simulator misbehave in two independent ways:
//!
//! - **Request faults** ([`FaultKind`]): an accepted, valid request is answered with a fault
//!   instead, drawn from a seeded generator so a run is repeatable for the same request order.
//! - **Row faults** ([`damage_rows`]): a small, fixed share of rows carry an unknown field, miss a
//!   field or hold an unparseable value. This damage is a pure function of the plan's seed and
//!   the row, applied to served rows and to the ground truth alike, so the ground truth stays
//!   exactly what a correct daemon must store.
//!
//! The connection cut of [`FaultKind::ConnectionReset`] happens on the socket, in `wire`.
//!
//! A hostile or broken server's answers far larger than any real one ([`HugeAnswer`]: one huge
//! value in a row, one huge `msg`) are a switch of their own; they are streamed by `wire`
//! without ever being built in memory.
//!
//! The invariant it protects: no fault of the plan ever touches a row's key fields or the
//! report's timestamp field (windows filter on it), so damage never changes *which* rows a window
//! holds.
//!
//! Three more switches of the simulator's configuration go for the keys on purpose, each on its
//! own ([`placeholder_keys`], [`nul_values`], [`duplicate_keys`]): placeholder text in a key
//! field, NUL characters in values, and one key sent twice in one answer. They too pick rows by
//! the row's identity, so every answer holding a row treats it alike, and the ground truth shows
//! the same rows.
//!
//! This file holds the plan and the request faults; the row damage is in `damage.rs`, the key
//! faults in `keys.rs`.

mod damage;
mod keys;

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;

use crate::wolkvox::catalog::{FieldType, Report};
use crate::wolkvox::Row;

/// How a simulator run misbehaves. The default injects nothing.
#[derive(Clone, Debug, Default)]
pub struct FaultPlan {
    /// Probability (0.0..=1.0) that an accepted report request is answered with a fault instead.
    pub rate: f64,
    /// The kinds drawn from (uniformly); empty = no request faults.
    pub kinds: Vec<FaultKind>,
    /// Seed of the fault draws (deterministic sequence per simulator) and of the row damage.
    pub seed: u64,
    /// How long a `Slow` fault stalls before answering normally.
    pub slow: Duration,
    /// Deterministic row-level damage in served data (see [`damage_rows`]); also applied by
    /// `ground_truth`, so the ground truth is what the daemon should store.
    pub row_faults: bool,
}

impl FaultPlan {
    /// Parses a comma-separated list of kind names (`"http500,reset,slow"`); `transient` stands
    /// for every kind in [`FaultKind::TRANSIENT`]. Blank items are ignored.
    pub fn parse_kinds(list: &str) -> Result<Vec<FaultKind>, String> {
        let mut kinds = Vec::new();
        for name in list.split(',').map(str::trim).filter(|name| !name.is_empty()) {
            if name == "transient" {
                kinds.extend_from_slice(FaultKind::TRANSIENT);
                continue;
            }
            let kind = FaultKind::parse(name).ok_or_else(|| {
                let known: Vec<&str> = FaultKind::ALL.iter().map(|k| k.name()).collect();
                format!("unknown fault kind `{name}`; expected `transient` or one of: {}", known.join(", "))
            })?;
            kinds.push(kind);
        }
        Ok(kinds)
    }

    /// Whether any request can be answered with a fault.
    pub(crate) fn draws_requests(&self) -> bool {
        self.rate > 0.0 && !self.kinds.is_empty()
    }
}

/// An answer far larger than any real one, to every report request (after the checks): what a
/// compromised or broken server could send to exhaust the client's memory. The huge part is
/// `bytes` of `x`, streamed, never built in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HugeAnswer {
    /// Where the huge text goes.
    pub kind: HugeKind,
    /// Its length in bytes.
    pub bytes: usize,
}

/// Where a [`HugeAnswer`]'s text goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HugeKind {
    /// The normal 200 answer, its first row's first plain text field (see [`plant_huge`])
    /// holding the huge value. An empty window is answered as usual (404).
    Value,
    /// HTTP 200 whose envelope says 400 (`BAD REQUEST`, not retried) with the huge `msg`.
    ErrorIn200,
    /// HTTP 400 with the same envelope.
    Error400,
}

/// What [`plant_huge`] puts in the row, replaced by the huge value on the wire.
pub(crate) const HUGE_PLACEHOLDER: &str = "@@wolkvox-simulator-huge-value@@";

/// Marks where the huge value of [`HugeKind::Value`] goes: the first row's first text field that
/// is neither a key field nor the report's timestamp (chat_14: `source_url`). Returns the field.
pub fn plant_huge(report: &Report, rows: &mut [Row]) -> Option<&'static str> {
    let row = rows.first_mut()?;
    let field = report.fields.iter().find(|f| {
        f.ty == FieldType::Text
            && !report.key.contains(&f.name)
            && report.timestamp != Some(f.name)
            && row.contains_key(f.name)
    })?;
    row.insert(field.name.to_owned(), Value::String(HUGE_PLACEHOLDER.to_owned()));
    Some(field.name)
}

/// One way of answering a valid request wrongly. The bodies imitate what the real API, or the
/// proxy in front of it, sends (see `wolkvox-api.md` §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// HTTP 500 with a proxy's HTML page.
    Http500,
    /// HTTP 502 with a proxy's HTML page.
    Http502,
    /// HTTP 503 with a proxy's HTML page.
    Http503,
    /// The normal answer's headers, about half its body, then the connection closes: the client
    /// sees an error while reading the body.
    ConnectionReset,
    /// Stalls for [`FaultPlan::slow`] (longer than the client's timeout in tests), then answers
    /// normally.
    Slow,
    /// The normal status and headers with the body cut roughly in half: invalid JSON.
    TruncatedJson,
    /// The normal answer with the bytes `0xFF 0xFE` spliced into its `msg` string.
    InvalidUtf8,
    /// HTTP 200 whose envelope reports a failure: `{"code":"500","error":"INTERNAL SERVER
    /// ERROR",…,"data":[]}`.
    CodeNot200,
    /// 403 "EXCEEDS THE LIMIT OF SIMULTANEOUS REQUESTS PER TOKEN (2)" although the client did not
    /// overlap; not counted as a violation.
    SimultaneousUse,
    /// 403 with an HTML maintenance page (the real body is unknown); transient.
    Maintenance,
    /// 403 "TOKEN LIMIT EXCEEDED" although the quota is not used up.
    TokenLimit,
    /// 403 "PLEASE VALIDATE TOKEN" although the token is valid.
    InvalidToken,
}

impl FaultKind {
    /// The kinds a daemon should retry (later): everything but the two token verdicts.
    pub const TRANSIENT: &'static [FaultKind] = &[
        FaultKind::Http500,
        FaultKind::Http502,
        FaultKind::Http503,
        FaultKind::ConnectionReset,
        FaultKind::Slow,
        FaultKind::TruncatedJson,
        FaultKind::InvalidUtf8,
        FaultKind::CodeNot200,
        FaultKind::SimultaneousUse,
        FaultKind::Maintenance,
    ];

    /// Every kind, in declaration order.
    pub const ALL: &'static [FaultKind] = &[
        FaultKind::Http500,
        FaultKind::Http502,
        FaultKind::Http503,
        FaultKind::ConnectionReset,
        FaultKind::Slow,
        FaultKind::TruncatedJson,
        FaultKind::InvalidUtf8,
        FaultKind::CodeNot200,
        FaultKind::SimultaneousUse,
        FaultKind::Maintenance,
        FaultKind::TokenLimit,
        FaultKind::InvalidToken,
    ];

    /// The kind's snake_case name, as [`FaultKind::parse`] reads it.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Http500 => "http500",
            FaultKind::Http502 => "http502",
            FaultKind::Http503 => "http503",
            FaultKind::ConnectionReset => "reset",
            FaultKind::Slow => "slow",
            FaultKind::TruncatedJson => "truncated_json",
            FaultKind::InvalidUtf8 => "invalid_utf8",
            FaultKind::CodeNot200 => "code_not_200",
            FaultKind::SimultaneousUse => "simultaneous_use",
            FaultKind::Maintenance => "maintenance",
            FaultKind::TokenLimit => "token_limit",
            FaultKind::InvalidToken => "invalid_token",
        }
    }

    /// The kind named `name` (see [`FaultKind::name`]), if any.
    pub fn parse(name: &str) -> Option<FaultKind> {
        FaultKind::ALL.iter().copied().find(|kind| kind.name() == name)
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The seeded sequence of fault draws of one simulator.
pub(crate) struct FaultDraws {
    rng: Mutex<fastrand::Rng>,
}

impl FaultDraws {
    /// A fresh sequence for `plan`'s seed.
    pub(crate) fn new(plan: &FaultPlan) -> FaultDraws {
        FaultDraws { rng: Mutex::new(fastrand::Rng::with_seed(plan.seed)) }
    }

    /// The fault for the next accepted request, if any. Nothing is drawn when the plan cannot
    /// inject, so enabling faults never shifts anything else.
    pub(crate) fn next(&self, plan: &FaultPlan) -> Option<FaultKind> {
        if !plan.draws_requests() {
            return None;
        }
        // The generator is only ever advanced under the lock, so a panic cannot leave it torn.
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        // `f64()` is in [0, 1): a rate of 1 always injects, 0 never does.
        (rng.f64() < plan.rate).then(|| plan.kinds[rng.usize(..plan.kinds.len())])
    }
}

/// A proxy's HTML error page for `status` (`"502 Bad Gateway"`), as nginx would send it.
pub(crate) fn proxy_page(status: &str) -> String {
    format!(
        "<html><head><title>{status}</title></head><body><h1>{status}</h1><hr><center>nginx</center></body></html>\n"
    )
}

/// The HTML page answered during maintenance; the real body is unknown (only the 403 is).
pub(crate) const MAINTENANCE_PAGE: &str = "<html><head><title>wolkvox - Mantenimiento</title></head><body>\
<h1>Estamos en mantenimiento</h1><p>We are performing scheduled maintenance. Please try again later.</p>\
</body></html>\n";

/// `body` with the invalid UTF-8 bytes `0xFF 0xFE` inside its `msg` string (or in the middle when
/// it has none), so a lenient decoder can still read the rest.
pub(crate) fn splice_invalid_utf8(body: &[u8]) -> Vec<u8> {
    const MSG: &[u8] = b"\"msg\":\"";
    let at = body.windows(MSG.len()).position(|w| w == MSG).map_or(body.len() / 2, |i| i + MSG.len());
    let mut out = Vec::with_capacity(body.len() + 2);
    out.extend_from_slice(&body[..at]);
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&body[at..]);
    out
}

pub use damage::{damage_rows, EXTRA_FIELD};
pub use keys::{duplicate_keys, nul_values, placeholder_keys};

#[cfg(test)]
mod tests;

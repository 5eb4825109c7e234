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

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;

use super::data::{mix, name_salt};
use crate::wolkvox::catalog::{self, DataShape, FieldType, Grain, Report};
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

// ---------------------------------------------------------------------------------------------
// Row damage.

/// Share of rows, in per mille, given each kind of damage (an extra field, a missing field, a
/// malformed value): about 2% each, never two on one row.
const DAMAGE_PER_MILLE: u64 = 20;
/// The undocumented field added to damaged rows.
pub const EXTRA_FIELD: &str = "x_new_field";

/// Applies the plan's row damage to `rows` of `report`, as served (cdr_4: the bucket object's
/// rows; nested reports: the parent's own fields).
///
/// Which rows are damaged, and how, is a pure function of `seed` and the row: for event reports
/// with an id, of its key fields, so a row keeps the same damage when it changes later (late
/// typification); otherwise of its whole content. About 2% of rows get [`EXTRA_FIELD`], about 2%
/// lose one field and about 2% get one value malformed (`"abc"` for a count, `"2026-13-45
/// 99:00:00"` for a datetime, `"n/a %"` for a percent…). Key fields and the report's timestamp
/// field are never touched, and neither is a row of a report not in the catalogue.
pub fn damage_rows(api: &str, seed: u64, rows: &mut [Row]) {
    let Some(report) = catalog::find(api) else {
        return;
    };
    for row in rows {
        if report.data_shape == DataShape::BucketObject {
            for (bucket, value) in row.iter_mut() {
                if let Value::Object(inner) = value {
                    damage_row(report, mix(seed ^ name_salt(bucket)), inner);
                }
            }
        } else {
            damage_row(report, seed, row);
        }
    }
}

/// The damage done to one row, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Damage {
    Extra,
    Missing,
    Malformed,
}

fn damage_row(report: &Report, seed: u64, row: &mut Row) {
    let h = mix(seed ^ row_identity(report, row));
    let damage = match h % 1000 {
        x if x < DAMAGE_PER_MILLE => Damage::Extra,
        x if x < 2 * DAMAGE_PER_MILLE => Damage::Missing,
        x if x < 3 * DAMAGE_PER_MILLE => Damage::Malformed,
        _ => return,
    };
    let pick = mix(h);
    if damage == Damage::Extra {
        row.insert(EXTRA_FIELD.to_owned(), Value::String(format!("sim-{:08x}", pick & 0xffff_ffff)));
        return;
    }
    let candidates: Vec<(&String, FieldType)> = row
        .iter()
        .filter(|(_, value)| value.is_string())
        .filter_map(|(name, _)| Some((name, damageable(report, name.trim())?)))
        .filter(|(_, ty)| damage == Damage::Missing || malformed(*ty).is_some())
        .collect();
    if candidates.is_empty() {
        return;
    }
    let (name, ty) = candidates[(pick % candidates.len() as u64) as usize];
    let name = name.clone();
    match malformed(ty).filter(|_| damage == Damage::Malformed) {
        Some(bad) => {
            row.insert(name, Value::String(bad.to_owned()));
        }
        None => {
            row.remove(&name);
        }
    }
}

/// What identifies a row for its damage draw (see [`damage_rows`]).
fn row_identity(report: &Report, row: &Row) -> u64 {
    let keys: Vec<&str> = report.key.iter().filter_map(|k| row.get(*k)?.as_str()).collect();
    if matches!(report.grain, Grain::Event | Grain::DatedAggregate) && !keys.is_empty() {
        keys.iter().fold(name_salt(report.api), |h, value| mix(h ^ name_salt(value)))
    } else {
        mix(name_salt(report.api) ^ name_salt(&catalog::row_hash(row)))
    }
}

// ---------------------------------------------------------------------------------------------
// Key faults.

/// Whether the row is one of about one in `every` that fault `salt` picks: a pure function of
/// the row's identity, so every answer holding the row picks it alike.
fn picked(report: &Report, row: &Row, every: usize, salt: &str) -> bool {
    every > 0 && mix(row_identity(report, row) ^ name_salt(salt)).is_multiple_of(every as u64)
}

/// About one row in `every` gets a placeholder (`""`, `" "` or `"-"`, in turn by the row) in one
/// of its text key fields, the way the real API sends a call without an agent. Such a row still
/// has a key, and a correct client stores it under that literal text. Reports whose `data` is an
/// object keyed by bucket (cdr_4) are left alone.
pub fn placeholder_keys(api: &str, every: usize, rows: &mut [Row]) {
    const PLACEHOLDERS: [&str; 3] = ["", " ", "-"];
    let Some(report) = catalog::find(api).filter(|r| r.data_shape != DataShape::BucketObject) else {
        return;
    };
    for row in rows.iter_mut().filter(|row| picked(report, row, every, "placeholder")) {
        let h = mix(row_identity(report, row));
        let text_keys: Vec<&str> = report
            .key
            .iter()
            .copied()
            .filter(|k| !report.is_synthetic(k) && report.field(k).is_some_and(|f| f.ty == FieldType::Text))
            .filter(|k| row.get(*k).is_some_and(Value::is_string))
            .collect();
        if text_keys.is_empty() {
            continue;
        }
        let name = text_keys[(h % text_keys.len() as u64) as usize];
        let placeholder = PLACEHOLDERS[(mix(h) % PLACEHOLDERS.len() as u64) as usize];
        row.insert(name.to_owned(), Value::String(placeholder.to_owned()));
    }
}

/// About one row in `every` carries a NUL character (`\u0000`) in the middle of one of its
/// string values (any field: key, timestamp or other). With the NUL removed the row is exactly
/// what it was, which is what a correct client stores.
pub fn nul_values(api: &str, every: usize, rows: &mut [Row]) {
    let Some(report) = catalog::find(api).filter(|r| r.data_shape != DataShape::BucketObject) else {
        return;
    };
    for row in rows.iter_mut().filter(|row| picked(report, row, every, "nul")) {
        let h = mix(row_identity(report, row));
        let strings: Vec<String> = row.iter().filter(|(_, v)| v.is_string()).map(|(k, _)| k.clone()).collect();
        if strings.is_empty() {
            continue;
        }
        if let Some(Value::String(text)) = row.get_mut(&strings[(h % strings.len() as u64) as usize]) {
            let middle = text.char_indices().nth(text.chars().count() / 2).map_or(text.len(), |(at, _)| at);
            text.insert(middle, '\0');
        }
    }
}

/// About one row in `every` is sent a second time, at the end of the same answer, under the same
/// key with one text value changed (` (copy)` appended to a field that is not the key or the
/// timestamp; an identical copy when there is none). A correct client keeps the last copy.
pub fn duplicate_keys(api: &str, every: usize, rows: &mut Vec<Row>) {
    let Some(report) = catalog::find(api).filter(|r| r.data_shape != DataShape::BucketObject) else {
        return;
    };
    let mut copies = Vec::new();
    for row in rows.iter().filter(|row| picked(report, row, every, "duplicate")) {
        let mut copy = row.clone();
        let h = mix(row_identity(report, row));
        let changeable: Vec<String> = copy
            .iter()
            .filter(|(name, value)| value.is_string() && damageable(report, name.trim()) == Some(FieldType::Text))
            .map(|(name, _)| name.clone())
            .collect();
        if !changeable.is_empty() {
            if let Some(Value::String(text)) = copy.get_mut(&changeable[(h % changeable.len() as u64) as usize]) {
                text.push_str(" (copy)");
            }
        }
        copies.push(copy);
    }
    rows.extend(copies);
}

/// The type of `name` when it is a field damage may touch: a catalogued field, not synthetic,
/// not part of the key and not the report's timestamp.
fn damageable(report: &Report, name: &str) -> Option<FieldType> {
    let field = report.field(name)?;
    let protected = report.key.contains(&name) || report.timestamp == Some(name) || report.is_synthetic(name);
    (!protected).then_some(field.ty)
}

/// An unparseable value of type `ty`; free text cannot be malformed.
fn malformed(ty: FieldType) -> Option<&'static str> {
    Some(match ty {
        FieldType::Text => return None,
        FieldType::Integer | FieldType::Decimal | FieldType::Duration => "abc",
        FieldType::Percent => "n/a %",
        FieldType::Boolean => "maybe",
        FieldType::Timestamp => "2026-13-45 99:00:00",
        FieldType::Date => "2026-13-45",
        FieldType::Time => "99:99",
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{NaiveDateTime, TimeZone};
    use serde_json::json;

    use super::super::{data, Simulator, SimulatorConfig};
    use super::*;
    use crate::clock::Clock;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    /// 12:00 in Bogotá, two hours after the window the tests ask for: its rows are all visible.
    fn noon() -> Clock {
        Clock::manual(chrono_tz::America::Bogota.from_local_datetime(&at("2026-03-10 12:00:00")).unwrap().to_utc())
    }

    const WINDOW: &str = "api=chat_14&date_ini=20260310100000&date_end=20260310105959";

    fn plan(kinds: &[FaultKind], rate: f64) -> FaultPlan {
        FaultPlan { rate, kinds: kinds.to_vec(), seed: 7, slow: Duration::from_millis(400), row_faults: false }
    }

    async fn start(faults: FaultPlan) -> Simulator {
        let config = SimulatorConfig { latency: Duration::ZERO, faults, ..SimulatorConfig::default() };
        Simulator::start(config, noon(), "127.0.0.1:0".parse().unwrap()).await.unwrap()
    }

    /// A simulator that answers every valid request with `kind`.
    async fn always(kind: FaultKind) -> Simulator {
        start(plan(&[kind], 1.0)).await
    }

    async fn send(client: &reqwest::Client, sim: &Simulator, token: &str, query: &str) -> reqwest::Result<Reply> {
        let url = format!("{}reports_manager.php?{query}", sim.base_url());
        let response = client.get(url).header("wolkvox-token", token).send().await?;
        let status = response.status().as_u16();
        let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
        let body = response.bytes().await?.to_vec();
        Ok(Reply { status, content_type, body })
    }

    /// What a plain client gets for the test window on token `t`.
    async fn get(sim: &Simulator) -> Reply {
        send(&reqwest::Client::new(), sim, "t", WINDOW).await.unwrap()
    }

    #[derive(Debug, PartialEq, Eq)]
    struct Reply {
        status: u16,
        content_type: String,
        body: Vec<u8>,
    }

    impl Reply {
        fn json(&self) -> Value {
            serde_json::from_slice(&self.body).unwrap()
        }

        fn text(&self) -> &str {
            std::str::from_utf8(&self.body).unwrap()
        }
    }

    /// The fault-free answer to the test window.
    async fn clean() -> Reply {
        let sim = start(FaultPlan::default()).await;
        let reply = get(&sim).await;
        assert_eq!(reply.status, 200);
        reply
    }

    #[test]
    fn every_kind_parses_from_its_name_and_lists_parse_with_transient_as_a_group() {
        for kind in FaultKind::ALL {
            assert_eq!(FaultKind::parse(kind.name()), Some(*kind));
            assert_eq!(kind.to_string(), kind.name());
        }
        assert_eq!(FaultKind::parse("reset"), Some(FaultKind::ConnectionReset));
        assert_eq!(FaultKind::parse("Reset"), None);
        assert_eq!(
            FaultPlan::parse_kinds(" http500, reset,slow,"),
            Ok(vec![FaultKind::Http500, FaultKind::ConnectionReset, FaultKind::Slow])
        );
        assert_eq!(FaultPlan::parse_kinds("transient").unwrap(), FaultKind::TRANSIENT);
        assert_eq!(FaultPlan::parse_kinds(""), Ok(Vec::new()));
        let error = FaultPlan::parse_kinds("http500,http504").unwrap_err();
        assert!(error.contains("`http504`") && error.contains("token_limit"), "{error}");
        assert!(!FaultKind::TRANSIENT.contains(&FaultKind::TokenLimit));
        assert!(!FaultKind::TRANSIENT.contains(&FaultKind::InvalidToken));
    }

    #[tokio::test]
    async fn a_zero_rate_injects_nothing_even_with_every_kind() {
        let sim = start(plan(FaultKind::ALL, 0.0)).await;
        let expected = clean().await;
        for _ in 0..10 {
            assert_eq!(get(&sim).await, expected);
        }
        assert_eq!(sim.stats().faults_injected, 0);
    }

    #[tokio::test]
    async fn a_rate_of_one_injects_into_every_accepted_request_and_faults_injected_counts_them() {
        let sim = always(FaultKind::Http503).await;
        for _ in 0..5 {
            assert_eq!(get(&sim).await.status, 503);
        }
        // Refused requests draw nothing: their refusal is the client's own doing.
        let refused = send(&reqwest::Client::new(), &sim, "t", "api=chat_99").await.unwrap();
        assert_eq!(refused.status, 400);
        let stats = sim.stats();
        assert_eq!((stats.requests, stats.faults_injected, stats.rows_served), (6, 5, 0));
    }

    #[tokio::test]
    async fn the_draws_are_the_same_for_the_same_seed_and_differ_for_another() {
        let kinds = [FaultKind::Http500, FaultKind::Http502, FaultKind::CodeNot200, FaultKind::TokenLimit];
        let run = |seed| async move {
            let sim = start(FaultPlan { seed, ..plan(&kinds, 0.5) }).await;
            let mut replies = Vec::new();
            for _ in 0..24 {
                let reply = get(&sim).await;
                replies.push((reply.status, reply.body.len()));
            }
            (replies, sim.stats().faults_injected)
        };
        let (first, injected) = run(7).await;
        assert_eq!(run(7).await, (first.clone(), injected));
        assert!((4..=20).contains(&injected), "{injected} of 24 at a rate of 0.5");
        assert_ne!(run(8).await.0, first);
    }

    #[tokio::test]
    async fn http_5xx_faults_answer_a_proxy_html_page_with_their_status() {
        for (kind, status, title) in [
            (FaultKind::Http500, 500, "500 Internal Server Error"),
            (FaultKind::Http502, 502, "502 Bad Gateway"),
            (FaultKind::Http503, 503, "503 Service Unavailable"),
        ] {
            let reply = get(&always(kind).await).await;
            assert_eq!(reply.status, status);
            assert!(reply.content_type.starts_with("text/html"), "{}", reply.content_type);
            assert!(reply.text().starts_with("<html>") && reply.text().contains(&format!("<h1>{title}</h1>")));
            assert!(serde_json::from_slice::<Value>(&reply.body).is_err());
        }
    }

    #[tokio::test]
    async fn a_connection_reset_sends_the_headers_then_fails_the_body_and_frees_the_token() {
        let sim = always(FaultKind::ConnectionReset).await;
        let client = reqwest::Client::new();
        for _ in 0..2 {
            let url = format!("{}reports_manager.php?{WINDOW}", sim.base_url());
            let response = client.get(url).header("wolkvox-token", "t").send().await.unwrap();
            assert_eq!(response.status().as_u16(), 200);
            assert_eq!(response.headers()["content-type"], "application/json");
            let error = response.bytes().await.unwrap_err();
            assert!(error.is_body() || error.is_decode(), "{error:?}");
        }
        // The second request on the same token was not an overlap: the cut released it.
        let stats = sim.stats();
        assert_eq!((stats.faults_injected, stats.simultaneous_violations, stats.rows_served), (2, 0, 0));
    }

    #[tokio::test]
    async fn a_slow_answer_times_out_a_shorter_client_timeout_keeps_the_token_busy_and_is_normal_otherwise() {
        let sim = always(FaultKind::Slow).await;
        let impatient = reqwest::Client::builder().timeout(Duration::from_millis(100)).build().unwrap();
        let error = send(&impatient, &sim, "t", WINDOW).await.unwrap_err();
        assert!(error.is_timeout(), "{error:?}");
        // The server has not noticed that the client left: the token stays busy until the
        // stall ends, so an immediate retry on it is a real overlap.
        let retry = send(&reqwest::Client::new(), &sim, "t", WINDOW).await.unwrap();
        assert_eq!((retry.status, sim.stats().simultaneous_violations), (403, 1));

        let patient = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
        let started = std::time::Instant::now();
        let reply = send(&patient, &sim, "other", WINDOW).await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(400));
        assert_eq!(reply, clean().await);
        assert_eq!(sim.stats().faults_injected, 2);
    }

    #[tokio::test]
    async fn a_slow_answer_keeps_its_token_busy_while_it_stalls() {
        let sim = start(plan(&[FaultKind::Slow], 1.0)).await;
        let (slow, overlapping) = tokio::join!(get(&sim), async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            get(&sim).await
        });
        assert_eq!(slow.status, 200);
        assert_eq!(overlapping.status, 403);
        let stats = sim.stats();
        assert_eq!((stats.simultaneous_violations, stats.faults_injected), (1, 1), "a real overlap counts");
    }

    #[tokio::test]
    async fn truncated_json_is_the_first_half_of_the_normal_body_with_a_200() {
        let reply = get(&always(FaultKind::TruncatedJson).await).await;
        let clean = clean().await;
        assert_eq!((reply.status, reply.content_type.as_str()), (200, "application/json"));
        assert_eq!(reply.body, clean.body[..clean.body.len() / 2]);
        assert!(serde_json::from_slice::<Value>(&reply.body).is_err());
    }

    #[tokio::test]
    async fn invalid_utf8_splices_ff_fe_into_the_msg_of_the_normal_body() {
        let reply = get(&always(FaultKind::InvalidUtf8).await).await;
        assert_eq!((reply.status, reply.content_type.as_str()), (200, "application/json"));
        assert!(std::str::from_utf8(&reply.body).is_err());
        assert!(reply.body.windows(2).any(|w| w == [0xFF, 0xFE]));
        assert!(serde_json::from_slice::<Value>(&reply.body).is_err());
        // Everything else is intact: a lossy decode gives the normal envelope with a damaged msg.
        let lossy: Value = serde_json::from_str(&String::from_utf8_lossy(&reply.body)).unwrap();
        let clean = clean().await.json();
        assert_eq!(lossy["data"], clean["data"]);
        assert_eq!(lossy["msg"], format!("\u{FFFD}\u{FFFD}{}", clean["msg"].as_str().unwrap()));
    }

    #[tokio::test]
    async fn code_not_200_answers_a_failure_envelope_inside_an_http_200() {
        let reply = get(&always(FaultKind::CodeNot200).await).await;
        assert_eq!((reply.status, reply.content_type.as_str()), (200, "application/json"));
        assert_eq!(
            reply.json(),
            json!({
                "code": "500",
                "error": "INTERNAL SERVER ERROR",
                "msg": "AN INTERNAL ERROR HAS OCCURRED, PLEASE TRY AGAIN LATER",
                "data": []
            })
        );
    }

    #[tokio::test]
    async fn an_injected_simultaneous_use_refusal_is_not_counted_as_a_violation() {
        let sim = always(FaultKind::SimultaneousUse).await;
        for _ in 0..3 {
            let reply = get(&sim).await;
            assert_eq!(reply.status, 403);
            assert_eq!(
                reply.json(),
                json!({"code": 403, "error": "FORBIDDEN", "msg": "EXCEEDS THE LIMIT OF SIMULTANEOUS REQUESTS PER TOKEN (2)"})
            );
        }
        let stats = sim.stats();
        assert_eq!((stats.simultaneous_violations, stats.faults_injected), (0, 3));
    }

    #[tokio::test]
    async fn maintenance_answers_a_403_with_an_html_page() {
        let reply = get(&always(FaultKind::Maintenance).await).await;
        assert_eq!(reply.status, 403);
        assert!(reply.content_type.starts_with("text/html"));
        assert!(reply.text().starts_with("<html>") && reply.text().contains("mantenimiento"));
    }

    #[tokio::test]
    async fn token_limit_and_invalid_token_answer_the_real_apis_403_refusals() {
        for (kind, msg) in
            [(FaultKind::TokenLimit, "TOKEN LIMIT EXCEEDED"), (FaultKind::InvalidToken, "PLEASE VALIDATE TOKEN")]
        {
            let reply = get(&always(kind).await).await;
            assert_eq!((reply.status, reply.content_type.as_str()), (403, "application/json"));
            assert_eq!(reply.json(), json!({"code": 403, "error": "FORBIDDEN", "msg": msg}));
        }
    }

    // -- Row faults ---------------------------------------------------------------------------

    /// How `damaged` differs from `clean`: the added, missing and changed field names.
    fn diff(clean: &Row, damaged: &Row) -> (Vec<String>, Vec<String>, Vec<String>) {
        let added = damaged.keys().filter(|k| !clean.contains_key(*k)).cloned().collect();
        let missing = clean.keys().filter(|k| !damaged.contains_key(*k)).cloned().collect();
        let changed = clean.iter().filter(|(k, v)| damaged.get(*k).is_some_and(|d| d != *v)).map(|(k, _)| k.clone());
        (added, missing, changed.collect())
    }

    /// The busy day of each report in `reports`, settled, with default parameters, as
    /// (report, clean rows, damaged rows).
    fn busy_day<'a>(
        reports: impl IntoIterator<Item = &'a &'static Report>,
        seed: u64,
    ) -> Vec<(&'static Report, Vec<Row>, Vec<Row>)> {
        let (from, to, now) = (at("2026-03-10 00:00:00"), at("2026-03-10 23:59:59"), at("2026-03-12 00:00:00"));
        reports
            .into_iter()
            .map(|report| {
                let clean = data::report_rows(report.api, 42, 120, from, to, now);
                let mut damaged = clean.clone();
                damage_rows(report.api, seed, &mut damaged);
                (*report, clean, damaged)
            })
            .collect()
    }

    /// The rows the daemon gets out of `rows`: cdr_4's buckets one by one, else the rows.
    fn unit_rows<'a>(report: &Report, rows: &'a [Row]) -> Vec<&'a Row> {
        if report.data_shape != DataShape::BucketObject {
            return rows.iter().collect();
        }
        rows.iter().flat_map(|row| row.values().filter_map(Value::as_object)).collect()
    }

    #[test]
    fn row_faults_add_drop_and_malform_a_few_fields_but_never_a_key_or_the_timestamp() {
        let mut counts = BTreeMap::from([("extra", 0), ("missing", 0), ("malformed", 0), ("intact", 0)]);
        for (report, clean, damaged) in busy_day(catalog::all(), 7) {
            assert_eq!(clean.len(), damaged.len(), "{}", report.api);
            for (c, d) in unit_rows(report, &clean).into_iter().zip(unit_rows(report, &damaged)) {
                let (added, missing, changed) = diff(c, d);
                let touched: Vec<&String> = added.iter().chain(&missing).chain(&changed).collect();
                for name in &touched {
                    let name = name.trim();
                    assert!(!report.key.contains(&name), "{}: key {name} damaged", report.api);
                    assert_ne!(report.timestamp, Some(name), "{}: timestamp damaged", report.api);
                }
                let kind = match (added.as_slice(), missing.len(), changed.as_slice()) {
                    ([], 0, []) => "intact",
                    ([extra], 0, []) if extra == EXTRA_FIELD => "extra",
                    ([], 1, []) => "missing",
                    ([], 0, [name]) => {
                        let value = d[name].as_str().unwrap();
                        assert!(
                            ["abc", "n/a %", "maybe", "2026-13-45 99:00:00", "2026-13-45", "99:99"].contains(&value)
                        );
                        "malformed"
                    }
                    _ => panic!("{}: more than one damage in {d:?}", report.api),
                };
                *counts.get_mut(kind).unwrap() += 1;
            }
        }
        let total: i32 = counts.values().sum();
        for kind in ["extra", "missing", "malformed"] {
            let share = f64::from(counts[kind]) / f64::from(total);
            assert!((0.005..0.04).contains(&share), "{kind}: {share} of {total} rows ({counts:?})");
        }
    }

    #[test]
    fn row_damage_is_a_fixed_fact_of_the_seed_and_the_row() {
        let reports: Vec<&'static Report> =
            ["chat_14", "cdr_1", "agent_1", "cdr_4", "agent_5"].iter().filter_map(|api| catalog::find(api)).collect();
        let damaged = |seed| busy_day(&reports, seed).into_iter().map(|(_, _, d)| d).collect::<Vec<_>>();
        assert_eq!(damaged(7), damaged(7));
        assert_ne!(damaged(7), damaged(8));
    }

    #[test]
    fn an_event_rows_damage_stays_the_same_when_the_row_changes_later() {
        // chat_14 rows gain their typification minutes after they appear.
        let (from, to) = (at("2026-03-10 09:00:00"), at("2026-03-10 11:59:59"));
        let damaged_at = |now| {
            let mut rows = data::chat_14_rows(42, 600, from, to, at(now));
            damage_rows("chat_14", 7, &mut rows);
            rows.into_iter().map(|row| (row["chat_id"].as_str().unwrap().to_owned(), row)).collect::<BTreeMap<_, _>>()
        };
        let early = damaged_at("2026-03-10 12:00:00");
        let late = damaged_at("2026-03-11 00:00:00");
        let mut compared = 0;
        for (id, row) in &early {
            let shape = |row: &Row| (row.contains_key(EXTRA_FIELD), row.len());
            assert_eq!(shape(row), shape(&late[id]), "chat {id}");
            compared += usize::from(row != &late[id]);
        }
        assert!(compared > 0, "some rows must have changed in between");
    }

    /// A settled day of `api`, as served without faults.
    fn settled_day(api: &str) -> Vec<Row> {
        let (from, to, now) = (at("2026-03-10 00:00:00"), at("2026-03-10 23:59:59"), at("2026-03-12 00:00:00"));
        data::report_rows(api, 42, 120, from, to, now)
    }

    #[test]
    fn placeholder_keys_put_empty_blank_or_dash_in_a_text_key_of_about_one_row_in_n() {
        for (api, text_keys) in [("chat_14", &["chat_id"][..]), ("cdr_1", &["conn_id", "agent_id"][..])] {
            let clean = settled_day(api);
            let mut rows = clean.clone();
            placeholder_keys(api, 10, &mut rows);
            let mut seen = BTreeMap::new();
            for (c, d) in clean.iter().zip(&rows) {
                let (added, missing, changed) = diff(c, d);
                assert!(added.is_empty() && missing.is_empty() && changed.len() <= 1, "{api}: {d:?}");
                if let [name] = changed.as_slice() {
                    assert!(text_keys.contains(&name.as_str()), "{api}: {name} is a text key");
                    *seen.entry(d[name].as_str().unwrap().to_owned()).or_insert(0) += 1;
                }
            }
            let total: usize = seen.values().sum();
            assert!((clean.len() / 20..clean.len() / 5).contains(&total), "{api}: {total} of {}", clean.len());
            assert_eq!(seen.keys().cloned().collect::<Vec<_>>(), ["", " ", "-"], "{api}: all three placeholders");
        }
    }

    #[test]
    fn nul_values_hide_one_nul_in_about_one_row_in_n_and_nothing_else() {
        let clean = settled_day("chat_14");
        let mut rows = clean.clone();
        nul_values("chat_14", 10, &mut rows);
        let mut with_nul = 0;
        for (c, d) in clean.iter().zip(&rows) {
            let text = serde_json::to_string(d).unwrap();
            let nuls = text.matches("\\u0000").count();
            assert!(nuls <= 1);
            with_nul += nuls;
            let mut stripped = Value::Object(d.clone());
            crate::wolkvox::values::remove_nul(&mut stripped);
            assert_eq!(&stripped, &Value::Object(c.clone()), "without the NUL the row is intact");
        }
        assert!((clean.len() / 20..clean.len() / 5).contains(&with_nul), "{with_nul} of {}", clean.len());
    }

    #[test]
    fn duplicate_keys_append_a_changed_copy_of_about_one_row_in_n_picked_alike_in_every_answer() {
        let report = catalog::find("chat_14").unwrap();
        let key = |row: &Row| (row["chat_id"].clone(), row["date"].clone());
        let clean = settled_day("chat_14");
        let mut rows = clean.clone();
        duplicate_keys("chat_14", 10, &mut rows);
        assert_eq!(&rows[..clean.len()], &clean[..], "the originals come first, untouched");
        let copies = &rows[clean.len()..];
        assert!((clean.len() / 20..clean.len() / 5).contains(&copies.len()), "{} of {}", copies.len(), clean.len());
        for copy in copies {
            let original = clean.iter().find(|row| key(row) == key(copy)).expect("a copy of a served row");
            let (added, missing, changed) = diff(original, copy);
            assert!(added.is_empty() && missing.is_empty(), "{copy:?}");
            let [name] = changed.as_slice() else { panic!("one value changed: {copy:?}") };
            assert!(copy[name].as_str().unwrap().ends_with(" (copy)") && !report.key.contains(&name.as_str()));
        }
        // An answer for a part of the day copies the same rows.
        let part: Vec<Row> = clean.iter().skip(100).take(500).cloned().collect();
        let mut part_rows = part.clone();
        duplicate_keys("chat_14", 10, &mut part_rows);
        let in_part = |row: &&Row| part.iter().any(|p| key(p) == key(row));
        assert_eq!(part_rows[part.len()..].to_vec(), copies.iter().filter(in_part).cloned().collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn with_row_faults_every_report_serves_exactly_its_ground_truth() {
        let clock =
            Clock::manual(chrono_tz::America::Bogota.from_local_datetime(&at("2026-03-12 00:00:00")).unwrap().to_utc());
        let faults = FaultPlan { row_faults: true, ..plan(&[], 0.0) };
        let config = SimulatorConfig { latency: Duration::ZERO, faults, ..SimulatorConfig::default() };
        let sim = Simulator::start(config, clock, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let client = reqwest::Client::new();
        let mut damaged = 0;
        for report in catalog::all() {
            let params: Vec<(&str, &str)> =
                report.params.iter().map(|(n, d)| (*n, if d.is_empty() { "12523" } else { *d })).collect();
            let mut query = format!("api={}&date_ini=20260310000000&date_end=20260310235959", report.api);
            for (name, value) in &params {
                query.push_str(&format!("&{name}={value}"));
            }
            let reply = send(&client, &sim, "t", &query).await.unwrap();
            assert_eq!(reply.status, 200, "{}", report.api);
            let (from, to) = (at("2026-03-10 00:00:00"), at("2026-03-10 23:59:59"));
            let truth = sim.ground_truth_with(report.api, &params, from, to);
            let data = match report.data_shape {
                DataShape::Array => json!(truth),
                DataShape::BucketObject => json!(truth[0]),
            };
            assert_eq!(reply.json()["data"], data, "{}", report.api);
            damaged += unit_rows(report, &truth).iter().filter(|row| row.contains_key(EXTRA_FIELD)).count();
            if report.api == "chat_14" {
                assert_eq!(sim.ground_truth(report.api, from, to), truth, "ground_truth uses the defaults");
            }
        }
        assert!(damaged > 0, "the served ground truth carries damage");
    }
}

//! What can go wrong between the daemon and wolkvox, on demand: the simulator's fault plan.
//!
//! The real API sits behind proxies and a maintenance switch, answers some failures inside a 200,
//! and occasionally sends rows with fields it never documented or values nobody can parse. A
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
//! It also owns [`CuttingListener`], the listener that lets a handler cut its own connection in
//! the middle of the body ([`FaultKind::ConnectionReset`]): axum offers no way to fail a response
//! after its headers are sent, so the cut happens one level down, on the socket.
//!
//! The invariant it protects: no fault ever touches a row's key fields or the report's timestamp
//! field (windows filter on it), so damage never changes *which* rows a window holds.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::data::{mix, name_salt, Row};
use crate::wolkvox::catalog::{self, DataShape, FieldType, Grain, Report};

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
    if report.grain == Grain::Event && !keys.is_empty() {
        keys.iter().fold(name_salt(report.api), |h, value| mix(h ^ name_salt(value)))
    } else {
        mix(name_salt(report.api) ^ name_salt(&catalog::row_hash(row)))
    }
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

// ---------------------------------------------------------------------------------------------
// Cutting a connection mid-body.

/// A TCP listener whose connections a handler can cut after the headers and part of the body.
pub(crate) struct CuttingListener(pub(crate) TcpListener);

impl Listener for CuttingListener {
    type Io = WiredStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (WiredStream, SocketAddr) {
        let (stream, addr) = Listener::accept(&mut self.0).await;
        (WiredStream { inner: stream, wire: Wire::default() }, addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// A handler's handle on its own connection, handed over as `ConnectInfo<Wire>`.
#[derive(Clone, Default)]
pub(crate) struct Wire(Arc<Mutex<Option<Cut>>>);

impl Connected<IncomingStream<'_, CuttingListener>> for Wire {
    fn connect_info(stream: IncomingStream<'_, CuttingListener>) -> Wire {
        stream.io().wire.clone()
    }
}

impl Wire {
    /// Arms the cut for the response about to be written on this connection: its headers and
    /// the first `body_bytes` of its body go out, then the connection fails. `hold` (the token's
    /// in-flight marker) lives until the cut, so the token stays busy while the body is sent.
    ///
    /// HTTP/1 answers one request at a time per connection, so the next bytes written are that
    /// response's.
    pub(crate) fn cut_after(&self, body_bytes: usize, hold: Box<dyn Send>) {
        *self.lock() = Some(Cut { body_bytes, written: 0, header_end: None, tail: Vec::new(), _hold: hold });
    }

    fn lock(&self) -> MutexGuard<'_, Option<Cut>> {
        // Every update leaves the cut consistent, so a poisoned lock is still usable.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An armed cut: how far into the response it has got.
struct Cut {
    body_bytes: usize,
    /// Response bytes written since the cut was armed.
    written: usize,
    /// Where the header block ends (just past `\r\n\r\n`), once written.
    header_end: Option<usize>,
    /// The last (up to 3) bytes written before the header end was found, for a `\r\n\r\n`
    /// split across writes.
    tail: Vec<u8>,
    _hold: Box<dyn Send>,
}

impl Cut {
    /// Where the header block ends if `buf` is written next, in response bytes.
    fn header_end_with(&self, buf: &[u8]) -> Option<usize> {
        if let Some(end) = self.header_end {
            return Some(end);
        }
        let mut seen = self.tail.clone();
        seen.extend_from_slice(&buf[..buf.len().min(4)]);
        let straddling = seen.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4 - self.tail.len());
        let within = || buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
        straddling.or_else(within).map(|in_buf| self.written + in_buf)
    }

    /// How many bytes of `buf` may still be written; 0 once the cut point is reached.
    fn allowance(&self, buf: &[u8]) -> usize {
        match self.header_end_with(buf) {
            Some(end) => (end + self.body_bytes).saturating_sub(self.written).min(buf.len()),
            None => buf.len(),
        }
    }

    /// Records that `buf` was written.
    fn advance(&mut self, buf: &[u8]) {
        self.header_end = self.header_end_with(buf).filter(|end| *end <= self.written + buf.len());
        self.written += buf.len();
        if self.header_end.is_none() {
            self.tail.extend_from_slice(buf);
            let excess = self.tail.len().saturating_sub(3);
            self.tail.drain(..excess);
        }
    }
}

/// A server-side TCP stream that fails its writes once an armed [`Wire`] cut is reached.
pub(crate) struct WiredStream {
    inner: TcpStream,
    wire: Wire,
}

impl AsyncRead for WiredStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for WiredStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let mut cut = this.wire.lock();
        let Some(armed) = cut.as_mut() else {
            drop(cut);
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        };
        let allowed = armed.allowance(buf);
        if allowed == 0 && !buf.is_empty() {
            // Dropping the cut releases what it held; hyper drops the connection on this error.
            *cut = None;
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::ConnectionReset, "simulated connection reset")));
        }
        let written = Pin::new(&mut this.inner).poll_write(cx, &buf[..allowed]);
        if let Poll::Ready(Ok(n)) = written {
            armed.advance(&buf[..n]);
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

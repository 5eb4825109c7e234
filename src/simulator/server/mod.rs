//! The simulator's HTTP side: `GET /api/v2/reports_manager.php` with the real API's checks,
//! limits and envelopes, and `GET /api/v2/information.php?api=token_info`.
//!
//! It owns the per-token bookkeeping (requests in flight, calls per local day) and the counters.
//! The invariants it protects: checks run in the real API's order (token present, token valid,
//! one request in flight per token, daily quota, parameters), for `token_info` exactly as for a
//! report, since it costs a call like any other; a token is marked busy for the whole life of an
//! accepted request, until the last byte of its answer is written to the socket (not when the
//! handler returns: a body is written at the pace the client reads it, so a client that sent its
//! next request before reading the last one to its end is caught), and released on every exit
//! path (a refusal or faulty answer included, up to the cut of a reset connection, or a client
//! that hangs up); a clean 200 answer carries exactly the first `max_records` rows of
//! [`super::served_rows`] for the clock's current time; and `token_info` answers from the same
//! daily counter the quota is charged on, this call included.
//!
//! Faults of the [`super::FaultPlan`] are drawn only for report requests that passed every check,
//! so the checks' refusals (and the violation counter) always reflect what the client really did,
//! and reading `token_info` never shifts which report request gets which fault.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use serde::Serialize;

use super::data;
use super::faults::{self, FaultDraws, FaultKind, HugeAnswer, HugeKind};
use super::wire::{HeldBody, Hold, Streamed, Wire};
use super::SimulatorConfig;
use crate::clock::Clock;
use crate::wolkvox::catalog::{self, DataShape, Report};
use crate::wolkvox::Row;

/// The header the real API reads the token from.
const TOKEN_HEADER: &str = "wolkvox-token";

/// State shared by every request and by the [`super::Simulator`] handle.
pub(crate) struct Shared {
    /// The configuration the simulator was started with; never changes while it runs.
    pub(crate) config: SimulatorConfig,
    clock: Clock,
    /// Requests that reached the report handler.
    pub(crate) requests: AtomicU64,
    /// Requests that reached `information.php?api=token_info`.
    pub(crate) token_info_requests: AtomicU64,
    /// Requests refused because their token was busy.
    pub(crate) violations: AtomicU64,
    /// Rows sent in clean 200 answers.
    pub(crate) rows_served: AtomicU64,
    /// Requests answered with a fault.
    pub(crate) faults_injected: AtomicU64,
    /// The most tokens that ever had a request in flight at the same moment.
    pub(crate) peak_tokens_in_flight: AtomicU64,
    /// The days answered blank right now (starts as the config's `blank_days`; tests change it).
    pub(crate) blank_days: Mutex<Vec<NaiveDate>>,
    /// Reference APIs (`agents`, …) answered empty right now, as a server having a bad day
    /// would (tests change it).
    pub(crate) blank_dimensions: Mutex<Vec<String>>,
    /// Every request that reached the report handler, in arrival order.
    pub(crate) log: Mutex<Vec<super::Served>>,
    /// The fault plan's seeded draws, one per accepted request.
    draws: FaultDraws,
    tokens: Mutex<TokenBook>,
}

/// Per-token bookkeeping, behind one lock because it is tiny and never held across an await.
#[derive(Default)]
struct TokenBook {
    in_flight: HashSet<String>,
    /// Calls counted against the daily quota: the local day they belong to and how many.
    calls: HashMap<String, (NaiveDate, u64)>,
}

impl Shared {
    /// Fresh state: no calls counted, no token busy.
    pub(crate) fn new(config: SimulatorConfig, clock: Clock) -> Shared {
        let draws = FaultDraws::new(&config.faults);
        let blank_days = Mutex::new(config.blank_days.clone());
        Shared {
            config,
            clock,
            requests: AtomicU64::new(0),
            token_info_requests: AtomicU64::new(0),
            violations: AtomicU64::new(0),
            rows_served: AtomicU64::new(0),
            faults_injected: AtomicU64::new(0),
            peak_tokens_in_flight: AtomicU64::new(0),
            blank_days,
            blank_dimensions: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            draws,
            tokens: Mutex::new(TokenBook::default()),
        }
    }

    /// The clock's current time as a naive local time in the operation's zone (its date is the
    /// quota's day).
    pub(crate) fn now_local(&self) -> NaiveDateTime {
        self.clock.now().with_timezone(&self.config.timezone).naive_local()
    }

    /// The clock's current time on the zone's timeline, which the generated rows' visibility is
    /// measured on: unlike local time it never repeats an hour (see [`data::Zone`]).
    pub(crate) fn now_timeline(&self) -> NaiveDateTime {
        data::Zone::new(self.config.timezone).timeline(self.clock.now())
    }

    fn book(&self) -> MutexGuard<'_, TokenBook> {
        // The book is always left consistent (single inserts/removes), so a panic elsewhere while
        // it was held cannot have corrupted it.
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one call against `token`'s quota for today; false if the quota is already used up.
    fn charge(&self, token: &str) -> bool {
        let today = self.now_local().date();
        let mut book = self.book();
        let (day, calls) = book.calls.entry(token.to_owned()).or_insert((today, 0));
        if *day != today {
            *day = today;
            *calls = 0;
        }
        if self.config.daily_limit.is_some_and(|limit| *calls >= limit) {
            return false;
        }
        *calls += 1;
        true
    }

    /// Today's calls: `token`'s own, and the whole operation's (every token this simulator has
    /// seen, plus the other integrations' of the configuration).
    pub(crate) fn count(&self, token: &str) -> TokenCount {
        let today = self.now_local().date();
        let book = self.book();
        let today_of = |entry: &(NaiveDate, u64)| if entry.0 == today { entry.1 } else { 0 };
        let use_today = book.calls.get(token).map_or(0, today_of);
        let all_today = book.calls.values().map(today_of).sum::<u64>() + self.config.other_integration_calls;
        TokenCount { use_today, all_today }
    }
}

/// One token's calls today and the operation's, as `token_info` reports them.
pub(crate) struct TokenCount {
    /// The token's own calls today.
    pub(crate) use_today: u64,
    /// Every token of the operation, other integrations included.
    pub(crate) all_today: u64,
}

/// Marks a token busy for as long as it lives; dropping it (on any exit path) frees the token.
struct InFlight {
    shared: Arc<Shared>,
    token: String,
}

impl InFlight {
    /// Marks `token` busy, or `None` if a request on it is already in flight.
    fn acquire(shared: &Arc<Shared>, token: &str) -> Option<InFlight> {
        let mut book = shared.book();
        if !book.in_flight.insert(token.to_owned()) {
            return None;
        }
        shared.peak_tokens_in_flight.fetch_max(book.in_flight.len() as u64, Ordering::Relaxed);
        drop(book);
        Some(InFlight { shared: Arc::clone(shared), token: token.to_owned() })
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.shared.book().in_flight.remove(&self.token);
    }
}

/// The router serving the report API and `token_info`, plus the web server's 404 for every other
/// path.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v2/reports_manager.php", get(reports_manager))
        .route("/api/v2/information.php", get(information))
        .fallback(unknown_path)
        .with_state(shared)
}

/// `GET /api/v2/reports_manager.php?api=…&date_ini=…&date_end=…`.
async fn reports_manager(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(wire): ConnectInfo<Wire>,
    headers: HeaderMap,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let params = query.map(|Query(params)| params).unwrap_or_default();
    report(shared, wire, headers, params).await
}

/// A report's request (`reports_manager.php`, or `information.php?api=audit_log`): logged,
/// counted, then served or refused like the real API.
async fn report(shared: Arc<Shared>, wire: Wire, headers: HeaderMap, params: HashMap<String, String>) -> Response {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let param = |name: &str| params.get(name).cloned().unwrap_or_default();
    let served = super::Served { api: param("api"), date_ini: param("date_ini"), date_end: param("date_end") };
    {
        let mut log = shared.log.lock().unwrap_or_else(PoisonError::into_inner);
        // A long-running `simulate` must not grow without bound; tests read far fewer.
        if log.len() >= super::MAX_LOGGED_REQUESTS {
            log.drain(..super::MAX_LOGGED_REQUESTS / 2);
        }
        log.push(served);
    }
    let hold = match admit(&shared, &headers) {
        Ok((_, hold)) => hold,
        Err(error) => return refused(error),
    };
    let (response, cut_after) = match serve(&shared, &params, &hold).await {
        Ok(sending) => (sending.response, sending.cut_after),
        Err(error) => (refused(error), None),
    };
    let response = encoded(response, &headers, shared.config.compression, cut_after.is_none()).await;
    sent_holding(&wire, response, hold, cut_after)
}

/// `response` compressed as the request's `Accept-Encoding` and the simulator's
/// [`Compression`](super::Compression) allow, before its length is known to the wire (so the
/// token is let go at the last compressed byte). Answers made as they are sent (the huge ones)
/// and answers to be cut mid-body (`whole` false) go as they are.
async fn encoded(response: Response, request: &HeaderMap, mode: super::Compression, whole: bool) -> Response {
    use async_compression::tokio::bufread::{BrotliEncoder, GzipEncoder, ZlibEncoder, ZstdEncoder};
    use async_compression::Level;
    use tokio::io::AsyncReadExt;
    let accepted = request
        .get(axum::http::header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(',')
        .filter(|part| !part.contains("q=0") || part.contains("q=0."))
        .map(|part| part.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .collect::<Vec<_>>();
    let wanted: &[&str] = match mode {
        super::Compression::Off => &[],
        // What most web servers in front of an API do first.
        super::Compression::Negotiate => &["gzip", "zstd", "br", "deflate"],
        super::Compression::Only(one) => &[one],
    };
    let Some(encoding) = wanted.iter().find(|e| accepted.iter().any(|a| a == *e)).copied() else {
        return response;
    };
    if !whole || hyper::body::Body::size_hint(response.body()).exact().is_none() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(plain) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, axum::body::Body::empty());
    };
    let input: &[u8] = &plain;
    let mut out = Vec::with_capacity(plain.len() / 4);
    let done = match encoding {
        "gzip" => GzipEncoder::with_quality(input, Level::Default).read_to_end(&mut out).await,
        "zstd" => ZstdEncoder::with_quality(input, Level::Default).read_to_end(&mut out).await,
        // Brotli's default (11) is far too slow for a 17 MB page; 5 is what servers use on the fly.
        "br" => BrotliEncoder::with_quality(input, Level::Precise(5)).read_to_end(&mut out).await,
        _ => ZlibEncoder::with_quality(input, Level::Default).read_to_end(&mut out).await,
    };
    if done.is_err() {
        return Response::from_parts(parts, axum::body::Body::from(plain));
    }
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.insert(axum::http::header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    parts.headers.insert(axum::http::header::VARY, HeaderValue::from_static("accept-encoding"));
    Response::from_parts(parts, axum::body::Body::from(out))
}

/// A refusal's response, logged.
fn refused(error: SimError) -> Response {
    tracing::debug!(status = %error.status, msg = %error.msg, "wolkvox simulator refused a request");
    error.into_response()
}

/// `response`, with `hold` (the token's busy mark) travelling with it: the token stays busy
/// until the last byte of the body has been written to the socket, the connection closes, or the
/// body is dropped unsent (see [`Hold`]). With `cut_after`, the connection is cut after that
/// much of the body instead (and the token freed then).
fn sent_holding(wire: &Wire, response: Response, hold: Hold, cut_after: Option<usize>) -> Response {
    let (parts, body) = response.into_parts();
    let length = hyper::body::Body::size_hint(&body).exact().map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    match (cut_after, length) {
        (Some(share), _) => wire.cut_after(share, hold.clone()),
        (None, Some(length)) => wire.hold_until_sent(length, hold.clone()),
        // Every answer here has a known length; one that had not would hold the token until
        // hyper took its last frame, the body's end as far as the body can tell.
        (None, None) => {}
    }
    Response::from_parts(parts, axum::body::Body::new(HeldBody::new(body, hold)))
}

/// The checks every call passes first, in the real API's order: a token, a valid one, none of
/// its requests in flight, and its daily quota (charged here: a call refused later, for its
/// parameters, still costs one). Returns the token and its busy mark, which the caller holds
/// for as long as the request is in flight, its answer's sending included ([`sent_holding`]).
fn admit(shared: &Arc<Shared>, headers: &HeaderMap) -> Result<(String, Hold), SimError> {
    let token = headers
        .get(TOKEN_HEADER)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .unwrap_or_default();
    if token.is_empty() {
        return Err(SimError::unauthorized("PLEASE ENTER THE WOLKVOX-TOKEN"));
    }
    let tokens = &shared.config.tokens;
    if !tokens.is_empty() && !tokens.contains(&token) {
        return Err(SimError::forbidden("PLEASE VALIDATE TOKEN"));
    }
    // The real API allows two, but its docs also say a token must never be used concurrently;
    // any overlap is flagged so tests catch a client that ever overlaps.
    let Some(busy) = InFlight::acquire(shared, &token) else {
        shared.violations.fetch_add(1, Ordering::Relaxed);
        return Err(SimError::forbidden("EXCEEDS THE LIMIT OF SIMULTANEOUS REQUESTS PER TOKEN (2)"));
    };
    if !shared.charge(&token) {
        return Err(SimError::forbidden("TOKEN LIMIT EXCEEDED"));
    }
    Ok((token, Hold::new(busy)))
}

/// `GET /api/v2/information.php?api=…`: `token_info`, and the reference data (agents, skills,
/// campaigns, activity codes, routing points, connectors, agents per skill, services) drawn from
/// the same vocabulary as the reports. Any other API gets the web server's 404, as an unknown
/// path does.
async fn information(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(wire): ConnectInfo<Wire>,
    headers: HeaderMap,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let params = query.map(|Query(params)| params).unwrap_or_default();
    let api = params.get("api").map(String::as_str).unwrap_or_default();
    // The audit trail is date-ranged, served like a report (limits, faults, the request log).
    if catalog::find(api).is_some_and(|r| r.file == "information.php") {
        return report(shared, wire, headers, params).await;
    }
    if api != "token_info" {
        let skill = params.get("skill_id").map(String::as_str);
        let part = skill.map(|s| format!("{api}:{s}"));
        let blank = shared
            .blank_dimensions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(|b| b == api || Some(b) == part.as_ref());
        let answer = data::information_rows(api, shared.now_local(), skill)
            .map(|rows| rows.map(|rows| if blank { Vec::new() } else { rows }));
        return match answer {
            None => unknown_path().await,
            Some(answer) => match admit(&shared, &headers) {
                Ok((_, hold)) => {
                    let response = dimension(&shared, api, answer).await.unwrap_or_else(IntoResponse::into_response);
                    let response = encoded(response, &headers, shared.config.compression, true).await;
                    sent_holding(&wire, response, hold, None)
                }
                Err(error) => error.into_response(),
            },
        };
    }
    shared.token_info_requests.fetch_add(1, Ordering::Relaxed);
    let answered = match admit(&shared, &headers) {
        Ok((token, hold)) => token_info(&shared, &token).await.map(|response| (response, hold)),
        Err(error) => Err(error),
    };
    match answered {
        Ok((response, hold)) => sent_holding(&wire, response, hold, None),
        Err(error) => {
            tracing::debug!(status = %error.status, msg = %error.msg, "wolkvox simulator refused a token_info request");
            error.into_response()
        }
    }
}

/// Answers a dimension's API, once its request passed the checks every call passes (token, in
/// flight, daily quota).
async fn dimension(shared: &Arc<Shared>, api: &str, answer: Result<Vec<Row>, String>) -> Result<Response, SimError> {
    if !shared.config.latency.is_zero() {
        tokio::time::sleep(shared.config.latency).await;
    }
    let rows = answer.map_err(SimError::bad_request)?;
    let code = if shared.config.code_as_number { Code::Number(200) } else { information_success(api) };
    let envelope =
        Reply { code, error: None, msg: format!("{} records were found", rows.len()), data: Some(Data::Rows(&rows)) };
    let body = serde_json::to_vec(&envelope).map_err(|error| SimError::internal(error.to_string()))?;
    Ok(json_response(StatusCode::OK, body))
}

/// Answers `token_info` for `token`, once its request passed the checks every call passes: its
/// calls today (this one included: it costs a call too), the operation's, its limit and what is
/// left.
async fn token_info(shared: &Arc<Shared>, token: &str) -> Result<Response, SimError> {
    if !shared.config.latency.is_zero() {
        tokio::time::sleep(shared.config.latency).await;
    }
    let count = shared.count(token);
    let body = render_token_info(&shared.config, &count).map_err(|error| SimError::internal(error.to_string()))?;
    Ok(json_response(StatusCode::OK, body))
}

/// The `token_info` envelope: one object whose figures are strings, as every value of the API.
fn render_token_info(config: &SimulatorConfig, count: &TokenCount) -> serde_json::Result<Vec<u8>> {
    let limit = config.daily_limit.unwrap_or(config.default_token_limit);
    let figures = [
        ("token_limit", limit),
        ("token_use_today", count.use_today),
        ("all_token_today", count.all_today),
        ("available_consumption_options", limit.saturating_sub(count.use_today)),
    ];
    let mut row = Row::new();
    row.insert("description".into(), "wolkvox-etl simulator".into());
    for (name, value) in figures {
        let text = if config.token_info_blank { " ".to_owned() } else { value.to_string() };
        row.insert(name.into(), text.into());
    }
    let code = if config.code_as_number { Code::Number(200) } else { Code::Text("200".to_owned()) };
    let rows = [row];
    let envelope = Reply { code, error: None, msg: "1 records were found".to_owned(), data: Some(Data::Rows(&rows)) };
    serde_json::to_vec(&envelope)
}

/// An accepted report request's answer, and how much of its body goes out before its connection
/// is cut (a connection reset), if it is.
struct Sending {
    response: Response,
    cut_after: Option<usize>,
}

impl From<Response> for Sending {
    fn from(response: Response) -> Sending {
        Sending { response, cut_after: None }
    }
}

/// Runs the checks after [`admit`] in order, then renders the report (or the fault drawn for
/// it); every refusal is an `Err`. `hold` is the token's busy mark.
async fn serve(shared: &Arc<Shared>, params: &HashMap<String, String>, hold: &Hold) -> Result<Sending, SimError> {
    let checked = validate(&shared.config, params)?;
    let drawn = shared.draws.next(&shared.config.faults);
    // A window too long for the server: it always fails the same way (timeout, cut body, 5xx).
    let oversize =
        shared.config.oversize.filter(|(longest, _)| checked.to - checked.from >= *longest).map(|(_, kind)| kind);
    let fault = oversize.or(drawn);
    if let Some(kind) = fault {
        shared.faults_injected.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(fault = %kind, api = checked.report.api, "wolkvox simulator injected a fault");
    }

    if !shared.config.latency.is_zero() {
        tokio::time::sleep(shared.config.latency).await;
    }
    match fault {
        Some(FaultKind::Slow) => {
            // The stall runs on its own task holding the token: a server busy on a slow query
            // does not notice that the client gave up, so its token stays busy the whole time.
            let slow = shared.config.faults.slow;
            let held = hold.clone();
            let stall = tokio::spawn(async move {
                tokio::time::sleep(slow).await;
                drop(held);
            });
            stall.await.map_err(|error| SimError::internal(error.to_string()))?;
        }
        Some(kind) => {
            if let Some(replaced) = replacement(kind) {
                return replaced.map(Sending::from);
            }
        }
        None => {}
    }
    // A huge error replaces the answer; a huge value spoils it (`render` plants its place).
    match shared.config.huge {
        Some(HugeAnswer { kind: HugeKind::ErrorIn200, bytes }) => return Ok(huge_error(StatusCode::OK, bytes).into()),
        Some(HugeAnswer { kind: HugeKind::Error400, bytes }) => {
            return Ok(huge_error(StatusCode::BAD_REQUEST, bytes).into())
        }
        _ => {}
    }
    // Generating and serialising up to a few hundred thousand rows is CPU work; keep it off the
    // async workers so other connections (and the concurrency check) stay responsive.
    let now = shared.now_timeline();
    // A bad day of the real API: a window inside a "blank" day answers empty although the day
    // has data (the fault under test; ground truth keeps the data).
    let blank = checked.to.date() == checked.from.date()
        && shared.blank_days.lock().unwrap_or_else(PoisonError::into_inner).contains(&checked.from.date());
    let worker = Arc::clone(shared);
    let answer = tokio::task::spawn_blocking(move || render(&worker.config, &checked, now, blank))
        .await
        .map_err(|error| SimError::internal(error.to_string()))?
        .map_err(|error| SimError::internal(error.to_string()))?;
    let half = answer.body.len() / 2;
    match fault {
        Some(FaultKind::TruncatedJson) => Ok(json_response(answer.status, answer.body[..half].to_vec()).into()),
        Some(FaultKind::InvalidUtf8) => {
            Ok(json_response(answer.status, faults::splice_invalid_utf8(&answer.body)).into())
        }
        Some(FaultKind::ConnectionReset) => {
            // The token stays busy until the connection is cut, as it would while a real
            // answer is still being sent.
            Ok(Sending { response: json_response(answer.status, answer.body), cut_after: Some(half) })
        }
        _ => Ok(answered(shared, answer)),
    }
}

/// The report's answer as rendered, counted as served; with a huge value planted, its
/// placeholder is streamed as the huge text.
fn answered(shared: &Arc<Shared>, answer: Answer) -> Sending {
    if answer.status == StatusCode::OK {
        shared.rows_served.fetch_add(answer.rows as u64, Ordering::Relaxed);
    }
    let huge = shared.config.huge.filter(|h| h.kind == HugeKind::Value).map(|h| h.bytes);
    let planted = faults::HUGE_PLACEHOLDER.as_bytes();
    let at = huge.and_then(|_| answer.body.windows(planted.len()).position(|w| w == planted));
    match (huge, at) {
        (Some(bytes), Some(at)) => {
            let tail = answer.body[at + planted.len()..].to_vec();
            let mut head = answer.body;
            head.truncate(at);
            let body = Streamed::new(head, bytes, tail);
            streamed_response(answer.status, body).into()
        }
        _ => json_response(answer.status, answer.body).into(),
    }
}

/// The [`HugeAnswer`] error envelopes: `{"code":400,"error":"BAD REQUEST","msg":"xxx…","data":[]}`
/// with `status`, the `msg` `bytes` long, streamed.
fn huge_error(status: StatusCode, bytes: usize) -> Response {
    let head = br#"{"code":400,"error":"BAD REQUEST","msg":""#.to_vec();
    let tail = br#"","data":[]}"#.to_vec();
    streamed_response(status, Streamed::new(head, bytes, tail))
}

/// A JSON response whose body is sent as it is made.
fn streamed_response(status: StatusCode, body: Streamed) -> Response {
    let headers = [(CONTENT_TYPE, HeaderValue::from_static("application/json"))];
    (status, headers, axum::body::Body::new(body)).into_response()
}

/// The answer that replaces the real one for `kind`, or `None` for the kinds that spoil (or
/// delay) the real answer instead.
fn replacement(kind: FaultKind) -> Option<Result<Response, SimError>> {
    let page = |status: StatusCode, body: String| Ok(html_response(status, body));
    Some(match kind {
        FaultKind::Http500 => page(StatusCode::INTERNAL_SERVER_ERROR, faults::proxy_page("500 Internal Server Error")),
        FaultKind::Http502 => page(StatusCode::BAD_GATEWAY, faults::proxy_page("502 Bad Gateway")),
        FaultKind::Http503 => page(StatusCode::SERVICE_UNAVAILABLE, faults::proxy_page("503 Service Unavailable")),
        FaultKind::Maintenance => page(StatusCode::FORBIDDEN, faults::MAINTENANCE_PAGE.to_owned()),
        FaultKind::CodeNot200 => {
            let envelope = Reply {
                code: Code::Text("500".to_owned()),
                error: Some("INTERNAL SERVER ERROR"),
                msg: "AN INTERNAL ERROR HAS OCCURRED, PLEASE TRY AGAIN LATER".to_owned(),
                data: Some(Data::Rows(&[])),
            };
            // A struct of strings always serialises; the fallback is unreachable.
            Ok(json_response(StatusCode::OK, serde_json::to_vec(&envelope).unwrap_or_default()))
        }
        // Not counted as a violation: the client did nothing wrong.
        FaultKind::SimultaneousUse => {
            Err(SimError::forbidden("EXCEEDS THE LIMIT OF SIMULTANEOUS REQUESTS PER TOKEN (2)"))
        }
        FaultKind::TokenLimit => Err(SimError::forbidden("TOKEN LIMIT EXCEEDED")),
        FaultKind::InvalidToken => Err(SimError::forbidden("PLEASE VALIDATE TOKEN")),
        FaultKind::ConnectionReset | FaultKind::Slow | FaultKind::TruncatedJson | FaultKind::InvalidUtf8 => {
            return None
        }
    })
}

/// A validated request: the report, its window and its required parameters' values.
struct Checked {
    report: &'static Report,
    from: NaiveDateTime,
    to: NaiveDateTime,
    params: Vec<(&'static str, String)>,
}

/// Checks `api`, `date_ini`, `date_end`, the window's length and the report's required
/// parameters, in the real API's order.
fn validate(config: &SimulatorConfig, params: &HashMap<String, String>) -> Result<Checked, SimError> {
    let api = params.get("api").map(String::as_str).unwrap_or_default();
    if api.is_empty() {
        return Err(SimError::bad_request("SOME PARAMETERS ARE REQUIRED"));
    }
    let report =
        catalog::find(api).ok_or_else(|| SimError::bad_request("THE API YOU WANT TO CONSULT DOES NOT EXIST"))?;
    let date = |name: &str| params.get(name).and_then(|value| parse_api_datetime(value));
    let (Some(from), Some(to)) = (date("date_ini"), date("date_end")) else {
        return Err(SimError::bad_request("SOME PARAMETERS ARE REQUIRED"));
    };
    // skill_5 documents a 24-hour limit; every other report the configured one.
    let days = config.max_window_days.min(i64::from(report.max_window_days));
    let max = TimeDelta::try_days(days).unwrap_or(TimeDelta::MAX);
    if to < from || to - from > max {
        return Err(SimError::bad_request(format!("THE MAXIMUM DATE RANGE IS {days} DAYS")));
    }
    let mut values = Vec::with_capacity(report.params.len());
    for (name, _) in report.params {
        let value = params.get(*name).map(|v| v.trim()).unwrap_or_default();
        // A stream parameter (act_*'s cod_act) only takes its documented values.
        let valid = !value.is_empty() && (report.streams.is_empty() || report.streams.contains(&value));
        if !valid {
            return Err(SimError::bad_request("SOME PARAMETERS ARE REQUIRED"));
        }
        values.push((*name, value.to_owned()));
    }
    Ok(Checked { report, from, to, params: values })
}

/// Parses the API's 14-digit `YYYYmmddHHiiss` local datetime; anything else is `None`.
fn parse_api_datetime(value: &str) -> Option<NaiveDateTime> {
    if value.len() != 14 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // All-ASCII-digit, so every slice is on a char boundary and parses.
    let part = |range: std::ops::Range<usize>| value[range].parse::<u32>().ok();
    let year = i32::try_from(part(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, part(4..6)?, part(6..8)?)?.and_hms_opt(part(8..10)?, part(10..12)?, part(12..14)?)
}

/// A rendered report answer, ready to send.
struct Answer {
    status: StatusCode,
    rows: usize,
    body: Vec<u8>,
}

/// Computes the rows visible at timeline time `now` and renders the 200 (or, when empty, the 404)
/// envelope; a `blank` window answers empty whatever its rows.
fn render(config: &SimulatorConfig, checked: &Checked, now: NaiveDateTime, blank: bool) -> serde_json::Result<Answer> {
    let params: Vec<(&str, &str)> = checked.params.iter().map(|(name, value)| (*name, value.as_str())).collect();
    let ask = data::Ask {
        api: checked.report.api,
        from: checked.from,
        to: checked.to,
        params: &params,
        range_totals: config.range_totals,
    };
    // The real API documents a record limit but no error for exceeding it: the excess is dropped,
    // and since rows are newest first, the oldest ones go.
    let mut rows = if blank { Vec::new() } else { super::served_rows(config, &ask, now, config.max_records) };
    if config.huge.is_some_and(|h| h.kind == HugeKind::Value) {
        faults::plant_huge(checked.report, &mut rows);
    }
    // cdr_4 answers one object keyed by bucket rather than an array of rows.
    let bucketed = checked.report.data_shape == DataShape::BucketObject;
    let (records, data) = match rows.first() {
        Some(object) if bucketed => (object.len(), Data::Object(object)),
        _ => (rows.len(), Data::Rows(&rows)),
    };
    // An empty window answers 404 on the real API; its body keeps the success envelope's style.
    let (status, error) =
        if records == 0 { (StatusCode::NOT_FOUND, Some("NOT FOUND")) } else { (StatusCode::OK, None) };
    // Each report's examples show one type for `code`; `code_as_number` forces numbers.
    let code = if status == StatusCode::OK && !config.code_as_number && checked.report.file == "information.php" {
        information_success(checked.report.api)
    } else if config.code_as_number || !checked.report.code_is_text {
        Code::Number(status.as_u16())
    } else {
        Code::Text(status.as_u16().to_string())
    };
    let envelope = Reply { code, error, msg: format!("{records} records were found"), data: Some(data) };
    Ok(Answer { status, rows: records, body: serde_json::to_vec(&envelope)? })
}

/// information.php's success `code` as its own Postman examples answer it, written here apart
/// from the client's catalogue: `"0"` for audit_log and activity_codes, `""` for agents and
/// campaigns, `"200"` for the rest.
fn information_success(api: &str) -> Code {
    match api {
        "audit_log" | "activity_codes" => Code::Text("0".to_owned()),
        "agents" | "campaigns" => Code::Text(String::new()),
        _ => Code::Text("200".to_owned()),
    }
}

/// The API's response envelope, fields in the API's order.
#[derive(Serialize)]
struct Reply<'a> {
    code: Code,
    error: Option<&'a str>,
    msg: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Data<'a>>,
}

/// The envelope's `data`: an array of rows, or cdr_4's object of buckets.
#[derive(Serialize)]
#[serde(untagged)]
enum Data<'a> {
    Rows(&'a [Row]),
    Object(&'a Row),
}

/// The envelope's `code`, which the real API sends as a string or a number depending on report.
#[derive(Serialize)]
#[serde(untagged)]
enum Code {
    Text(String),
    Number(u16),
}

/// A refusal, rendered as `{"code":<status>,"error":…,"msg":…}` with that HTTP status.
struct SimError {
    status: StatusCode,
    error: &'static str,
    msg: String,
}

impl SimError {
    fn unauthorized(msg: impl Into<String>) -> SimError {
        SimError { status: StatusCode::UNAUTHORIZED, error: "UNAUTHORIZED", msg: msg.into() }
    }

    fn forbidden(msg: impl Into<String>) -> SimError {
        SimError { status: StatusCode::FORBIDDEN, error: "FORBIDDEN", msg: msg.into() }
    }

    fn bad_request(msg: impl Into<String>) -> SimError {
        SimError { status: StatusCode::BAD_REQUEST, error: "BAD REQUEST", msg: msg.into() }
    }

    fn internal(msg: impl Into<String>) -> SimError {
        SimError { status: StatusCode::INTERNAL_SERVER_ERROR, error: "INTERNAL SERVER ERROR", msg: msg.into() }
    }
}

impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        let envelope =
            Reply { code: Code::Number(self.status.as_u16()), error: Some(self.error), msg: self.msg, data: None };
        // A struct of strings and numbers always serialises; the fallback is unreachable.
        let body = serde_json::to_vec(&envelope).unwrap_or_default();
        json_response(self.status, body)
    }
}

/// Every path other than the report API: the web server's HTML 404, as a wrong `base_url` would
/// get (clients must not take it for an empty window).
async fn unknown_path() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))],
        "<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>",
    )
        .into_response()
}

/// A response with `body` as JSON, the content type every wolkvox answer carries.
fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
}

/// An HTML page, as a proxy or the maintenance switch in front of the API sends.
fn html_response(status: StatusCode, body: String) -> Response {
    (status, [(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))], body).into_response()
}

#[cfg(test)]
mod tests;

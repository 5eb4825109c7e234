//! Decoding of the API's `{code, error, msg, data}` envelope into rows or a typed error.
//!
//! The real API is inconsistent, so decoding is lenient where it is safe and strict where data is
//! at stake: `code` may be the string `"200"` or the number `200`; an error may arrive with HTTP
//! 200 and its real status in `code`; HTTP 404 (or code 404) means "no records"; `data` may be an
//! array, a single object or absent; keys are trimmed (`"agent_anwers "`). Anything that is not a
//! JSON envelope is [`ApiError::Malformed`], never zero rows, so a broken response can never be
//! mistaken for an empty window.
//!
//! Successful bodies are parsed by [`parse_stream`], which reads the envelope from any
//! `io::Read` and hands `data`'s elements over in batches as they are parsed: a 256 MB response
//! never exists in memory as a whole, neither as bytes nor as a `serde_json::Value`. Nor does one
//! huge value or row inside it: the parser reads through [`bounded::Bounded`], which cuts a string
//! over [`VALUE_CAP`] and a row over [`ROW_CAP`] and marks them ([`cut_mark`]); a row carrying
//! the mark is never stored as if whole ([`cut_reason`] tells why it goes to the quarantine),
//! and a cut `msg` or `error` is just truncated text.

use std::cell::Cell;
use std::fmt;
use std::io::Read;
use std::rc::Rc;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::ApiError;
use super::Row;

mod bounded;

pub use bounded::{cut_mark, Caps, CUT_MARK_TEXT, ROW_CAP, VALUE_CAP};

/// An error envelope (small; success bodies are streamed instead).
#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    code: Option<Value>,
    #[serde(default)]
    error: Option<Value>,
    #[serde(default)]
    msg: Option<Value>,
    /// Read only to tell an empty answer from one that carries rows (the body is capped).
    #[serde(default)]
    data: Option<Value>,
}

/// How much of an unexpected body is kept for the log.
const SNIPPET_CHARS: usize = crate::text::API_TEXT_CHARS;

fn snippet(body: &[u8]) -> String {
    // Never more than the snippet needs: an error page can be hundreds of megabytes.
    let head = &body[..body.len().min(SNIPPET_CHARS * 4 + 4)];
    let mut out = clean(&String::from_utf8_lossy(head));
    if body.len() > head.len() && !out.ends_with('…') {
        out.push('…');
    }
    out
}

fn text_of(value: &Option<Value>) -> String {
    match value {
        Some(Value::String(s)) => clean(s.trim()),
        Some(Value::Null) | None => String::new(),
        Some(other) => clean(&other.to_string()),
    }
}

/// API text as it may reach a log line, an error or `etl_run`: at most [`SNIPPET_CHARS`]
/// characters (then `…`), control characters (newlines that would forge a log line, terminal
/// escape sequences) each replaced by a space.
pub fn clean(text: &str) -> String {
    crate::text::one_line(text, SNIPPET_CHARS)
}

/// Which of the API's two files answered: they spell success differently. `reports_manager.php`
/// answers `200` or `"200"`; `information.php`'s own examples also answer `"0"` (audit_log,
/// activity_codes) and `""` (agents, campaigns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum File {
    /// `reports_manager.php`: the reports.
    Reports,
    /// `information.php`: the audit log and the reference data.
    Information,
}

impl File {
    /// The file named `name` (`information.php`, else the reports).
    pub fn named(name: &str) -> File {
        if name == "information.php" {
            File::Information
        } else {
            File::Reports
        }
    }
}

/// What an envelope's `code` says, read by one rule for both files.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Said {
    /// A success code (or none at all: the rows speak for themselves).
    Success,
    /// `404`: no records.
    NoRecords,
    /// An error status.
    Error(u16),
    /// A code the file never uses: the answer cannot be trusted either way.
    Unknown(String),
}

/// Reads `code` as `file` uses it. A blank code is a success on both files: information.php's
/// examples answer `""`, and the reports' examples show a blank placeholder for cdr_7/8/9.
fn said(code: &Option<Value>, file: File) -> Said {
    let number = match code {
        None | Some(Value::Null) => return Said::Success,
        // `200.0` is 200; `200.5` is no code at all.
        Some(Value::Number(n)) => {
            n.as_u64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0).map(|f| f as u64))
        }
        Some(Value::String(s)) if s.trim().is_empty() => return Said::Success,
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        Some(_) => None,
    };
    match number {
        Some(0) if file == File::Information => Said::Success,
        Some(200..=299) => Said::Success,
        Some(404) => Said::NoRecords,
        Some(n @ 300..=599) => Said::Error(n as u16),
        _ => Said::Unknown(text_of(code)),
    }
}

/// Decodes one whole HTTP response of `reports_manager.php` into rows, or the error it stands for.
pub fn decode(status: u16, body: &[u8]) -> Result<Vec<Row>, ApiError> {
    decode_from(File::Reports, status, body)
}

/// Decodes one whole HTTP response of `file` into rows, or the error it stands for.
pub fn decode_from(file: File, status: u16, body: &[u8]) -> Result<Vec<Row>, ApiError> {
    if (200..=299).contains(&status) {
        let mut rows = Vec::new();
        parse_stream(body, status, file, BatchLimits { rows: usize::MAX, bytes: u64::MAX }, &mut |batch| {
            rows.extend(batch);
            true
        })?;
        return Ok(rows);
    }
    decode_error(status, file, body)
}

/// Decodes a non-2xx response: 404 is "no records", anything else an error. A 404 (or an
/// error status) whose envelope carries rows contradicts itself: not "no records".
pub fn decode_error(status: u16, file: File, body: &[u8]) -> Result<Vec<Row>, ApiError> {
    let envelope: Option<Envelope> = std::str::from_utf8(body).ok().and_then(|text| serde_json::from_str(text).ok());
    let Some(envelope) = envelope else {
        return Err(match status {
            // A 404 that starts like the API's JSON but does not parse was cut off or damaged
            // on the way: a transport fault, retried — never "no records", never a wrong URL.
            404 if body.trim_ascii_start().starts_with(b"{") => ApiError::Malformed {
                status,
                reason: format!("a 404 answer that is not complete JSON: {}", snippet(body)),
            },
            // A 404 that is not the API's envelope is a wrong URL (path, version, proxy), not
            // an empty window: taking it for "no records" would move the watermark over data.
            404 => ApiError::BadRequest {
                status,
                msg: format!("not found, and not the API's answer (check wolkvox.base_url): {}", snippet(body)),
            },
            300..=399 => ApiError::BadRequest {
                status,
                msg: "the API redirected; redirects are not followed (check wolkvox.base_url)".into(),
            },
            400..=499 => classify(status, snippet(body)),
            _ => ApiError::Server { status, body: snippet(body) },
        });
    };
    let rows = match &envelope.data {
        Some(Value::Array(items)) => items.len(),
        Some(Value::Object(members)) => members.len(),
        _ => 0,
    };
    let effective = match said(&envelope.code, file) {
        Said::Error(code) => code,
        Said::NoRecords => 404,
        _ => status,
    };
    if effective == 404 && rows > 0 {
        return Err(contradiction(&envelope.code, &envelope.error, rows as u64, &format!("HTTP {status}")));
    }
    error_of(effective, &envelope.msg, &envelope.error, body)
}

/// Whether `error` holds an error text. `null`, `false`, `0`, `""` and texts that mean
/// nothing (`"null"`, `"none"`, `"ok"`, `"success"`) are no error.
fn says_error(error: &Option<Value>) -> bool {
    match error {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::String(s)) => {
            !matches!(s.trim().to_ascii_lowercase().as_str(), "" | "null" | "none" | "ok" | "success" | "false" | "0")
        }
        Some(_) => true,
    }
}

/// Whether `error` is the API's "NOT FOUND" of an empty answer.
fn not_found(error: &Option<Value>) -> bool {
    matches!(error, Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("not found"))
}

/// The error of an envelope that says one thing and carries another: `rows` rows under an
/// error or "no records" code, or under an error text.
fn contradiction(code: &Option<Value>, error: &Option<Value>, rows: u64, how: &str) -> ApiError {
    let code = match code {
        None => "none".to_owned(),
        Some(code) => format!("`{}`", clean(&code.to_string())),
    };
    let error = match text_of(error) {
        e if e.is_empty() => String::new(),
        e => format!(", error {e:?}"),
    };
    ApiError::Contradictory { what: format!("{how} with code {code}{error} and {rows} row(s)") }
}

fn error_of(code: u16, msg: &Option<Value>, error: &Option<Value>, body: &[u8]) -> Result<Vec<Row>, ApiError> {
    match code {
        404 => Ok(Vec::new()),
        400..=499 => {
            let msg = match (text_of(msg), text_of(error)) {
                (msg, _) if !msg.is_empty() => msg,
                (_, error) => error,
            };
            Err(classify(code, msg))
        }
        _ => Err(ApiError::Server { status: code, body: snippet(body) }),
    }
}

/// How a streamed parse ended without an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamEnd {
    /// The whole envelope was read and it was a success.
    Complete,
    /// `on_batch` asked to stop (the caller has seen enough, e.g. the record limit).
    Stopped,
}

/// Parses a 2xx envelope from `reader`, calling `on_batch` with a batch of rows (see
/// [`BatchLimits`]) at a time, in order, as they are parsed; `on_batch` returns `false` to stop reading. The
/// envelope's keys may come in any order: if `code` turns out to be an error (even after rows
/// were handed over), the result is that error and the caller must discard what it received.
/// Reader failures surface as the `ApiError` the reader reports through [`ReaderError`], or as
/// `Malformed` for broken JSON (truncated, invalid UTF-8, wrong shape).
pub fn parse_stream<R: Read>(
    reader: R,
    status: u16,
    file: File,
    limits: BatchLimits,
    on_batch: &mut dyn FnMut(Vec<Row>) -> bool,
) -> Result<StreamEnd, ApiError> {
    parse_bounded(reader, status, file, limits, Caps::API, on_batch)
}

/// Bytes the parser reads ahead of what it has parsed.
const PARSE_BUFFER: usize = 64 * 1024;

/// [`parse_stream`] with the caps given (tests use small ones).
fn parse_bounded<R: Read>(
    reader: R,
    status: u16,
    file: File,
    limits: BatchLimits,
    caps: Caps,
    on_batch: &mut dyn FnMut(Vec<Row>) -> bool,
) -> Result<StreamEnd, ApiError> {
    let consumed = Rc::new(Cell::new(0u64));
    let bounded = bounded::Bounded::new(reader, caps);
    // serde_json reads a reader one byte per call; a buffer in front makes that a slice index
    // instead of three calls through the adapters. Batches by size are then cut up to one buffer
    // late, which their 1 MiB does not notice.
    let counting = Counting { inner: bounded, consumed: Rc::clone(&consumed) };
    let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(PARSE_BUFFER, counting));
    let mut state = StreamState {
        limits,
        batch: Vec::new(),
        on_batch,
        stopped: false,
        bad: None,
        consumed,
        flushed_at: 0,
        rows: 0,
    };
    let parsed = EnvelopeSeed { state: &mut state }.deserialize(&mut de).and_then(|meta| de.end().map(|()| meta));
    if state.stopped {
        return Ok(StreamEnd::Stopped);
    }
    let meta = match parsed {
        Ok(meta) => meta,
        Err(e) => {
            if let Some(reason) = state.bad.take() {
                return Err(ApiError::Malformed { status, reason });
            }
            // serde_json's message may quote the body (a string where the envelope should be).
            let reason = format!("not a JSON envelope: {}", clean(&e.to_string()));
            if e.io_error_kind().is_some() {
                // serde_json hands back the reader's own io::Error, with our cause inside.
                let io: std::io::Error = e.into();
                if let Some(ReaderError(transport)) = io.get_ref().and_then(|inner| inner.downcast_ref::<ReaderError>())
                {
                    return Err(transport.clone());
                }
            }
            return Err(ApiError::Malformed { status, reason });
        }
    };
    if meta.code.is_none() && !meta.saw_data {
        return Err(ApiError::Malformed { status, reason: "the envelope has neither `code` nor `data`".into() });
    }
    // An error can arrive with HTTP 200: the envelope's code is then the real status. An answer
    // that says one thing and carries another is neither: rows may already have been handed
    // over, so the caller must write none of them (the error fails the window whole).
    match said(&meta.code, file) {
        Said::Unknown(code) => Err(ApiError::Malformed {
            status,
            reason: format!("the envelope's code `{code}` is not one the API answers with"),
        }),
        Said::NoRecords if state.rows > 0 => Err(contradiction(&meta.code, &meta.error, state.rows, "a 2xx")),
        // A success code beside an error text, rows or not: an empty window must not commit on
        // an answer that says something went wrong.
        // ("NOT FOUND" without rows is what the API's empty answer says, whatever the code.)
        Said::Success if says_error(&meta.error) && !(state.rows == 0 && not_found(&meta.error)) => {
            Err(contradiction(&meta.code, &meta.error, state.rows, "a 2xx"))
        }
        Said::NoRecords => Ok(StreamEnd::Complete),
        Said::Error(code) => {
            error_of(code, &meta.msg, &meta.error, b"(error envelope inside an HTTP 2xx)")?;
            Ok(StreamEnd::Complete)
        }
        Said::Success => {
            if !state.batch.is_empty() {
                let batch = std::mem::take(&mut state.batch);
                if !(state.on_batch)(batch) {
                    return Ok(StreamEnd::Stopped);
                }
            }
            Ok(StreamEnd::Complete)
        }
    }
}

/// A transport failure reported by a reader feeding [`parse_stream`]: it travels inside the
/// `io::Error`, so the parse ends with the real cause (timeout, reset) instead of "bad JSON".
#[derive(Debug)]
pub struct ReaderError(pub ApiError);

impl fmt::Display for ReaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ReaderError {}

impl ReaderError {
    /// Wraps an API error as an `io::Error` for a `Read` implementation.
    pub fn into_io(error: ApiError) -> std::io::Error {
        std::io::Error::other(ReaderError(error))
    }
}

/// When a batch is handed over: at `rows` rows, or once `bytes` of body were read for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchLimits {
    /// Rows per batch.
    pub rows: usize,
    /// Body bytes per batch (wide rows make smaller batches).
    pub bytes: u64,
}

/// Counts the bytes the parser has read, so batches can be cut by size.
struct Counting<R> {
    inner: R,
    consumed: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed.set(self.consumed.get() + n as u64);
        Ok(n)
    }
}

struct StreamState<'a> {
    limits: BatchLimits,
    batch: Vec<Row>,
    on_batch: &'a mut dyn FnMut(Vec<Row>) -> bool,
    stopped: bool,
    /// A shape problem found while parsing (reported as Malformed with this reason).
    bad: Option<String>,
    consumed: Rc<Cell<u64>>,
    flushed_at: u64,
    /// Elements of `data` read so far, handed over or not.
    rows: u64,
}

impl StreamState<'_> {
    fn push(&mut self, row: Row) -> bool {
        self.rows += 1;
        self.batch.push(trim_keys(row));
        let read = self.consumed.get();
        if self.batch.len() >= self.limits.rows || read - self.flushed_at >= self.limits.bytes {
            self.flushed_at = read;
            let batch = std::mem::take(&mut self.batch);
            if !(self.on_batch)(batch) {
                self.stopped = true;
                return false;
            }
        }
        true
    }
}

#[derive(Default)]
struct EnvelopeMeta {
    code: Option<Value>,
    error: Option<Value>,
    msg: Option<Value>,
    saw_data: bool,
}

struct EnvelopeSeed<'s, 'a> {
    state: &'s mut StreamState<'a>,
}

impl<'de> DeserializeSeed<'de> for EnvelopeSeed<'_, '_> {
    type Value = EnvelopeMeta;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<EnvelopeMeta, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EnvelopeSeed<'_, '_> {
    type Value = EnvelopeMeta;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the {code, error, msg, data} envelope")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EnvelopeMeta, A::Error> {
        let mut meta = EnvelopeMeta::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.trim() {
                "code" => meta.code = Some(map.next_value::<Scalar>()?.0),
                "error" => meta.error = Some(map.next_value::<Scalar>()?.0),
                "msg" => meta.msg = Some(map.next_value::<Scalar>()?.0),
                "data" => {
                    meta.saw_data = true;
                    map.next_value_seed(DataSeed { state: &mut *self.state })?
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(meta)
    }
}

/// `code`, `error` or `msg`: a scalar as sent; an array or object in their place is read
/// without being kept (its strings are cut anyway, but not their number).
struct Scalar(Value);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, a number or null")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar(Value::String(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar(Value::String(v)))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar(Value::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar(Value::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar(Value::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar(Value::from(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar(Value::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar(Value::String("(an array)".into())))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar(Value::String("(an object)".into())))
    }
}

/// How much of each long string a cut row keeps in the quarantine.
pub const QUARANTINE_PREFIX: usize = 1024;

/// Why `row` cannot be stored as sent, if [`bounded::Bounded`] cut it: the row over
/// [`ROW_CAP`], a field name over [`VALUE_CAP`], or the (first) field whose value is over it.
/// `None` for a row that arrived whole.
pub fn cut_reason(row: &Row) -> Option<String> {
    if row.contains_key(cut_mark()) {
        return Some(format!("row over {ROW_CAP} bytes"));
    }
    for (name, value) in row {
        if name.ends_with(cut_mark()) {
            return Some(format!("a field name over {VALUE_CAP} bytes: {}", clean(name)));
        }
        if holds_cut(value) {
            return Some(format!("value of field `{}` over {VALUE_CAP} bytes", clean(name)));
        }
    }
    None
}

fn holds_cut(value: &Value) -> bool {
    match value {
        Value::String(s) => s.ends_with(cut_mark()),
        Value::Array(items) => items.iter().any(holds_cut),
        Value::Object(members) => members.iter().any(|(k, v)| k.ends_with(cut_mark()) || holds_cut(v)),
        _ => false,
    }
}

/// A cut row as the quarantine keeps it: every string (key or value) longer than
/// [`QUARANTINE_PREFIX`] bytes shortened to its start and [`cut_mark`], so what is kept stays
/// small (at most the row cap) and still shows where the row was cut.
pub fn shrink_cut(row: Row) -> Row {
    row.into_iter().map(|(k, v)| (shrink_text(k), shrink_value(v))).collect()
}

fn shrink_value(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(shrink_text(s)),
        Value::Array(items) => Value::Array(items.into_iter().map(shrink_value).collect()),
        Value::Object(members) => Value::Object(shrink_cut(members)),
        other => other,
    }
}

fn shrink_text(mut s: String) -> String {
    if s.len() <= QUARANTINE_PREFIX + cut_mark().len() {
        return s;
    }
    let mut end = QUARANTINE_PREFIX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s.push_str(cut_mark());
    s
}

struct DataSeed<'s, 'a> {
    state: &'s mut StreamState<'a>,
}

impl<'de> DeserializeSeed<'de> for DataSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DataSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`data` as an array of objects, an object, or null")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(item) = seq.next_element::<Value>()? {
            match item {
                Value::Object(row) => {
                    if !self.state.push(row) {
                        return Err(de::Error::custom("stopped by the caller"));
                    }
                }
                other => {
                    let reason =
                        format!("a `data` element is not an object: {}", snippet(other.to_string().as_bytes()));
                    self.state.bad = Some(reason.clone());
                    return Err(de::Error::custom(reason));
                }
            }
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        // Some endpoints answer a single object (or, for cdr_4, an object keyed by bucket).
        let row = Map::deserialize(de::value::MapAccessDeserializer::new(map))?;
        if !self.state.push(row) {
            return Err(de::Error::custom("stopped by the caller"));
        }
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.not_rows(v)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.not_rows(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.not_rows(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.not_rows(v)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.not_rows(v)
    }
}

impl DataSeed<'_, '_> {
    fn not_rows<E: de::Error>(self, v: impl fmt::Display) -> Result<(), E> {
        let reason = format!("`data` is neither an array nor an object: {}", snippet(v.to_string().as_bytes()));
        self.state.bad = Some(reason.clone());
        Err(E::custom(reason))
    }
}

fn classify(status: u16, msg: String) -> ApiError {
    let upper = msg.to_uppercase();
    match status {
        401 => ApiError::InvalidToken { status, msg },
        403 if upper.contains("TOKEN LIMIT") => ApiError::TokenLimit { msg },
        403 if upper.contains("SIMULTANEOUS") => ApiError::SimultaneousUse { msg },
        403 if upper.contains("VALIDATE TOKEN") || upper.contains("INVALID TOKEN") => {
            ApiError::InvalidToken { status, msg }
        }
        403 => ApiError::Forbidden { msg },
        400 if upper.contains("DOES NOT EXIST") => ApiError::UnknownReport { msg },
        _ => ApiError::BadRequest { status, msg },
    }
}

fn trim_keys(object: Row) -> Row {
    if object.keys().all(|k| k.trim().len() == k.len()) {
        return object;
    }
    object.into_iter().map(|(k, v)| (k.trim().to_string(), v)).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn api_text_is_cut_and_cannot_forge_a_log_line_or_reach_the_terminal() {
        let forged = "bad token\n2026-11-30T00:00:00Z  INFO wolkvox_etl: all good \u{1b}[31mred";
        let clean = super::clean(forged);
        assert!(!clean.contains('\n') && !clean.contains('\u{1b}'), "{clean:?}");
        assert!(clean.starts_with("bad token 2026-11-30"), "{clean:?}");
        let huge = "x".repeat(10_000_000);
        let cut = super::clean(&huge);
        assert_eq!(cut.chars().count(), super::SNIPPET_CHARS + 1, "at most the snippet and an ellipsis");
        assert!(cut.ends_with('…'));
        // A huge error page becomes a short error, and a huge `msg` too.
        let page = format!("<html>{}</html>", "y".repeat(20_000_000));
        let e = super::decode_error(400, File::Reports, page.as_bytes()).unwrap_err().to_string();
        assert!(e.len() < 1_000, "{} bytes", e.len());
        let envelope = format!(r#"{{"code":"400","error":"x","msg":"{}\r\nFORGED","data":[]}}"#, "z".repeat(5_000_000));
        let e = super::decode_error(400, File::Reports, envelope.as_bytes()).unwrap_err().to_string();
        assert!(e.len() < 1_000 && !e.contains('\r') && !e.contains('\n'), "{} bytes", e.len());
    }

    use super::*;
    use serde_json::json;

    fn ok(status: u16, body: &str) -> Vec<Row> {
        decode(status, body.as_bytes()).unwrap_or_else(|e| panic!("{body}: {e}"))
    }

    fn err(status: u16, body: &str) -> ApiError {
        decode(status, body.as_bytes()).expect_err(body)
    }

    #[test]
    fn each_file_reads_its_own_success_codes() {
        let info = |body: &str| decode_from(File::Information, 200, body.as_bytes());
        let row = r#"[{"a":"1"}]"#;
        for code in [r#""0""#, "0", r#""""#, r#""200""#, "200", "null"] {
            let body = format!(r#"{{"code":{code},"error":null,"msg":"1 records were found","data":{row}}}"#);
            assert_eq!(info(&body).unwrap_or_else(|e| panic!("{code}: {e}")).len(), 1, "{code}");
        }
        // reports_manager.php never answers 0: an answer it cannot read either way is malformed.
        let zero = r#"{"code":"0","error":null,"msg":"1 records were found","data":[{"a":"1"}]}"#;
        assert!(matches!(err(200, zero), ApiError::Malformed { .. }));
        assert_eq!(ok(200, r#"{"code":"","error":null,"msg":"","data":[{"a":"1"}]}"#).len(), 1);
        assert!(matches!(err(200, r#"{"code":"abc","data":[]}"#), ApiError::Malformed { .. }));
    }

    #[test]
    fn an_envelope_that_says_one_thing_and_carries_another_is_contradictory() {
        let rows = r#"[{"a":"1"},{"a":"2"}]"#;
        for body in [
            format!(r#"{{"code":"404","error":"NOT FOUND","msg":"0 records were found","data":{rows}}}"#),
            format!(r#"{{"data":{rows},"code":404}}"#),
            format!(r#"{{"code":"200","error":"INTERNAL ERROR","msg":"x","data":{rows}}}"#),
        ] {
            let e = err(200, &body);
            assert!(matches!(&e, ApiError::Contradictory { what } if what.contains("2 row(s)")), "{body}: {e:?}");
            assert!(e.is_retryable());
        }
        // An HTTP 404 whose envelope carries rows is not "no records" either.
        let e = err(404, &format!(r#"{{"code":"200","error":null,"msg":"2 records were found","data":{rows}}}"#));
        assert!(matches!(e, ApiError::Contradictory { .. }), "{e:?}");
        // An error text under a success code contradicts it even without rows: an empty window
        // must not commit on it. Texts that mean no error are no error.
        assert!(ok(200, r#"{"code":"200","error":"NOT FOUND","msg":"0 records were found","data":[]}"#).is_empty());
        let e = err(200, r#"{"code":"200","error":"INTERNAL ERROR","msg":"x","data":[]}"#);
        assert!(matches!(e, ApiError::Contradictory { .. }), "{e:?}");
        for nothing in [r#""""#, r#""null""#, "false", "0", r#""OK""#] {
            let body = format!(r#"{{"code":200.0,"error":{nothing},"msg":"x","data":[{{"a":"1"}}]}}"#);
            assert_eq!(ok(200, &body).len(), 1, "{body}");
        }
        assert!(ok(404, r#"{"code":"404","error":"NOT FOUND","msg":"0 records were found","data":[]}"#).is_empty());
    }

    #[test]
    fn code_may_be_a_string_or_a_number() {
        let s = ok(200, r#"{"code":"200","error":null,"msg":"1 records were found","data":[{"a":"1"}]}"#);
        let n = ok(200, r#"{"code":200,"error":null,"msg":"1 records were found","data":[{"a":"1"}]}"#);
        assert_eq!(s, n);
        assert_eq!(s[0]["a"], json!("1"));
    }

    #[test]
    fn the_apis_404_envelope_means_no_records_but_any_other_404_is_an_error() {
        assert!(ok(404, r#"{"code":"404","error":"NOT FOUND","msg":"0 records were found","data":[]}"#).is_empty());
        assert!(ok(404, r#"{"code":404,"error":"NOT FOUND","msg":"NOT FOUND"}"#).is_empty());
        assert!(ok(200, r#"{"code":"404","error":"NOT FOUND","msg":"0 records were found","data":[]}"#).is_empty());
        let e = err(404, "<html>Not Found</html>");
        assert!(matches!(e, ApiError::BadRequest { status: 404, .. }) && !e.is_retryable(), "{e:?}");
        assert!(matches!(err(404, ""), ApiError::BadRequest { status: 404, .. }));
        // The API's 404 envelope cut off (or with a damaged byte) is a fault to retry.
        let cut = err(404, r#"{"code":"404","error":"NOT FOUND","msg":"0 rec"#);
        assert!(matches!(cut, ApiError::Malformed { status: 404, .. }) && cut.is_retryable(), "{cut:?}");
        assert!(matches!(err(302, ""), ApiError::BadRequest { status: 302, .. }));
    }

    #[test]
    fn an_error_inside_an_http_200_is_an_error() {
        let e = err(200, r#"{"code":403,"error":"FORBIDDEN","msg":"TOKEN LIMIT EXCEEDED"}"#);
        assert!(matches!(e, ApiError::TokenLimit { .. }), "{e:?}");
        let e = err(200, r#"{"code":"500","error":"x","msg":"boom"}"#);
        assert!(matches!(e, ApiError::Server { status: 500, .. }), "{e:?}");
    }

    #[test]
    fn the_forbidden_texts_map_to_their_meaning() {
        let body = |msg: &str| format!(r#"{{"code":403,"error":"FORBIDDEN","msg":"{msg}"}}"#);
        assert!(matches!(err(403, &body("TOKEN LIMIT EXCEEDED")), ApiError::TokenLimit { .. }));
        assert!(matches!(
            err(403, &body("EXCEEDS THE LIMIT OF SIMULTANEOUS REQUESTS PER TOKEN (2)")),
            ApiError::SimultaneousUse { .. }
        ));
        assert!(matches!(err(403, &body("PLEASE VALIDATE TOKEN")), ApiError::InvalidToken { .. }));
        assert!(matches!(err(403, "<html>maintenance</html>"), ApiError::Forbidden { .. }));
        assert!(matches!(
            err(401, r#"{"code":401,"error":"UNAUTHORIZED","msg":"PLEASE ENTER THE WOLKVOX-TOKEN"}"#),
            ApiError::InvalidToken { status: 401, .. }
        ));
        assert!(matches!(
            err(400, r#"{"code":400,"error":"BAD REQUEST","msg":"THE API YOU WANT TO CONSULT DOES NOT EXIST"}"#),
            ApiError::UnknownReport { .. }
        ));
        assert!(matches!(
            err(400, r#"{"code":400,"error":"BAD REQUEST","msg":"SOME PARAMETERS ARE REQUIRED"}"#),
            ApiError::BadRequest { .. }
        ));
    }

    #[test]
    fn broken_bodies_are_malformed_or_server_errors_never_empty() {
        assert!(matches!(err(200, r#"{"code":"200","data":[{"a":"1"}"#), ApiError::Malformed { .. }));
        assert!(matches!(decode(200, b"\xff\xfe{}"), Err(ApiError::Malformed { .. })));
        assert!(matches!(err(200, r#"{"code":"200","data":"oops"}"#), ApiError::Malformed { .. }));
        assert!(matches!(err(200, r#"{"code":"200","data":[1,2]}"#), ApiError::Malformed { .. }));
        assert!(matches!(err(502, "<html>Bad Gateway</html>"), ApiError::Server { status: 502, .. }));
    }

    #[test]
    fn data_may_be_a_single_object_or_absent_and_keys_are_trimmed() {
        let rows = ok(200, r#"{"code":"200","data":{"agent_anwers ":"3"}}"#);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["agent_anwers"], json!("3"));
        assert!(ok(200, r#"{"code":"200","error":null,"msg":"0 records were found"}"#).is_empty());
    }

    #[test]
    fn long_bodies_are_cut_in_error_messages() {
        let long = "x".repeat(10_000);
        let text = err(500, &long).to_string();
        assert!(text.len() < 400, "{}", text.len());
    }

    fn rows_json(n: usize) -> String {
        let rows: Vec<String> = (0..n).map(|i| format!(r#"{{"id":"{i}","pad":"{}"}}"#, "x".repeat(50))).collect();
        format!("[{}]", rows.join(","))
    }

    #[test]
    fn a_stream_hands_over_every_row_in_order_in_bounded_batches() {
        let body = format!(r#"{{"code":"200","error":null,"msg":"x","data":{}}}"#, rows_json(2_345));
        let mut sizes = Vec::new();
        let mut ids = Vec::new();
        let limits = BatchLimits { rows: 1_000, bytes: u64::MAX };
        let end = parse_stream(body.as_bytes(), 200, File::Reports, limits, &mut |batch| {
            sizes.push(batch.len());
            ids.extend(batch.into_iter().map(|r| r["id"].as_str().unwrap().parse::<usize>().unwrap()));
            true
        });
        assert_eq!(end.unwrap(), StreamEnd::Complete);
        assert_eq!(sizes, vec![1_000, 1_000, 345]);
        assert_eq!(ids, (0..2_345).collect::<Vec<_>>());
    }

    #[test]
    fn wide_rows_make_smaller_batches() {
        // Rows of about 1 KiB; a batch is full at 256 KiB, read up to one parse buffer late.
        let rows: Vec<String> =
            (0..4_000).map(|i| format!(r#"{{"id":"{i}","pad":"{}"}}"#, "x".repeat(1_000))).collect();
        let body = format!(r#"{{"code":200,"data":[{}]}}"#, rows.join(","));
        let mut sizes = Vec::new();
        let limits = BatchLimits { rows: 4_000, bytes: 256 * 1024 };
        parse_stream(body.as_bytes(), 200, File::Reports, limits, &mut |batch| {
            sizes.push(batch.len());
            true
        })
        .unwrap();
        let most = (256 * 1024 + PARSE_BUFFER) / 1_000 + 1;
        assert!(sizes.len() > 5 && sizes.iter().all(|n| *n <= most), "{sizes:?}");
        assert_eq!(sizes.iter().sum::<usize>(), 4_000);
    }

    #[test]
    fn the_caller_can_stop_reading_early() {
        let body = format!(r#"{{"code":"200","data":{}}}"#, rows_json(10_000));
        let mut seen = 0;
        let end = parse_stream(
            body.as_bytes(),
            200,
            File::Reports,
            BatchLimits { rows: 100, bytes: u64::MAX },
            &mut |batch| {
                seen += batch.len();
                seen < 300
            },
        );
        assert_eq!(end.unwrap(), StreamEnd::Stopped);
        assert_eq!(seen, 300);
    }

    #[test]
    fn an_error_code_after_the_rows_is_still_an_error() {
        let body =
            format!(r#"{{"data":{},"code":"403","error":"FORBIDDEN","msg":"TOKEN LIMIT EXCEEDED"}}"#, rows_json(3));
        let end =
            parse_stream(body.as_bytes(), 200, File::Reports, BatchLimits { rows: 1, bytes: u64::MAX }, &mut |_| true);
        assert!(matches!(end, Err(ApiError::TokenLimit { .. })), "{end:?}");
    }

    #[test]
    fn a_row_holding_a_cut_value_is_handed_over_marked_and_the_rest_whole() {
        let body = format!(
            r#"{{"code":"200","msg":"x","data":[{{"id":"1"}},{{"id":"2","message":"{}"}},{{"id":"3"}}]}}"#,
            "m".repeat(5_000)
        );
        let mut rows = Vec::new();
        let caps = Caps { value: 100, row: 1_000 };
        parse_bounded(
            body.as_bytes(),
            200,
            File::Reports,
            BatchLimits { rows: 10, bytes: u64::MAX },
            caps,
            &mut |batch| {
                rows.extend(batch);
                true
            },
        )
        .unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!((cut_reason(&rows[0]), cut_reason(&rows[2])), (None, None));
        assert_eq!(cut_reason(&rows[1]).unwrap(), format!("value of field `message` over {VALUE_CAP} bytes"));
        let kept = shrink_cut(rows[1].clone());
        assert_eq!(kept["id"], json!("2"));
        let message = kept["message"].as_str().unwrap();
        assert!(message.len() < 200 && message.ends_with(cut_mark()), "{message}");
    }

    #[test]
    fn an_answer_cannot_forge_a_cut_with_the_marks_visible_text() {
        // A chat message ending with the mark's text, with or without a guessed nonce.
        for forged in [
            format!("hello {CUT_MARK_TEXT}]"),
            format!("hello {CUT_MARK_TEXT} 0000000000000000]"),
            format!("hello {CUT_MARK_TEXT}"),
        ] {
            let mut row = Row::new();
            row.insert("message".into(), json!(forged));
            row.insert(forged.clone(), json!("as a key"));
            assert_eq!(cut_reason(&row), None, "{forged}");
        }
        assert!(cut_mark().starts_with(CUT_MARK_TEXT) && cut_mark().len() > CUT_MARK_TEXT.len() + 16);
    }

    #[test]
    fn a_cut_row_and_a_cut_field_name_say_so_and_the_quarantine_copy_is_small() {
        let mut row = Row::new();
        row.insert(cut_mark().to_owned(), json!("row over 4194304 bytes"));
        assert_eq!(cut_reason(&row).unwrap(), format!("row over {ROW_CAP} bytes"));
        let mut row = Row::new();
        row.insert(format!("{}{}", "k".repeat(3_000), cut_mark()), json!("v"));
        assert!(cut_reason(&row).unwrap().starts_with("a field name over"));
        let mut row = Row::new();
        row.insert("bucket".into(), json!({"inner": format!("{}{}", "y".repeat(3_000), cut_mark())}));
        assert_eq!(cut_reason(&row).unwrap(), format!("value of field `bucket` over {VALUE_CAP} bytes"));
        let kept = serde_json::to_string(&shrink_cut(row)).unwrap();
        assert!(kept.len() < QUARANTINE_PREFIX + 100, "{} bytes", kept.len());
    }

    #[test]
    fn a_huge_msg_inside_a_200_is_a_short_error_and_odd_shapes_of_it_are_not_kept() {
        let body = format!(r#"{{"code":"400","error":"BAD REQUEST","msg":"{}","data":[]}}"#, "z".repeat(3_000_000));
        let e = err(200, &body);
        assert!(matches!(e, ApiError::BadRequest { status: 400, .. }), "{e:?}");
        assert!(e.to_string().len() < 1_000, "{} bytes", e.to_string().len());
        let e = err(200, r#"{"code":"403","error":"FORBIDDEN","msg":["TOKEN LIMIT EXCEEDED",1,2,3]}"#);
        assert!(matches!(e, ApiError::Forbidden { ref msg } if msg == "(an array)"), "{e:?}");
    }

    #[test]
    fn a_transport_failure_mid_body_surfaces_as_itself_not_as_bad_json() {
        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let head = br#"{"code":"200","data":[{"a":"1"},"#;
                if self.0 < head.len() {
                    let n = buf.len().min(head.len() - self.0);
                    buf[..n].copy_from_slice(&head[self.0..self.0 + n]);
                    self.0 += n;
                    return Ok(n);
                }
                Err(ReaderError::into_io(ApiError::Timeout { seconds: 90 }))
            }
        }
        let end = parse_stream(Failing(0), 200, File::Reports, BatchLimits { rows: 1, bytes: u64::MAX }, &mut |_| true);
        assert!(matches!(end, Err(ApiError::Timeout { seconds: 90 })), "{end:?}");
    }
}

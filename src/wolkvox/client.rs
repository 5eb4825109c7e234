//! The HTTP client for `reports_manager.php`: one request is [`WolkvoxClient::open`], its
//! retries are a [`Retrier`]; and for `information.php?api=token_info`
//! ([`WolkvoxClient::token_info`]).
//!
//! `open` owns everything about one request: the token header and the timeout (through the one
//! private `send`, which `token_info` uses too), holding the token's in-flight permit exactly
//! while the request is on the wire (until its body has been read), mapping statuses to
//! [`ApiError`], and streaming the body: a task reads it chunk by chunk and a blocking parser
//! turns `data`'s elements into batches of rows as they arrive, with bounded channels in
//! between, so memory stays flat whatever the response size.
//!
//! [`Retrier`] owns the retry policy ([`RetryPolicy`], built from `[wolkvox]` by the config). It
//! retries only what the error calls transient (timeouts, network, 5xx, malformed bodies,
//! simultaneous use, maintenance, a database that is briefly away), with a doubling, jittered
//! backoff capped at `retry.max_backoff`; no permit is held while it sleeps, so other jobs on the
//! same token are not starved. The retried unit is the caller's whole attempt (request + writing
//! its rows in a transaction), because a response that fails half-way must also roll back what it
//! already wrote.

use std::io::{BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::NaiveDateTime;
use reqwest::Url;
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tracing::debug;

use super::api_token_count::TokenInfo;
use super::body::{Body, ACCEPT_ENCODING};
use super::envelope::{self, BatchLimits, File, ReaderError, StreamEnd};
use super::error::ApiError;
use super::token::Token;
use super::Row;

/// The API's datetime parameter format: 14 digits of local time.
const PARAM_FORMAT: &str = "%Y%m%d%H%M%S";

/// Rows per batch handed to the caller, and the body bytes after which a batch is handed over
/// early (wide rows): together they bound the memory one response can hold.
pub const BATCH: BatchLimits = BatchLimits { rows: 5_000, bytes: 1024 * 1024 };

/// Body chunks buffered between the network task and the parser.
const CHUNKS_IN_FLIGHT: usize = 4;

/// An error the retry loop can judge.
pub trait Retryable: std::fmt::Display {
    /// Whether the same attempt may succeed if made again later.
    fn is_retryable(&self) -> bool;
    /// A short, stable name for metrics and logs.
    fn kind(&self) -> &'static str;
}

impl Retryable for ApiError {
    fn is_retryable(&self) -> bool {
        ApiError::is_retryable(self)
    }
    fn kind(&self) -> &'static str {
        ApiError::kind(self)
    }
}

/// A client for one wolkvox server.
#[derive(Clone, Debug)]
pub struct WolkvoxClient {
    http: reqwest::Client,
    base: Url,
    timeout: Duration,
    retry: RetryPolicy,
}

/// One streamed response: batches of rows in order, then the end (or an error).
#[derive(Debug)]
pub struct RowStream {
    rx: mpsc::Receiver<Item>,
    done: bool,
    /// The answer's bytes so far: on the wire, and decoded.
    bytes: Arc<[AtomicU64; 2]>,
    /// The task reading the body; it holds the token's permit until the body is read.
    reader: Option<tokio::task::JoinHandle<()>>,
}

#[derive(Debug)]
enum Item {
    Rows(Vec<Row>),
    End,
    Failed(ApiError),
}

impl RowStream {
    /// The answer's bytes read, on the wire and decoded, as a reader that outlives the stream
    /// (read it after [`RowStream::finish`], once the body is read).
    pub fn bytes(&self) -> impl Fn() -> (u64, u64) + use<> {
        let bytes = Arc::clone(&self.bytes);
        move || (bytes[0].load(Ordering::Relaxed), bytes[1].load(Ordering::Relaxed))
    }

    /// The next batch, `Ok(None)` at the end of a complete response, or the error that ended it.
    /// Dropping the stream early stops reading and closes the connection.
    pub async fn next_batch(&mut self) -> Result<Option<Vec<Row>>, ApiError> {
        if self.done {
            return Ok(None);
        }
        match self.rx.recv().await {
            Some(Item::Rows(rows)) => Ok(Some(rows)),
            Some(Item::End) => {
                self.done = true;
                Ok(None)
            }
            Some(Item::Failed(e)) => {
                self.done = true;
                Err(e)
            }
            // The parser stopped without saying why: never take that for a complete answer.
            None => Err(ApiError::Malformed { status: 200, reason: "the response ended without its end".into() }),
        }
    }

    /// Stops reading (if the caller stopped early) and waits until the connection is done with:
    /// after this, the request is no longer in flight and the token may be used again.
    pub async fn finish(mut self) {
        self.rx.close();
        drop(self.rx);
        if let Some(reader) = self.reader.take() {
            let _ = reader.await;
        }
    }

    fn of_rows(rows: Vec<Row>) -> RowStream {
        let (tx, rx) = mpsc::channel(2);
        // Capacity 2 holds both items, so these sends cannot fail.
        if !rows.is_empty() {
            let _ = tx.try_send(Item::Rows(rows));
        }
        let _ = tx.try_send(Item::End);
        RowStream { rx, done: false, bytes: Arc::default(), reader: None }
    }
}

/// Reads body chunks sent by the network task, for the blocking parser.
struct ChunkReader {
    rx: mpsc::Receiver<Result<Bytes, ApiError>>,
    current: Bytes,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => return Err(ReaderError::into_io(e)),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

impl WolkvoxClient {
    /// A client for the API at `base` (ending in `/api/v2/`), trusting the built-in roots and
    /// `extra_roots` (`wolkvox.ca_file`).
    pub fn new(
        base: Url,
        timeout: Duration,
        retry: RetryPolicy,
        extra_roots: &[reqwest::Certificate],
    ) -> Result<Self, ApiError> {
        let builder = reqwest::Client::builder()
            .timeout(timeout)
            // A redirect would carry the token header to wherever it points (even plain http):
            // never follow one.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("wolkvox-etl/", env!("CARGO_PKG_VERSION")));
        // `wolkvox.ca_file`: trusted besides the built-in roots, never instead of them, so a
        // proxy's CA cannot make the real API's certificate untrusted.
        let http = extra_roots
            .iter()
            .fold(builder, |b, cert| b.add_root_certificate(cert.clone()))
            .build()
            .map_err(|e| ApiError::Network(format!("cannot build the HTTP client: {e}")))?;
        Ok(WolkvoxClient { http, base, timeout, retry })
    }

    fn url(&self, api: &str, from: NaiveDateTime, to: NaiveDateTime, params: &[(&str, &str)]) -> Result<Url, ApiError> {
        let file = super::catalog::find(api).map_or("reports_manager.php", |r| r.file);
        let mut url = self.base.join(file).map_err(|e| ApiError::Network(format!("bad base URL: {e}")))?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("api", api);
            query.append_pair("date_ini", &from.format(PARAM_FORMAT).to_string());
            query.append_pair("date_end", &to.format(PARAM_FORMAT).to_string());
            for (k, v) in params {
                query.append_pair(k, v);
            }
        }
        Ok(url)
    }

    /// Sends one request for report `api` over the inclusive local window `[from, to]` and
    /// streams its rows. `permit` is the token's in-flight slot ([`Token::acquire`]); it is held
    /// until the body has been read (or the stream is finished early).
    pub async fn open(
        &self,
        token: &Token,
        permit: OwnedSemaphorePermit,
        api: &str,
        from: NaiveDateTime,
        to: NaiveDateTime,
        params: &[(&str, &str)],
    ) -> Result<RowStream, ApiError> {
        let url = self.url(api, from, to, params)?;
        let file = File::named(super::catalog::find(api).map_or("reports_manager.php", |r| r.file));
        let response = self.send(url, token).await?;
        let status = response.status().as_u16();
        if !(200..=299).contains(&status) {
            // An error body is read up to a cap: a hostile or broken server's 400 MB page must
            // not take 400 MB. What is past the cap is not read (the connection is dropped).
            let body = self.error_body(response).await?;
            drop(permit);
            return envelope::decode_error(status, file, &body).map(RowStream::of_rows);
        }
        Ok(self.stream(response, permit, status, file, Some(REPORT_BODY_CAP)))
    }

    /// Streams a 2xx body into batches of rows: a task reads and decodes it chunk by chunk
    /// (holding `permit` until the body is read) and a blocking parser turns it into rows as it
    /// arrives. With `cap`, a body that decodes to more than that many bytes fails as
    /// `Malformed`, naming the cap: the bytes after decoding are what count.
    fn stream(
        &self,
        response: reqwest::Response,
        permit: OwnedSemaphorePermit,
        status: u16,
        file: File,
        cap: Option<u64>,
    ) -> RowStream {
        let (chunk_tx, chunk_rx) = mpsc::channel::<Result<Bytes, ApiError>>(CHUNKS_IN_FLIGHT);
        let (rows_tx, rows_rx) = mpsc::channel::<Item>(1);
        let timeout = self.timeout;
        let bytes: Arc<[AtomicU64; 2]> = Arc::default();
        let counted = Arc::clone(&bytes);
        let reader = tokio::spawn(async move {
            // The permit travels with the body: the request is in flight until it is read.
            let _permit = permit;
            let mut body = match Body::of(response, timeout) {
                Ok(body) => body,
                Err(e) => {
                    let _ = chunk_tx.send(Err(e)).await;
                    return;
                }
            };
            loop {
                let next = body.next().await;
                counted[0].store(body.wire_bytes(), Ordering::Relaxed);
                counted[1].store(body.decoded_bytes(), Ordering::Relaxed);
                let next = match next {
                    Ok(Some(chunk)) => match cap {
                        Some(cap) if body.decoded_bytes() > cap => Err(ApiError::Malformed {
                            status,
                            reason: format!(
                                "the answer is longer than the {} MiB it may take ({} MiB on the wire, {})",
                                cap >> 20,
                                body.wire_bytes() >> 20,
                                body.encoding()
                            ),
                        }),
                        _ => Ok(chunk),
                    },
                    Ok(None) => break,
                    Err(e) => Err(e),
                };
                let failed = next.is_err();
                if chunk_tx.send(next).await.is_err() || failed {
                    break; // the parser is gone (caller stopped early), or the body failed
                }
            }
        });
        tokio::task::spawn_blocking(move || {
            let reader = BufReader::with_capacity(64 * 1024, ChunkReader { rx: chunk_rx, current: Bytes::new() });
            let sent = |rows| rows_tx.blocking_send(Item::Rows(rows)).is_ok();
            let mut on_batch = sent;
            let end = match envelope::parse_stream(reader, status, file, BATCH, &mut on_batch) {
                Ok(StreamEnd::Complete) => Item::End,
                Ok(StreamEnd::Stopped) => return,
                Err(e) => Item::Failed(e),
            };
            let _ = rows_tx.blocking_send(end);
        });
        RowStream { rx: rows_rx, done: false, bytes, reader: Some(reader) }
    }

    /// Reads `information.php?api=token_info` for `token`: the API's own count of the token's
    /// calls today and of the whole operation's. `permit` is the token's in-flight slot
    /// ([`Token::acquire`]), held until the (small) body has been read. One request, which costs
    /// a daily call like any other; retrying is the caller's ([`Retrier`]). An answer without a
    /// `data` object is `Malformed`; blank figures are `None` ([`TokenInfo`]).
    pub async fn token_info(&self, token: &Token, permit: OwnedSemaphorePermit) -> Result<TokenInfo, ApiError> {
        let (status, rows) = self.information_answer(token, permit, "token_info", &[]).await?;
        let row = rows.first().ok_or_else(|| ApiError::Malformed {
            status,
            reason: "token_info answered without a `data` object".into(),
        })?;
        let mut info = TokenInfo::from_row(row);
        // The description names the token in wolkvox Manager; should an API ever answer the
        // secret there, it must not reach a log, a table or the terminal.
        if info.description.as_deref().is_some_and(|d| token.is_secret(d)) {
            info.description = None;
        }
        Ok(info)
    }

    /// Asks `information.php?api=<api>` (reference data: agents, skills, …) with `params`; the
    /// answer's objects. The permit is held until the body is read. An empty answer (the 404 of
    /// "no records") is an empty list.
    pub async fn information(
        &self,
        token: &Token,
        permit: OwnedSemaphorePermit,
        api: &str,
        params: &[(&str, &str)],
    ) -> Result<Vec<Row>, ApiError> {
        Ok(self.information_answer(token, permit, api, params).await?.1)
    }

    async fn information_answer(
        &self,
        token: &Token,
        permit: OwnedSemaphorePermit,
        api: &str,
        params: &[(&str, &str)],
    ) -> Result<(u16, Vec<Row>), ApiError> {
        let mut url = self.base.join("information.php").map_err(|e| ApiError::Network(format!("bad base URL: {e}")))?;
        url.query_pairs_mut().append_pair("api", api).extend_pairs(params);
        let response = self.send(url, token).await?;
        let status = response.status().as_u16();
        if !(200..=299).contains(&status) {
            let body = self.error_body(response).await?;
            drop(permit);
            return Ok((status, envelope::decode_error(status, File::Information, &body)?));
        }
        // Streamed through the same bounded parser as reports, and the whole answer capped: its
        // rows are collected, so what they hold is what it costs in memory. The bytes alone do
        // not bound that (64 MiB of `{"a":1}` would be millions of map entries): the values do.
        let mut stream = self.stream(response, permit, status, File::Information, Some(INFORMATION_BODY_CAP));
        let mut rows = Vec::new();
        let mut values = 0usize;
        let read = loop {
            match stream.next_batch().await {
                Ok(Some(batch)) => {
                    values += batch.iter().flat_map(|row| row.values()).map(values_in).sum::<usize>();
                    if values > INFORMATION_VALUE_CAP {
                        break Err(ApiError::Malformed {
                            status,
                            reason: format!(
                                "the answer holds more than the {INFORMATION_VALUE_CAP} values it may (its rows are held together)"
                            ),
                        });
                    }
                    rows.extend(batch);
                }
                Ok(None) => break Ok(rows),
                Err(e) => break Err(e),
            }
        };
        stream.finish().await;
        Ok((status, read?))
    }

    /// The first [`ERROR_BODY_CAP`] decoded bytes of an error response; the rest is not read
    /// (dropping the response closes the connection).
    async fn error_body(&self, response: reqwest::Response) -> Result<Vec<u8>, ApiError> {
        let mut reader = Body::of(response, self.timeout)?;
        let mut body = Vec::new();
        while body.len() < ERROR_BODY_CAP {
            match reader.next().await? {
                Some(chunk) => body.extend_from_slice(&chunk[..chunk.len().min(ERROR_BODY_CAP - body.len())]),
                None => break,
            }
        }
        Ok(body)
    }

    /// Sends one GET with the token's header. The client's timeout covers the whole request,
    /// its body included; redirects are never followed (see [`WolkvoxClient::new`]).
    async fn send(&self, url: Url, token: &Token) -> Result<reqwest::Response, ApiError> {
        self.http
            .get(url)
            .header("wolkvox-token", token.header_value())
            .header(reqwest::header::ACCEPT_ENCODING, ACCEPT_ENCODING)
            .send()
            .await
            .map_err(|e| self.transport_error(e))
    }

    /// Attempts per request: what a window that failed with a retryable error took.
    pub fn max_attempts(&self) -> u32 {
        self.retry.max_attempts.max(1)
    }

    /// A retry loop for one unit of work, driven by the caller:
    /// `loop { let r = attempt().await; if !retrier.again(api, token, &r).await { break r } }`.
    pub fn retrier(&self) -> Retrier {
        Retrier { policy: self.retry, attempts: 0 }
    }

    fn transport_error(&self, error: reqwest::Error) -> ApiError {
        transport_error(self.timeout, error)
    }
}

/// The most of an error (non-2xx) body that is read: the API's error envelopes are a few hundred
/// bytes; anything longer is only kept as a snippet anyway.
pub const ERROR_BODY_CAP: usize = 64 * 1024;

/// The most a report's answer may decode to: the API's own limit is 256 MB per answer, so more
/// is not an answer but a broken or hostile body (a small compressed one can expand without
/// bound). Past it the window fails as `Malformed`, and is retried, then split, like a cut body.
pub const REPORT_BODY_CAP: u64 = 256 * 1024 * 1024;

/// The most of an `information.php` 2xx body that is read (reference data and `token_info`): the
/// largest real answers (every agent, every skill) are a few megabytes. The rows of an answer are
/// held together: what they hold is capped too ([`INFORMATION_VALUE_CAP`]).
pub const INFORMATION_BODY_CAP: u64 = 64 * 1024 * 1024;

/// The most values (each field's, and each element of an array or object inside one) the rows of
/// one `information.php` answer may hold: they are held together, at up to a hundred bytes each
/// besides their text. An answer listing every agent or every skill holds some tens of thousands.
pub const INFORMATION_VALUE_CAP: usize = 500_000;

/// How many values `value` is: one, plus what an array or object holds.
fn values_in(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Array(items) => 1 + items.iter().map(values_in).sum::<usize>(),
        serde_json::Value::Object(members) => 1 + members.values().map(values_in).sum::<usize>(),
        _ => 1,
    }
}

/// Retry policy for transient API errors: doubling backoff with a cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, at least 1.
    pub max_attempts: u32,
    /// Delay before the second attempt.
    pub initial_backoff: Duration,
    /// The delay never grows past this.
    pub max_backoff: Duration,
}

/// Counts attempts and decides whether to retry, sleeping the backoff when it does.
#[derive(Debug)]
pub struct Retrier {
    policy: RetryPolicy,
    attempts: u32,
}

impl Retrier {
    /// Notes one attempt's result (each attempt sent one request, costing one daily token) and
    /// returns whether to try again; if so, it has already slept the backoff. Retries only
    /// errors that say they are retryable, at most `retry.max_attempts` attempts in all.
    pub async fn again<T, E: Retryable>(&mut self, api: &str, token: &Token, result: &Result<T, E>) -> bool {
        self.attempts += 1;
        crate::metrics::request(api, token.label(), result.as_ref().map_or_else(|e| e.kind(), |_| "ok"));
        let Err(error) = result else {
            return false;
        };
        if !error.is_retryable() || self.attempts >= self.policy.max_attempts {
            return false;
        }
        crate::metrics::retry(api, error.kind());
        let delay = backoff(self.policy, self.attempts);
        // DEBUG: the run's summary counts retries, and a failing run is logged once.
        debug!(
            attempt = self.attempts,
            max_attempts = self.policy.max_attempts,
            error_kind = error.kind(),
            backoff_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            "Attempt failed, retrying: {}",
            crate::text::one_line(&error.to_string(), crate::text::MESSAGE_CHARS)
        );
        tokio::time::sleep(delay).await;
        true
    }

    /// Attempts made so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

fn transport_error(timeout: Duration, error: reqwest::Error) -> ApiError {
    if error.is_timeout() {
        ApiError::Timeout { seconds: timeout.as_secs() }
    } else if error.is_connect() {
        ApiError::Connect(error.to_string())
    } else {
        // reqwest's message names the URL (which holds no secret) and the cause.
        ApiError::Network(error.to_string())
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

    /// A server that answers every request with a 400 whose body is `size` bytes, and counts
    /// the bytes it managed to send before the client hung up.
    /// A client that tries once, with one token `t`.
    fn one_try_client(url: Url, timeout: Duration) -> (WolkvoxClient, super::super::Tokens) {
        let policy = RetryPolicy { max_attempts: 1, initial_backoff: Duration::ZERO, max_backoff: Duration::ZERO };
        let client = WolkvoxClient::new(url, timeout, policy, &[]).unwrap();
        let tokens = super::super::Tokens::new(&[super::super::token::NamedToken {
            label: "t".into(),
            secret: secrecy::SecretString::from("s".to_string()),
        }]);
        (client, tokens)
    }

    async fn huge_error_server(size: usize) -> (Url, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        huge_server("400 Bad Request", b"", size).await
    }

    /// A server that answers one request with `status`, a body starting with `head` and then
    /// `x` up to `size` bytes, and counts the bytes it managed to send before the client hung up.
    async fn huge_server(
        status: &'static str,
        head: &'static [u8],
        size: usize,
    ) -> (Url, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/api/v2/", listener.local_addr().unwrap())).unwrap();
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = std::sync::Arc::clone(&sent);
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let headers = format!("HTTP/1.1 {status}\r\ncontent-type: text/html\r\ncontent-length: {size}\r\n\r\n");
            socket.write_all(headers.as_bytes()).await.unwrap();
            socket.write_all(head).await.unwrap();
            counter.fetch_add(head.len(), std::sync::atomic::Ordering::Relaxed);
            let chunk = vec![b'x'; 64 * 1024];
            while counter.load(std::sync::atomic::Ordering::Relaxed) < size {
                if socket.write_all(&chunk).await.is_err() {
                    break;
                }
                counter.fetch_add(chunk.len(), std::sync::atomic::Ordering::Relaxed);
            }
        });
        (url, sent)
    }

    #[tokio::test]
    async fn a_huge_error_body_is_read_only_up_to_the_cap_and_becomes_a_short_error() {
        let size = 200 * 1024 * 1024;
        let (url, sent) = huge_error_server(size).await;
        let (client, tokens) = one_try_client(url, Duration::from_secs(30));
        let token = tokens.get("t").unwrap();
        let permit = token.acquire().await;
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let (from, to) = (day.and_hms_opt(0, 0, 0).unwrap(), day.and_hms_opt(23, 59, 59).unwrap());
        let opened = client.open(&token, permit, "chat_14", from, to, &[]).await;
        let Err(e) = opened else { panic!("a 400 is an error") };
        assert!(e.to_string().len() < 1_000, "a short error: {} bytes", e.to_string().len());
        tokio::time::sleep(Duration::from_millis(200)).await;
        let sent = sent.load(std::sync::atomic::Ordering::Relaxed);
        // What the sockets' buffers hold besides the cap; nowhere near the 200 MB offered.
        assert!(sent < 16 * 1024 * 1024, "the server could send {sent} bytes");
    }

    #[tokio::test]
    async fn an_information_answer_over_its_cap_fails_naming_the_cap_without_being_held() {
        let size = INFORMATION_BODY_CAP as usize + 16 * 1024 * 1024;
        let (url, sent) = huge_server("200 OK", br#"{"code":200,"data":[],"msg":""#, size).await;
        let (client, tokens) = one_try_client(url, Duration::from_secs(60));
        let token = tokens.get("t").unwrap();
        let permit = token.acquire().await;
        let e = client.information(&token, permit, "agents", &[]).await.expect_err("over the cap");
        assert!(matches!(e, ApiError::Malformed { status: 200, .. }), "{e:?}");
        assert!(e.to_string().contains("64 MiB"), "{e}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let sent = sent.load(std::sync::atomic::Ordering::Relaxed);
        assert!(sent < size - 8 * 1024 * 1024, "reading stopped at the cap: {sent} of {size} bytes sent");
    }

    /// A server that answers one request with a 200 whose body is `head`, `unit` `count` times,
    /// then `tail`.
    async fn repeating_server(head: &'static str, unit: &'static str, count: usize, tail: &'static str) -> Url {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/api/v2/", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let size = head.len() + unit.len() * count + tail.len();
            let headers =
                format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {size}\r\n\r\n");
            socket.write_all(headers.as_bytes()).await.unwrap();
            socket.write_all(head.as_bytes()).await.unwrap();
            let chunk = unit.repeat(4096);
            for _ in 0..count / 4096 {
                if socket.write_all(chunk.as_bytes()).await.is_err() {
                    return;
                }
            }
            let _ = socket.write_all(unit.repeat(count % 4096).as_bytes()).await;
            let _ = socket.write_all(tail.as_bytes()).await;
        });
        url
    }

    /// Far under the byte cap, an answer of many tiny values would still be held as maps at
    /// many times its size: the values collected are capped too, and the call fails naming it.
    #[tokio::test]
    async fn an_information_answer_with_too_many_values_fails_naming_the_cap() {
        let over = INFORMATION_VALUE_CAP + 1;
        let rows =
            repeating_server(r#"{"code":200,"data":["#, r#"{"a":1,"b":2,"c":3,"d":4},"#, over / 4, r#"{"a":1}]}"#);
        let nested = repeating_server(r#"{"code":200,"data":[{"a":["#, "1,", over, "1]}]}");
        for url in [rows.await, nested.await] {
            let (client, tokens) = one_try_client(url, Duration::from_secs(60));
            let token = tokens.get("t").unwrap();
            let permit = token.acquire().await;
            let e = client.information(&token, permit, "agents", &[]).await.expect_err("over the cap");
            assert!(matches!(e, ApiError::Malformed { status: 200, .. }), "{e:?}");
            assert!(e.to_string().contains(&format!("{INFORMATION_VALUE_CAP} values")), "{e}");
        }
    }

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

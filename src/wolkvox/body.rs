//! An answer's bytes: the encodings we ask the API for, and their decoding as the body streams.
//!
//! We ask for compressed answers (`Accept-Encoding: gzip, br, zstd, deflate`), as the API's own
//! examples do (curl with `CURLOPT_ENCODING => ''`, Python's requests): JSON like the API's
//! compresses 5–15×, and the wire is most of a window's time. The decoders are
//! async-compression's; what comes out of them is what the parser and every cap see, so a cap
//! counts decompressed bytes and a small body that expands without bound (a "zip bomb") is
//! stopped at the cap, in flat memory, like any other over-long answer. A body that is not what
//! its `Content-Encoding` says, or is in an encoding we did not ask for, is a malformed answer:
//! retried, then split or failed like a cut body, never stored in part.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_compression::tokio::bufread::{BrotliDecoder, GzipDecoder, ZlibDecoder, ZstdDecoder};
use bytes::{Bytes, BytesMut};
use futures_util::TryStreamExt;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::io::StreamReader;

use super::error::ApiError;

/// What the client sends as `Accept-Encoding`: every encoding it decodes.
pub const ACCEPT_ENCODING: &str = "gzip, br, zstd, deflate";

/// The most decoded bytes one read hands on.
const CHUNK: usize = 64 * 1024;

/// A response body being read and decoded.
pub struct Body {
    reader: Pin<Box<dyn AsyncRead + Send>>,
    encoding: &'static str,
    status: u16,
    timeout: Duration,
    wire: Arc<AtomicU64>,
    decoded: u64,
    counted: bool,
}

impl Body {
    /// The body of `response`, decoded as its `Content-Encoding` says. An encoding we did not ask
    /// for is `Malformed`. `timeout` names the request's timeout in a timeout error.
    pub fn of(response: reqwest::Response, timeout: Duration) -> Result<Body, ApiError> {
        let status = response.status().as_u16();
        let header = response
            .headers()
            .get(reqwest::header::CONTENT_ENCODING)
            .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
            .unwrap_or_default();
        let wire = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&wire);
        let raw = response
            .bytes_stream()
            .map_ok(move |chunk| {
                counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                chunk
            })
            .map_err(std::io::Error::other);
        let raw = StreamReader::new(raw);
        let (encoding, reader): (&'static str, Pin<Box<dyn AsyncRead + Send>>) = match header.as_str() {
            "" | "identity" => ("identity", Box::pin(raw)),
            "gzip" | "x-gzip" => ("gzip", Box::pin(GzipDecoder::new(raw))),
            "br" => ("br", Box::pin(BrotliDecoder::new(raw))),
            "zstd" => ("zstd", Box::pin(ZstdDecoder::new(raw))),
            // HTTP's "deflate" is the zlib format (RFC 9110, 8.4.1.2).
            "deflate" => ("deflate", Box::pin(ZlibDecoder::new(raw))),
            other => {
                return Err(ApiError::Malformed {
                    status,
                    reason: format!(
                        "the answer is in an encoding we did not ask for (Content-Encoding: {})",
                        crate::text::one_line(other, 40)
                    ),
                })
            }
        };
        Ok(Body { reader, encoding, status, timeout, wire, decoded: 0, counted: false })
    }

    /// The next decoded bytes (at most 64 KiB), or `None` at the end. A transport failure is
    /// the transport's error; bytes that do not decode are `Malformed`.
    pub async fn next(&mut self) -> Result<Option<Bytes>, ApiError> {
        let mut buf = BytesMut::with_capacity(CHUNK);
        match self.reader.read_buf(&mut buf).await {
            Ok(0) => {
                self.count();
                Ok(None)
            }
            Ok(n) => {
                self.decoded += n as u64;
                Ok(Some(buf.freeze()))
            }
            Err(e) => {
                self.count();
                Err(self.error(e))
            }
        }
    }

    /// The encoding the answer came in (`identity` when none).
    pub fn encoding(&self) -> &'static str {
        self.encoding
    }

    /// Bytes received on the wire so far.
    pub fn wire_bytes(&self) -> u64 {
        self.wire.load(Ordering::Relaxed)
    }

    /// Bytes decoded so far.
    pub fn decoded_bytes(&self) -> u64 {
        self.decoded
    }

    /// Exports the body's byte counts once, when it ends (or is dropped half read).
    fn count(&mut self) {
        if !self.counted {
            self.counted = true;
            crate::metrics::response_bytes(self.encoding, self.wire_bytes(), self.decoded);
        }
    }

    fn error(&self, e: std::io::Error) -> ApiError {
        let transport = e.get_ref().and_then(|inner| inner.downcast_ref::<reqwest::Error>());
        match transport {
            Some(t) if t.is_timeout() => ApiError::Timeout { seconds: self.timeout.as_secs() },
            Some(t) => ApiError::Network(t.to_string()),
            None => ApiError::Malformed {
                status: self.status,
                reason: format!(
                    "the answer is not the {} it says it is (Content-Encoding: {}): {}",
                    self.encoding,
                    self.encoding,
                    crate::text::one_line(&e.to_string(), 200)
                ),
            },
        }
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        self.count();
    }
}

//! Cutting a connection in the middle of a response body: the socket layer behind
//! [`FaultKind::ConnectionReset`](super::FaultKind::ConnectionReset).
//!
//! Failing a response after its headers would otherwise take a streaming body, whose traits
//! (`futures-core`, `http-body`) this crate does not depend on, so the cut happens one level down,
//! on the socket: every connection the [`CuttingListener`] accepts carries a [`Wire`], which its
//! handler receives as `ConnectInfo<Wire>` and can arm for the response it is about to send.
//!
//! It owns the armed cut of each connection. The invariant it protects: an armed cut lets through
//! exactly the response's headers and the armed share of its body, however the writes are split,
//! then fails the connection and releases what it held; a connection whose wire is never armed is
//! a plain TCP stream.
//!
//! It also owns [`Streamed`], a body made as it is sent (for the huge answers of
//! [`HugeAnswer`](super::faults::HugeAnswer)), through the `http-body` trait hyper re-exports.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

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

/// A response body sent as `head`, then `filler_bytes` bytes of `x`, then `tail`, in 64 KiB
/// frames made as they are sent: a body of hundreds of megabytes that never exists in memory
/// (see [`super::faults::HugeAnswer`]). `hold` (the token's in-flight marker) lives until the
/// body is sent or the client hangs up.
pub(crate) struct Streamed {
    head: Option<bytes::Bytes>,
    filler: bytes::Bytes,
    filler_left: usize,
    tail: Option<bytes::Bytes>,
    _hold: Box<dyn Send>,
}

impl Streamed {
    pub(crate) fn new(head: Vec<u8>, filler_bytes: usize, tail: Vec<u8>, hold: Box<dyn Send>) -> Streamed {
        Streamed {
            head: Some(head.into()),
            filler: bytes::Bytes::from(vec![b'x'; 64 * 1024]),
            filler_left: filler_bytes,
            tail: Some(tail.into()),
            _hold: hold,
        }
    }
}

impl hyper::body::Body for Streamed {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let next = if let Some(head) = this.head.take() {
            Some(head)
        } else if this.filler_left > 0 {
            let n = this.filler_left.min(this.filler.len());
            this.filler_left -= n;
            Some(this.filler.slice(..n))
        } else {
            this.tail.take()
        };
        Poll::Ready(next.map(|data| Ok(hyper::body::Frame::data(data))))
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        let len = |b: &Option<bytes::Bytes>| b.as_ref().map_or(0, |b| b.len() as u64);
        hyper::body::SizeHint::with_exact(len(&self.head) + self.filler_left as u64 + len(&self.tail))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_lets_through_the_headers_and_exactly_the_armed_share_of_the_body_whatever_the_writes() {
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n";
        let response: Vec<u8> = head.iter().copied().chain([b'x'; 100]).collect();
        // Writes of every size from 1 byte up, so the header end falls across writes too.
        for chunk in 1..=head.len() + 10 {
            let mut cut = Cut { body_bytes: 50, written: 0, header_end: None, tail: Vec::new(), _hold: Box::new(()) };
            let mut sent = 0;
            loop {
                let rest = &response[sent..];
                let n = cut.allowance(rest).min(chunk);
                if n == 0 {
                    break;
                }
                cut.advance(&rest[..n]);
                sent += n;
            }
            assert_eq!(sent, head.len() + 50, "writes of {chunk} bytes");
        }
    }
}

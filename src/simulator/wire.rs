//! The socket layer under the simulator's answers: what an answer holds (the token's busy mark)
//! is let go only once its last byte is written, and a connection can be cut in the middle of a
//! body ([`FaultKind::ConnectionReset`](super::FaultKind::ConnectionReset)).
//!
//! Both happen on the socket, below hyper: every connection the [`CuttingListener`] accepts
//! carries a [`Wire`], which its handler receives as `ConnectInfo<Wire>` and arms for the response
//! it is about to send. The end of a response body is not where hyper takes its last frame (hyper
//! copies a body into its own buffer and writes it out later, at the pace the client reads), so
//! only the socket can tell when the last byte has gone.
//!
//! It owns the armed state of each connection. The invariants it protects: an armed cut lets
//! through exactly the response's headers and the armed share of its body, however the writes are
//! split, then fails the connection; a [`Hold`] lives until the response's last byte has been
//! written to the socket, the connection is closed, or the body is dropped before it was all
//! produced, whichever comes first (never later, so a client that reads its answer whole finds
//! the token free); a connection whose wire is never armed is a plain TCP stream.
//!
//! It also owns [`Streamed`], a body made as it is sent (for the huge answers of
//! [`HugeAnswer`](super::faults::HugeAnswer)), and [`HeldBody`], which carries a [`Hold`] along
//! with a response body, through the `http-body` trait hyper re-exports.

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
    /// the first `body_bytes` of its body go out, then the connection fails. The wire keeps
    /// `hold` until the cut.
    ///
    /// HTTP/1 answers one request at a time per connection, so the next bytes written are that
    /// response's.
    pub(crate) fn cut_after(&self, body_bytes: usize, hold: Hold) {
        *self.lock() = Some(Cut::new(body_bytes, true, hold));
    }

    /// Keeps `hold` until the response about to be written on this connection, whose body is
    /// `body_bytes` long, has been written to the socket to its last byte (or the connection
    /// closes first).
    pub(crate) fn hold_until_sent(&self, body_bytes: usize, hold: Hold) {
        *self.lock() = Some(Cut::new(body_bytes, false, hold));
    }

    fn lock(&self) -> MutexGuard<'_, Option<Cut>> {
        // Every update leaves the cut consistent, so a poisoned lock is still usable.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An armed wire: how far into the response it has got, and what happens at `body_bytes` into
/// the body (the connection fails, or the hold is let go).
struct Cut {
    body_bytes: usize,
    /// Whether the connection fails at `body_bytes` (a cut) rather than lets go of the hold.
    fails: bool,
    /// Response bytes written since the cut was armed.
    written: usize,
    /// Where the header block ends (just past `\r\n\r\n`), once written.
    header_end: Option<usize>,
    /// The last (up to 3) bytes written before the header end was found, for a `\r\n\r\n`
    /// split across writes.
    tail: Vec<u8>,
    _hold: Hold,
}

impl Cut {
    fn new(body_bytes: usize, fails: bool, hold: Hold) -> Cut {
        Cut { body_bytes, fails, written: 0, header_end: None, tail: Vec::new(), _hold: hold }
    }

    /// Whether the headers and `body_bytes` of the body have all been written.
    fn reached(&self) -> bool {
        self.header_end.is_some_and(|end| self.written >= end + self.body_bytes)
    }

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
            let fails = armed.fails;
            // Dropping the armed state lets go of its hold; hyper drops the connection on the
            // error.
            *cut = None;
            if fails {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::ConnectionReset, "simulated connection reset")));
            }
            drop(cut);
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        }
        let written = Pin::new(&mut this.inner).poll_write(cx, &buf[..allowed]);
        if let Poll::Ready(Ok(n)) = written {
            armed.advance(&buf[..n]);
            if !armed.fails && armed.reached() {
                // The last byte is written: the hold goes now, before the client can have read it.
                *cut = None;
            }
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

/// What an answer holds while it is on its way (the token's busy mark), shared by the response's
/// [`HeldBody`] and its connection's [`Wire`]: it goes when the last of them lets go, or at once
/// when the body is dropped before it was all produced.
#[derive(Clone)]
pub(crate) struct Hold(Arc<Mutex<Option<Box<dyn Send>>>>);

impl Hold {
    pub(crate) fn new(held: impl Send + 'static) -> Hold {
        Hold(Arc::new(Mutex::new(Some(Box::new(held)))))
    }

    /// Lets go of what is held, whoever else still shares the hold.
    fn release(&self) {
        // Taken out first, so its own drop runs without this lock held.
        let held = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        drop(held);
    }
}

/// A response body carrying a [`Hold`]: once the body has been produced to its end, the hold is
/// the wire's to let go (at the last byte written); dropped before that (a client that hung up,
/// a body never sent), it lets go at once.
pub(crate) struct HeldBody {
    inner: axum::body::Body,
    hold: Hold,
    finished: bool,
}

impl HeldBody {
    pub(crate) fn new(inner: axum::body::Body, hold: Hold) -> HeldBody {
        HeldBody { inner, hold, finished: false }
    }
}

impl hyper::body::Body for HeldBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let frame = std::task::ready!(hyper::body::Body::poll_frame(Pin::new(&mut this.inner), cx));
        this.finished = match &frame {
            None => true,
            Some(Ok(_)) => hyper::body::Body::is_end_stream(&this.inner),
            Some(Err(_)) => false,
        };
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        hyper::body::Body::is_end_stream(&self.inner)
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::Body::size_hint(&self.inner)
    }
}

impl Drop for HeldBody {
    fn drop(&mut self) {
        if !self.finished {
            self.hold.release();
        }
    }
}

/// A response body sent as `head`, then `filler_bytes` bytes of `x`, then `tail`, in 64 KiB
/// frames made as they are sent: a body of hundreds of megabytes that never exists in memory
/// (see [`super::faults::HugeAnswer`]).
pub(crate) struct Streamed {
    head: Option<bytes::Bytes>,
    filler: bytes::Bytes,
    filler_left: usize,
    tail: Option<bytes::Bytes>,
}

impl Streamed {
    pub(crate) fn new(head: Vec<u8>, filler_bytes: usize, tail: Vec<u8>) -> Streamed {
        Streamed {
            head: Some(head.into()),
            filler: bytes::Bytes::from(vec![b'x'; 64 * 1024]),
            filler_left: filler_bytes,
            tail: Some(tail.into()),
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

    fn is_end_stream(&self) -> bool {
        self.head.is_none() && self.filler_left == 0 && self.tail.is_none()
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
            let mut cut = Cut::new(50, true, Hold::new(()));
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

    #[test]
    fn a_hold_is_let_go_at_the_last_byte_of_the_body_and_not_one_byte_before() {
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n";
        let response: Vec<u8> = head.iter().copied().chain([b'x'; 100]).collect();
        for chunk in 1..=head.len() + 10 {
            let mut armed = Cut::new(100, false, Hold::new(()));
            let mut sent = 0;
            while sent < response.len() {
                let n = armed.allowance(&response[sent..]).min(chunk);
                armed.advance(&response[sent..sent + n]);
                sent += n;
                assert_eq!(armed.reached(), sent == response.len(), "writes of {chunk} bytes, {sent} written");
            }
        }
    }
}

//! A connection's two halves: the receive half as the guest's
//! `stream<u8>` producer, the send half as the consumer of the guest's
//! `stream<u8>`, each ending with a result the guest reads as a future.
//!
//! The halves move bytes with `read`, `write` and `shutdown` on the
//! descriptor and nothing TCP-specific, so a Unix stream socket's
//! connection ([`ConnSocket::Unix`], `crate::net::unix`) is made of the
//! same halves and the multiplexer attaches it the same way.

use super::{ResultRx, ResultTx, Stream, TcpResult};
use crate::net::sys::code;
use rustix::net as rnet;
use rustix::net::sockopt;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::Interest;
use tokio::sync::oneshot;

/// A connected stream socket: TCP, or Unix (`crate::net::unix`).
pub(crate) enum ConnSocket {
    Tcp(std::net::TcpStream),
    Unix(UnixStream),
}

impl ConnSocket {
    /// The peer's address (TCP only).
    pub(super) fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        match self {
            ConnSocket::Tcp(s) => s.peer_addr(),
            ConnSocket::Unix(_) => Err(io::ErrorKind::Unsupported.into()),
        }
    }

    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        // (`Read` and `Write` are implemented for shared references.)
        match self {
            ConnSocket::Tcp(s) => Read::read(&mut &*s, buf),
            ConnSocket::Unix(s) => Read::read(&mut &*s, buf),
        }
    }

    /// Writes from `bufs`; a peer that went away is an error, never a
    /// `SIGPIPE` (std's `write` passes `MSG_NOSIGNAL` for TCP; for Unix
    /// sockets `send` with the flag does it).
    fn write(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match (self, bufs) {
            (ConnSocket::Tcp(s), [one]) => Write::write(&mut &*s, one),
            (ConnSocket::Tcp(s), _) => Write::write_vectored(&mut &*s, bufs),
            (ConnSocket::Unix(s), [one]) => Ok(rnet::send(s, one, rnet::SendFlags::NOSIGNAL)?),
            (ConnSocket::Unix(s), _) => {
                let mut control = rnet::SendAncillaryBuffer::default();
                Ok(rnet::sendmsg(
                    s,
                    bufs,
                    &mut control,
                    rnet::SendFlags::NOSIGNAL,
                )?)
            }
        }
    }
}

impl AsFd for ConnSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            ConnSocket::Tcp(s) => s.as_fd(),
            ConnSocket::Unix(s) => s.as_fd(),
        }
    }
}

impl AsRawFd for ConnSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

/// A connection, as its socket and its two halves share it.
pub(crate) struct Conn {
    io: Stream,
    /// The send half was taken and has not ended: the guest's send stream
    /// is open.
    sending: AtomicBool,
    /// The guest gave the connection up (see [`Conn::reset`]): the send
    /// half ends without a FIN.
    reset: AtomicBool,
}

impl Conn {
    pub(super) fn new(io: Stream) -> Conn {
        Conn {
            io,
            sending: AtomicBool::new(false),
            reset: AtomicBool::new(false),
        }
    }

    pub(super) fn io(&self) -> &Stream {
        &self.io
    }

    /// Whether the guest's send stream is still open.
    pub(super) fn is_sending(&self) -> bool {
        self.sending.load(Ordering::Relaxed)
    }

    /// Resets the connection (asyncio's `abort()`: buffered data is
    /// discarded and the peer sees `ECONNRESET`, not EOF). `SO_LINGER` 0
    /// makes the system send a reset instead of a FIN when the socket is
    /// closed; on Linux, `connect(AF_UNSPEC)` sends it now (the system's
    /// `tcp_disconnect`), while the guest may still hold the receive
    /// stream. Elsewhere the reset goes when the last half is dropped.
    pub(super) fn reset(&self) {
        self.reset.store(true, Ordering::Relaxed);
        let _ = sockopt::set_socket_linger(&self.io, Some(Duration::ZERO));
        #[cfg(target_os = "linux")]
        let _ = rnet::connect_unspec(&self.io);
    }
}

/// What a receive or send half holds: the connection (until the half
/// ends) and where its result goes (once).
pub(super) struct Half {
    conn: Option<Arc<Conn>>,
    result: Option<ResultTx>,
}

impl Half {
    pub(super) fn new(conn: &Arc<Conn>) -> (Half, ResultRx) {
        let (tx, rx) = oneshot::channel();
        let half = Half {
            conn: Some(conn.clone()),
            result: Some(tx),
        };
        (half, rx)
    }

    /// Ends the half: reports `result` (unless a result went already) and
    /// shuts the connection down in direction `how`, if given.
    fn end(&mut self, result: TcpResult<()>, how: Option<rnet::Shutdown>) {
        if let Some(tx) = self.result.take() {
            let _ = tx.send(result.map_err(Into::into));
        }
        if let (Some(conn), Some(how)) = (self.conn.take(), how) {
            let _ = rnet::shutdown(conn.io.as_fd(), how);
        }
    }

    fn poll_ready(&self, cx: &mut Context<'_>, interest: Interest) -> Poll<()> {
        match &self.conn {
            Some(c) if interest.is_readable() => c.io.poll_read_ready(cx).map(|_| ()),
            Some(c) => c.io.poll_write_ready(cx).map(|_| ()),
            None => Poll::Ready(()),
        }
    }
}

/// One read or write of up to `len` bytes (`io`, given the socket), waiting
/// for readiness only when the socket would block.
///
/// `try_io` runs `io` only while tokio's cached readiness says so, and a
/// `WouldBlock` from the closure clears that readiness. A short transfer
/// ends as `WouldBlock` on purpose: the kernel gave (or took) all it could,
/// so the next call waits for the next edge instead of making a system call
/// that says `EAGAIN`. Readiness is polled only then, not before every
/// call: polling it spends the task's tokio budget, and spending it on
/// every read made tokio force the whole store to yield every ~64 round
/// trips; under load which connections got served became luck (p99 200 ms
/// at 1,000 connections, against 15 ms).
fn poll_io(
    stream: &Stream,
    cx: &mut Context<'_>,
    interest: Interest,
    len: usize,
    mut io: impl FnMut(&ConnSocket) -> io::Result<usize>,
) -> Poll<io::Result<usize>> {
    loop {
        let mut short = 0;
        let done = stream.try_io(interest, |s| {
            let n = io(s)?;
            if n > 0 && n < len {
                short = n;
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(n)
        });
        match done {
            Err(_) if short > 0 => return Poll::Ready(Ok(short)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            done => return Poll::Ready(done),
        }
        let ready = if interest.is_readable() {
            stream.poll_read_ready(cx)
        } else {
            stream.poll_write_ready(cx)
        };
        if let Err(e) = ready!(ready) {
            return Poll::Ready(Err(e));
        }
    }
}

/// The receive half of a connection, as the guest's `stream<u8>`, and the
/// result the guest learns when it ends.
pub(crate) struct ReceiveProducer(pub(super) Half);

/// What one receive gave.
pub(crate) enum Received {
    Data(usize),
    Eof,
    Failed,
}

impl ReceiveProducer {
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.0.poll_ready(cx, Interest::READABLE)
    }

    /// Reads into `buf` (not empty).
    pub(crate) fn poll_receive(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Received> {
        let Some(conn) = &self.0.conn else {
            return Poll::Ready(Received::Eof);
        };
        let len = buf.len();
        let read = ready!(poll_io(&conn.io, cx, Interest::READABLE, len, |s| {
            s.read(&mut *buf)
        }));
        Poll::Ready(match read {
            Ok(0) => self.end(Ok(())),
            Ok(n) => Received::Data(n),
            Err(e) => self.end(Err(code(e))),
        })
    }

    fn end(&mut self, result: TcpResult<()>) -> Received {
        let failed = result.is_err();
        self.0.end(result, Some(rnet::Shutdown::Read));
        if failed {
            Received::Failed
        } else {
            Received::Eof
        }
    }
}

impl Drop for ReceiveProducer {
    fn drop(&mut self) {
        // The guest dropped its stream: it wants no more data.
        self.end(Ok(()));
    }
}

/// The send half of a connection, fed by the guest's `stream<u8>`.
pub(crate) struct SendConsumer(Half);

/// What one send did.
pub(crate) enum Sent {
    Wrote(usize),
    Failed,
}

impl SendConsumer {
    pub(super) fn new(half: Half) -> SendConsumer {
        if let Some(conn) = &half.conn {
            conn.sending.store(true, Ordering::Relaxed);
        }
        SendConsumer(half)
    }

    /// Ends the send half; `fin`: tell the peer there is no more data
    /// (unless the connection was reset).
    fn end(&mut self, result: TcpResult<()>, fin: bool) {
        let how = self.0.conn.as_ref().and_then(|conn| {
            conn.sending.store(false, Ordering::Relaxed);
            let reset = conn.reset.load(Ordering::Relaxed);
            (fin && !reset).then_some(rnet::Shutdown::Write)
        });
        self.0.end(result, how);
    }

    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.0.poll_ready(cx, Interest::WRITABLE)
    }

    /// Resets the connection (asyncio's `abort()`; see [`Conn::reset`]):
    /// dropping this half then sends no FIN.
    pub(crate) fn reset(&self) {
        if let Some(conn) = &self.0.conn {
            conn.reset();
        }
    }

    /// Writes from `buf` (not empty).
    pub(crate) fn poll_send(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Sent> {
        self.poll_send_vectored(cx, &[io::IoSlice::new(buf)])
    }

    /// Writes from `bufs` in one system call (`writev`; a TLS session's
    /// records), as much as the socket takes.
    pub(crate) fn poll_send_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<Sent> {
        let Some(conn) = &self.0.conn else {
            return Poll::Ready(Sent::Failed);
        };
        let len = bufs.iter().map(|b| b.len()).sum();
        // (A write that took nothing counts as would-block, as a short one.)
        let wrote = ready!(poll_io(&conn.io, cx, Interest::WRITABLE, len, |s| {
            match s.write(bufs)? {
                0 => Err(io::ErrorKind::WouldBlock.into()),
                n => Ok(n),
            }
        }));
        Poll::Ready(match wrote {
            Ok(n) => Sent::Wrote(n),
            Err(e) => {
                // Broken: the result says why; no FIN on a broken connection.
                self.end(Err(code(e)), false);
                Sent::Failed
            }
        })
    }
}

impl Drop for SendConsumer {
    fn drop(&mut self) {
        // The guest closed its stream: no more data, tell the peer (FIN),
        // unless it reset the connection first.
        self.end(Ok(()), true);
    }
}

//! A connection's two halves: the receive half as the guest's
//! `stream<u8>` producer, the send half as the consumer of the guest's
//! `stream<u8>`, each ending with a result the guest reads as a future.

use super::{ResultRx, ResultTx, Stream, TcpResult};
use crate::net::sys::code;
use rustix::net as rnet;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use tokio::io::Interest;
use tokio::sync::oneshot;

/// What a receive or send half holds: the connection (until the half
/// ends) and where its result goes (once).
pub(super) struct Half {
    stream: Option<Arc<Stream>>,
    result: Option<ResultTx>,
}

impl Half {
    pub(super) fn new(stream: &Arc<Stream>) -> (Half, ResultRx) {
        let (tx, rx) = oneshot::channel();
        let half = Half {
            stream: Some(stream.clone()),
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
        if let (Some(stream), Some(how)) = (self.stream.take(), how) {
            let _ = rnet::shutdown(stream.as_fd(), how);
        }
    }

    fn poll_ready(&self, cx: &mut Context<'_>, interest: Interest) -> Poll<()> {
        match &self.stream {
            Some(s) if interest.is_readable() => s.poll_read_ready(cx).map(|_| ()),
            Some(s) => s.poll_write_ready(cx).map(|_| ()),
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
    mut io: impl FnMut(&std::net::TcpStream) -> io::Result<usize>,
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
        let Some(stream) = &self.0.stream else {
            return Poll::Ready(Received::Eof);
        };
        let len = buf.len();
        let read = ready!(poll_io(stream, cx, Interest::READABLE, len, |mut s| {
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
pub(crate) struct SendConsumer(pub(super) Half);

/// What one send did.
pub(crate) enum Sent {
    Wrote(usize),
    Failed,
}

impl SendConsumer {
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.0.poll_ready(cx, Interest::WRITABLE)
    }

    /// Writes from `buf` (not empty).
    pub(crate) fn poll_send(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Sent> {
        let Some(stream) = &self.0.stream else {
            return Poll::Ready(Sent::Failed);
        };
        let len = buf.len();
        // (A write that took nothing counts as would-block, as a short one.)
        let wrote = ready!(poll_io(stream, cx, Interest::WRITABLE, len, |mut s| {
            match s.write(buf)? {
                0 => Err(io::ErrorKind::WouldBlock.into()),
                n => Ok(n),
            }
        }));
        Poll::Ready(match wrote {
            Ok(n) => Sent::Wrote(n),
            Err(e) => {
                // Broken: the result says why; no FIN on a broken connection.
                self.0.end(Err(code(e)), None);
                Sent::Failed
            }
        })
    }
}

impl Drop for SendConsumer {
    fn drop(&mut self) {
        // The guest closed its stream: no more data, tell the peer (FIN).
        self.0.end(Ok(()), Some(rnet::Shutdown::Write));
    }
}

//! A connection's two ends as the multiplexer sees them: the TCP halves
//! themselves, or a TLS session over them (`crate::net::tls`).

use crate::net::tcp::{ReceiveProducer, Received, SendConsumer, Sent};
#[cfg(feature = "tls")]
use crate::net::tls::{TlsReceived, TlsReceiver, TlsSender};
use std::task::{Context, Poll, ready};

/// The most a `secured` frame's body holds: a larger certificate is left
/// out of it (wit/mux.wit).
#[cfg(feature = "tls")]
const MAX_SECURED: usize = 16 << 10;

/// Where a connection's incoming bytes come from.
pub(crate) enum RxEnd {
    Tcp(ReceiveProducer),
    #[cfg(feature = "tls")]
    Tls(TlsReceiver),
}

/// What one receive gave.
pub(super) enum Got {
    Data(usize),
    Eof,
    /// The socket failed: its receive result says how.
    Failed,
    /// The TLS handshake is done: the `secured` frame's body.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    Secured(Vec<u8>),
    /// The TLS session failed: the `tls-error` frame's body.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    TlsFailed(Vec<u8>),
}

impl RxEnd {
    pub(super) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self {
            RxEnd::Tcp(rx) => rx.poll_ready(cx),
            #[cfg(feature = "tls")]
            RxEnd::Tls(rx) => rx.poll_ready(cx),
        }
    }

    /// Reads into `buf` (not empty).
    pub(super) fn poll_receive(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Got> {
        match self {
            RxEnd::Tcp(rx) => Poll::Ready(match ready!(rx.poll_receive(cx, buf)) {
                Received::Data(n) => Got::Data(n),
                Received::Eof => Got::Eof,
                Received::Failed => Got::Failed,
            }),
            #[cfg(feature = "tls")]
            RxEnd::Tls(rx) => Poll::Ready(match ready!(rx.poll_receive(cx, buf)) {
                TlsReceived::Data(n) => Got::Data(n),
                TlsReceived::Eof => Got::Eof,
                TlsReceived::Failed => Got::Failed,
                TlsReceived::Secured => {
                    let mut body = rx.secured();
                    if body.len() > MAX_SECURED {
                        // Version, then two length-prefixed strings.
                        let mut end = 2;
                        for _ in 0..2 {
                            end += 1 + body[end] as usize;
                        }
                        body.truncate(end);
                    }
                    Got::Secured(body)
                }
                TlsReceived::TlsFailed(kind, message) => {
                    let mut body = vec![kind as u8];
                    body.extend_from_slice(message.as_bytes());
                    Got::TlsFailed(body)
                }
            }),
        }
    }
}

/// Where a connection's outgoing bytes go.
pub(crate) enum TxEnd {
    Tcp(SendConsumer),
    #[cfg(feature = "tls")]
    Tls(TlsSender),
}

impl TxEnd {
    /// Sends from `buf` (not empty).
    pub(super) fn poll_send(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Sent> {
        match self {
            TxEnd::Tcp(tx) => tx.poll_send(cx, buf),
            #[cfg(feature = "tls")]
            TxEnd::Tls(tx) => tx.poll_send(cx, buf),
        }
    }

    /// Whether bytes it took still wait to reach the socket (a TLS
    /// session's records, or its handshake): a flush must follow.
    pub(super) fn has_backlog(&self) -> bool {
        match self {
            TxEnd::Tcp(_) => false,
            #[cfg(feature = "tls")]
            TxEnd::Tls(tx) => tx.has_backlog(),
        }
    }

    /// Waits until every byte taken reached the socket: `false` if it
    /// failed first.
    pub(super) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        let _ = &cx;
        match self {
            TxEnd::Tcp(_) => Poll::Ready(true),
            #[cfg(feature = "tls")]
            TxEnd::Tls(tx) => tx.poll_flush(cx),
        }
    }

    /// Ends sending in order (a TLS session's `close_notify`) and waits
    /// until that is sent; the FIN goes when the end is dropped.
    pub(super) fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        let _ = &cx;
        match self {
            TxEnd::Tcp(_) => Poll::Ready(true),
            #[cfg(feature = "tls")]
            TxEnd::Tls(tx) => tx.poll_close(cx),
        }
    }

    /// Whether ending it takes more than dropping it.
    pub(super) fn closes_async(&self) -> bool {
        match self {
            TxEnd::Tcp(_) => false,
            #[cfg(feature = "tls")]
            TxEnd::Tls(_) => true,
        }
    }

    /// Resets the connection (asyncio's `abort()`).
    pub(super) fn reset(&self) {
        match self {
            TxEnd::Tcp(tx) => tx.reset(),
            #[cfg(feature = "tls")]
            TxEnd::Tls(tx) => tx.reset(),
        }
    }
}

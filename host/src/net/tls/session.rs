//! One TLS session over a connection's TCP halves: [`TlsReceiver`] gives
//! the plaintext the peer sent, [`TlsSender`] takes the plaintext to send.
//! Both share the rustls state; the ciphertext goes through the TCP halves
//! (`crate::net::tcp`), so reads and writes keep their one-system-call
//! behaviour, and the halves' results say how the socket itself ended.
//!
//! The receiving side drives the handshake: the socket's readiness wakes
//! it, it feeds rustls what arrived and sends what rustls has to say. The
//! sending side encrypts as it is given plaintext; what the socket does
//! not take stays in rustls (at most its buffer limit) until either side
//! sends it. Both wait for the socket to take bytes through one waker
//! ([`Fan`]) that wakes both: the socket keeps one waker per direction.

use super::{FailureKind, Role, describe};
use crate::audit::CapabilityUse;
use crate::net::NetAccess;
use crate::net::tcp::{Halves, ReceiveProducer, Received, ResultRx, SendConsumer, Sent};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

/// The most plaintext one send takes (four records).
const SEND_SHARE: usize = 64 << 10;

/// What one receive of plaintext gave.
pub(crate) enum TlsReceived {
    Data(usize),
    /// The peer is done sending (its `close_notify`, or its FIN).
    Eof,
    /// The socket failed (its receive result says how).
    Failed,
    /// The handshake is done: [`TlsReceiver::secured`] describes it.
    Secured,
    /// The session failed; receiving and sending are over.
    TlsFailed(FailureKind, String),
}

/// The state both sides share.
struct State {
    tls: rustls::Connection,
    /// The peer's bytes that arrived before the session started (read
    /// before the socket).
    received: Vec<u8>,
    rx: Option<ReceiveProducer>,
    tx: Option<SendConsumer>,
    /// Plaintext rustls holds for the receiver.
    buffered: usize,
    /// The peer's `close_notify` came: its end is next, with no more
    /// from the socket (the peer may keep it open).
    peer_closed: bool,
    /// The handshake is done, and whether the receiver has said so.
    secured: bool,
    told_secured: bool,
    /// The session failed: told to the receiver once, then every use
    /// fails.
    failure: Option<(FailureKind, String)>,
    told_failure: bool,
    /// The socket stopped taking ciphertext (an error): sending is over.
    tx_failed: bool,
    close_sent: bool,
    audit: Option<(NetAccess, &'static str, String)>,
}

/// Wakes whichever side waits for the socket to take bytes.
#[derive(Default)]
struct Fan {
    rx: Mutex<Option<Waker>>,
    tx: Mutex<Option<Waker>>,
}

impl Wake for Fan {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        for w in [lock(&self.rx).take(), lock(&self.tx).take()]
            .into_iter()
            .flatten()
        {
            w.wake();
        }
    }
}

impl Fan {
    fn set(slot: &Mutex<Option<Waker>>, w: &Waker) {
        let mut slot = lock(slot);
        if !slot.as_ref().is_some_and(|old| old.will_wake(w)) {
            *slot = Some(w.clone());
        }
    }
}

struct Shared {
    state: Mutex<State>,
    fan: Arc<Fan>,
    waker: Waker,
}

/// A TLS session on a connection, made by [`Session::start`].
pub(crate) struct Session;

/// The receiving side of a TLS session.
pub(crate) struct TlsReceiver(Arc<Shared>);

/// The sending side of a TLS session.
pub(crate) struct TlsSender(Arc<Shared>);

impl Session {
    /// Runs `tls` over a connection's halves; the two sides and the
    /// halves' results. `audit`: where the handshake's outcome is written,
    /// with the role's target and the peer's address.
    pub(crate) fn start(
        tls: rustls::Connection,
        halves: Halves,
        audit: Option<(NetAccess, &Role, Option<SocketAddr>)>,
    ) -> ((TlsReceiver, ResultRx), (TlsSender, ResultRx)) {
        let ((rx, rx_result), (tx, tx_result)) = halves;
        let (rx, tx) = Session::over(tls, rx, tx, audit, Vec::new());
        ((rx, rx_result), (tx, tx_result))
    }

    /// Runs `tls` over a connection's halves, the peer's first bytes
    /// being `received` (what arrived before the session started).
    pub(crate) fn over(
        tls: rustls::Connection,
        rx: ReceiveProducer,
        tx: SendConsumer,
        audit: Option<(NetAccess, &Role, Option<SocketAddr>)>,
        received: Vec<u8>,
    ) -> (TlsReceiver, TlsSender) {
        let audit = audit.map(|(net, role, peer)| {
            let target = match peer {
                Some(peer) => format!("{} ({peer})", role.target()),
                None => role.target().to_owned(),
            };
            (net, role.capability(), target)
        });
        let fan = Arc::new(Fan::default());
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                tls,
                received,
                rx: Some(rx),
                tx: Some(tx),
                buffered: 0,
                peer_closed: false,
                secured: false,
                told_secured: false,
                failure: None,
                told_failure: false,
                tx_failed: false,
                close_sent: false,
                audit,
            }),
            waker: Waker::from(fan.clone()),
            fan,
        });
        (TlsReceiver(shared.clone()), TlsSender(shared))
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The TCP receive half as rustls's reader.
struct CipherIn<'a, 'b> {
    received: &'a mut Vec<u8>,
    rx: Option<&'a mut ReceiveProducer>,
    cx: &'a mut Context<'b>,
    /// The socket failed (not rustls).
    failed: bool,
}

impl Read for CipherIn<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.received.is_empty() {
            let n = buf.len().min(self.received.len());
            buf[..n].copy_from_slice(&self.received[..n]);
            self.received.drain(..n);
            return Ok(n);
        }
        let Some(rx) = self.rx.as_deref_mut() else {
            return Ok(0);
        };
        match rx.poll_receive(self.cx, buf) {
            Poll::Ready(Received::Data(n)) => Ok(n),
            Poll::Ready(Received::Eof) => Ok(0),
            Poll::Ready(Received::Failed) => {
                self.failed = true;
                Err(io::Error::other("the socket failed"))
            }
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

/// The TCP send half as rustls's writer.
struct CipherOut<'a, 'b> {
    tx: &'a mut SendConsumer,
    cx: &'a mut Context<'b>,
}

impl Write for CipherOut<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.tx.poll_send(self.cx, buf) {
            Poll::Ready(Sent::Wrote(n)) => Ok(n),
            Poll::Ready(Sent::Failed) => Err(io::Error::other("the socket failed")),
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    /// rustls hands every record it holds at once: one `writev`.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self.tx.poll_send_vectored(self.cx, bufs) {
            Poll::Ready(Sent::Wrote(n)) => Ok(n),
            Poll::Ready(Sent::Failed) => Err(io::Error::other("the socket failed")),
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl State {
    /// Sends what rustls has to send: `Ready(false)` once the socket
    /// failed, `Pending` while it does not take it (the fan is woken).
    fn flush(&mut self, fan: &Waker) -> Poll<bool> {
        let mut cx = Context::from_waker(fan);
        while self.tls.wants_write() {
            let Some(tx) = self.tx.as_mut() else {
                return Poll::Ready(false);
            };
            if self.tx_failed {
                return Poll::Ready(false);
            }
            match self.tls.write_tls(&mut CipherOut { tx, cx: &mut cx }) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
                Err(_) => {
                    self.tx_failed = true;
                    return Poll::Ready(false);
                }
            }
        }
        Poll::Ready(true)
    }

    fn fail(&mut self, kind: FailureKind, message: String) {
        if self.failure.is_none() {
            if !self.secured {
                self.audit(Err(&message));
            }
            self.failure = Some((kind, message));
        }
    }

    fn audit(&mut self, outcome: Result<String, &str>) {
        let Some((net, capability, target)) = self.audit.take() else {
            return;
        };
        let used = match outcome {
            Ok(how) => CapabilityUse::allowed(capability, target).outcome(how),
            Err(why) => {
                CapabilityUse::allowed(capability, target).outcome(format!("failed: {why}"))
            }
        };
        net.audit(used);
    }

    /// The handshake's parameters, as the `secured` frame's body
    /// (wit/mux.wit).
    fn describe_session(&self) -> Vec<u8> {
        let version = self.tls.protocol_version().map_or(0, u16::from);
        let cipher = (self.tls.negotiated_cipher_suite())
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default();
        let alpn = self.tls.alpn_protocol().unwrap_or_default();
        let mut body = Vec::with_capacity(64);
        body.extend_from_slice(&version.to_le_bytes());
        for part in [cipher.as_bytes(), alpn] {
            let n = part.len().min(255);
            body.push(n as u8);
            body.extend_from_slice(&part[..n]);
        }
        if let Some(cert) = self.tls.peer_certificates().and_then(|c| c.first()) {
            body.extend_from_slice(cert.as_ref());
        }
        body
    }
}

impl TlsReceiver {
    /// Whether a receive now would give something without waiting (more
    /// plaintext, or news), else waits for the socket.
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = lock(&self.0.state);
        if s.buffered > 0 || s.peer_closed || (s.secured && !s.told_secured) || s.failure.is_some()
        {
            return Poll::Ready(());
        }
        match s.rx.as_mut() {
            Some(rx) => rx.poll_ready(cx),
            None => Poll::Ready(()),
        }
    }

    /// The `secured` frame's body: version, cipher, ALPN, the peer's
    /// certificate.
    pub(crate) fn secured(&self) -> Vec<u8> {
        lock(&self.0.state).describe_session()
    }

    /// Reads plaintext into `buf` (not empty), driving the handshake.
    pub(crate) fn poll_receive(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<TlsReceived> {
        let shared = &*self.0;
        Fan::set(&shared.fan.rx, cx.waker());
        let mut s = lock(&shared.state);
        loop {
            if let Some((kind, message)) = &s.failure {
                let report = TlsReceived::TlsFailed(*kind, message.clone());
                if std::mem::replace(&mut s.told_failure, true) {
                    return Poll::Ready(TlsReceived::Eof);
                }
                // A sender waiting for the handshake learns of it too.
                if let Some(w) = lock(&shared.fan.tx).take() {
                    w.wake();
                }
                return Poll::Ready(report);
            }
            // What rustls has to say goes first (the handshake, alerts);
            // a socket that does not take it now wakes this side later.
            let _ = s.flush(&shared.waker);
            if s.secured && !std::mem::replace(&mut s.told_secured, true) {
                return Poll::Ready(TlsReceived::Secured);
            }
            match s.tls.reader().read(buf) {
                Ok(0) => return Poll::Ready(TlsReceived::Eof),
                Ok(n) => {
                    s.buffered = s.buffered.saturating_sub(n);
                    return Poll::Ready(TlsReceived::Data(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) if !s.secured => {
                    s.fail(
                        FailureKind::Handshake,
                        "EOF occurred in violation of protocol (the peer closed the \
                         connection during the handshake)"
                            .to_owned(),
                    );
                    continue;
                }
                // The socket ended without the peer's `close_notify`
                // (servers that close after a response often do).
                Err(_) => return Poll::Ready(TlsReceived::Eof),
            }
            let st = &mut *s;
            let mut from = CipherIn {
                received: &mut st.received,
                rx: st.rx.as_mut(),
                cx,
                failed: false,
            };
            let read = st.tls.read_tls(&mut from);
            let socket_failed = from.failed;
            match read {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
                Err(_) if socket_failed => return Poll::Ready(TlsReceived::Failed),
                Err(e) => {
                    let handshaking = !s.secured;
                    let kind = if handshaking {
                        FailureKind::Handshake
                    } else {
                        FailureKind::Protocol
                    };
                    s.fail(kind, e.to_string());
                    continue;
                }
            }
            match s.tls.process_new_packets() {
                Ok(io) => {
                    s.buffered = io.plaintext_bytes_to_read();
                    s.peer_closed = io.peer_has_closed();
                    if !s.secured && !s.tls.is_handshaking() {
                        s.secured = true;
                        let how = secured_summary(&s.tls);
                        s.audit(Ok(how));
                        // Plaintext sent during the handshake can go now.
                        if let Some(w) = lock(&shared.fan.tx).take() {
                            w.wake();
                        }
                    }
                }
                Err(e) => {
                    // The alert rustls queued goes out if the socket takes it.
                    let _ = s.flush(&shared.waker);
                    let (kind, message) = describe(&e, !s.secured);
                    s.fail(kind, message);
                }
            }
        }
    }
}

/// The audit line's outcome of a handshake: version, cipher, ALPN.
fn secured_summary(tls: &rustls::Connection) -> String {
    let mut how = String::new();
    if let Some(v) = tls.protocol_version() {
        how.push_str(&format!("{v:?}"));
    }
    if let Some(s) = tls.negotiated_cipher_suite() {
        how.push_str(&format!(" {:?}", s.suite()));
    }
    if let Some(p) = tls.alpn_protocol() {
        how.push_str(&format!(" alpn {}", String::from_utf8_lossy(p)));
    }
    how
}

impl Drop for TlsReceiver {
    fn drop(&mut self) {
        // Nothing more is wanted: the socket stops receiving.
        lock(&self.0.state).rx = None;
    }
}

impl TlsSender {
    /// Encrypts and sends from `buf` (not empty): `Wrote(n)` once `n`
    /// bytes are rustls's (what the socket did not take yet goes with the
    /// next send, or [`poll_flush`](Self::poll_flush)).
    pub(crate) fn poll_send(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Sent> {
        let shared = &*self.0;
        Fan::set(&shared.fan.tx, cx.waker());
        let mut s = lock(&shared.state);
        if s.failure.is_some() || s.close_sent {
            return Poll::Ready(Sent::Failed);
        }
        match s.flush(&shared.waker) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(false) => return Poll::Ready(Sent::Failed),
            Poll::Ready(true) => {}
        }
        let n = buf.len().min(SEND_SHARE);
        match s.tls.writer().write(&buf[..n]) {
            // Full: rustls holds its limit until the handshake is done.
            Ok(0) => Poll::Pending,
            Ok(n) => {
                let _ = s.flush(&shared.waker);
                Poll::Ready(Sent::Wrote(n))
            }
            Err(_) => Poll::Ready(Sent::Failed),
        }
    }

    /// Waits until the socket took every byte rustls holds: `false` if it
    /// failed first.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        let shared = &*self.0;
        Fan::set(&shared.fan.tx, cx.waker());
        let mut s = lock(&shared.state);
        if s.failure.is_some() {
            return Poll::Ready(false);
        }
        // Before the handshake ends, rustls keeps the plaintext: it is
        // sent (and this wakes) once the receiving side finishes it.
        if !s.secured {
            return match s.flush(&shared.waker) {
                Poll::Ready(false) => Poll::Ready(false),
                _ => Poll::Pending,
            };
        }
        s.flush(&shared.waker)
    }

    /// Whether rustls holds bytes the socket has not taken.
    pub(crate) fn has_backlog(&self) -> bool {
        let s = lock(&self.0.state);
        s.tls.wants_write() || (!s.secured && s.failure.is_none())
    }

    /// Says `close_notify` once (the peer's reader sees the end), and
    /// waits until it is sent.
    pub(crate) fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        {
            let mut s = lock(&self.0.state);
            if !std::mem::replace(&mut s.close_sent, true) && s.failure.is_none() {
                s.tls.send_close_notify();
            }
        }
        self.poll_flush(cx)
    }

    /// Resets the connection (asyncio's `abort()`).
    pub(crate) fn reset(&self) {
        if let Some(tx) = &lock(&self.0.state).tx {
            tx.reset();
        }
    }
}

impl Drop for TlsSender {
    fn drop(&mut self) {
        let shared = &*self.0;
        let mut s = lock(&shared.state);
        // Done sending: the peer hears `close_notify` (if the socket takes
        // it now), then the FIN the send half's drop sends.
        if !std::mem::replace(&mut s.close_sent, true) && s.failure.is_none() && s.secured {
            s.tls.send_close_notify();
        }
        let _ = s.flush(Waker::noop());
        s.tx = None;
    }
}

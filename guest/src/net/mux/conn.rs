//! A multiplexed connection: the state its parts share ([`Conn`]), and
//! the parts ([`Receiver`], [`Sender`], [`Guard`]).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::tls::Handshake;
use super::{
    ABORT, CLOSE, DATA, Driver, EOF, ERROR, INBOX_HIGH, PAUSE, Peer, QUEUED, RESUME, SECURED,
    SHUTDOWN, TLS_ERROR, WINDOW, code,
};
use crate::bindings::wasi::sockets::types as wit;
use crate::errors::{Error, Result};
use crate::net::{Action, socket_error};
use crate::runtime;
use crate::ssl::{SslErrorKind, SslObject};
use crate::streams::channel::{Inbox, OutState, Outbox};

/// One connection of the multiplexer, as its parts share it.
pub(super) struct Conn {
    pub(super) token: u32,
    pub(super) driver: Rc<Driver>,
    pub(super) peer: Peer,
    pub(super) inbox: RefCell<Vec<u8>>,
    /// How receiving ended, once it has.
    pub(super) ended: RefCell<Option<Result<()>>>,
    pub(super) reader: RefCell<Option<Waker>>,
    pub(super) paused: Cell<bool>,
    /// Sending failed, or the driver is gone.
    pub(super) send_gone: Cell<bool>,
    /// Data sent that the host has not read yet, and data the host holds
    /// because the system did not take it.
    pub(super) unsent: Cell<usize>,
    pub(super) host_queued: Cell<usize>,
    /// The writer's, told when `unsent` or `host_queued` shrink or sending
    /// ends: it wakes the writer's pump and waiters.
    pub(super) notify: RefCell<Option<Box<dyn Fn()>>>,
    /// Which parts are still held: the reader's, the writer's, the socket's.
    pub(super) receiving: Cell<bool>,
    pub(super) sending: Cell<bool>,
    pub(super) held: Cell<bool>,
    /// Reset: the host has let go of the token.
    pub(super) aborted: Cell<bool>,
    /// A TLS connection's handshake.
    pub(super) tls: RefCell<Handshake>,
}

impl Conn {
    pub(super) fn on_frame(&self, driver: &Driver, kind: u8, body: &[u8]) {
        match kind {
            DATA => {
                if !self.receiving.get() {
                    return;
                }
                let mut inbox = self.inbox.borrow_mut();
                inbox.extend_from_slice(body);
                let full = inbox.len() >= INBOX_HIGH;
                drop(inbox);
                if full && !self.paused.replace(true) {
                    driver.frame(self.token, PAUSE, &[]);
                }
                self.wake_reader();
            }
            EOF => self.fail_receive(Ok(())),
            ERROR => {
                let code = body
                    .get(1)
                    .map_or(wit::ErrorCode::ConnectionBroken, |&i| code(i));
                if body.first() == Some(&1) {
                    self.send_gone.set(true);
                    self.progress();
                } else {
                    let action = Action::Receive;
                    self.fail_receive(Err(socket_error(code, action, &self.peer)));
                }
            }
            QUEUED => {
                if let Ok(n) = body.try_into() {
                    self.host_queued.set(u32::from_le_bytes(n) as usize);
                    self.progress();
                }
            }
            SECURED => {
                let done = match SslObject::from_frame(body) {
                    Some(info) => Handshake::Done(Rc::new(info)),
                    None => Handshake::Failed(Error::ssl(
                        SslErrorKind::Protocol,
                        "the host described the TLS session in a malformed frame",
                    )),
                };
                self.finish_handshake(done);
            }
            TLS_ERROR => {
                let kind = match body.first() {
                    Some(0) => SslErrorKind::CertVerification,
                    Some(2) => SslErrorKind::Protocol,
                    _ => SslErrorKind::Handshake,
                };
                let message = String::from_utf8_lossy(body.get(1..).unwrap_or_default());
                let e = Error::ssl(kind, format!("{message} ({})", self.peer));
                self.fail_receive(Err(e.clone()));
                self.send_gone.set(true);
                self.progress();
                self.finish_handshake(Handshake::Failed(e));
            }
            _ => {}
        }
    }

    /// The handshake ended (a failure after it is the reader's and the
    /// writer's to report).
    fn finish_handshake(&self, end: Handshake) {
        let mut tls = self.tls.borrow_mut();
        if let Handshake::Running(waiter) = &mut *tls {
            let waiter = waiter.take();
            *tls = end;
            drop(tls);
            if let Some(w) = waiter {
                w.wake();
            }
        }
    }

    pub(super) fn fail_receive(&self, end: Result<()>) {
        if matches!(*self.tls.borrow(), Handshake::Running(_)) {
            let e = match &end {
                Err(e) => e.clone(),
                Ok(()) => Error::ssl(
                    SslErrorKind::Handshake,
                    format!("EOF during the TLS handshake ({})", self.peer),
                ),
            };
            self.finish_handshake(Handshake::Failed(e));
        }
        let mut ended = self.ended.borrow_mut();
        if ended.is_none() {
            *ended = Some(end);
        }
        drop(ended);
        self.wake_reader();
    }

    fn wake_reader(&self) {
        if let Some(w) = self.reader.borrow_mut().take() {
            w.wake();
        }
    }

    /// Sending moved on (or ended): the writer's pump and waiters look
    /// again.
    pub(super) fn progress(&self) {
        if let Some(f) = self.notify.borrow().as_ref() {
            f();
        }
    }

    fn on_way(&self) -> usize {
        self.unsent.get() + self.host_queued.get()
    }

    /// One part let go: once none is held, the connection is given back.
    fn part_gone(&self) {
        if self.receiving.get() || self.sending.get() || self.held.get() {
            return;
        }
        if !self.aborted.get() {
            self.driver.frame(self.token, CLOSE, &[]);
        }
        self.driver.conns.borrow_mut().remove(&self.token);
    }
}

/// A connection's receiving end.
pub(crate) struct Receiver(pub(super) Rc<Conn>);

impl Inbox for Receiver {
    fn poll_take(&self, cx: &mut Context<'_>, buf: &mut Vec<u8>) -> Poll<Result<bool>> {
        let conn = &self.0;
        let mut inbox = conn.inbox.borrow_mut();
        if !inbox.is_empty() {
            if buf.is_empty() {
                std::mem::swap(buf, &mut inbox);
            } else {
                buf.extend_from_slice(&inbox);
                inbox.clear();
            }
            drop(inbox);
            if conn.paused.replace(false) {
                conn.driver.frame(conn.token, RESUME, &[]);
            }
            return Poll::Ready(Ok(true));
        }
        drop(inbox);
        if let Some(end) = conn.ended.borrow_mut().as_mut() {
            return Poll::Ready(match end {
                Ok(()) => Ok(false),
                Err(e) => Err(e.clone()),
            });
        }
        runtime::store_waker(&mut conn.reader.borrow_mut(), cx.waker());
        Poll::Pending
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let conn = &self.0;
        conn.receiving.set(false);
        conn.inbox.borrow_mut().clear();
        // Nothing more is wanted: the host stops receiving.
        if conn.ended.borrow().is_none() && !conn.paused.replace(true) && !conn.aborted.get() {
            conn.driver.frame(conn.token, PAUSE, &[]);
        }
        conn.part_gone();
    }
}

/// A connection's sending end.
pub(crate) struct Sender(pub(super) Rc<Conn>);

impl Outbox for Sender {
    fn state(&self) -> OutState {
        if self.0.send_gone.get() || self.0.aborted.get() {
            OutState::Gone
        } else if self.0.on_way() >= WINDOW {
            OutState::Blocked
        } else {
            OutState::Ready
        }
    }

    fn ask_progress(&self) {
        self.0.driver.ask_sync();
    }

    fn send(&self, data: &[u8]) -> usize {
        let conn = &self.0;
        let n = data.len().min(WINDOW.saturating_sub(conn.on_way()).max(1));
        let driver = &conn.driver;
        driver.frame(conn.token, DATA, &data[..n]);
        conn.unsent.set(conn.unsent.get() + n);
        let entry = (driver.written.get(), Rc::downgrade(conn), n);
        driver.unconfirmed.borrow_mut().push_back(entry);
        n
    }

    fn send_all(&self, mut data: &[u8]) {
        let conn = &self.0;
        if conn.send_gone.get() || conn.aborted.get() {
            return;
        }
        while !data.is_empty() {
            let (frame, rest) = data.split_at(data.len().min(WINDOW));
            conn.driver.frame(conn.token, DATA, frame);
            data = rest;
        }
    }

    fn unsent(&self) -> usize {
        if self.0.send_gone.get() || self.0.aborted.get() {
            0
        } else {
            self.0.on_way()
        }
    }

    fn on_progress(&self, f: Box<dyn Fn()>) {
        *self.0.notify.borrow_mut() = Some(f);
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        let conn = &self.0;
        conn.sending.set(false);
        if !conn.aborted.get() && !conn.send_gone.get() {
            conn.driver.frame(conn.token, SHUTDOWN, &[]);
        }
        conn.part_gone();
    }
}

/// Holds the connection in the socket's place: dropped while the sending
/// end is open, it resets the connection (what dropping a socket whose
/// send stream is open does).
pub(crate) struct Guard(pub(super) Rc<Conn>);

impl Drop for Guard {
    fn drop(&mut self) {
        let conn = &self.0;
        conn.held.set(false);
        if conn.sending.get() && !conn.aborted.get() {
            conn.aborted.set(true);
            conn.driver.frame(conn.token, ABORT, &[]);
            conn.driver.conns.borrow_mut().remove(&conn.token);
        }
        conn.part_gone();
    }
}

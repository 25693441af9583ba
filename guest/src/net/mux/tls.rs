//! Connections with a TLS session on the host: attached with one
//! ([`attach_tls`]) or given one later ([`start_tls`]), and the handshake
//! to await ([`HandshakeDone`]).

use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::conn::{Conn, Guard, Receiver, Sender};
use super::{Peer, add_conn, driver};
use crate::bindings::aio::host::mux::{TlsRefused, TlsRole};
use crate::bindings::wasi::sockets::types as wit;
use crate::errors::{Error, Result};
use crate::net::{Action, socket_error};
use crate::runtime::{self, task::Awaiting};
use crate::ssl::{SslErrorKind, SslObject};

/// Where a connection's TLS handshake stands.
pub(super) enum Handshake {
    /// Not a TLS connection.
    Plain,
    /// Under way; the task waiting for it.
    Running(Option<Waker>),
    Done(Rc<SslObject>),
    Failed(Error),
}

/// Moves a connected socket onto the multiplexer with a TLS session on
/// the host: its ends as [`attach`]'s, and the handshake to await.
pub(crate) fn attach_tls(
    socket: &wit::TcpSocket,
    peer: SocketAddr,
    role: &TlsRole,
) -> Result<(Receiver, Sender, Guard, HandshakeDone)> {
    let driver = driver().ok_or_else(no_tls)?;
    let attached = match driver.mux.borrow().as_ref() {
        Some(mux) => mux.attach_tls(socket, role),
        None => return Err(no_tls()),
    };
    let token = attached.map_err(|e| tls_refused(e, peer))?;
    let (rx, tx, guard) = add_conn(driver, token, Peer::Inet(peer), Handshake::Running(None));
    let done = HandshakeDone(guard.0.clone());
    Ok((rx, tx, guard, done))
}

/// Starts TLS on the multiplexed connection whose socket guard is
/// `guard` (a writer's socket): `received` is what its reader had not
/// used, and what waits in its inbox follows it to the host as the start
/// of the handshake. `Err` (nothing changed but the bytes taken, which
/// come back) if the host refused.
pub(crate) fn start_tls(
    guard: &dyn std::any::Any,
    role: &TlsRole,
    mut received: Vec<u8>,
) -> std::result::Result<HandshakeDone, (Error, Vec<u8>)> {
    let Some(Guard(conn)) = guard.downcast_ref::<Guard>() else {
        return Err((no_tls(), received));
    };
    if !matches!(*conn.tls.borrow(), Handshake::Plain) {
        let e = Error::runtime("start_tls: the connection has TLS already");
        return Err((e, received));
    }
    received.append(&mut conn.inbox.borrow_mut());
    let started = match conn.driver.mux.borrow().as_ref() {
        Some(mux) => mux.start_tls(conn.token, role, &received),
        None => return Err((no_tls(), received)),
    };
    if let Err(refused) = started {
        return Err((tls_refused(refused, &conn.peer), received));
    }
    // (The host resumed receiving.)
    conn.paused.set(false);
    *conn.tls.borrow_mut() = Handshake::Running(None);
    Ok(HandshakeDone(conn.clone()))
}

/// Whether the host would take `role` (its identity or CA bundle, its
/// server name), before any socket is made for it.
pub(crate) fn check_tls(role: &TlsRole) -> Result<()> {
    let driver = driver().ok_or_else(no_tls)?;
    let checked = match driver.mux.borrow().as_ref() {
        Some(mux) => mux.check_tls(role),
        None => return Err(no_tls()),
    };
    let unknown = SocketAddr::from(([0, 0, 0, 0], 0));
    checked.map_err(|e| tls_refused(e, unknown))
}

fn no_tls() -> Error {
    Error::ssl(
        SslErrorKind::Config,
        "TLS needs the host's socket multiplexer (the SDK's host-mux feature; \
         ASYNCIO_MUX=0 turns it off)",
    )
}

fn tls_refused(refused: TlsRefused, peer: impl std::fmt::Display) -> Error {
    match refused {
        TlsRefused::NotGranted(why) => Error::new(crate::errors::ErrorKind::PermissionDenied(why)),
        TlsRefused::Invalid(why) => Error::ssl(SslErrorKind::Config, why),
        TlsRefused::Socket(code) => socket_error(code, Action::Connect, peer),
    }
}

/// A TLS connection's handshake, to await.
pub(crate) struct HandshakeDone(Rc<Conn>);

impl Future for HandshakeDone {
    type Output = Result<Rc<SslObject>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(e) = runtime::take_cancel() {
            return Poll::Ready(Err(e));
        }
        let mut tls = self.0.tls.borrow_mut();
        match &mut *tls {
            Handshake::Plain => Poll::Ready(Err(Error::runtime("not a TLS connection"))),
            Handshake::Running(waiter) => {
                runtime::store_waker(waiter, cx.waker());
                runtime::set_awaiting(Awaiting::Io {
                    what: "a TLS handshake",
                });
                Poll::Pending
            }
            Handshake::Done(info) => Poll::Ready(Ok(info.clone())),
            Handshake::Failed(e) => Poll::Ready(Err(e.clone())),
        }
    }
}

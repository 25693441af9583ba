//! A UDP socket for the loop's datagram calls (asyncio's
//! `loop.sock_sendto` and `sock_recvfrom`), beside
//! [`Socket`](super::Socket) for TCP; Rust's std splits the two the same
//! way. Grants: `--allow-listen` for a bind, `--allow-net` for each
//! destination (an unbound socket is bound by the host at its first send,
//! and then hears only the peers `--allow-net` names; docs/transports.md).

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;

use super::{Action, family, from_wit, socket_error, to_wit};
use crate::bindings::wasi::sockets::types as wit;
use crate::errors::{Error, Result};
use crate::events::Loop;

/// A UDP socket (`socket.socket(AF_INET, SOCK_DGRAM)` as the `sock_*`
/// calls use it). Created at its first `bind` or send, for that
/// address's family; dropping it closes it.
#[derive(Default)]
pub struct UdpSocket {
    socket: RefCell<Option<Rc<wit::UdpSocket>>>,
    receiving: Cell<bool>,
}

impl std::fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local", &self.getsockname())
            .finish()
    }
}

impl UdpSocket {
    /// A new UDP socket, not bound yet.
    pub fn new() -> UdpSocket {
        UdpSocket::default()
    }

    /// Binds it to `addr` (port 0: a free port); the host must grant it
    /// (`--allow-listen`).
    pub fn bind(&self, addr: SocketAddr) -> Result<()> {
        let err = |code| socket_error(code, Action::Bind, addr);
        let mut slot = self.socket.borrow_mut();
        if slot.is_some() {
            return Err(Error::invalid_state("UdpSocket.bind: already bound"));
        }
        let socket = wit::UdpSocket::create(family(addr)).map_err(err)?;
        socket.bind(to_wit(addr)).map_err(err)?;
        *slot = Some(Rc::new(socket));
        Ok(())
    }

    /// Its own address, once bound (by `bind` or by a first send).
    pub fn getsockname(&self) -> Option<SocketAddr> {
        let slot = self.socket.borrow();
        slot.as_ref()?.get_local_address().ok().map(from_wit)
    }

    /// Closes it.
    pub fn close(&self) {
        drop(self.socket.borrow_mut().take());
    }

    fn for_sending(&self, to: SocketAddr) -> Result<Rc<wit::UdpSocket>> {
        let mut slot = self.socket.borrow_mut();
        if let Some(s) = slot.as_ref() {
            return Ok(s.clone());
        }
        let socket = wit::UdpSocket::create(family(to))
            .map_err(|code| socket_error(code, Action::Send, to))?;
        Ok(slot.insert(Rc::new(socket)).clone())
    }
}

/// Clears the receiving mark when a receive ends, cancelled or not.
struct Receiving<'a>(&'a Cell<bool>);

impl Drop for Receiving<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

impl Loop {
    /// Sends one datagram to `addr` (`loop.sock_sendto`): how many bytes
    /// (all of them; a datagram goes whole or not at all).
    pub async fn sock_sendto(
        &self,
        sock: &UdpSocket,
        data: &[u8],
        addr: SocketAddr,
    ) -> Result<usize> {
        let socket = sock.for_sending(addr)?;
        socket
            .send(data.to_vec(), Some(to_wit(addr)))
            .await
            .map_err(|code| socket_error(code, Action::Send, addr))?;
        Ok(data.len())
    }

    /// The next datagram, cut to `n` bytes as a receive into a buffer of
    /// `n` would cut it, and its sender (`loop.sock_recvfrom`). The socket
    /// must be bound (by `bind` or a first send). One receive at a time.
    pub async fn sock_recvfrom(&self, sock: &UdpSocket, n: usize) -> Result<(Vec<u8>, SocketAddr)> {
        let socket = sock.socket.borrow().clone().ok_or_else(|| {
            Error::invalid_state("sock_recvfrom: the socket is not bound (bind it, or send first)")
        })?;
        if sock.receiving.replace(true) {
            return Err(Error::invalid_state(
                "sock_recvfrom: another sock_recvfrom is in progress",
            ));
        }
        let _mark = Receiving(&sock.receiving);
        let local = sock.getsockname();
        let (mut data, from) = socket.receive().await.map_err(|code| {
            let at = local.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
            socket_error(code, Action::Receive, at)
        })?;
        data.truncate(n);
        Ok((data, from_wit(from)))
    }
}

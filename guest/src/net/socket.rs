//! The SDK's own TCP socket object and the loop's low-level socket calls
//! (asyncio's `loop.sock_connect`, `sock_recv`, `sock_recv_into`,
//! `sock_sendall`, `sock_accept`), for code ported from that API:
//!
//! ```no_run
//! # async fn demo() -> asyncio::Result<()> {
//! use asyncio::net::Socket;
//! let lp = asyncio::get_running_loop();
//! let sock = Socket::tcp();
//! lp.sock_connect(&sock, "127.0.0.1:8888".parse().unwrap()).await?;
//! lp.sock_sendall(&sock, b"ping\n").await?;
//! let reply = lp.sock_recv(&sock, 1024).await?;
//! # let _ = reply; Ok(()) }
//! ```
//!
//! A `Socket` is not a raw descriptor: WASI 0.3 has none. Connected, it
//! holds the connection's reader and writer (the same as
//! `open_connection`'s, so the bytes go over the socket multiplexer);
//! listening, the listener. One receive and one send may be in progress
//! at a time, from different tasks, as with a Python socket; a second
//! `sock_recv` while one waits is an error instead of a race. Grants are
//! those of streams: `--allow-net` to connect, `--allow-listen` to bind.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::SocketAddr;

use super::tcp::{self, ConnHandle, Listener, ListenerCloser};
use crate::bindings::wasi::sockets::types as wit;
use crate::errors::{Error, Result};
use crate::events::Loop;
use crate::streams::{DEFAULT_LIMIT, StreamReader, StreamWriter};

/// A TCP socket (asyncio's non-blocking `socket.socket(AF_INET,
/// SOCK_STREAM)` as the `sock_*` calls use it): [`bind`](Self::bind) and
/// [`listen`](Self::listen) for a server, [`Loop::sock_connect`] for a
/// client. Dropping it closes it.
#[derive(Default)]
pub struct Socket {
    state: RefCell<State>,
    /// Taken out while a receive or a send is in progress.
    reader: RefCell<Option<StreamReader>>,
    writer: RefCell<Option<StreamWriter>>,
}

#[derive(Default)]
enum State {
    #[default]
    New,
    Bound(SocketAddr),
    Listening {
        /// Lent out while an accept waits; `closer` reaches it then too.
        listener: Option<Listener>,
        closer: ListenerCloser,
        pending: VecDeque<wit::TcpSocket>,
    },
    Connected {
        conn: ConnHandle,
        local: Option<SocketAddr>,
        peer: Option<SocketAddr>,
    },
    Closed,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &*self.state.borrow() {
            State::New => "new",
            State::Bound(_) => "bound",
            State::Listening { .. } => "listening",
            State::Connected { .. } => "connected",
            State::Closed => "closed",
        };
        f.debug_struct("Socket").field("state", &state).finish()
    }
}

impl Socket {
    /// A new, unconnected TCP socket (the address family follows the
    /// address it is bound or connected to).
    pub fn tcp() -> Socket {
        Socket::default()
    }

    fn connected(reader: StreamReader, writer: StreamWriter, conn: ConnHandle) -> Socket {
        let (local, peer) = (writer.sockname(), writer.peername());
        Socket {
            state: RefCell::new(State::Connected { conn, local, peer }),
            reader: RefCell::new(Some(reader)),
            writer: RefCell::new(Some(writer)),
        }
    }

    /// Where a later [`listen`](Self::listen) listens (`socket.bind`).
    /// Port 0 asks the system for a free port.
    pub fn bind(&self, addr: SocketAddr) -> Result<()> {
        let mut state = self.state.borrow_mut();
        match *state {
            State::New => {
                *state = State::Bound(addr);
                Ok(())
            }
            _ => Err(Error::invalid_state(
                "Socket.bind: already bound or connected",
            )),
        }
    }

    /// Listens on the bound address, `backlog` connections pending at most
    /// (`socket.listen`; the host must grant it: `--allow-listen`).
    pub fn listen(&self, backlog: u32) -> Result<()> {
        let mut state = self.state.borrow_mut();
        let State::Bound(addr) = *state else {
            return Err(Error::invalid_state("Socket.listen: bind it first"));
        };
        let listener = Listener::bind(addr, backlog)?;
        *state = State::Listening {
            closer: listener.closer(),
            listener: Some(listener),
            pending: VecDeque::new(),
        };
        Ok(())
    }

    /// Its own address (`getsockname`): the port the system chose for 0.
    pub fn getsockname(&self) -> Option<SocketAddr> {
        match &*self.state.borrow() {
            State::Bound(addr) => Some(*addr),
            State::Listening {
                listener: Some(l), ..
            } => Some(l.local()),
            State::Connected { local, .. } => *local,
            _ => None,
        }
    }

    /// The peer's address (`getpeername`), once connected.
    pub fn getpeername(&self) -> Option<SocketAddr> {
        match &*self.state.borrow() {
            State::Connected { peer, .. } => *peer,
            _ => None,
        }
    }

    /// Closes it: a connection gets its FIN after what was sent; a
    /// listener stops accepting.
    pub fn close(&self) {
        let old = std::mem::replace(&mut *self.state.borrow_mut(), State::Closed);
        match old {
            State::Connected { conn, .. } => conn.close(),
            State::Listening { closer, .. } => closer.close(),
            _ => {}
        }
        drop(self.reader.borrow_mut().take());
        drop(self.writer.borrow_mut().take());
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.close();
    }
}

/// Puts a half back into its socket when the call ends, cancelled or not.
struct Lent<'a, T> {
    slot: &'a RefCell<Option<T>>,
    half: Option<T>,
}

impl<'a, T> Lent<'a, T> {
    fn take(slot: &'a RefCell<Option<T>>, what: &str) -> Result<Lent<'a, T>> {
        match slot.borrow_mut().take() {
            Some(half) => Ok(Lent {
                slot,
                half: Some(half),
            }),
            None => Err(Error::invalid_state(format!(
                "{what}: the socket is not connected, or another {what} is in progress"
            ))),
        }
    }

    fn get(&mut self) -> &mut T {
        self.half.as_mut().expect("lent until dropped")
    }
}

impl<T> Drop for Lent<'_, T> {
    fn drop(&mut self) {
        let mut slot = self.slot.borrow_mut();
        if slot.is_none() {
            *slot = self.half.take();
        }
    }
}

impl Loop {
    /// Connects `sock` to `addr` (`loop.sock_connect`; the host must grant
    /// it: `--allow-net`). Cancelled, the attempt is abandoned.
    pub async fn sock_connect(&self, sock: &Socket, addr: SocketAddr) -> Result<()> {
        if !matches!(*sock.state.borrow(), State::New) {
            return Err(Error::invalid_state(
                "sock_connect: the socket is already bound, listening or connected",
            ));
        }
        let socket = tcp::connect(addr).await?;
        let (reader, writer, conn) = tcp::wire(socket, DEFAULT_LIMIT);
        let (local, peer) = (writer.sockname(), writer.peername());
        *sock.reader.borrow_mut() = Some(reader);
        *sock.writer.borrow_mut() = Some(writer);
        *sock.state.borrow_mut() = State::Connected { conn, local, peer };
        Ok(())
    }

    /// Up to `n` bytes from `sock` (`loop.sock_recv`); empty at the peer's
    /// EOF.
    pub async fn sock_recv(&self, sock: &Socket, n: usize) -> Result<Vec<u8>> {
        let mut reader = Lent::take(&sock.reader, "sock_recv")?;
        reader.get().read(n).await
    }

    /// Receives into `buf` (`loop.sock_recv_into`): how many bytes; 0 at
    /// the peer's EOF.
    pub async fn sock_recv_into(&self, sock: &Socket, buf: &mut [u8]) -> Result<usize> {
        let mut reader = Lent::take(&sock.reader, "sock_recv_into")?;
        let got = reader.get().read(buf.len()).await?;
        buf[..got.len()].copy_from_slice(&got);
        Ok(got.len())
    }

    /// Sends all of `data` (`loop.sock_sendall`), waiting while the peer
    /// does not take it.
    pub async fn sock_sendall(&self, sock: &Socket, data: &[u8]) -> Result<()> {
        let mut writer = Lent::take(&sock.writer, "sock_sendall")?;
        writer.get().write(data)?;
        writer.get().drain().await
    }

    /// The next client of a listening `sock` (`loop.sock_accept`): a
    /// connected socket and its address.
    pub async fn sock_accept(&self, sock: &Socket) -> Result<(Socket, SocketAddr)> {
        loop {
            let mut lent = {
                let mut state = sock.state.borrow_mut();
                let State::Listening {
                    listener, pending, ..
                } = &mut *state
                else {
                    return Err(Error::invalid_state(
                        "sock_accept: the socket is not listening",
                    ));
                };
                if let Some(client) = pending.pop_front() {
                    drop(state);
                    let (reader, writer, conn) = tcp::wire(client, DEFAULT_LIMIT);
                    let peer = writer
                        .peername()
                        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
                    return Ok((Socket::connected(reader, writer, conn), peer));
                }
                let listener = listener.take().ok_or_else(|| {
                    Error::invalid_state("sock_accept: another sock_accept is in progress")
                })?;
                LentListener {
                    sock,
                    listener: Some(listener),
                    accepted: Vec::new(),
                }
            };
            let listener = lent.listener.as_mut().expect("lent until dropped");
            let clients = listener.accept().await?;
            if clients.is_empty() {
                return Err(Error::invalid_state("sock_accept: the socket was closed"));
            }
            lent.accepted = clients;
            // Dropping `lent` gives the listener and the clients back.
        }
    }
}

/// A listener taken out of its socket for an accept: given back (with
/// what it accepted) when the accept ends, cancelled or not; closed if the
/// socket was closed meanwhile.
struct LentListener<'a> {
    sock: &'a Socket,
    listener: Option<Listener>,
    accepted: Vec<wit::TcpSocket>,
}

impl Drop for LentListener<'_> {
    fn drop(&mut self) {
        let Some(listener) = self.listener.take() else {
            return;
        };
        let mut state = self.sock.state.borrow_mut();
        match &mut *state {
            State::Listening {
                listener: slot,
                pending,
                ..
            } if slot.is_none() => {
                *slot = Some(listener);
                pending.extend(self.accepted.drain(..));
            }
            _ => listener.closer().close(),
        }
    }
}

//! The host's TCP sockets: what stands behind `wasi:sockets/types`
//! `tcp-socket` (wired up in [`super::wasi`]).
//!
//! wasmtime-wasi 48 has its own TCP sockets; this one replaces them for
//! speed and control:
//!
//! - **One `recv` per message.** A read that returns fewer bytes than the
//!   guest asked for clears the socket's read readiness, so the guest's next
//!   read waits for epoll instead of making a `recvfrom` that only says
//!   `EAGAIN` (wasmtime-wasi's receive stream made two system calls per
//!   message; tokio's own reader makes one). The same holds for a short
//!   `send`.
//! - **Every pending client per accept.** One read of the listen stream
//!   takes as many clients as the guest's buffer holds and the kernel has
//!   ready, not one.
//! - **Grants checked in place**, each decision audited, without a boxed
//!   future per check.
//! - **An abort resets.** A guest that drops the socket while its send
//!   stream is still open has given the connection up (asyncio's
//!   `abort()`): the peer gets a reset, not the FIN that closing the send
//!   stream sends ([`TcpSocket::dropped_by_guest`]).
//!
//! The sockets are non-blocking file descriptors registered with the tokio
//! reactor of the run ([`AsyncFd`]); Unix only, as the rest of the host.
//! Socket options set on a listener are inherited by the clients it accepts
//! (Linux semantics).
//!
//! [`TcpSocket`] is the socket itself and its states; `stream` holds a
//! connection's receive and send halves, `listener` the accept stream,
//! `options` the socket options.

mod listener;
mod options;
mod stream;
#[cfg(test)]
mod tests;

pub(crate) use listener::{ACCEPT_BATCH, ListenProducer};
pub(crate) use stream::{ConnSocket, ReceiveProducer, Received, SendConsumer, Sent};

use super::NetAccess;
use super::policy::Use;
use super::sys::{code, errno, family_matches, is_unicast, local_addr, unspecified};
use rustix::io::Errno;
use rustix::net::{self as rnet, AddressFamily, SocketFlags, SocketType, sockopt};
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use stream::{Conn, Half};
use tokio::io::unix::AsyncFd;
use tokio::sync::oneshot;
use wasmtime_wasi::p3::bindings::sockets::types::{self, IpAddressFamily};
use wasmtime_wasi::sockets::ErrorCode;

/// The backlog `listen` uses unless the guest sets one (Rust's std uses
/// 128 too).
const DEFAULT_BACKLOG: u32 = 128;

type Stream = AsyncFd<ConnSocket>;
type Listener = AsyncFd<std::net::TcpListener>;

enum State {
    /// Created, perhaps bound; neither connecting nor listening.
    Default(OwnedFd),
    /// A connect in progress.
    Connecting(Stream),
    Listening(Arc<Listener>),
    Connected {
        conn: Arc<Conn>,
        receive_taken: bool,
        send_taken: bool,
    },
    /// A failed connect or accept: every later use reports this.
    Closed(ErrorCode),
}

/// One guest TCP socket.
pub(crate) struct TcpSocket {
    state: State,
    family: IpAddressFamily,
    backlog: u32,
    /// Once bound, a socket stays bound: cached to save a `getsockname`.
    bound: bool,
    net: NetAccess,
}

/// The result of an I/O call on a socket, as the guest sees it.
pub(crate) type TcpResult<T> = Result<T, ErrorCode>;

/// How a receive or send half ended: the guest's `future<result<_, error-code>>`.
pub(crate) type ResultRx = oneshot::Receiver<Result<(), types::ErrorCode>>;
/// A connection's two halves, each with how it ended.
pub(crate) type Halves = ((ReceiveProducer, ResultRx), (SendConsumer, ResultRx));
type ResultTx = oneshot::Sender<Result<(), types::ErrorCode>>;

/// Registers a connected or listening socket with the run's reactor.
pub(in crate::net) fn register<T: std::os::fd::AsRawFd>(io: T) -> TcpResult<AsyncFd<T>> {
    if tokio::runtime::Handle::try_current().is_err() {
        // An embedder calling in from outside a tokio runtime: report it
        // rather than let tokio panic.
        return Err(ErrorCode::Other);
    }
    // SAFETY: `T` is a [`ConnSocket`] or a std listener: it owns its
    // descriptor, always returns the same one, and closes it only when
    // dropped, which the `AsyncFd` that owns it does after deregistering.
    unsafe { AsyncFd::register(io) }.map_err(|e| code(e.into()))
}

/// The two halves of a connected Unix stream socket (`crate::net::unix`),
/// as [`TcpSocket::take_halves`] gives a TCP connection's: the
/// multiplexer attaches either the same way.
pub(crate) fn unix_halves(stream: std::os::unix::net::UnixStream) -> TcpResult<Halves> {
    stream.set_nonblocking(true).map_err(code)?;
    let conn = Arc::new(Conn::new(register(ConnSocket::Unix(stream))?));
    let (rx, rx_result) = Half::new(&conn);
    let (tx, tx_result) = Half::new(&conn);
    Ok((
        (ReceiveProducer(rx), rx_result),
        (SendConsumer::new(tx), tx_result),
    ))
}

impl TcpSocket {
    /// `tcp-socket.create`: a new, unbound socket.
    pub(crate) fn new(net: NetAccess, family: IpAddressFamily) -> TcpResult<TcpSocket> {
        let af = match family {
            IpAddressFamily::Ipv4 => AddressFamily::INET,
            IpAddressFamily::Ipv6 => AddressFamily::INET6,
        };
        let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
        let fd = rnet::socket_with(af, SocketType::STREAM, flags, None).map_err(errno)?;
        if family == IpAddressFamily::Ipv6 {
            // The WASI spec: IPv6 sockets are IPv6-only, not configurable.
            sockopt::set_ipv6_v6only(&fd, true).map_err(errno)?;
        }
        Ok(TcpSocket {
            state: State::Default(fd),
            family,
            backlog: DEFAULT_BACKLOG,
            bound: false,
            net,
        })
    }

    /// A client a listener accepted.
    fn accepted(net: NetAccess, family: IpAddressFamily, fd: OwnedFd) -> TcpSocket {
        let state = match register(ConnSocket::Tcp(fd.into())) {
            Ok(stream) => State::Connected {
                conn: Arc::new(Conn::new(stream)),
                receive_taken: false,
                send_taken: false,
            },
            Err(e) => State::Closed(e),
        };
        TcpSocket {
            state,
            family,
            backlog: DEFAULT_BACKLOG,
            bound: true,
            net,
        }
    }

    fn fd(&self) -> TcpResult<BorrowedFd<'_>> {
        match &self.state {
            State::Default(fd) => Ok(fd.as_fd()),
            State::Listening(l) => Ok(l.as_fd()),
            State::Connected { conn, .. } => Ok(conn.io().as_fd()),
            State::Connecting(_) => Err(ErrorCode::InvalidState),
            State::Closed(e) => Err(*e),
        }
    }

    fn is_bound(&mut self) -> bool {
        if !self.bound {
            self.bound = match &self.state {
                State::Default(fd) => rnet::getsockname(fd)
                    .ok()
                    .and_then(|a| SocketAddr::try_from(a).ok())
                    .is_some_and(|a| a != unspecified(self.family)),
                _ => true,
            };
        }
        self.bound
    }

    /// Checks (and audits) one use of an address against the grants.
    fn allow(&self, addr: SocketAddr, use_: Use) -> TcpResult<()> {
        if self.net.allows(addr, use_) {
            Ok(())
        } else {
            Err(ErrorCode::AccessDenied)
        }
    }

    /// `tcp-socket.bind`.
    pub(crate) fn bind(&mut self, addr: SocketAddr) -> TcpResult<()> {
        if self.is_bound() {
            return Err(ErrorCode::InvalidState);
        }
        let State::Default(fd) = &self.state else {
            return Err(ErrorCode::InvalidState);
        };
        if !is_unicast(addr.ip()) || !family_matches(addr.ip(), self.family) {
            return Err(self.net.refuse_invalid("net.bind", addr));
        }
        self.allow(addr, Use::Bind)?;
        bind(fd, addr, &self.net)?;
        self.bound = true;
        Ok(())
    }

    /// Starts `tcp-socket.connect`; [`poll_connect`](Self::poll_connect)
    /// finishes it.
    pub(crate) fn start_connect(&mut self, addr: SocketAddr) -> TcpResult<()> {
        if !matches!(self.state, State::Default(_)) {
            return Err(ErrorCode::InvalidState);
        }
        if !is_unicast(addr.ip())
            || addr.ip().is_unspecified()
            || addr.port() == 0
            || !family_matches(addr.ip(), self.family)
        {
            return Err(self.net.refuse_invalid("net.connect", addr));
        }
        // Not bound: the system binds an ephemeral port at connect; check
        // that without doing it ourselves (that would use ports up faster).
        if !self.is_bound() {
            self.allow(unspecified(self.family), Use::EphemeralBind)?;
        }
        self.allow(addr, Use::Connect)?;
        let State::Default(fd) =
            std::mem::replace(&mut self.state, State::Closed(ErrorCode::Other))
        else {
            unreachable!("checked above");
        };
        match rnet::connect(&fd, &addr) {
            Ok(()) | Err(Errno::INPROGRESS) => {}
            Err(e) => return Err(self.fail(errno(e))),
        }
        let stream = register(ConnSocket::Tcp(fd.into())).map_err(|e| self.fail(e))?;
        self.state = State::Connecting(stream);
        Ok(())
    }

    /// Waits for a started connect to finish.
    pub(crate) fn poll_connect(&mut self, cx: &mut Context<'_>) -> Poll<TcpResult<()>> {
        let outcome = match &self.state {
            State::Connecting(stream) => match ready!(stream.poll_write_ready(cx)) {
                // Writable: connected, or failed with the socket's error.
                Ok(_guard) => match sockopt::socket_error(stream.get_ref()) {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) | Err(e) => Err(errno(e)),
                },
                Err(e) => Err(code(e)),
            },
            State::Connected { .. } => return Poll::Ready(Ok(())),
            State::Closed(e) => return Poll::Ready(Err(*e)),
            _ => return Poll::Ready(Err(ErrorCode::InvalidState)),
        };
        if let Err(e) = outcome {
            return Poll::Ready(Err(self.fail(e)));
        }
        let State::Connecting(stream) =
            std::mem::replace(&mut self.state, State::Closed(ErrorCode::Other))
        else {
            unreachable!("matched above");
        };
        self.state = State::Connected {
            conn: Arc::new(Conn::new(stream)),
            receive_taken: false,
            send_taken: false,
        };
        self.bound = true;
        Poll::Ready(Ok(()))
    }

    fn fail(&mut self, e: ErrorCode) -> ErrorCode {
        self.state = State::Closed(e);
        e
    }

    /// `tcp-socket.listen`: binds an ephemeral port first if unbound.
    pub(crate) fn listen(&mut self) -> TcpResult<ListenProducer> {
        let bound = self.is_bound();
        let State::Default(fd) = &self.state else {
            return Err(ErrorCode::InvalidState);
        };
        if bound {
            let local = local_addr(fd)?;
            self.allow(local, Use::Listen)?;
        } else {
            let any = unspecified(self.family);
            self.allow(any, Use::EphemeralBind)?;
            self.allow(any, Use::Listen)?;
            // Linux binds at listen by itself, other systems do not: bind
            // here so every system behaves the same.
            bind(fd, any, &self.net)?;
        }
        let backlog = i32::try_from(self.backlog).unwrap_or(i32::MAX);
        rnet::listen(fd, backlog).map_err(errno)?;
        let State::Default(fd) =
            std::mem::replace(&mut self.state, State::Closed(ErrorCode::Other))
        else {
            unreachable!("matched above");
        };
        let listener = match register(std::net::TcpListener::from(fd)) {
            Ok(l) => Arc::new(l),
            Err(e) => return Err(self.fail(e)),
        };
        self.state = State::Listening(listener.clone());
        self.bound = true;
        Ok(ListenProducer::new(listener, self.family, self.net.clone()))
    }

    /// Takes the receive half (once).
    pub(crate) fn take_receive(&mut self) -> TcpResult<(ReceiveProducer, ResultRx)> {
        let (half, rx) = self.take_half(true)?;
        Ok((ReceiveProducer(half), rx))
    }

    /// Takes the send half (once).
    pub(crate) fn take_send(&mut self) -> TcpResult<(SendConsumer, ResultRx)> {
        let (half, rx) = self.take_half(false)?;
        Ok((SendConsumer::new(half), rx))
    }

    /// Takes both halves for a multiplexer (`aio:host/mux`): the socket
    /// handle keeps nothing of the connection afterwards (later calls say
    /// `invalid-state`; dropping it resets nothing), the halves own it.
    pub(crate) fn take_halves(&mut self) -> TcpResult<Halves> {
        match &self.state {
            State::Connected {
                conn,
                receive_taken: false,
                send_taken: false,
            } => {
                // The mux sends each frame as it comes, often in parts: as
                // asyncio does for every TCP transport, no Nagle delay.
                let _ = sockopt::set_tcp_nodelay(conn.io(), true);
            }
            State::Closed(e) => return Err(*e),
            _ => return Err(ErrorCode::InvalidState),
        }
        let rx = self.take_receive()?;
        let tx = self.take_send()?;
        self.state = State::Closed(ErrorCode::InvalidState);
        Ok((rx, tx))
    }

    fn take_half(&mut self, receive: bool) -> TcpResult<(Half, ResultRx)> {
        match &mut self.state {
            State::Connected {
                conn,
                receive_taken,
                send_taken,
            } => {
                let taken = if receive { receive_taken } else { send_taken };
                if std::mem::replace(taken, true) {
                    return Err(ErrorCode::InvalidState);
                }
                Ok(Half::new(conn))
            }
            State::Closed(e) => Err(*e),
            _ => Err(ErrorCode::InvalidState),
        }
    }

    /// The guest dropped its handle to this socket. A connection whose
    /// send stream is still open is then reset: WASI has no `SO_LINGER`
    /// and no "abort", so this is how a guest says it (the asyncio SDK's
    /// `abort()` drops the socket before its send stream; `close()` closes
    /// the stream first, which sends the FIN after the buffered data, and
    /// drops the socket after). The halves the guest still holds keep
    /// working until they end; a socket dropped when the store is torn
    /// down is not reset (no guest asked for it).
    pub(crate) fn dropped_by_guest(self) {
        if let State::Connected { conn, .. } = &self.state
            && conn.is_sending()
        {
            conn.reset();
        }
    }

    pub(crate) fn local_address(&mut self) -> TcpResult<SocketAddr> {
        if !self.is_bound() {
            return Err(ErrorCode::InvalidState);
        }
        local_addr(self.fd()?)
    }

    pub(crate) fn remote_address(&self) -> TcpResult<SocketAddr> {
        match &self.state {
            State::Connected { conn, .. } => conn.io().get_ref().peer_addr().map_err(code),
            State::Closed(e) => Err(*e),
            _ => Err(ErrorCode::InvalidState),
        }
    }

    pub(crate) fn is_listening(&self) -> bool {
        matches!(self.state, State::Listening(_))
    }

    pub(crate) fn family(&self) -> IpAddressFamily {
        self.family
    }

    pub(crate) fn set_listen_backlog_size(&mut self, value: u64) -> TcpResult<()> {
        if value == 0 {
            return Err(ErrorCode::InvalidArgument);
        }
        // Clamped silently, as the systems do.
        let value = u32::try_from(value)
            .unwrap_or(u32::MAX)
            .min(i32::MAX as u32);
        match &self.state {
            State::Default(_) => {
                self.backlog = value;
                Ok(())
            }
            State::Listening(l) => {
                // Listening again changes the backlog where the system allows.
                rnet::listen(l.as_fd(), value as i32).map_err(|_| ErrorCode::NotSupported)?;
                self.backlog = value;
                Ok(())
            }
            State::Closed(e) => Err(*e),
            _ => Err(ErrorCode::InvalidState),
        }
    }
}

/// Binds `fd` to `addr`, or, in a run whose ports are shared with other
/// runs ([`super::SharedPorts`]), to the group's port for `addr`.
fn bind(fd: &OwnedFd, addr: SocketAddr, net: &NetAccess) -> TcpResult<()> {
    // The WASI spec: a bind is not blocked by the TIME_WAIT of a recently
    // closed socket, that is SO_REUSEADDR everywhere but Windows.
    let _ = sockopt::set_socket_reuseaddr(fd, true);
    let bind_to = |target: SocketAddr| {
        rnet::bind(fd, &target).map_err(|e| match e {
            Errno::AFNOSUPPORT => ErrorCode::InvalidArgument,
            e => errno(e),
        })
    };
    if !net.shares_ports() {
        return bind_to(addr);
    }
    sockopt::set_socket_reuseport(fd, true).map_err(errno)?;
    // The group needs the port the system chose.
    net.bind_shared(addr, |target| {
        bind_to(target)?;
        local_addr(fd)
    })
}

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
//!
//! The sockets are non-blocking file descriptors registered with the tokio
//! reactor of the run ([`AsyncFd`]); Unix only, as the rest of the host.
//! Socket options set on a listener are inherited by the clients it accepts
//! (Linux semantics).

use super::NetAccess;
use rustix::io::Errno;
use rustix::net::{self as rnet, AddressFamily, SocketFlags, SocketType, sockopt};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::oneshot;
use wasmtime_wasi::p3::bindings::sockets::types::{self, IpAddressFamily};
use wasmtime_wasi::sockets::{ErrorCode, SocketAddrUse};

/// The backlog `listen` uses unless the guest sets one (Rust's std uses
/// 128 too).
const DEFAULT_BACKLOG: u32 = 128;

/// The most clients one read of a listen stream hands over.
pub(crate) const ACCEPT_BATCH: usize = 64;

type Stream = AsyncFd<std::net::TcpStream>;
type Listener = AsyncFd<std::net::TcpListener>;

enum State {
    /// Created, perhaps bound; neither connecting nor listening.
    Default(OwnedFd),
    /// A connect in progress.
    Connecting(Stream),
    Listening(Arc<Listener>),
    Connected {
        stream: Arc<Stream>,
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
type ResultTx = oneshot::Sender<Result<(), types::ErrorCode>>;

fn code(err: io::Error) -> ErrorCode {
    ErrorCode::from(err)
}

fn errno(err: Errno) -> ErrorCode {
    ErrorCode::from(err)
}

/// Registers a connected or listening socket with the run's reactor.
fn register<T: std::os::fd::AsRawFd>(io: T) -> TcpResult<AsyncFd<T>> {
    if tokio::runtime::Handle::try_current().is_err() {
        // An embedder calling in from outside a tokio runtime: report it
        // rather than let tokio panic.
        return Err(ErrorCode::Other);
    }
    // SAFETY: `T` is a std `TcpStream` or `TcpListener`: it owns its
    // descriptor, always returns the same one, and closes it only when
    // dropped, which the `AsyncFd` that owns it does after deregistering.
    unsafe { AsyncFd::register(io) }.map_err(|e| code(e.into()))
}

fn unspecified(family: IpAddressFamily) -> SocketAddr {
    match family {
        IpAddressFamily::Ipv4 => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        IpAddressFamily::Ipv6 => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
    }
}

/// Whether `addr` may be used with a socket of `family`. IPv6 sockets are
/// IPv6-only (the WASI spec), so IPv4-mapped addresses are refused there.
fn family_matches(addr: IpAddr, family: IpAddressFamily) -> bool {
    match (family, addr) {
        (IpAddressFamily::Ipv4, IpAddr::V4(_)) => true,
        (IpAddressFamily::Ipv6, IpAddr::V6(v6)) => {
            let compat = matches!(v6.segments(), [0, 0, 0, 0, 0, 0, _, _])
                && v6 != Ipv6Addr::UNSPECIFIED
                && v6 != Ipv6Addr::LOCALHOST;
            v6.to_ipv4_mapped().is_none() && !compat
        }
        _ => false,
    }
}

fn is_unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !v4.is_multicast() && !v4.is_broadcast(),
        IpAddr::V6(v6) => !v6.is_multicast(),
    }
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
        let state = match register(std::net::TcpStream::from(fd)) {
            Ok(stream) => State::Connected {
                stream: Arc::new(stream),
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
            State::Connected { stream, .. } => Ok(stream.as_fd()),
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
    fn allow(&self, addr: SocketAddr, use_: SocketAddrUse) -> TcpResult<()> {
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
            return Err(ErrorCode::InvalidArgument);
        }
        self.allow(addr, SocketAddrUse::TcpBind)?;
        bind(fd, addr)?;
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
            return Err(ErrorCode::InvalidArgument);
        }
        // Not bound: the system binds an ephemeral port at connect; check
        // that without doing it ourselves (that would use ports up faster).
        if !self.is_bound() {
            self.allow(unspecified(self.family), SocketAddrUse::TcpBind)?;
        }
        self.allow(addr, SocketAddrUse::TcpConnect)?;
        let State::Default(fd) =
            std::mem::replace(&mut self.state, State::Closed(ErrorCode::Other))
        else {
            unreachable!("checked above");
        };
        match rnet::connect(&fd, &addr) {
            Ok(()) | Err(Errno::INPROGRESS) => {}
            Err(e) => return Err(self.fail(errno(e))),
        }
        let stream = register(std::net::TcpStream::from(fd)).map_err(|e| self.fail(e))?;
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
            stream: Arc::new(stream),
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
            self.allow(local, SocketAddrUse::TcpListen)?;
        } else {
            let any = unspecified(self.family);
            self.allow(any, SocketAddrUse::TcpBind)?;
            self.allow(any, SocketAddrUse::TcpListen)?;
            // Linux binds at listen by itself, other systems do not: bind
            // here so every system behaves the same.
            bind(fd, any)?;
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
        Ok(ListenProducer {
            listener,
            family: self.family,
            net: self.net.clone(),
            backoff: None,
            delay: Duration::ZERO,
        })
    }

    /// Takes the receive half (once).
    pub(crate) fn take_receive(&mut self) -> TcpResult<(ReceiveProducer, ResultRx)> {
        let (half, rx) = self.take_half(true)?;
        Ok((ReceiveProducer(half), rx))
    }

    /// Takes the send half (once).
    pub(crate) fn take_send(&mut self) -> TcpResult<(SendConsumer, ResultRx)> {
        let (half, rx) = self.take_half(false)?;
        Ok((SendConsumer(half), rx))
    }

    fn take_half(&mut self, receive: bool) -> TcpResult<(Half, ResultRx)> {
        match &mut self.state {
            State::Connected {
                stream,
                receive_taken,
                send_taken,
            } => {
                let taken = if receive { receive_taken } else { send_taken };
                if std::mem::replace(taken, true) {
                    return Err(ErrorCode::InvalidState);
                }
                Ok(Half::new(stream))
            }
            State::Closed(e) => Err(*e),
            _ => Err(ErrorCode::InvalidState),
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
            State::Connected { stream, .. } => stream.get_ref().peer_addr().map_err(code),
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

    pub(crate) fn keep_alive_enabled(&self) -> TcpResult<bool> {
        sockopt::socket_keepalive(self.fd()?).map_err(errno)
    }

    pub(crate) fn set_keep_alive_enabled(&self, value: bool) -> TcpResult<()> {
        sockopt::set_socket_keepalive(self.fd()?, value).map_err(errno)
    }

    pub(crate) fn keep_alive_idle_time(&self) -> TcpResult<u64> {
        let d = sockopt::tcp_keepidle(self.fd()?).map_err(errno)?;
        Ok(nanos(d))
    }

    pub(crate) fn set_keep_alive_idle_time(&self, value: u64) -> TcpResult<()> {
        let d = keep_alive_time(value)?;
        sockopt::set_tcp_keepidle(self.fd()?, d).map_err(errno)
    }

    pub(crate) fn keep_alive_interval(&self) -> TcpResult<u64> {
        let d = sockopt::tcp_keepintvl(self.fd()?).map_err(errno)?;
        Ok(nanos(d))
    }

    pub(crate) fn set_keep_alive_interval(&self, value: u64) -> TcpResult<()> {
        let d = keep_alive_time(value)?;
        sockopt::set_tcp_keepintvl(self.fd()?, d).map_err(errno)
    }

    pub(crate) fn keep_alive_count(&self) -> TcpResult<u32> {
        sockopt::tcp_keepcnt(self.fd()?).map_err(errno)
    }

    pub(crate) fn set_keep_alive_count(&self, value: u32) -> TcpResult<()> {
        if value == 0 {
            return Err(ErrorCode::InvalidArgument);
        }
        // Linux's limit is the lowest of the systems'.
        let value = value.min(i8::MAX as u32);
        sockopt::set_tcp_keepcnt(self.fd()?, value).map_err(errno)
    }

    pub(crate) fn hop_limit(&self) -> TcpResult<u8> {
        let fd = self.fd()?;
        match self.family {
            IpAddressFamily::Ipv4 => {
                let ttl = sockopt::ip_ttl(fd).map_err(errno)?;
                Ok(u8::try_from(ttl).unwrap_or(u8::MAX))
            }
            IpAddressFamily::Ipv6 => sockopt::ipv6_unicast_hops(fd).map_err(errno),
        }
    }

    pub(crate) fn set_hop_limit(&self, value: u8) -> TcpResult<()> {
        if value == 0 {
            // No packet should leave with a TTL of 0; the systems disagree
            // on whether to refuse it, so refuse it here.
            return Err(ErrorCode::InvalidArgument);
        }
        let fd = self.fd()?;
        match self.family {
            IpAddressFamily::Ipv4 => sockopt::set_ip_ttl(fd, value.into()),
            IpAddressFamily::Ipv6 => sockopt::set_ipv6_unicast_hops(fd, Some(value)),
        }
        .map_err(errno)
    }

    pub(crate) fn receive_buffer_size(&self) -> TcpResult<u64> {
        let n = sockopt::socket_recv_buffer_size(self.fd()?).map_err(errno)?;
        Ok(reported_buffer_size(n))
    }

    pub(crate) fn set_receive_buffer_size(&self, value: u64) -> TcpResult<()> {
        let n = requested_buffer_size(value)?;
        hint(sockopt::set_socket_recv_buffer_size(self.fd()?, n))
    }

    pub(crate) fn send_buffer_size(&self) -> TcpResult<u64> {
        let n = sockopt::socket_send_buffer_size(self.fd()?).map_err(errno)?;
        Ok(reported_buffer_size(n))
    }

    pub(crate) fn set_send_buffer_size(&self, value: u64) -> TcpResult<()> {
        let n = requested_buffer_size(value)?;
        hint(sockopt::set_socket_send_buffer_size(self.fd()?, n))
    }
}

fn local_addr(fd: impl AsFd) -> TcpResult<SocketAddr> {
    let any = rnet::getsockname(fd).map_err(errno)?;
    SocketAddr::try_from(any).map_err(|_| ErrorCode::Other)
}

fn bind(fd: &OwnedFd, addr: SocketAddr) -> TcpResult<()> {
    // The WASI spec: a bind is not blocked by the TIME_WAIT of a recently
    // closed socket, that is SO_REUSEADDR everywhere but Windows.
    let _ = sockopt::set_socket_reuseaddr(fd, true);
    rnet::bind(fd, &addr).map_err(|e| match e {
        Errno::AFNOSUPPORT => ErrorCode::InvalidArgument,
        e => errno(e),
    })
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A keep-alive time from the guest (nanoseconds): 0 is refused; the rest
/// is clamped to what the systems accept (1 s to Linux's 32767 s), so the
/// system never rounds it down to 0.
fn keep_alive_time(value: u64) -> TcpResult<Duration> {
    if value == 0 {
        return Err(ErrorCode::InvalidArgument);
    }
    const SEC: u64 = 1_000_000_000;
    Ok(Duration::from_nanos(
        value.clamp(SEC, i16::MAX as u64 * SEC),
    ))
}

/// Linux doubles the buffer size it is given and reports the doubled
/// figure; report what was asked for, as other systems do.
fn reported_buffer_size(n: usize) -> u64 {
    let n = if cfg!(target_os = "linux") { n / 2 } else { n };
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn requested_buffer_size(value: u64) -> TcpResult<usize> {
    if value == 0 {
        return Err(ErrorCode::InvalidArgument);
    }
    Ok(usize::try_from(value)
        .unwrap_or(usize::MAX)
        .min(i32::MAX as usize))
}

/// Buffer sizes are hints: a system that refuses a size (BSD's `ENOBUFS`)
/// keeps its own, as Linux silently clamps.
fn hint(r: rustix::io::Result<()>) -> TcpResult<()> {
    match r {
        Ok(()) | Err(Errno::NOBUFS) => Ok(()),
        Err(e) => Err(errno(e)),
    }
}

/// Accepted clients of a listening socket, as the guest's
/// `stream<tcp-socket>`.
pub(crate) struct ListenProducer {
    listener: Arc<Listener>,
    family: IpAddressFamily,
    net: NetAccess,
    /// After an accept failed for the host's own reasons, the wait before
    /// the next one (see [`poll_accept`](Self::poll_accept)).
    backoff: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    delay: Duration,
}

/// The first and the longest wait after a failed accept (Go's net/http
/// uses the same).
const ACCEPT_BACKOFF: (Duration, Duration) = (Duration::from_millis(5), Duration::from_secs(1));

impl ListenProducer {
    /// Waits until a client may be pending.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        // An error on the listener shows at accept; report ready.
        self.listener.poll_read_ready(cx).map(|_| ())
    }

    /// Accepts one client without waiting; `Pending` when no client is
    /// pending (the task is woken when one is). Clients that went away
    /// before being accepted are skipped. An accept that fails for the
    /// host's own reasons (out of descriptors or memory) gives one client
    /// socket in the failed state, so the guest learns why, and then
    /// waits 5 ms before the next try, doubling to 1 s while it keeps
    /// failing: the waiting client keeps the listener readable, and trying
    /// again at once would spin (a guest server died of it: every failed
    /// client it was handed cost it handles, until the store had none).
    pub(crate) fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<TcpSocket> {
        if let Some(wait) = &mut self.backoff {
            ready!(wait.as_mut().poll(cx));
            self.backoff = None;
        }
        let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
        loop {
            // (`try_io` first, for the reason `ReceiveProducer::poll_receive`
            // gives.)
            let accepted = self.listener.try_io(Interest::READABLE, |l| {
                rnet::acceptfrom_with(l, flags).map_err(io::Error::from)
            });
            match accepted {
                Ok((fd, peer)) => {
                    if let Some(peer) = peer.and_then(|p| SocketAddr::try_from(p).ok()) {
                        // Always allowed: the listen grant covers its
                        // clients. Audited.
                        self.net.allows(peer, SocketAddrUse::TcpAccept);
                    }
                    self.delay = Duration::ZERO;
                    return Poll::Ready(TcpSocket::accepted(self.net.clone(), self.family, fd));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if is_client_gone(&e) => continue,
                Err(e) => {
                    let (first, longest) = ACCEPT_BACKOFF;
                    self.delay = (self.delay * 2).clamp(first, longest);
                    self.backoff = Some(Box::pin(tokio::time::sleep(self.delay)));
                    return Poll::Ready(self.failed(code(e)));
                }
            }
            match ready!(self.listener.poll_read_ready(cx)) {
                Ok(_) => continue,
                Err(e) => return Poll::Ready(self.failed(code(e))),
            }
        }
    }

    fn failed(&self, e: ErrorCode) -> TcpSocket {
        TcpSocket {
            state: State::Closed(e),
            family: self.family,
            backlog: DEFAULT_BACKLOG,
            bound: true,
            net: self.net.clone(),
        }
    }
}

/// Linux reports a client's network error (a reset before accept, say) at
/// `accept`; that is the client's problem, not the listener's.
fn is_client_gone(e: &io::Error) -> bool {
    matches!(
        Errno::from_io_error(e),
        Some(
            Errno::CONNABORTED
                | Errno::CONNRESET
                | Errno::NETRESET
                | Errno::HOSTUNREACH
                | Errno::HOSTDOWN
                | Errno::NETDOWN
                | Errno::NETUNREACH
                | Errno::PROTO
                | Errno::NOPROTOOPT
                | Errno::OPNOTSUPP
        )
    ) || (cfg!(target_os = "linux") && Errno::from_io_error(e) == Some(Errno::NONET))
}

/// What a receive or send half holds: the connection (until the half
/// ends) and where its result goes (once).
struct Half {
    stream: Option<Arc<Stream>>,
    result: Option<ResultTx>,
}

impl Half {
    fn new(stream: &Arc<Stream>) -> (Half, ResultRx) {
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
pub(crate) struct ReceiveProducer(Half);

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
pub(crate) struct SendConsumer(Half);

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Decision;
    use crate::net::NetGrant;
    use crate::policy::AuditEvent;
    use std::future::poll_fn;
    use std::sync::Mutex;

    type Seen = Arc<Mutex<Vec<(String, String, bool)>>>;

    /// Network access granting `net` (connect) and `listen`, recording
    /// every audited decision as (capability, target, allowed).
    fn access(net: &[&str], listen: &[&str]) -> (NetAccess, Seen) {
        let mut g = NetGrant::default();
        g.add_connect(net.iter().map(|s| s.parse().unwrap()));
        g.add_listen(listen.iter().map(|s| s.parse().unwrap()));
        let seen: Seen = Arc::default();
        let log = seen.clone();
        let hook: crate::policy::AuditHook = Arc::new(move |e: &AuditEvent| {
            if let AuditEvent::Capability(u) = e {
                let allowed = u.decision == Decision::Allowed;
                log.lock()
                    .unwrap()
                    .push((u.capability.to_string(), u.target.clone(), allowed));
            }
        });
        (NetAccess::new(g, Some(hook)), seen)
    }

    /// Runs a test body on a current_thread runtime, as a store runs;
    /// a lost wake-up fails it after 10 s instead of hanging.
    fn run(body: impl std::future::Future<Output = ()>) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), body)
                .await
                .expect("the test body finished in time (a lost wake-up?)")
        });
    }

    fn v4() -> IpAddressFamily {
        IpAddressFamily::Ipv4
    }

    /// A listener on 127.0.0.1 (any port) and a client connected to it.
    async fn pair(net: &NetAccess) -> (TcpSocket, TcpSocket, TcpSocket) {
        let mut server = TcpSocket::new(net.clone(), v4()).unwrap();
        server.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut accepts = server.listen().unwrap();
        let addr = server.local_address().unwrap();
        let mut client = TcpSocket::new(net.clone(), v4()).unwrap();
        client.start_connect(addr).unwrap();
        poll_fn(|cx| client.poll_connect(cx)).await.unwrap();
        let accepted = poll_fn(|cx| accepts.poll_accept(cx)).await;
        (server, client, accepted)
    }

    async fn send_all(half: &mut SendConsumer, mut data: &[u8]) {
        while !data.is_empty() {
            match poll_fn(|cx| half.poll_send(cx, data)).await {
                Sent::Wrote(n) => data = &data[n..],
                Sent::Failed => panic!("send failed"),
            }
        }
    }

    #[test]
    fn echo_both_ways_then_half_close() {
        run(async {
            let (net, seen) = access(&["127.0.0.1:*"], &["127.0.0.1:0"]);
            let (_server, mut client, mut accepted) = pair(&net).await;
            let (mut c_send, _c_send_result) = client.take_send().unwrap();
            let (mut c_recv, mut c_recv_result) = client.take_receive().unwrap();
            let (mut s_send, _) = accepted.take_send().unwrap();
            let (mut s_recv, _) = accepted.take_receive().unwrap();
            assert_eq!(
                accepted.remote_address().unwrap(),
                client.local_address().unwrap()
            );

            send_all(&mut c_send, b"ping").await;
            let mut buf = [0u8; 64];
            let Received::Data(n) = poll_fn(|cx| s_recv.poll_receive(cx, &mut buf)).await else {
                panic!("no data");
            };
            assert_eq!(&buf[..n], b"ping");
            send_all(&mut s_send, &buf[..n]).await;
            let Received::Data(n) = poll_fn(|cx| c_recv.poll_receive(cx, &mut buf)).await else {
                panic!("no echo");
            };
            assert_eq!(&buf[..n], b"ping");

            // The server closes its send half: the client reads EOF, and
            // its receive result is Ok.
            drop(s_send);
            assert!(matches!(
                poll_fn(|cx| c_recv.poll_receive(cx, &mut buf)).await,
                Received::Eof
            ));
            assert!(matches!(c_recv_result.try_recv().unwrap(), Ok(())));

            let seen = seen.lock().unwrap().clone();
            let caps: Vec<&str> = seen.iter().map(|(c, _, _)| c.as_str()).collect();
            assert_eq!(
                caps,
                ["net.bind", "net.listen", "net.connect", "net.accept"]
            );
            assert!(seen.iter().all(|(_, _, ok)| *ok));
        });
    }

    #[test]
    fn a_short_read_leaves_nothing_behind() {
        // A read that got less than it asked for clears readiness; data
        // that arrives later must still wake the reader.
        run(async {
            let (net, _) = access(&["127.0.0.1:*"], &["127.0.0.1:0"]);
            let (_server, mut client, mut accepted) = pair(&net).await;
            let (mut send, _) = client.take_send().unwrap();
            let (mut recv, _) = accepted.take_receive().unwrap();
            let mut buf = vec![0u8; 1 << 16];
            for round in 0..50u8 {
                send_all(&mut send, &[round; 10]).await;
                let Received::Data(n) = poll_fn(|cx| recv.poll_receive(cx, &mut buf)).await else {
                    panic!("round {round}: no data");
                };
                assert_eq!(&buf[..n], &[round; 10][..n]);
                if n < 10 {
                    let Received::Data(m) =
                        poll_fn(|cx| recv.poll_receive(cx, &mut buf[n..])).await
                    else {
                        panic!("round {round}: the rest never came");
                    };
                    assert_eq!(n + m, 10);
                }
            }
        });
    }

    #[test]
    fn refused_uses_touch_nothing_and_are_audited() {
        run(async {
            // A real listener the guest may not reach.
            let target = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            target.set_nonblocking(true).unwrap();
            let addr = target.local_addr().unwrap();
            let (net, seen) = access(&["127.0.0.1:1"], &[]);

            let mut s = TcpSocket::new(net.clone(), v4()).unwrap();
            assert!(matches!(
                s.start_connect(addr),
                Err(ErrorCode::AccessDenied)
            ));
            // Refused before any system call: nobody connected.
            assert!(target.accept().is_err());
            // The socket is still unused: a granted connect would work.
            assert!(matches!(s.state, State::Default(_)));

            assert!(matches!(
                s.bind("127.0.0.1:0".parse().unwrap()),
                Err(ErrorCode::AccessDenied)
            ));
            assert!(!s.is_bound());
            assert!(matches!(s.listen().err(), Some(ErrorCode::AccessDenied)));

            let seen = seen.lock().unwrap().clone();
            assert_eq!(
                seen[0],
                ("net.connect".to_string(), addr.to_string(), false),
                "{seen:?}"
            );
            assert!(
                seen.iter()
                    .any(|(c, t, ok)| c == "net.bind" && t == "127.0.0.1:0" && !ok),
                "{seen:?}"
            );
        });
    }

    #[test]
    fn connection_refused_is_reported_and_sticks() {
        run(async {
            // A port with no listener (bound, then closed).
            let addr = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap();
            let (net, _) = access(&["127.0.0.1:*"], &[]);
            let mut s = TcpSocket::new(net, v4()).unwrap();
            s.start_connect(addr).unwrap();
            let r = poll_fn(|cx| s.poll_connect(cx)).await;
            assert!(matches!(r, Err(ErrorCode::ConnectionRefused)));
            assert!(matches!(
                s.take_receive().err(),
                Some(ErrorCode::ConnectionRefused)
            ));
            assert!(matches!(
                s.remote_address(),
                Err(ErrorCode::ConnectionRefused)
            ));
        });
    }

    #[test]
    fn states_are_checked() {
        run(async {
            let (net, _) = access(&["127.0.0.1:*"], &["127.0.0.1:0"]);
            let mut s = TcpSocket::new(net.clone(), v4()).unwrap();
            assert!(matches!(s.local_address(), Err(ErrorCode::InvalidState)));
            assert!(matches!(s.remote_address(), Err(ErrorCode::InvalidState)));
            assert!(matches!(
                s.take_receive().err(),
                Some(ErrorCode::InvalidState)
            ));
            // Wrong family, multicast, unspecified or port 0 targets.
            for bad in ["[::1]:80", "224.0.0.1:80", "0.0.0.0:80", "127.0.0.1:0"] {
                assert!(
                    matches!(
                        s.start_connect(bad.parse().unwrap()),
                        Err(ErrorCode::InvalidArgument)
                    ),
                    "{bad}"
                );
            }
            assert!(matches!(
                s.set_listen_backlog_size(0),
                Err(ErrorCode::InvalidArgument)
            ));
            s.set_listen_backlog_size(u64::MAX).unwrap(); // clamped
            s.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            assert!(matches!(
                s.bind("127.0.0.1:0".parse().unwrap()),
                Err(ErrorCode::InvalidState)
            ));
            let _accepts = s.listen().unwrap();
            assert!(s.is_listening());
            assert!(matches!(s.listen().err(), Some(ErrorCode::InvalidState)));
            assert!(matches!(
                s.start_connect("127.0.0.1:1".parse().unwrap()),
                Err(ErrorCode::InvalidState)
            ));
            s.set_listen_backlog_size(16).unwrap(); // listening again

            let (_server, mut client, _accepted) = pair(&net).await;
            let _ = client.take_receive().unwrap();
            assert!(matches!(
                client.take_receive().err(),
                Some(ErrorCode::InvalidState)
            ));
            let _ = client.take_send().unwrap();
            assert!(matches!(
                client.take_send().err(),
                Some(ErrorCode::InvalidState)
            ));
        });
    }

    #[test]
    fn options_round_trip() {
        run(async {
            let (net, _) = access(&["127.0.0.1:*"], &["127.0.0.1:0"]);
            let (server, client, accepted) = pair(&net).await;
            for s in [&server, &client, &accepted] {
                s.set_keep_alive_enabled(true).unwrap();
                assert!(s.keep_alive_enabled().unwrap());
                s.set_keep_alive_idle_time(30_000_000_000).unwrap();
                assert_eq!(s.keep_alive_idle_time().unwrap(), 30_000_000_000);
                // Below a second is rounded up, never to 0.
                s.set_keep_alive_interval(1).unwrap();
                assert_eq!(s.keep_alive_interval().unwrap(), 1_000_000_000);
                s.set_keep_alive_count(3).unwrap();
                assert_eq!(s.keep_alive_count().unwrap(), 3);
                s.set_hop_limit(42).unwrap();
                assert_eq!(s.hop_limit().unwrap(), 42);
                for zero in [
                    s.set_keep_alive_idle_time(0),
                    s.set_keep_alive_interval(0),
                    s.set_keep_alive_count(0),
                    s.set_hop_limit(0),
                    s.set_receive_buffer_size(0),
                    s.set_send_buffer_size(0),
                ] {
                    assert!(matches!(zero, Err(ErrorCode::InvalidArgument)));
                }
                s.set_receive_buffer_size(64 << 10).unwrap();
                assert_eq!(s.receive_buffer_size().unwrap(), 64 << 10);
                s.set_send_buffer_size(64 << 10).unwrap();
                assert_eq!(s.send_buffer_size().unwrap(), 64 << 10);
            }
        });
    }

    #[test]
    fn ipv6_sockets_are_ipv6_only() {
        run(async {
            let (net, _) = access(&["[::1]:*", "127.0.0.1:*"], &["[::1]:0"]);
            let v6 = IpAddressFamily::Ipv6;
            let mut s = TcpSocket::new(net.clone(), v6).unwrap();
            for bad in ["127.0.0.1:80", "[::ffff:127.0.0.1]:80"] {
                assert!(
                    matches!(
                        s.start_connect(bad.parse().unwrap()),
                        Err(ErrorCode::InvalidArgument)
                    ),
                    "{bad}"
                );
            }
            if s.bind("[::1]:0".parse().unwrap()).is_err() {
                return; // no IPv6 loopback on this machine
            }
            let mut accepts = s.listen().unwrap();
            let addr = s.local_address().unwrap();
            assert!(addr.is_ipv6());
            let mut c = TcpSocket::new(net, v6).unwrap();
            c.start_connect(addr).unwrap();
            poll_fn(|cx| c.poll_connect(cx)).await.unwrap();
            let a = poll_fn(|cx| accepts.poll_accept(cx)).await;
            assert_eq!(a.family(), v6);
            assert_eq!(a.remote_address().unwrap(), c.local_address().unwrap());
        });
    }
}

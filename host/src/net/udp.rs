//! The host's UDP sockets: what stands behind `wasi:sockets/types`
//! `udp-socket` (wired up in [`super::wasi`]).
//!
//! wasmtime-wasi 48 has UDP sockets of its own, but it decides each use
//! with one `socket_addr_check(address, use)` that knows nothing of the
//! socket: the explicit `bind(0.0.0.0:0)` of a guest and the bind the
//! system makes before a send look the same to it, and it cannot filter
//! what one socket receives by how that socket was bound. A guest granted
//! only `--allow-listen=127.0.0.1:PORT` could bind every interface and hear
//! (and answer) anyone. Here each socket knows how it was bound:
//!
//! - **An explicit `bind`** must match an `--allow-listen` grant (audited
//!   `net.bind`). Such a socket is a server: it receives from anyone and
//!   may answer the peers that sent to it.
//! - **An unbound socket** is bound by the host before its first send or
//!   its connect, to the narrowest address that serves the destination:
//!   the family's loopback address for a loopback destination, the
//!   wildcard only for one `--allow-net` grants (audited `net.bind`, after
//!   the `net.send` that needed it).
//! - **A socket not bound under a listen grant** receives only from the
//!   peers an `--allow-net` rule names; the host drops the rest and audits
//!   them (rate-limited: [`super::access`]), and the receive waits for the
//!   next datagram.
//!
//! The socket is a tokio `UdpSocket` on the run's reactor. Sends and
//! receives try the system call first and wait for readiness only when it
//! would block, as the host's TCP does (readiness polls spend tokio's
//! budget for the whole store).

use super::NetAccess;
use super::policy::{UdpSide, Use};
use super::sys::{self, SysResult, code, errno, family_matches, unspecified};
use rustix::io::Errno;
use rustix::net::{self as rnet, AddressFamily, SocketFlags, SocketType, sockopt};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use wasmtime_wasi::p3::bindings::sockets::types::IpAddressFamily;
use wasmtime_wasi::sockets::ErrorCode;

/// The largest datagram a guest may send (the UDP length field's limit;
/// the network's is lower).
pub(crate) const MAX_DATAGRAM: usize = u16::MAX as usize;

/// How many datagrams one receive may drop before it lets the store's
/// other work run (a flood of refused datagrams must not hold the thread).
const DROPS_PER_POLL: usize = 64;

type Io = Arc<tokio::net::UdpSocket>;

/// How a socket got its local address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    /// The guest bound it under an `--allow-listen` grant.
    Listen,
    /// The host bound it before a send or a connect.
    Client,
}

/// One guest UDP socket.
pub(crate) struct UdpSocket {
    io: Io,
    family: IpAddressFamily,
    bound: Option<Bound>,
    remote: Option<SocketAddr>,
    id: u64,
    net: NetAccess,
}

/// Where a send goes: the connected peer (`send`) or an address (`sendto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Connected,
    To(SocketAddr),
}

/// The system's address checks for a peer (wasmtime-wasi's, the WASI spec).
fn valid_remote(addr: SocketAddr, family: IpAddressFamily) -> bool {
    !addr.ip().to_canonical().is_unspecified()
        && addr.port() != 0
        && family_matches(addr.ip(), family)
}

/// The narrowest local address from which `dest` can be reached: the
/// loopback address of the family for a loopback destination, else the
/// wildcard (port 0 either way).
pub(crate) fn implicit_local(dest: SocketAddr, family: IpAddressFamily) -> SocketAddr {
    if !dest.ip().is_loopback() {
        return unspecified(family);
    }
    let ip = match family {
        IpAddressFamily::Ipv4 => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddressFamily::Ipv6 => IpAddr::V6(Ipv6Addr::LOCALHOST),
    };
    SocketAddr::new(ip, 0)
}

impl UdpSocket {
    /// `udp-socket.create`: a new, unbound socket.
    pub(crate) fn new(net: NetAccess, family: IpAddressFamily) -> SysResult<UdpSocket> {
        let af = match family {
            IpAddressFamily::Ipv4 => AddressFamily::INET,
            IpAddressFamily::Ipv6 => AddressFamily::INET6,
        };
        let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
        let fd = rnet::socket_with(af, SocketType::DGRAM, flags, None).map_err(errno)?;
        if family == IpAddressFamily::Ipv6 {
            // The WASI spec: IPv6 sockets are IPv6-only, not configurable.
            sockopt::set_ipv6_v6only(&fd, true).map_err(errno)?;
        }
        if tokio::runtime::Handle::try_current().is_err() {
            // An embedder calling in from outside a tokio runtime: report
            // it rather than let tokio panic.
            return Err(ErrorCode::Other);
        }
        let io = tokio::net::UdpSocket::from_std(std::net::UdpSocket::from(fd)).map_err(code)?;
        let id = net.udp_socket_id();
        Ok(UdpSocket {
            io: Arc::new(io),
            family,
            bound: None,
            remote: None,
            id,
            net,
        })
    }

    fn side(&self) -> UdpSide {
        UdpSide {
            id: self.id,
            listening: self.bound == Some(Bound::Listen),
        }
    }

    /// `udp-socket.bind`: needs an `--allow-listen` grant for `addr`.
    pub(crate) fn bind(&mut self, addr: SocketAddr) -> SysResult<()> {
        if self.bound.is_some() {
            return Err(ErrorCode::InvalidState);
        }
        if !family_matches(addr.ip(), self.family) {
            return Err(self.net.refuse_invalid("net.bind", addr));
        }
        if !self.net.allows(addr, Use::Bind) {
            return Err(ErrorCode::AccessDenied);
        }
        bind(&self.io, addr)?;
        self.bound = Some(Bound::Listen);
        Ok(())
    }

    /// Binds an unbound socket before it talks to `dest` (whose use was
    /// allowed): see [`implicit_local`].
    fn bind_for(&mut self, dest: SocketAddr) -> SysResult<()> {
        if self.bound.is_some() {
            return Ok(());
        }
        let local = implicit_local(dest, self.family);
        self.net.audit_implicit_bind(local);
        bind(&self.io, local)?;
        self.bound = Some(Bound::Client);
        Ok(())
    }

    /// `udp-socket.connect`: sends go to `addr` by default and only its
    /// datagrams arrive. Checked as a send to `addr`.
    pub(crate) fn connect(&mut self, addr: SocketAddr) -> SysResult<()> {
        if !valid_remote(addr, self.family) {
            return Err(self.net.refuse_invalid("net.send", addr));
        }
        if !self.net.allows_udp_send(self.side(), addr) {
            return Err(ErrorCode::AccessDenied);
        }
        self.bind_for(addr)?;
        let result = connect(&self.io, addr);
        self.remote = self.io.peer_addr().ok();
        result
    }

    /// `udp-socket.disconnect`.
    pub(crate) fn disconnect(&mut self) -> SysResult<()> {
        if self.remote.is_none() {
            return Err(ErrorCode::InvalidState);
        }
        let result = disconnect(&self.io);
        self.remote = self.io.peer_addr().ok();
        result
    }

    /// Checks a send of `len` bytes to `addr` (or to the connected peer),
    /// binding the socket first if needed; gives what
    /// [`poll_send`] needs to send it.
    pub(crate) fn prepare_send(
        &mut self,
        len: usize,
        addr: Option<SocketAddr>,
    ) -> SysResult<(Io, Target)> {
        if len > MAX_DATAGRAM {
            return Err(ErrorCode::DatagramTooLarge);
        }
        let (dest, target) = match (addr, self.remote) {
            (Some(a), _) if !valid_remote(a, self.family) => {
                return Err(self.net.refuse_invalid("net.send", a));
            }
            (Some(a), Some(r)) if a != r => return Err(ErrorCode::InvalidArgument),
            (Some(_), Some(r)) | (None, Some(r)) => (r, Target::Connected),
            (Some(a), None) => (a, Target::To(a)),
            (None, None) => return Err(ErrorCode::InvalidArgument),
        };
        if !self.net.allows_udp_send(self.side(), dest) {
            return Err(ErrorCode::AccessDenied);
        }
        self.bind_for(dest)?;
        Ok((self.io.clone(), target))
    }

    /// What a receive needs, once the socket is bound.
    pub(crate) fn receiver(&self) -> SysResult<Receiver> {
        if self.bound.is_none() {
            return Err(ErrorCode::InvalidState);
        }
        Ok(Receiver {
            io: self.io.clone(),
            side: self.side(),
            net: self.net.clone(),
        })
    }

    pub(crate) fn local_address(&self) -> SysResult<SocketAddr> {
        if self.bound.is_none() {
            return Err(ErrorCode::InvalidState);
        }
        sys::local_addr(&*self.io)
    }

    pub(crate) fn remote_address(&self) -> SysResult<SocketAddr> {
        self.remote.ok_or(ErrorCode::InvalidState)
    }

    pub(crate) fn family(&self) -> IpAddressFamily {
        self.family
    }

    pub(crate) fn unicast_hop_limit(&self) -> SysResult<u8> {
        sys::hop_limit(self.io.as_fd(), self.family)
    }

    pub(crate) fn set_unicast_hop_limit(&self, value: u8) -> SysResult<()> {
        sys::set_hop_limit(self.io.as_fd(), self.family, value)
    }

    pub(crate) fn receive_buffer_size(&self) -> SysResult<u64> {
        sys::receive_buffer_size(self.io.as_fd())
    }

    pub(crate) fn set_receive_buffer_size(&self, value: u64) -> SysResult<()> {
        sys::set_receive_buffer_size(self.io.as_fd(), value)
    }

    pub(crate) fn send_buffer_size(&self) -> SysResult<u64> {
        sys::send_buffer_size(self.io.as_fd())
    }

    pub(crate) fn set_send_buffer_size(&self, value: u64) -> SysResult<()> {
        sys::set_send_buffer_size(self.io.as_fd(), value)
    }
}

/// Sends `data` as one datagram, waiting only while the socket would block.
pub(crate) fn poll_send(
    io: &Io,
    cx: &mut Context<'_>,
    data: &[u8],
    target: Target,
) -> Poll<SysResult<()>> {
    loop {
        let sent = match target {
            Target::Connected => io.try_send(data),
            Target::To(addr) => io.try_send_to(data, addr),
        };
        match sent {
            Ok(_) => return Poll::Ready(Ok(())),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Poll::Ready(Err(code(e))),
        }
        if let Err(e) = ready!(io.poll_send_ready(cx)) {
            return Poll::Ready(Err(code(e)));
        }
    }
}

/// One socket's receiving side: the datagrams that pass the policy.
pub(crate) struct Receiver {
    io: Io,
    side: UdpSide,
    net: NetAccess,
}

impl Receiver {
    /// The next datagram the socket may see, and its sender. Datagrams
    /// from peers it may not hear are dropped (and audited) on the way.
    pub(crate) fn poll_receive(
        &self,
        cx: &mut Context<'_>,
        buf: &mut Vec<u8>,
    ) -> Poll<SysResult<SocketAddr>> {
        let mut dropped = 0;
        loop {
            buf.clear();
            match self.io.try_recv_buf_from(buf) {
                Ok((_, from)) => {
                    if self.net.allows_udp_receive(self.side, from) {
                        return Poll::Ready(Ok(from));
                    }
                    dropped += 1;
                    if dropped == DROPS_PER_POLL {
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(code(e))),
            }
            if let Err(e) = ready!(self.io.poll_recv_ready(cx)) {
                return Poll::Ready(Err(code(e)));
            }
        }
    }
}

fn bind(io: &tokio::net::UdpSocket, addr: SocketAddr) -> SysResult<()> {
    rnet::bind(io, &addr).map_err(|e| match e {
        Errno::AFNOSUPPORT => ErrorCode::InvalidArgument,
        e => errno(e),
    })
}

fn connect(io: &tokio::net::UdpSocket, addr: SocketAddr) -> SysResult<()> {
    match rnet::connect(io, &addr) {
        // Linux does not move a connected socket to the route of a new
        // peer by itself (wasmtime-wasi does the same): dissolve the old
        // association and connect again.
        #[cfg(target_os = "linux")]
        Err(Errno::INVAL) => {
            let _ = rnet::connect_unspec(io);
            rnet::connect(io, &addr).map_err(errno)
        }
        Err(Errno::AFNOSUPPORT) => Err(ErrorCode::InvalidArgument),
        r => r.map_err(errno),
    }
}

fn disconnect(io: &tokio::net::UdpSocket) -> SysResult<()> {
    match rnet::connect_unspec(io) {
        // BSDs report an error even when the socket was disconnected.
        #[cfg(target_vendor = "apple")]
        Err(Errno::INVAL | Errno::AFNOSUPPORT) => Ok(()),
        r => r.map_err(errno),
    }
}

#[cfg(test)]
mod tests;

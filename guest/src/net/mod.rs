//! Sockets under the streams and transports: addresses, name resolution,
//! and the errors a WASI 0.3 socket gives, turned into asyncio's.
//!
//! [`getaddrinfo`] resolves a host into Python's `(family, type, proto,
//! canonname, sockaddr)` entries ([`AddrInfo`]); [`getnameinfo`] is numeric
//! only. Everything else here is what
//! [`open_connection`](crate::open_connection) and
//! [`start_server`](crate::start_server) are built on.
//!
//! The host only tells a guest "access denied"; the errors built here name
//! what was tried and the `aio` flag that would allow it:
//!
//! ```text
//! permission denied: connect to 127.0.0.1:8080 refused: run with --allow-net=127.0.0.1:8080
//! ```
//!
//! # Name lookup
//!
//! Python's keyword arguments `family=`, `type=`, `proto=` and `flags=`
//! are methods of the [`GetAddrInfo`] future:
//!
//! ```no_run
//! # async fn demo() -> asyncio::Result<()> {
//! use asyncio::net::{AddressFamily, SocketKind, getaddrinfo};
//! // loop.getaddrinfo("localhost", 80, family=AF_INET, type=SOCK_STREAM)
//! for info in getaddrinfo("localhost", 80)
//!     .family(AddressFamily::Inet)
//!     .socktype(SocketKind::Stream)
//!     .await?
//! {
//!     println!("{:?} {:?} {:?} {}", info.family, info.socktype, info.proto, info.sockaddr);
//! }
//! # Ok(()) }
//! ```
//!
//! `ip-name-lookup` in WASI 0.3 turns a name into IP addresses and nothing
//! else: no canonical name, no services, no reverse lookup, no view of the
//! machine's interfaces. So:
//!
//! - An IP literal (`127.0.0.1`, `::1`, also `[::1]`) needs no lookup and
//!   no grant. A name is looked up by the host, which allows it only with
//!   an `--allow-net` grant (else `PermissionDenied`, naming the flag). No
//!   host (`None`) gives the loopback addresses (`::1`, `127.0.0.1`), or
//!   with [`PASSIVE`](AddrInfoFlags::PASSIVE) the wildcard ones
//!   (`0.0.0.0`, `::`), without asking the host.
//! - Unfiltered, each address comes twice: `(Stream, Tcp)`, then
//!   `(Dgram, Udp)`, in glibc's order. glibc adds a third entry,
//!   `SOCK_RAW`; WASI has no raw sockets, so there is none here.
//! - `canonname`, asked for with [`CANONNAME`](AddrInfoFlags::CANONNAME), is
//!   the host as given, on the first entry: WASI gives no canonical name (a
//!   CNAME chain is not followed back), and for an IP literal glibc also
//!   answers the literal. Without the flag it is `None` (Python: `''`).
//! - [`NUMERICHOST`](AddrInfoFlags::NUMERICHOST) refuses a name without
//!   asking the host; [`V4MAPPED`](AddrInfoFlags::V4MAPPED) and
//!   [`ALL`](AddrInfoFlags::ALL) map IPv4 answers to IPv6 as libc does;
//!   [`NUMERICSERV`](AddrInfoFlags::NUMERICSERV) always holds (the port is
//!   a `u16`). `AI_ADDRCONFIG` is not offered: WASI does not say which
//!   addresses the machine has.
//! - A family with no address, or a type that does not go with the
//!   protocol, is an `Io` error (`NotFound`, `InvalidInput`) naming the
//!   host, where Python raises `socket.gaierror`.

mod lookup;
#[cfg(feature = "host-mux")]
mod mux;
mod socket;
pub(crate) mod tcp;
mod udp_socket;
pub(crate) mod unix;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::task::Poll;

pub(crate) use lookup::resolve;
pub use lookup::{
    AddrInfo, AddrInfoFlags, AddressFamily, GetAddrInfo, IpProtocol, SocketKind, getaddrinfo,
    getnameinfo,
};
pub use socket::Socket;
pub use udp_socket::UdpSocket;

use crate::bindings::wasi::sockets::types as wit;
use crate::errors::{Error, ErrorKind, Result};
use crate::runtime::{self, task::Awaiting};

/// What a socket operation was doing, for its error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Connect,
    Listen,
    Receive,
    /// A UDP bind.
    Bind,
    /// A UDP send.
    Send,
}

impl Action {
    fn describe(self, addr: &dyn std::fmt::Display) -> String {
        match self {
            Action::Connect => format!("connect to {addr}"),
            Action::Listen => format!("listen on {addr}"),
            Action::Receive => format!("read from {addr}"),
            Action::Bind => format!("bind to {addr}"),
            Action::Send => format!("send to {addr}"),
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Action::Connect | Action::Receive | Action::Send => "--allow-net",
            Action::Listen | Action::Bind => "--allow-listen",
        }
    }
}

/// The error for a failed socket operation on `addr`.
pub(crate) fn socket_error(
    code: wit::ErrorCode,
    action: Action,
    addr: impl std::fmt::Display,
) -> Error {
    use std::io::ErrorKind as Io;
    let what = action.describe(&addr);
    let io = |kind: Io, why: &str| Error::from(std::io::Error::new(kind, format!("{what}: {why}")));
    match code {
        wit::ErrorCode::AccessDenied => Error::new(ErrorKind::PermissionDenied(format!(
            "{what} refused: run with {}={addr}",
            action.flag()
        ))),
        wit::ErrorCode::ConnectionRefused => io(Io::ConnectionRefused, "connection refused"),
        wit::ErrorCode::ConnectionReset => io(Io::ConnectionReset, "connection reset by peer"),
        wit::ErrorCode::ConnectionAborted => io(Io::ConnectionAborted, "connection aborted"),
        wit::ErrorCode::ConnectionBroken => io(Io::BrokenPipe, "connection broken"),
        wit::ErrorCode::RemoteUnreachable => io(Io::HostUnreachable, "remote unreachable"),
        wit::ErrorCode::AddressInUse => io(Io::AddrInUse, "address in use"),
        wit::ErrorCode::AddressNotBindable => io(Io::AddrNotAvailable, "address not bindable"),
        wit::ErrorCode::Timeout => io(Io::TimedOut, "timed out"),
        wit::ErrorCode::InvalidArgument => io(Io::InvalidInput, "invalid argument"),
        wit::ErrorCode::InvalidState => io(Io::Other, "invalid socket state"),
        wit::ErrorCode::NotSupported => io(Io::Unsupported, "not supported"),
        wit::ErrorCode::OutOfMemory => io(Io::OutOfMemory, "out of memory"),
        wit::ErrorCode::DatagramTooLarge => io(Io::InvalidInput, "datagram too large"),
        wit::ErrorCode::Other(m) => io(Io::Other, m.as_deref().unwrap_or("socket error")),
    }
}

/// The WIT form of an address.
pub(crate) fn to_wit(addr: SocketAddr) -> wit::IpSocketAddress {
    match addr {
        SocketAddr::V4(a) => wit::IpSocketAddress::Ipv4(wit::Ipv4SocketAddress {
            port: a.port(),
            address: a.ip().octets().into(),
        }),
        SocketAddr::V6(a) => {
            let s = a.ip().segments();
            wit::IpSocketAddress::Ipv6(wit::Ipv6SocketAddress {
                port: a.port(),
                flow_info: a.flowinfo(),
                address: (s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
                scope_id: a.scope_id(),
            })
        }
    }
}

/// The std form of a WIT address.
pub(crate) fn from_wit(addr: wit::IpSocketAddress) -> SocketAddr {
    match addr {
        wit::IpSocketAddress::Ipv4(a) => {
            let (x, y, z, w) = a.address;
            SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(x, y, z, w), a.port))
        }
        wit::IpSocketAddress::Ipv6(a) => {
            let (s0, s1, s2, s3, s4, s5, s6, s7) = a.address;
            SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::new(s0, s1, s2, s3, s4, s5, s6, s7),
                a.port,
                a.flow_info,
                a.scope_id,
            ))
        }
    }
}

pub(crate) fn family(addr: SocketAddr) -> wit::IpAddressFamily {
    match addr {
        SocketAddr::V4(_) => wit::IpAddressFamily::Ipv4,
        SocketAddr::V6(_) => wit::IpAddressFamily::Ipv6,
    }
}

/// Awaits a host import future under the SDK's cancellation contract: a
/// cancelled task gets `Err(Cancelled)` and the import is dropped (which
/// cancels the host subtask).
pub(crate) async fn host_call<F: std::future::Future>(
    what: &'static str,
    fut: F,
) -> Result<F::Output> {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        if let Some(e) = runtime::take_cancel() {
            return Poll::Ready(Err(e));
        }
        match fut.as_mut().poll(cx) {
            Poll::Ready(v) => Poll::Ready(Ok(v)),
            Poll::Pending => {
                runtime::set_awaiting(Awaiting::Io { what });
                Poll::Pending
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip() {
        for s in ["127.0.0.1:80", "[::1]:8080", "[2001:db8::5]:1", "0.0.0.0:0"] {
            let a: SocketAddr = s.parse().unwrap();
            assert_eq!(from_wit(to_wit(a)), a);
        }
    }

    #[test]
    fn denial_names_the_flag() {
        let addr: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let e = socket_error(wit::ErrorCode::AccessDenied, Action::Connect, addr);
        assert_eq!(
            e.kind(),
            &ErrorKind::PermissionDenied(
                "connect to 127.0.0.1:8080 refused: run with --allow-net=127.0.0.1:8080".into()
            )
        );
        let e = socket_error(wit::ErrorCode::ConnectionRefused, Action::Connect, addr);
        assert_eq!(
            e.kind(),
            &ErrorKind::Io(std::io::ErrorKind::ConnectionRefused)
        );
        assert!(e.to_string().contains("connect to 127.0.0.1:8080"), "{e}");
    }
}

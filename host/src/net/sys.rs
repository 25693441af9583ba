//! What the host's TCP and UDP sockets share: address checks the WASI spec
//! asks for, error conversion, and the socket options both kinds have
//! (hop limit, buffer sizes), on plain file descriptors.

use rustix::io::Errno;
use rustix::net::{self as rnet, sockopt};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd};
use wasmtime_wasi::p3::bindings::sockets::types::IpAddressFamily;
use wasmtime_wasi::sockets::ErrorCode;

/// The result of a socket call, as the guest sees it.
pub(crate) type SysResult<T> = Result<T, ErrorCode>;

pub(crate) fn code(err: io::Error) -> ErrorCode {
    ErrorCode::from(err)
}

pub(crate) fn errno(err: Errno) -> ErrorCode {
    ErrorCode::from(err)
}

/// The wildcard address with port 0 of `family`.
pub(crate) fn unspecified(family: IpAddressFamily) -> SocketAddr {
    match family {
        IpAddressFamily::Ipv4 => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        IpAddressFamily::Ipv6 => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
    }
}

/// Whether `addr` may be used with a socket of `family`. IPv6 sockets are
/// IPv6-only (the WASI spec), so IPv4-mapped addresses are refused there.
pub(crate) fn family_matches(addr: IpAddr, family: IpAddressFamily) -> bool {
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

pub(crate) fn is_unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !v4.is_multicast() && !v4.is_broadcast(),
        IpAddr::V6(v6) => !v6.is_multicast(),
    }
}

/// The socket's local address (`getsockname`).
pub(crate) fn local_addr(fd: impl AsFd) -> SysResult<SocketAddr> {
    let any = rnet::getsockname(fd).map_err(errno)?;
    SocketAddr::try_from(any).map_err(|_| ErrorCode::Other)
}

pub(crate) fn hop_limit(fd: BorrowedFd<'_>, family: IpAddressFamily) -> SysResult<u8> {
    match family {
        IpAddressFamily::Ipv4 => {
            let ttl = sockopt::ip_ttl(fd).map_err(errno)?;
            Ok(u8::try_from(ttl).unwrap_or(u8::MAX))
        }
        IpAddressFamily::Ipv6 => sockopt::ipv6_unicast_hops(fd).map_err(errno),
    }
}

pub(crate) fn set_hop_limit(
    fd: BorrowedFd<'_>,
    family: IpAddressFamily,
    value: u8,
) -> SysResult<()> {
    if value == 0 {
        // No packet should leave with a TTL of 0; the systems disagree
        // on whether to refuse it, so refuse it here.
        return Err(ErrorCode::InvalidArgument);
    }
    match family {
        IpAddressFamily::Ipv4 => sockopt::set_ip_ttl(fd, value.into()),
        IpAddressFamily::Ipv6 => sockopt::set_ipv6_unicast_hops(fd, Some(value)),
    }
    .map_err(errno)
}

pub(crate) fn receive_buffer_size(fd: BorrowedFd<'_>) -> SysResult<u64> {
    let n = sockopt::socket_recv_buffer_size(fd).map_err(errno)?;
    Ok(reported_buffer_size(n))
}

pub(crate) fn set_receive_buffer_size(fd: BorrowedFd<'_>, value: u64) -> SysResult<()> {
    let n = requested_buffer_size(value)?;
    hint(sockopt::set_socket_recv_buffer_size(fd, n))
}

pub(crate) fn send_buffer_size(fd: BorrowedFd<'_>) -> SysResult<u64> {
    let n = sockopt::socket_send_buffer_size(fd).map_err(errno)?;
    Ok(reported_buffer_size(n))
}

pub(crate) fn set_send_buffer_size(fd: BorrowedFd<'_>, value: u64) -> SysResult<()> {
    let n = requested_buffer_size(value)?;
    hint(sockopt::set_socket_send_buffer_size(fd, n))
}

/// Linux doubles the buffer size it is given and reports the doubled
/// figure; report what was asked for, as other systems do.
fn reported_buffer_size(n: usize) -> u64 {
    let n = if cfg!(target_os = "linux") { n / 2 } else { n };
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn requested_buffer_size(value: u64) -> SysResult<usize> {
    if value == 0 {
        return Err(ErrorCode::InvalidArgument);
    }
    Ok(usize::try_from(value)
        .unwrap_or(usize::MAX)
        .min(i32::MAX as usize))
}

/// Buffer sizes are hints: a system that refuses a size (BSD's `ENOBUFS`)
/// keeps its own, as Linux silently clamps.
fn hint(r: rustix::io::Result<()>) -> SysResult<()> {
    match r {
        Ok(()) | Err(Errno::NOBUFS) => Ok(()),
        Err(e) => Err(errno(e)),
    }
}

//! The TCP socket options: keep-alive (TCP's own) and the hop limit and
//! buffer sizes every socket has (`super::super::sys`).

use super::{TcpResult, TcpSocket};
use crate::net::sys::{self, errno};
use rustix::net::sockopt;
use std::time::Duration;
use wasmtime_wasi::sockets::ErrorCode;

impl TcpSocket {
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
        sys::hop_limit(self.fd()?, self.family)
    }

    pub(crate) fn set_hop_limit(&self, value: u8) -> TcpResult<()> {
        sys::set_hop_limit(self.fd()?, self.family, value)
    }

    pub(crate) fn receive_buffer_size(&self) -> TcpResult<u64> {
        sys::receive_buffer_size(self.fd()?)
    }

    pub(crate) fn set_receive_buffer_size(&self, value: u64) -> TcpResult<()> {
        sys::set_receive_buffer_size(self.fd()?, value)
    }

    pub(crate) fn send_buffer_size(&self) -> TcpResult<u64> {
        sys::send_buffer_size(self.fd()?)
    }

    pub(crate) fn set_send_buffer_size(&self, value: u64) -> TcpResult<()> {
        sys::set_send_buffer_size(self.fd()?, value)
    }
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

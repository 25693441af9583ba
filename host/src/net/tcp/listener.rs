//! A listening socket's accepted clients, as the guest's
//! `stream<tcp-socket>`: batched accepts, and a backoff when the host is
//! out of descriptors.

use super::{DEFAULT_BACKLOG, Listener, State, TcpSocket};
use crate::net::NetAccess;
use crate::net::policy::Use;
use crate::net::sys::code;
use rustix::io::Errno;
use rustix::net::{self as rnet, SocketFlags};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::Interest;
use wasmtime_wasi::p3::bindings::sockets::types::IpAddressFamily;
use wasmtime_wasi::sockets::ErrorCode;

/// The most clients one read of a listen stream hands over.
pub(crate) const ACCEPT_BATCH: usize = 64;

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

impl ListenProducer {
    pub(super) fn new(listener: Arc<Listener>, family: IpAddressFamily, net: NetAccess) -> Self {
        ListenProducer {
            listener,
            family,
            net,
            backoff: None,
            delay: Duration::ZERO,
        }
    }
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
                        self.net.allows(peer, Use::Accept);
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

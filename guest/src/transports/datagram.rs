//! UDP: [`Loop::create_datagram_endpoint`], [`DatagramTransport`], over
//! `wasi:sockets` UDP sockets.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::DatagramProtocol;
use crate::bindings::wasi::sockets::types as wit;
use crate::errors::{Error, Result};
use crate::events::Loop;
use crate::net::{Action, family, from_wit, resolve, socket_error, to_wit};
use crate::runtime::{self, task::Awaiting};
use crate::tasks::create_named_task;

/// The largest payload of one IPv4 UDP datagram.
pub const MAX_DATAGRAM: usize = 65_507;

/// How many datagrams the driver delivers before it lets other tasks run.
const BURST: usize = 32;

type SendOp = Pin<Box<dyn std::future::Future<Output = std::result::Result<(), wit::ErrorCode>>>>;
type RecvOp = Pin<
    Box<
        dyn std::future::Future<
                Output = std::result::Result<(Vec<u8>, wit::IpSocketAddress), wit::ErrorCode>,
            >,
    >,
>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// `close`: no more receiving; the queue is still sent.
    Closing,
    /// `abort`: the queue is dropped.
    Aborting,
    Lost,
}

/// A UDP endpoint driven by a [`DatagramProtocol`] (asyncio's datagram
/// transport). A cheap handle: clones are the same endpoint.
///
/// [`sendto`](Self::sendto) queues a datagram and never waits; the driver
/// task sends the queue in order. A send that fails (a refused address:
/// `PermissionDenied` naming the `--allow-net` flag) reaches the protocol's
/// `error_received`, never `sendto`, as asyncio passes the error of its
/// immediate send to `error_received`: the host is asked asynchronously,
/// after `sendto` has returned.
#[derive(Clone)]
pub struct DatagramTransport {
    inner: Rc<Inner>,
}

struct Inner {
    /// `None` once lost: the socket closes with `connection_lost`, as
    /// asyncio's does, not when the last handle goes (a handle kept after
    /// `close()` used to keep the port bound).
    socket: RefCell<Option<Rc<wit::UdpSocket>>>,
    queue: RefCell<VecDeque<(Vec<u8>, Option<SocketAddr>)>>,
    queued: Cell<usize>,
    state: Cell<State>,
    /// Closed or aborted by the user (else unclosed at the loop's shutdown).
    settled: Cell<bool>,
    driver: RefCell<Option<Waker>>,
    sockname: Option<SocketAddr>,
    peername: Option<SocketAddr>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // asyncio's "unclosed transport" ResourceWarning (debug mode).
        if !self.settled.get() {
            let local = self
                .sockname
                .map_or_else(|| "?".to_owned(), |a| a.to_string());
            crate::debug::report_unclosed(&format!("datagram transport on {local}"));
        }
    }
}

impl Inner {
    /// Lost: no more calls, and the socket is closed (the caller has
    /// dropped its pending send and receive, which hold it too).
    fn lose(&self) {
        self.state.set(State::Lost);
        self.socket.borrow_mut().take();
    }

    fn socket(&self) -> Rc<wit::UdpSocket> {
        let socket = self.socket.borrow();
        socket.clone().expect("the socket is open until lost")
    }

    fn wake_driver(&self) {
        if let Some(w) = self.driver.borrow_mut().take() {
            w.wake();
        }
    }
}

impl std::fmt::Debug for DatagramTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatagramTransport")
            .field("sockname", &self.inner.sockname)
            .field("peername", &self.inner.peername)
            .field("state", &self.inner.state.get())
            .finish()
    }
}

impl DatagramTransport {
    /// Queues `data` for `addr` (`None`: the remote address the endpoint
    /// was created with). Fails at once (and sends nothing) when the
    /// endpoint is closing, the datagram is larger than [`MAX_DATAGRAM`],
    /// `addr` is missing without a remote address, or differs from it.
    pub fn sendto(&self, data: &[u8], addr: Option<SocketAddr>) -> Result<()> {
        let invalid =
            |why: String| Error::from(std::io::Error::new(std::io::ErrorKind::InvalidInput, why));
        if self.inner.state.get() != State::Open {
            return Err(Error::runtime("DatagramTransport: sendto after close"));
        }
        if data.len() > MAX_DATAGRAM {
            return Err(invalid(format!(
                "datagram of {} bytes: at most {MAX_DATAGRAM}",
                data.len()
            )));
        }
        match (addr, self.inner.peername) {
            (None, None) => {
                return Err(invalid(
                    "sendto without an address on an endpoint without a remote address".into(),
                ));
            }
            (Some(a), Some(p)) if a != p => {
                return Err(invalid(format!(
                    "sendto {a} on an endpoint connected to {p}"
                )));
            }
            _ => {}
        }
        self.inner.queued.set(self.inner.queued.get() + data.len());
        self.inner
            .queue
            .borrow_mut()
            .push_back((data.to_vec(), addr));
        self.inner.wake_driver();
        Ok(())
    }

    /// Bytes queued and not yet handed to the host.
    pub fn get_write_buffer_size(&self) -> usize {
        self.inner.queued.get()
    }

    /// Stops receiving, sends what is queued, then `connection_lost(None)`.
    /// Idempotent.
    pub fn close(&self) {
        self.inner.settled.set(true);
        if self.inner.state.get() == State::Open {
            self.inner.state.set(State::Closing);
            self.inner.wake_driver();
        }
    }

    /// Closes at once, dropping the queue; `connection_lost(None)` follows.
    pub fn abort(&self) {
        self.inner.settled.set(true);
        if matches!(self.inner.state.get(), State::Open | State::Closing) {
            self.inner.state.set(State::Aborting);
            self.inner.queue.borrow_mut().clear();
            self.inner.queued.set(0);
            self.inner.wake_driver();
        }
    }

    /// Whether it is closing or closed.
    pub fn is_closing(&self) -> bool {
        self.inner.state.get() != State::Open
    }

    /// The local address (`get_extra_info("sockname")`).
    pub fn sockname(&self) -> Option<SocketAddr> {
        self.inner.sockname
    }

    /// The remote address given at creation (`get_extra_info("peername")`).
    pub fn peername(&self) -> Option<SocketAddr> {
        self.inner.peername
    }

    /// asyncio's `get_extra_info(name)`: `"sockname"`, `"peername"`.
    pub fn get_extra_info(&self, name: &str) -> Option<SocketAddr> {
        match name {
            "peername" => self.peername(),
            "sockname" => self.sockname(),
            _ => None,
        }
    }
}

async fn first_address(host: &str, port: u16) -> Result<SocketAddr> {
    resolve(host, port)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| Error::msg(format!("{host}: no address")))
}

impl Loop {
    /// A UDP endpoint running a protocol made by `factory` (asyncio's
    /// `loop.create_datagram_endpoint`). `local_addr` binds it (it needs
    /// `aio run --allow-listen=ADDR:PORT`; port 0 picks a free port);
    /// `remote_addr` fixes its peer (it needs `--allow-net=HOST:PORT`): then
    /// only that peer's datagrams arrive and `sendto(data, None)` goes to
    /// it. At least one of the two is needed. When this returns,
    /// `connection_made` has been called.
    ///
    /// An endpoint with `local_addr` (bound under `--allow-listen`) hears
    /// anyone and may answer whoever sent to it without an `--allow-net`
    /// grant (the host remembers the last 4096 such peers of the run). One
    /// with only `remote_addr` is bound by the host to loopback for a
    /// loopback peer, and hears only peers `--allow-net` names.
    ///
    /// ```no_run
    /// use asyncio::transports::{DatagramProtocol, DatagramTransport};
    /// use std::net::SocketAddr;
    ///
    /// struct Echo(Option<DatagramTransport>);
    /// impl DatagramProtocol for Echo {
    ///     fn connection_made(&mut self, t: DatagramTransport) {
    ///         self.0 = Some(t);
    ///     }
    ///     fn datagram_received(&mut self, data: &[u8], addr: SocketAddr) {
    ///         let _ = self.0.as_ref().unwrap().sendto(data, Some(addr));
    ///     }
    /// }
    ///
    /// # async fn demo() -> asyncio::Result<()> {
    /// let lp = asyncio::get_running_loop();
    /// let (transport, _) = lp
    ///     .create_datagram_endpoint(|| Echo(None), Some(("127.0.0.1", 9999)), None)
    ///     .await?;
    /// # let _ = transport; Ok(()) }
    /// ```
    pub async fn create_datagram_endpoint<P: DatagramProtocol>(
        &self,
        factory: impl FnOnce() -> P,
        local_addr: Option<(&str, u16)>,
        remote_addr: Option<(&str, u16)>,
    ) -> Result<(DatagramTransport, Rc<RefCell<P>>)> {
        let local = match local_addr {
            Some((h, p)) => Some(first_address(h, p).await?),
            None => None,
        };
        let remote = match remote_addr {
            Some((h, p)) => Some(first_address(h, p).await?),
            None => None,
        };
        let Some(any) = local.or(remote) else {
            return Err(Error::from(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "create_datagram_endpoint needs local_addr or remote_addr",
            )));
        };
        let socket =
            wit::UdpSocket::create(family(any)).map_err(|c| socket_error(c, Action::Bind, any))?;
        if let Some(addr) = local {
            socket
                .bind(to_wit(addr))
                .map_err(|c| socket_error(c, Action::Bind, addr))?;
        }
        if let Some(addr) = remote {
            socket
                .connect(to_wit(addr))
                .map_err(|c| socket_error(c, Action::Connect, addr))?;
        }
        let inner = Rc::new(Inner {
            sockname: socket.get_local_address().ok().map(from_wit),
            peername: remote,
            socket: RefCell::new(Some(Rc::new(socket))),
            queue: RefCell::default(),
            queued: Cell::new(0),
            state: Cell::new(State::Open),
            settled: Cell::new(false),
            driver: RefCell::new(None),
        });
        let transport = DatagramTransport { inner };
        let protocol = Rc::new(RefCell::new(factory()));
        protocol.borrow_mut().connection_made(transport.clone());
        drop(create_named_task(
            "datagram transport",
            drive(transport.inner.clone(), protocol.clone()),
        ));
        Ok((transport, protocol))
    }
}

/// Sends the queue and delivers datagrams until the endpoint is closed.
/// Cancelled (the loop shutting down): `connection_lost(Some(Cancelled))`.
async fn drive<P: DatagramProtocol>(inner: Rc<Inner>, protocol: Rc<RefCell<P>>) -> Result<()> {
    let mut sending: Option<(SendOp, Option<SocketAddr>)> = None;
    let mut receiving: Option<RecvOp> = None;
    std::future::poll_fn(|cx| {
        if let Some(e) = runtime::take_cancel() {
            sending = None;
            receiving = None;
            inner.lose();
            protocol.borrow_mut().connection_lost(Some(e.clone()));
            return Poll::Ready(Err(e));
        }
        step(&inner, &protocol, &mut sending, &mut receiving, cx)
    })
    .await
}

fn step<P: DatagramProtocol>(
    inner: &Inner,
    protocol: &RefCell<P>,
    sending: &mut Option<(SendOp, Option<SocketAddr>)>,
    receiving: &mut Option<RecvOp>,
    cx: &mut Context<'_>,
) -> Poll<Result<()>> {
    runtime::store_waker(&mut inner.driver.borrow_mut(), cx.waker());
    let mut burst = 0;
    loop {
        let state = inner.state.get();
        if state != State::Open {
            // Dropping a pending receive cancels it.
            *receiving = None;
        }
        if state == State::Aborting {
            *sending = None;
        }
        if matches!(state, State::Closing | State::Aborting) && sending.is_none() && {
            inner.queue.borrow().is_empty()
        } {
            inner.lose();
            protocol.borrow_mut().connection_lost(None);
            return Poll::Ready(Ok(()));
        }
        let mut progress = false;
        if sending.is_none()
            && let Some((data, addr)) = inner.queue.borrow_mut().pop_front()
        {
            inner.queued.set(inner.queued.get() - data.len());
            let socket = inner.socket();
            let op: SendOp = Box::pin(async move { socket.send(data, addr.map(to_wit)).await });
            *sending = Some((op, addr));
        }
        if let Some((op, addr)) = sending.as_mut()
            && let Poll::Ready(result) = op.as_mut().poll(cx)
        {
            let to = addr.or(inner.peername).expect("checked by sendto");
            *sending = None;
            progress = true;
            if let Err(code) = result {
                protocol
                    .borrow_mut()
                    .error_received(socket_error(code, Action::Send, to));
            }
        }
        if inner.state.get() == State::Open {
            let op = receiving.get_or_insert_with(|| {
                let socket = inner.socket();
                Box::pin(async move { socket.receive().await })
            });
            if let Poll::Ready(result) = op.as_mut().poll(cx) {
                *receiving = None;
                progress = true;
                burst += 1;
                match result {
                    Ok((data, from)) => protocol
                        .borrow_mut()
                        .datagram_received(&data, from_wit(from)),
                    Err(code) => {
                        let at = inner
                            .peername
                            .or(inner.sockname)
                            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
                        protocol.borrow_mut().error_received(socket_error(
                            code,
                            Action::Receive,
                            at,
                        ));
                    }
                }
            }
        }
        if !progress {
            runtime::set_awaiting(Awaiting::Io { what: "datagrams" });
            return Poll::Pending;
        }
        if burst >= BURST {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
    }
}

//! TCP over `wasi:sockets`: connecting, listening, accepting, and wiring a
//! connected socket to the stream core ([`StreamReader`] / [`StreamWriter`]).

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::Poll;

use super::{Action, family, from_wit, host_call, socket_error, to_wit};
use crate::bindings::aio::host::mux::{TlsClient, TlsRole, TlsServer};
use crate::bindings::wasi::sockets::types as wit;
use crate::errors::{Error, ErrorKind, Result};
use crate::runtime::{self, task::Awaiting};
use crate::ssl::{Role, SslContext, SslErrorKind};
use crate::streams::reader::CloseSignal;
use crate::streams::writer::WriterHandle;
use crate::streams::{StreamReader, StreamWriter};

/// Closes or aborts one connection from outside (a server's
/// `close_clients`/`abort_clients`, a transport): the writer closes (or
/// drops its buffer, and for an abort resets the connection), the reader
/// sees EOF.
#[derive(Clone)]
pub(crate) struct ConnHandle {
    reader: Rc<CloseSignal>,
    pub(crate) writer: WriterHandle,
}

impl ConnHandle {
    /// The handle of a reader (through its close signal) and a writer: a
    /// socket's, or a pipe transport's.
    pub(crate) fn new(reader: Rc<CloseSignal>, writer: WriterHandle) -> ConnHandle {
        ConnHandle { reader, writer }
    }

    pub(crate) fn close(&self) {
        self.writer.close();
        self.reader.close();
    }

    /// Closes at once, dropping the buffer, and resets the connection
    /// (the peer sees `ConnectionReset`).
    pub(crate) fn abort(&self) {
        self.writer.abort();
        self.reader.close();
    }

    /// Closes at once, dropping the buffer, without a reset (a failed
    /// connection, the loop's shutdown).
    pub(crate) fn discard(&self) {
        self.writer.discard();
        self.reader.close();
    }

    /// Whether it was closed or aborted from outside (the reader's EOF is
    /// then not the peer's).
    pub(crate) fn is_closing(&self) -> bool {
        self.reader.is_closed()
    }
}

/// A connected socket as the stream core: a reader, a writer, and a
/// handle that closes them.
pub(crate) type Wired = (StreamReader, StreamWriter, ConnHandle);

/// A connected socket as a reader and a writer (each with a buffer limit
/// of `limit` for the reader), and a handle to close them.
pub(crate) fn wire(socket: wit::TcpSocket, limit: usize) -> Wired {
    let local = socket.get_local_address().ok().map(from_wit);
    let peer = socket.get_remote_address().ok().map(from_wit);
    let reset_peer = peer.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    let closer = Rc::new(CloseSignal::default());
    #[cfg(feature = "host-mux")]
    if let Some((inbox, outbox, guard)) = super::mux::attach(&socket, reset_peer) {
        // The multiplexer has the connection: the handle holds nothing.
        drop(socket);
        let reader = StreamReader::from_inbox(Box::new(inbox), closer.clone()).with_limit(limit);
        let writer =
            StreamWriter::from_outbox(Rc::new(outbox), local, peer, Rc::new(guard), closer.clone());
        return with_handle(reader, writer, closer);
    }
    let (rx, rx_result) = socket.receive();
    let (tx, tx_reader) = crate::bindings::wit_stream::new::<u8>();
    // How sending ended shows as the writer's BrokenPipe; the result future
    // itself is not needed.
    drop(socket.send(tx_reader));
    let end = Box::pin(async move {
        match rx_result.await {
            Ok(()) => None,
            Err(code) => Some(socket_error(code, Action::Receive, reset_peer)),
        }
    });
    let reader = StreamReader::from_stream_with(rx, end, closer.clone()).with_limit(limit);
    let writer = StreamWriter::from_socket_stream(tx, local, peer, Rc::new(socket), closer.clone());
    with_handle(reader, writer, closer)
}

/// A connected socket as [`wire`]'s reader, writer and handle, with a TLS
/// session on the host (`ctx`; `host` is the server's name unless the
/// context names another): the handshake is under way, to await with
/// [`secure`].
pub(crate) fn wire_tls(
    socket: wit::TcpSocket,
    limit: usize,
    ctx: &SslContext,
    host: &str,
) -> Result<(Wired, Handshake)> {
    let role = tls_role(ctx, host);
    let local = socket.get_local_address().ok().map(from_wit);
    let peer = socket.get_remote_address().ok().map(from_wit);
    let reset_peer = peer.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    #[cfg(feature = "host-mux")]
    {
        let (inbox, outbox, guard, done) = super::mux::attach_tls(&socket, reset_peer, &role)?;
        drop(socket);
        let closer = Rc::new(CloseSignal::default());
        let reader = StreamReader::from_inbox(Box::new(inbox), closer.clone()).with_limit(limit);
        let writer =
            StreamWriter::from_outbox(Rc::new(outbox), local, peer, Rc::new(guard), closer.clone());
        let handshake = Handshake {
            done,
            timeout: ctx.handshake_timeout,
            peer: reset_peer,
        };
        Ok((with_handle(reader, writer, closer), handshake))
    }
    #[cfg(not(feature = "host-mux"))]
    {
        let _ = (socket, limit, role, local);
        Err(Error::ssl(
            SslErrorKind::Config,
            format!("TLS to {reset_peer} needs the SDK's host-mux feature"),
        ))
    }
}

/// Whether the host would take `ctx` for a connection to `host` (its
/// identity or CA bundle granted, the server name valid).
pub(crate) fn check_tls(ctx: &SslContext, host: &str) -> Result<()> {
    #[cfg(feature = "host-mux")]
    {
        super::mux::check_tls(&tls_role(ctx, host))
    }
    #[cfg(not(feature = "host-mux"))]
    {
        let _ = (ctx, host);
        Err(Error::ssl(
            SslErrorKind::Config,
            "TLS needs the SDK's host-mux feature",
        ))
    }
}

/// The role the host plays for `ctx`, connecting to `host`.
fn tls_role(ctx: &SslContext, host: &str) -> TlsRole {
    match &ctx.role {
        Role::Client {
            ca,
            server_hostname,
        } => TlsRole::Client(TlsClient {
            server_name: server_hostname.clone().unwrap_or_else(|| host.to_owned()),
            alpn: ctx.alpn.clone(),
            ca: ca.clone(),
        }),
        Role::Server { identity } => TlsRole::Server(TlsServer {
            identity: identity.clone(),
            alpn: ctx.alpn.clone(),
        }),
    }
}

/// A TLS connection's handshake under way ([`wire_tls`]).
pub(crate) struct Handshake {
    #[cfg(feature = "host-mux")]
    done: super::mux::HandshakeDone,
    timeout: std::time::Duration,
    peer: SocketAddr,
}

/// Starts TLS on the connection whose writer holds `socket` (its mux
/// guard), to `peer`: the handshake to await. `received`, what the reader
/// had not used, comes back with the error if the host refused.
pub(crate) fn start_tls(
    socket: &dyn std::any::Any,
    ctx: &SslContext,
    peer: SocketAddr,
    received: Vec<u8>,
) -> std::result::Result<Handshake, (Error, Vec<u8>)> {
    let role = tls_role(ctx, &peer.ip().to_string());
    #[cfg(feature = "host-mux")]
    {
        let done = super::mux::start_tls(socket, &role, received)?;
        Ok(Handshake {
            done,
            timeout: ctx.handshake_timeout,
            peer,
        })
    }
    #[cfg(not(feature = "host-mux"))]
    {
        let _ = (socket, role);
        let e = Error::ssl(SslErrorKind::Config, "TLS needs the SDK's host-mux feature");
        Err((e, received))
    }
}

impl Handshake {
    /// Waits for the handshake, at most the context's timeout: then the
    /// error is `HandshakeTimeout` (and the caller aborts the connection).
    pub(crate) async fn finish(self) -> Result<Rc<crate::ssl::SslObject>> {
        #[cfg(feature = "host-mux")]
        let result = crate::time::timeout(self.timeout, self.done).await;
        #[cfg(not(feature = "host-mux"))]
        let result: Result<Rc<crate::ssl::SslObject>> = Err(Error::timeout());
        result.map_err(|e| {
            if !e.is_timeout() {
                return e;
            }
            Error::ssl(
                SslErrorKind::HandshakeTimeout,
                format!(
                    "SSL handshake is taking longer than {:?}: aborting the connection ({})",
                    self.timeout, self.peer
                ),
            )
        })
    }
}

/// Waits for `wired`'s handshake, at most the context's timeout (then the
/// connection is aborted): the connection, its writer knowing the session.
pub(crate) async fn secure(wired: Wired, handshake: Handshake) -> Result<Wired> {
    let (reader, mut writer, handle) = wired;
    match handshake.finish().await {
        Ok(info) => {
            writer.set_ssl_object(info);
            Ok((reader, writer, handle))
        }
        Err(e) => {
            if matches!(
                e.kind(),
                ErrorKind::Ssl {
                    kind: SslErrorKind::HandshakeTimeout,
                    ..
                }
            ) {
                handle.abort();
            } else {
                handle.discard();
            }
            Err(e)
        }
    }
}

/// A reader and a writer with the handle that closes them.
fn with_handle(reader: StreamReader, writer: StreamWriter, closer: Rc<CloseSignal>) -> Wired {
    let handle = ConnHandle::new(closer, writer.handle());
    (reader, writer, handle)
}

/// Connects to `addr`. Cancelled, it abandons the attempt.
pub(crate) async fn connect(addr: SocketAddr) -> Result<wit::TcpSocket> {
    let err = |code| socket_error(code, Action::Connect, addr);
    let socket = wit::TcpSocket::create(family(addr)).map_err(err)?;
    host_call("connect", socket.connect(to_wit(addr)))
        .await?
        .map_err(err)?;
    Ok(socket)
}

/// A listening socket and its stream of accepted clients. [`close`]
/// (Self::close) closes it at once, even while an accept is pending.
pub(crate) struct Listener {
    open: Rc<RefCell<Option<Open>>>,
    local: SocketAddr,
}

type RawClients = wit_bindgen::StreamReader<wit::TcpSocket>;
type AcceptOp = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = (RawClients, wit_bindgen::StreamResult, Vec<wit::TcpSocket>),
            >,
    >,
>;

struct Open {
    /// Dropped last (fields drop in order): the streams first.
    op: Option<AcceptOp>,
    clients: Option<RawClients>,
    _socket: wit::TcpSocket,
    /// The task waiting in `accept`: closing wakes it to see the end.
    waiter: Option<std::task::Waker>,
}

/// How many clients one accept takes at most.
const ACCEPT_BATCH: usize = 64;

impl Listener {
    /// Binds `addr` and listens, with `backlog` pending connections.
    pub(crate) fn bind(addr: SocketAddr, backlog: u32) -> Result<Listener> {
        let err = |code| socket_error(code, Action::Listen, addr);
        let socket = wit::TcpSocket::create(family(addr)).map_err(err)?;
        socket.bind(to_wit(addr)).map_err(err)?;
        if backlog > 0 {
            let _ = socket.set_listen_backlog_size(u64::from(backlog));
        }
        let clients = socket.listen().map_err(err)?;
        let local = socket.get_local_address().map(from_wit).unwrap_or(addr);
        Ok(Listener {
            open: Rc::new(RefCell::new(Some(Open {
                op: None,
                clients: Some(clients),
                _socket: socket,
                waiter: None,
            }))),
            local,
        })
    }

    /// The address it listens on (with the port the system chose for 0).
    pub(crate) fn local(&self) -> SocketAddr {
        self.local
    }

    /// A handle that closes this listener.
    pub(crate) fn closer(&self) -> ListenerCloser {
        ListenerCloser::new(&self.open, |open| open.waiter.take())
    }

    /// The next clients (at least one); empty once the listener is closed
    /// or has ended. Cancelled, it returns `Err(Cancelled)`; the accept in
    /// progress stays with the listener, so no client is lost.
    pub(crate) async fn accept(&mut self) -> Result<Vec<wit::TcpSocket>> {
        std::future::poll_fn(|cx| {
            if let Some(e) = runtime::take_cancel() {
                return Poll::Ready(Err(e));
            }
            let mut slot = self.open.borrow_mut();
            let Some(open) = slot.as_mut() else {
                return Poll::Ready(Ok(Vec::new()));
            };
            loop {
                if open.op.is_none() {
                    let Some(mut raw) = open.clients.take() else {
                        return Poll::Ready(Ok(Vec::new()));
                    };
                    open.op = Some(Box::pin(async move {
                        let (result, got) = raw.read(Vec::with_capacity(ACCEPT_BATCH)).await;
                        (raw, result, got)
                    }));
                }
                let op = open.op.as_mut().expect("an accept in progress");
                match op.as_mut().poll(cx) {
                    Poll::Pending => {
                        runtime::store_waker(&mut open.waiter, cx.waker());
                        runtime::set_awaiting(Awaiting::Io { what: "accept" });
                        return Poll::Pending;
                    }
                    Poll::Ready((raw, result, got)) => {
                        open.op = None;
                        if matches!(result, wit_bindgen::StreamResult::Dropped) && got.is_empty() {
                            return Poll::Ready(Ok(Vec::new()));
                        }
                        open.clients = Some(raw);
                        if !got.is_empty() {
                            return Poll::Ready(Ok(got));
                        }
                    }
                }
            }
        })
        .await
    }
}

/// Closes a listener (TCP's [`Listener`], or a Unix socket's) from
/// elsewhere: the listening socket is closed at once (a pending accept is
/// cancelled), and the task waiting in its accept is woken to see the end.
#[derive(Clone)]
pub(crate) struct ListenerCloser(Rc<dyn Fn()>);

impl ListenerCloser {
    /// The closer of a listener whose open state is `open` (`None` once
    /// closed); `waiter` takes the task waiting in its accept.
    pub(crate) fn new<O: 'static>(
        open: &Rc<RefCell<Option<O>>>,
        waiter: fn(&mut O) -> Option<std::task::Waker>,
    ) -> ListenerCloser {
        let open = open.clone();
        ListenerCloser(Rc::new(move || {
            let taken = open.borrow_mut().take();
            if let Some(mut taken) = taken {
                let waiter = waiter(&mut taken);
                drop(taken);
                if let Some(w) = waiter {
                    w.wake();
                }
            }
        }))
    }

    pub(crate) fn close(&self) {
        (self.0)()
    }
}

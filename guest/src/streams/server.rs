//! [`start_server`] and [`Server`]: a TCP server that runs a handler per
//! client with a reader and a writer.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;

use crate::errors::{Error, Result};
use crate::net::{resolve, tcp, unix};
use crate::ssl::SslContext;
use crate::streams::{DEFAULT_LIMIT, StreamReader, StreamWriter};
use crate::sync::Event;
use crate::tasks::{Task, create_named_task};

/// The listen backlog: how many connections the kernel completes before
/// they are accepted. asyncio's default is 100; a burst of connections
/// past it is dropped by the kernel and retried by each client a second
/// later (then 3 s, ...), which is what starved clients at 1000
/// connections. 1024 is tokio's and the Linux kernel's usual cap is 4096.
const BACKLOG: u32 = 1024;

/// Listens on `host`:`port` and runs `handler(reader, writer)` in a new task
/// for each client (asyncio's `start_server`). It is serving when this
/// returns; port 0 picks a free port ([`Server::sockets`] says which).
///
/// The host must grant the address (`aio run --allow-listen=ADDR:PORT`;
/// `127.0.0.1:0` for any free port); otherwise `PermissionDenied` names the
/// address and the flag. `host` may be an IP or a name; every address it
/// resolves to is listened on.
///
/// When a handler returns, its writer is closed after its buffered bytes
/// are sent (when it returns an error, the error is reported as a task's
/// error nobody retrieved, as asyncio logs it). A handler's failure never
/// disturbs the other clients.
///
/// ```no_run
/// # async fn demo() -> asyncio::Result<()> {
/// let server = asyncio::start_server(
///     |mut reader, mut writer| async move {
///         while let line = reader.readline().await? && !line.is_empty() {
///             writer.write(&line)?;
///             writer.drain().await?;
///         }
///         Ok(())
///     },
///     "127.0.0.1",
///     8888,
/// )
/// .await?;
/// println!("serving on {:?}", server.sockets());
/// server.serve_forever().await?;
/// # Ok(()) }
/// ```
pub async fn start_server<H, F>(handler: H, host: &str, port: u16) -> Result<Server>
where
    H: Fn(StreamReader, StreamWriter) -> F + 'static,
    F: std::future::Future<Output = Result<()>> + 'static,
{
    start_server_with(handler, host, port, DEFAULT_LIMIT).await
}

/// [`start_server`] with the readers' buffer limit (asyncio's `limit=`).
pub async fn start_server_with<H, F>(
    handler: H,
    host: &str,
    port: u16,
    limit: usize,
) -> Result<Server>
where
    H: Fn(StreamReader, StreamWriter) -> F + 'static,
    F: std::future::Future<Output = Result<()>> + 'static,
{
    let handler: ConnHandler = Rc::new(move |r, w, _conn| Box::pin(handler(r, w)) as Handled);
    serve(handler, host, port, limit, None).await
}

/// [`start_server`] over TLS (asyncio's `start_server(cb, host, port,
/// ssl=ctx)`): each client's handshake runs on the host with the identity
/// `ctx` names (`SslContext::server("web")` for `aio run --tls-cert
/// web=cert.pem,key.pem`), and `handler` runs once it is done. A client
/// whose handshake fails or outlasts the context's timeout is dropped
/// (reported to the loop's exception handler in debug mode, as asyncio
/// logs it).
pub async fn start_server_ssl<H, F>(
    handler: H,
    host: &str,
    port: u16,
    ctx: &SslContext,
) -> Result<Server>
where
    H: Fn(StreamReader, StreamWriter) -> F + 'static,
    F: std::future::Future<Output = Result<()>> + 'static,
{
    if !ctx.is_server() {
        return Err(Error::value("start_server_ssl needs a server SslContext"));
    }
    tcp::check_tls(ctx, host)?;
    let handler: ConnHandler = Rc::new(move |r, w, _conn| Box::pin(handler(r, w)) as Handled);
    serve(handler, host, port, DEFAULT_LIMIT, Some(ctx.clone())).await
}

/// What a server runs for each accepted client: streams
/// ([`start_server`]) or a protocol's driver
/// ([`Loop::create_server`](crate::Loop::create_server)). The handle closes
/// the connection from outside.
pub(crate) type ConnHandler = Rc<dyn Fn(StreamReader, StreamWriter, tcp::ConnHandle) -> Handled>;

/// Listens on every address of `host`:`port` and runs `handler` in a new
/// task per client: the one server under streams and protocols.
pub(crate) async fn serve(
    handler: ConnHandler,
    host: &str,
    port: u16,
    limit: usize,
    tls: Option<SslContext>,
) -> Result<Server> {
    let mut listeners = Vec::new();
    for addr in resolve(host, port).await? {
        listeners.push(tcp::Listener::bind(addr, BACKLOG)?);
    }
    let inner = Rc::new(Inner {
        sockets: listeners.iter().map(|l| l.local()).collect(),
        path: None,
        listeners: listeners.iter().map(|l| l.closer()).collect(),
        state: RefCell::new(State::default()),
        closed: Event::new(),
        idle: Event::new(),
    });
    let accepts = listeners
        .into_iter()
        .map(|listener| {
            create_named_task(
                format!("server {}", listener.local()),
                accept_loop(inner.clone(), listener, handler.clone(), limit, tls.clone()),
            )
        })
        .collect();
    inner.state.borrow_mut().accepts = accepts;
    Ok(Server { inner })
}

/// Listens on the Unix socket `path` and runs `handler(reader, writer)`
/// in a new task for each client (asyncio's `start_unix_server`), as
/// [`start_server`] does for TCP. A stale socket file at `path` is
/// replaced; closing the server removes the file (asyncio 3.13's
/// `cleanup_socket`). [`Server::path`] is the path; [`Server::sockets`]
/// is empty.
///
/// The host must grant the path (`aio run --allow-unix=PATH`, or its
/// directory); otherwise `PermissionDenied` names the path and the flag.
///
/// ```no_run
/// # async fn demo() -> asyncio::Result<()> {
/// let server = asyncio::start_unix_server(
///     |mut reader, mut writer| async move {
///         let line = reader.readline().await?;
///         writer.write(&line)?;
///         writer.drain().await
///     },
///     "/tmp/app/echo.sock",
/// )
/// .await?;
/// server.serve_forever().await?;
/// # Ok(()) }
/// ```
pub async fn start_unix_server<H, F>(handler: H, path: &str) -> Result<Server>
where
    H: Fn(StreamReader, StreamWriter) -> F + 'static,
    F: std::future::Future<Output = Result<()>> + 'static,
{
    let handler: ConnHandler = Rc::new(move |r, w, _conn| Box::pin(handler(r, w)) as Handled);
    serve_unix(handler, path, DEFAULT_LIMIT).await
}

/// Listens on the Unix socket `path` and runs `handler` in a new task per
/// client: [`serve`] for Unix sockets.
pub(crate) async fn serve_unix(handler: ConnHandler, path: &str, limit: usize) -> Result<Server> {
    #[cfg(feature = "host-mux")]
    {
        let listener = unix::Listener::bind(path, BACKLOG)?;
        let inner = Rc::new(Inner {
            sockets: Vec::new(),
            path: Some(listener.path().clone()),
            listeners: vec![listener.closer()],
            state: RefCell::new(State::default()),
            closed: Event::new(),
            idle: Event::new(),
        });
        let accept = create_named_task(
            format!("server unix:{path}"),
            unix_accept_loop(inner.clone(), listener, handler, limit),
        );
        inner.state.borrow_mut().accepts = vec![accept];
        Ok(Server { inner })
    }
    #[cfg(not(feature = "host-mux"))]
    {
        let _ = (handler, limit);
        Err(unix::without_mux(path))
    }
}

/// [`accept_loop`] for a Unix socket. An accept the host could not make
/// (out of descriptors, say) is reported and tried again after a pause,
/// as asyncio does.
#[cfg(feature = "host-mux")]
async fn unix_accept_loop(
    inner: Rc<Inner>,
    mut listener: unix::Listener,
    handler: ConnHandler,
    limit: usize,
) -> Result<()> {
    loop {
        let stream = match listener.accept().await {
            Ok(Some(stream)) => stream,
            Ok(None) => return Ok(()),
            Err(e) if e.is_cancelled() => return Err(e),
            Err(e) => {
                crate::debug::report_error("accept failed", &e);
                crate::sleep(std::time::Duration::from_millis(100)).await?;
                continue;
            }
        };
        let wired = unix::wire(stream, listener.path().clone(), limit)?;
        start_client(&inner, wired, None, &handler);
    }
}

pub(crate) type Handled = std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>>>>;

/// A listening server (asyncio's `Server`). Dropping it leaves it serving;
/// [`close`](Self::close) stops it.
pub struct Server {
    inner: Rc<Inner>,
}

struct Inner {
    sockets: Vec<SocketAddr>,
    /// A Unix socket server's path.
    path: Option<Rc<str>>,
    listeners: Vec<tcp::ListenerCloser>,
    state: RefCell<State>,
    /// Set by `close`.
    closed: Event,
    /// Set once closed with no client left.
    idle: Event,
}

#[derive(Default)]
struct State {
    accepts: Vec<Task<()>>,
    clients: HashMap<u64, tcp::ConnHandle>,
    next_client: u64,
    closed: bool,
}

impl Inner {
    fn client_gone(&self, id: u64) {
        let mut s = self.state.borrow_mut();
        s.clients.remove(&id);
        if s.closed && s.clients.is_empty() {
            self.idle.set();
        }
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.inner.state.borrow();
        f.debug_struct("Server")
            .field("sockets", &self.inner.sockets)
            .field("path", &self.inner.path)
            .field("serving", &!s.closed)
            .field("clients", &s.clients.len())
            .finish()
    }
}

/// Accepts clients until the server is closed. It holds the server's state
/// strongly: a dropped [`Server`] keeps serving, as asyncio's does. The
/// cycle this makes (the state holds this task's handle) ends when `close`
/// cancels the task, or when the loop shuts down.
async fn accept_loop(
    inner: Rc<Inner>,
    mut listener: tcp::Listener,
    handler: ConnHandler,
    limit: usize,
    tls: Option<SslContext>,
) -> Result<()> {
    loop {
        let sockets = listener.accept().await?;
        if sockets.is_empty() {
            return Ok(());
        }
        for socket in sockets {
            let (wired, handshake) = match &tls {
                None => (tcp::wire(socket, limit), None),
                Some(ctx) => match tcp::wire_tls(socket, limit, ctx, "") {
                    Ok((wired, handshake)) => (wired, Some(handshake)),
                    // The server's context is refused (an identity the host
                    // does not hold): so will every client's be.
                    Err(e) => return Err(e),
                },
            };
            start_client(&inner, wired, handshake, &handler);
        }
        // One batch per loop turn, as asyncio accepts up to its backlog
        // per readiness event: the handlers just started run before more
        // clients are taken.
        crate::yield_now().await?;
    }
}

/// Runs `handler` for one accepted client in a task of its own (after its
/// TLS handshake, if it has one), counting it among the server's clients.
fn start_client(
    inner: &Rc<Inner>,
    wired: tcp::Wired,
    handshake: Option<tcp::Handshake>,
    handler: &ConnHandler,
) {
    let conn = wired.2.clone();
    let id = {
        let mut s = inner.state.borrow_mut();
        let id = s.next_client;
        s.next_client += 1;
        s.clients.insert(id, conn.clone());
        id
    };
    let handler = handler.clone();
    let server = Rc::downgrade(inner);
    drop(create_named_task("connection handler", async move {
        let (reader, writer, _) = match handshake {
            None => wired,
            Some(handshake) => match tcp::secure(wired, handshake).await {
                Ok(wired) => wired,
                Err(e) => {
                    crate::debug::report_error("SSL handshake failed", &e);
                    if let Some(inner) = server.upgrade() {
                        inner.client_gone(id);
                    }
                    return Ok(());
                }
            },
        };
        let result = handler(reader, writer, conn.clone()).await;
        // The handler dropped its writer: the connection is done
        // once the buffered bytes are out.
        conn.writer.closed().await;
        if let Some(inner) = server.upgrade() {
            inner.client_gone(id);
        }
        result
    }));
}

impl Server {
    /// The addresses it listens on (asyncio's `server.sockets`, as
    /// addresses), with the ports the system chose.
    pub fn sockets(&self) -> &[SocketAddr] {
        &self.inner.sockets
    }

    /// The path of a Unix socket server ([`start_unix_server`]); `None`
    /// for a TCP one.
    pub fn path(&self) -> Option<&str> {
        self.inner.path.as_deref()
    }

    /// Whether it still accepts clients.
    pub fn is_serving(&self) -> bool {
        !self.inner.state.borrow().closed
    }

    /// Stops listening (the listening sockets are closed at once); the
    /// clients being served go on. Idempotent.
    pub fn close(&self) {
        for listener in &self.inner.listeners {
            listener.close();
        }
        let accepts = {
            let mut s = self.inner.state.borrow_mut();
            if s.closed {
                return;
            }
            s.closed = true;
            if s.clients.is_empty() {
                self.inner.idle.set();
            }
            std::mem::take(&mut s.accepts)
        };
        for task in accepts {
            task.cancel();
        }
        self.inner.closed.set();
    }

    /// Closes every client connection: each writer closes after its
    /// buffered bytes, each handler's reader sees EOF.
    pub fn close_clients(&self) {
        let clients: Vec<_> = self
            .inner
            .state
            .borrow()
            .clients
            .values()
            .cloned()
            .collect();
        for c in clients {
            c.close();
        }
    }

    /// Closes every client connection at once, dropping buffered bytes,
    /// and resets it (the client reads `ConnectionResetError`); each
    /// handler's reader sees EOF.
    pub fn abort_clients(&self) {
        let clients: Vec<_> = self
            .inner
            .state
            .borrow()
            .clients
            .values()
            .cloned()
            .collect();
        for c in clients {
            c.abort();
        }
    }

    /// How many clients are being served.
    pub fn client_count(&self) -> usize {
        self.inner.state.borrow().clients.len()
    }

    /// Serves until [`close`](Self::close) is called (from another task).
    /// Cancelled, it closes the server and returns `Err(Cancelled)`, as
    /// asyncio's does.
    pub async fn serve_forever(&self) -> Result<()> {
        match self.inner.closed.wait().await {
            Ok(_) => Ok(()),
            Err(e) => {
                self.close();
                Err(e)
            }
        }
    }

    /// Waits until the server is closed and every client connection is
    /// done (asyncio 3.12+). Cancelled, it returns `Err(Cancelled)` and
    /// nothing else changes.
    pub async fn wait_closed(&self) -> Result<()> {
        self.inner.idle.wait().await.map(|_| ())
    }
}

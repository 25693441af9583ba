//! `Loop::create_connection` and `Loop::create_server`: the TCP client and
//! server of the stream core, driving a protocol instead of streams.

use std::cell::RefCell;
use std::rc::Rc;

use super::transport::{Buffered, Plain, Sink, Transport, drive, made};
use super::{BufferedProtocol, Protocol};
use crate::errors::{Error, Result};
use crate::events::Loop;
use crate::net::tcp;
use crate::ssl::SslContext;
use crate::streams::server::{ConnHandler, Handled, serve, serve_unix};
use crate::streams::{DEFAULT_LIMIT, Server};
use crate::tasks::create_named_task;

/// Connects to every address of `host` in turn until one answers.
async fn connect(host: &str, port: u16, tls: Option<&SslContext>) -> Result<tcp::Wired> {
    crate::streams::connection::connect(host, port, DEFAULT_LIMIT, tls).await
}

/// Starts a connected transport: `connection_made`, then its driver task.
/// `read_only`: a read pipe's (see `Transport::new`).
pub(super) fn start(wired: tcp::Wired, sink: Rc<dyn Sink>, read_only: bool) -> Transport {
    let (reader, writer, conn) = wired;
    let transport = Transport::new(writer, conn, sink, read_only);
    made(&transport);
    drop(create_named_task(
        "transport",
        drive(transport.clone(), reader),
    ));
    transport
}

/// The handler that runs a protocol from `sink` for each client.
fn protocol_handler(sink: impl Fn() -> Rc<dyn Sink> + 'static) -> ConnHandler {
    Rc::new(move |reader, writer, conn| {
        let transport = Transport::new(writer, conn, sink(), false);
        Box::pin(async move {
            made(&transport);
            drive(transport, reader).await
        }) as Handled
    })
}

/// A server whose clients each get a protocol from `factory`.
async fn server(
    sink: impl Fn() -> Rc<dyn Sink> + 'static,
    host: &str,
    port: u16,
    tls: Option<SslContext>,
) -> Result<Server> {
    serve(protocol_handler(sink), host, port, DEFAULT_LIMIT, tls).await
}

impl Loop {
    /// Connects to `host`:`port` and runs a protocol made by `factory` on
    /// the connection (asyncio's `loop.create_connection`). When this
    /// returns, `connection_made` has been called. Returns the transport
    /// and the protocol (borrow it between callbacks, never across an
    /// `await`).
    ///
    /// The host must grant the address (`aio run --allow-net=HOST:PORT`):
    /// otherwise `PermissionDenied` names it and the flag. Cancelled, the
    /// attempt is abandoned and `factory` is not called.
    ///
    /// ```no_run
    /// use asyncio::transports::{BaseProtocol, Protocol, Transport};
    ///
    /// struct Hello(Option<Transport>);
    /// impl BaseProtocol for Hello {
    ///     fn connection_made(&mut self, t: Transport) {
    ///         t.write(b"hello\n").unwrap();
    ///         self.0 = Some(t);
    ///     }
    /// }
    /// impl Protocol for Hello {
    ///     fn data_received(&mut self, data: &[u8]) {
    ///         println!("got {}", String::from_utf8_lossy(data));
    ///         self.0.as_ref().unwrap().close();
    ///     }
    /// }
    ///
    /// # async fn demo() -> asyncio::Result<()> {
    /// let lp = asyncio::get_running_loop();
    /// let (transport, _protocol) = lp.create_connection(|| Hello(None), "127.0.0.1", 8888).await?;
    /// # let _ = transport; Ok(()) }
    /// ```
    pub async fn create_connection<P: Protocol>(
        &self,
        factory: impl FnOnce() -> P,
        host: &str,
        port: u16,
    ) -> Result<(Transport, Rc<RefCell<P>>)> {
        let wired = connect(host, port, None).await?;
        let protocol = Rc::new(RefCell::new(factory()));
        let transport = start(wired, Rc::new(Plain(protocol.clone())), false);
        Ok((transport, protocol))
    }

    /// [`create_connection`](Self::create_connection) over TLS (asyncio's
    /// `ssl=ctx`): `connection_made` runs once the host finished the
    /// handshake, and [`Transport::ssl_object`] describes the session.
    /// Errors as [`open_connection_ssl`](crate::open_connection_ssl)'s.
    pub async fn create_connection_ssl<P: Protocol>(
        &self,
        factory: impl FnOnce() -> P,
        host: &str,
        port: u16,
        ctx: &SslContext,
    ) -> Result<(Transport, Rc<RefCell<P>>)> {
        if ctx.is_server() {
            return Err(Error::value(
                "create_connection_ssl needs a client SslContext",
            ));
        }
        let wired = connect(host, port, Some(ctx)).await?;
        let protocol = Rc::new(RefCell::new(factory()));
        let transport = start(wired, Rc::new(Plain(protocol.clone())), false);
        Ok((transport, protocol))
    }

    /// [`create_connection`](Self::create_connection) with a
    /// [`BufferedProtocol`].
    pub async fn create_buffered_connection<B: BufferedProtocol>(
        &self,
        factory: impl FnOnce() -> B,
        host: &str,
        port: u16,
    ) -> Result<(Transport, Rc<RefCell<B>>)> {
        let wired = connect(host, port, None).await?;
        let protocol = Rc::new(RefCell::new(factory()));
        let transport = start(wired, Rc::new(Buffered(protocol.clone())), false);
        Ok((transport, protocol))
    }

    /// Listens on `host`:`port` and runs a protocol made by `factory` for
    /// each client (asyncio's `loop.create_server`). The same [`Server`] as
    /// [`start_server`](crate::start_server)'s: `close`, `close_clients`
    /// (each transport closes: `connection_lost(None)` after its buffer is
    /// sent), `abort_clients`, `wait_closed` (until every client's
    /// `connection_lost` ran), `serve_forever`.
    ///
    /// The host must grant the address (`aio run --allow-listen=ADDR:PORT`).
    pub async fn create_server<P: Protocol>(
        &self,
        factory: impl Fn() -> P + 'static,
        host: &str,
        port: u16,
    ) -> Result<Server> {
        server(
            move || Rc::new(Plain(Rc::new(RefCell::new(factory())))) as Rc<dyn Sink>,
            host,
            port,
            None,
        )
        .await
    }

    /// [`create_server`](Self::create_server) over TLS with the host's
    /// identity `ctx` names (asyncio's `ssl=ctx`): each client's protocol
    /// starts once its handshake is done; clients whose handshake fails
    /// are dropped, as [`start_server_ssl`](crate::start_server_ssl)'s.
    pub async fn create_server_ssl<P: Protocol>(
        &self,
        factory: impl Fn() -> P + 'static,
        host: &str,
        port: u16,
        ctx: &SslContext,
    ) -> Result<Server> {
        if !ctx.is_server() {
            return Err(Error::value("create_server_ssl needs a server SslContext"));
        }
        tcp::check_tls(ctx, host)?;
        server(
            move || Rc::new(Plain(Rc::new(RefCell::new(factory())))) as Rc<dyn Sink>,
            host,
            port,
            Some(ctx.clone()),
        )
        .await
    }

    /// [`create_server`](Self::create_server) with a [`BufferedProtocol`].
    pub async fn create_buffered_server<B: BufferedProtocol>(
        &self,
        factory: impl Fn() -> B + 'static,
        host: &str,
        port: u16,
    ) -> Result<Server> {
        server(
            move || Rc::new(Buffered(Rc::new(RefCell::new(factory())))) as Rc<dyn Sink>,
            host,
            port,
            None,
        )
        .await
    }

    /// Connects to the Unix socket server at `path` and runs a protocol
    /// made by `factory` on the connection (asyncio's
    /// `loop.create_unix_connection`); errors as
    /// [`open_unix_connection`](crate::open_unix_connection)'s.
    pub async fn create_unix_connection<P: Protocol>(
        &self,
        factory: impl FnOnce() -> P,
        path: &str,
    ) -> Result<(Transport, Rc<RefCell<P>>)> {
        let wired = crate::net::unix::open(path, DEFAULT_LIMIT).await?;
        let protocol = Rc::new(RefCell::new(factory()));
        let transport = start(wired, Rc::new(Plain(protocol.clone())), false);
        Ok((transport, protocol))
    }

    /// Listens on the Unix socket `path` and runs a protocol made by
    /// `factory` for each client (asyncio's `loop.create_unix_server`):
    /// [`create_server`](Self::create_server)'s [`Server`], and
    /// [`start_unix_server`](crate::start_unix_server)'s socket file
    /// handling.
    pub async fn create_unix_server<P: Protocol>(
        &self,
        factory: impl Fn() -> P + 'static,
        path: &str,
    ) -> Result<Server> {
        let sink = move || Rc::new(Plain(Rc::new(RefCell::new(factory())))) as Rc<dyn Sink>;
        serve_unix(protocol_handler(sink), path, DEFAULT_LIMIT).await
    }
}

//! [`open_connection`]: a TCP client as a reader and a writer.

use crate::errors::{Error, Result};
use crate::net::{resolve, tcp, unix};
use crate::ssl::SslContext;
use crate::streams::{DEFAULT_LIMIT, StreamReader, StreamWriter};

/// Connects to `host`:`port` (asyncio's `open_connection`): an IP literal,
/// or a name resolved through the host (which needs an `--allow-net`
/// grant). Each address the name resolves to is tried in turn; the error of
/// the last one is returned if none connects.
///
/// The host must grant the address (`aio run --allow-net=HOST:PORT`);
/// otherwise the error is `PermissionDenied`, naming the address and the
/// flag. Cancelled, the attempt is abandoned.
///
/// ```no_run
/// # async fn demo() -> asyncio::Result<()> {
/// let (mut reader, mut writer) = asyncio::open_connection("127.0.0.1", 8888).await?;
/// writer.write(b"hello\n")?;
/// writer.drain().await?;
/// let line = reader.readline().await?;
/// writer.close();
/// writer.wait_closed().await?;
/// # let _ = line; Ok(()) }
/// ```
pub async fn open_connection(host: &str, port: u16) -> Result<(StreamReader, StreamWriter)> {
    open_connection_with_limit(host, port, DEFAULT_LIMIT).await
}

/// [`open_connection`] with the reader's buffer limit (asyncio's `limit=`).
pub async fn open_connection_with_limit(
    host: &str,
    port: u16,
    limit: usize,
) -> Result<(StreamReader, StreamWriter)> {
    let (reader, writer, _) = connect(host, port, limit, None).await?;
    Ok((reader, writer))
}

/// [`open_connection`] over TLS (asyncio's `open_connection(host, port,
/// ssl=ctx)`): the host runs the session, verifying the server's
/// certificate for `host` (or the context's
/// [`server_hostname`](SslContext::server_hostname)) against its roots.
/// It returns once the handshake is done; the writer's
/// [`ssl_object`](StreamWriter::ssl_object) describes the session.
///
/// A refused certificate, a failed handshake or one that outlasts the
/// context's timeout is [`ErrorKind::Ssl`](crate::ErrorKind::Ssl), naming
/// the cause; the next address of `host` is not tried then (the server
/// answered).
pub async fn open_connection_ssl(
    host: &str,
    port: u16,
    ctx: &SslContext,
) -> Result<(StreamReader, StreamWriter)> {
    if ctx.is_server() {
        return Err(Error::value(
            "open_connection_ssl needs a client SslContext",
        ));
    }
    let (reader, writer, _) = connect(host, port, DEFAULT_LIMIT, Some(ctx)).await?;
    Ok((reader, writer))
}

/// Connects to every address of `host` in turn until one answers (over
/// TLS with `tls`, after checking the host takes its context): the one
/// client under streams and protocols.
pub(crate) async fn connect(
    host: &str,
    port: u16,
    limit: usize,
    tls: Option<&SslContext>,
) -> Result<tcp::Wired> {
    if let Some(ctx) = tls {
        tcp::check_tls(ctx, host)?;
    }
    let mut last: Option<Error> = None;
    for addr in resolve(host, port).await? {
        match tcp::connect(addr).await {
            Ok(socket) => {
                let Some(ctx) = tls else {
                    return Ok(tcp::wire(socket, limit));
                };
                let (wired, handshake) = tcp::wire_tls(socket, limit, ctx, host)?;
                return tcp::secure(wired, handshake).await;
            }
            Err(e) if e.is_cancelled() => return Err(e),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| Error::msg(format!("{host}: no address to connect to"))))
}

/// Connects to the Unix socket server at `path` (asyncio's
/// `open_unix_connection`). The writer's
/// [`unix_path`](StreamWriter::unix_path) is `path`.
///
/// The host must grant the path (`aio run --allow-unix=PATH`, or its
/// directory); otherwise the error is `PermissionDenied`, naming the path
/// and the flag. Nothing at the path is `NotFound`; a path with no server
/// is `ConnectionRefused`. Cancelled, the attempt is abandoned.
///
/// ```no_run
/// # async fn demo() -> asyncio::Result<()> {
/// let (mut reader, mut writer) = asyncio::open_unix_connection("/tmp/app/echo.sock").await?;
/// writer.write(b"hello\n")?;
/// let line = reader.readline().await?;
/// # let _ = line; Ok(()) }
/// ```
pub async fn open_unix_connection(path: &str) -> Result<(StreamReader, StreamWriter)> {
    let (reader, writer, _) = unix::open(path, DEFAULT_LIMIT).await?;
    Ok((reader, writer))
}

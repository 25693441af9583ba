//! [`open_connection`]: a TCP client as a reader and a writer.

use crate::errors::{Error, Result};
use crate::net::{resolve, tcp};
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
    let mut last: Option<Error> = None;
    for addr in resolve(host, port).await? {
        match tcp::connect(addr).await {
            Ok(socket) => {
                let (reader, writer, _) = tcp::wire(socket, limit);
                return Ok((reader, writer));
            }
            Err(e) if e.is_cancelled() => return Err(e),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| Error::msg(format!("{host}: no address to connect to"))))
}

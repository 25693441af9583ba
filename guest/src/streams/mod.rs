//! Streams: buffered byte readers and writers over component-model
//! `stream<u8>`s (asyncio's "Streams" section).
//!
//! [`StreamReader`] and [`StreamWriter`] are the one stream core of the SDK:
//! a subprocess's pipes use them ([`Process::stdout`](crate::subprocess::Process)),
//! and so will TCP connections (WASI 0.3 sockets are `stream<u8>` too). Both
//! also implement `futures_io::AsyncRead` / `AsyncWrite`.
//!
//! ```no_run
//! # async fn demo(mut reader: asyncio::StreamReader, mut writer: asyncio::StreamWriter)
//! # -> asyncio::Result<()> {
//! writer.write(b"hello\n")?;
//! writer.drain().await?;            // waits while too much is buffered
//! let line = reader.readline().await?;
//! let header = reader.readexactly(4).await?;  // IncompleteRead at EOF
//! writer.close();
//! writer.wait_closed().await?;
//! # let _ = (line, header); Ok(()) }
//! ```
//!
//! **Cancellation and drop.** Every async method follows the SDK's
//! cancellation contract (a cancelled task gets `Err(Cancelled)` at once)
//! and loses no data: a read in progress belongs to the reader, not to the
//! method's future, so bytes that arrive after a cancellation are kept for
//! the next call; a cancelled `drain` or `wait_closed` leaves the buffered
//! bytes to be written. Dropping a reader closes its end of the stream;
//! dropping a writer closes it after its buffered bytes are written.

pub(crate) mod channel;
pub(crate) mod connection;
pub(crate) mod reader;
pub(crate) mod sendfile;
pub(crate) mod server;
mod stdio;
pub(crate) mod writer;

pub use connection::{
    open_connection, open_connection_ssl, open_connection_with_limit, open_unix_connection,
};
pub use reader::{DEFAULT_LIMIT, StreamReader};
pub use server::{Server, start_server, start_server_ssl, start_server_with, start_unix_server};
pub use stdio::{stderr, stdin, stdout};
pub use writer::{StreamWriter, WriteBufferLimits};

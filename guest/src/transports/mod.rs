//! Transports and protocols (asyncio's low-level networking): a protocol
//! is a set of callbacks; a transport calls them as the connection lives
//! and is what the protocol writes to.
//!
//! Use [`streams`](crate::streams) (`open_connection`, `start_server`) for
//! straight-line code that reads and writes; use a protocol when the
//! connection is naturally event-driven (a server reacting to bytes as they
//! come, a proxy) or to avoid a task per connection. Both run on **one
//! core**: a connection is the same [`StreamReader`](crate::StreamReader) /
//! [`StreamWriter`](crate::StreamWriter) pair over the socket, and a server
//! is the same [`Server`](crate::Server), whichever API drives it.
//!
//! ```no_run
//! use asyncio::transports::{BaseProtocol, Protocol, Transport};
//!
//! /// Echoes every byte back.
//! #[derive(Default)]
//! struct Echo(Option<Transport>);
//!
//! impl BaseProtocol for Echo {
//!     fn connection_made(&mut self, transport: Transport) {
//!         self.0 = Some(transport);
//!     }
//! }
//!
//! impl Protocol for Echo {
//!     fn data_received(&mut self, data: &[u8]) {
//!         if let Some(t) = &self.0 {
//!             let _ = t.write(data);
//!         }
//!     }
//! }
//!
//! # async fn demo() -> asyncio::Result<()> {
//! let server = asyncio::get_running_loop()
//!     .create_server(Echo::default, "127.0.0.1", 8888)
//!     .await?;
//! server.serve_forever().await?;
//! # Ok(()) }
//! ```
//!
//! # The call order (a state machine)
//!
//! ```text
//!              connection_made
//!                    |
//!                    v
//!   +------------> Open --- data_received (not while reading is paused)
//!   |                |  \
//!   |      peer's EOF|   \ close() / close_clients()     abort() / abort_clients()
//!   |   eof_received |    \-------------> Closing  <-------------------
//!   |  true: HalfOpen|   false: close()     |  close: the write buffer is sent,
//!   |  (writes work, |                      |  then the FIN; abort: it is dropped
//!   |   no reads)    |                      |  and the connection reset
//!   |                v                      v
//!   |            close() ---------------> Lost: connection_lost(None)
//!   |
//!   +-- a reset, a failed write, a fatal protocol error --> Lost: connection_lost(Some(e))
//!       the loop shutting down --> Lost: connection_lost(Some(Cancelled))
//! ```
//!
//! `connection_made` and `connection_lost` are called exactly once per
//! connection, `eof_received` at most once, nothing after
//! `connection_lost`. `abort()` resets the connection (the peer reads
//! `ConnectionReset`); a connection lost to an error or to the loop's
//! shutdown drops its buffer but ends with a FIN. `pause_writing`/`resume_writing` come in pairs in
//! between.
//!
//! Callbacks run on the connection's driver task (named `transport`), one
//! at a time. A protocol is a `RefCell`: a callback may call its transport
//! (write, close, pause_reading) freely, but not borrow its own protocol
//! again. `pause_writing` is called inside `write` when the protocol is not
//! in a callback; from inside one, right after that callback returns.
//!
//! **Cancellation and drop.** `create_connection` and
//! `create_datagram_endpoint` follow the SDK's cancellation contract:
//! cancelled, they return `Err(Cancelled)` and abandon the attempt (no
//! protocol is made). Nothing else here awaits. Dropping a transport handle
//! leaves the connection open (its driver task keeps it); a connection
//! still open when the loop shuts down gets `connection_lost(Some(Cancelled))`,
//! and debug mode reports it as an unclosed transport.
//!
//! # UDP
//!
//! [`Loop::create_datagram_endpoint`](crate::Loop::create_datagram_endpoint)
//! runs a [`DatagramProtocol`] over a [`DatagramTransport`].

mod connect;
mod datagram;
mod pipes;
mod protocols;
mod transport;

pub use datagram::{DatagramTransport, MAX_DATAGRAM};
pub use protocols::{BaseProtocol, BufferedProtocol, DatagramProtocol, Protocol};
pub use transport::Transport;

pub use crate::subprocess::{PipeTransport, SubprocessProtocol, SubprocessTransport};

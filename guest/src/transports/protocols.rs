//! The protocol traits: what a transport calls as a connection lives.

use std::net::SocketAddr;

use super::{DatagramTransport, Transport};
use crate::errors::Error;

/// What every stream protocol has (asyncio's `BaseProtocol`): the
/// connection's start and end, and write flow control. [`Protocol`] and
/// [`BufferedProtocol`] add how bytes arrive; a type implements this and
/// one of them (`impl BaseProtocol for P {}` keeps every default).
///
/// `pause_writing`/`resume_writing` may come at any point between
/// `connection_made` and `connection_lost`, always in pairs that start with
/// a pause. Every method has a default that does nothing.
///
/// Callbacks are plain (not `async`) methods, as in asyncio: start a task
/// for work that must wait.
pub trait BaseProtocol: 'static {
    /// The connection is up; keep `transport` to write and to close.
    fn connection_made(&mut self, transport: Transport) {
        let _ = transport;
    }

    /// The connection is gone: `None` after a local `close`/`abort` or a
    /// clean end, `Some(error)` when it broke (a reset, a failed write, the
    /// loop shutting down: `Cancelled`). Called exactly once.
    fn connection_lost(&mut self, error: Option<Error>) {
        let _ = error;
    }

    /// The transport's write buffer went over its high-water mark.
    fn pause_writing(&mut self) {}

    /// The write buffer drained to its low-water mark after a pause.
    fn resume_writing(&mut self) {}
}

/// A stream protocol (asyncio's `Protocol`): callbacks a [`Transport`]
/// makes, in this order, exactly once per connection for the first and the
/// last (the first and the last are [`BaseProtocol`]'s):
///
/// ```text
/// connection_made -> data_received* -> eof_received? -> connection_lost
/// ```
pub trait Protocol: BaseProtocol {
    /// Bytes arrived (never empty).
    fn data_received(&mut self, data: &[u8]) {
        let _ = data;
    }

    /// The peer will send nothing more (it shut down its writing side).
    /// Return `true` to keep the connection open (writing still works
    /// until you close it), `false` to have the transport close itself
    /// (the default, as in asyncio).
    fn eof_received(&mut self) -> bool {
        false
    }
}

/// A stream protocol that receives into its own buffer (asyncio's
/// `BufferedProtocol`): the transport asks for a buffer, fills it, and says
/// how much it wrote. The same call order as [`Protocol`], with
/// `get_buffer`/`buffer_updated` in place of `data_received`.
pub trait BufferedProtocol: BaseProtocol {
    /// A buffer to receive into; `size_hint` is how many bytes are waiting
    /// (at least one). It must not be empty: an empty buffer is a fatal
    /// error for the connection (`connection_lost(Some(..))`), as in asyncio.
    fn get_buffer(&mut self, size_hint: usize) -> &mut [u8];

    /// `nbytes` bytes were written at the start of the last buffer.
    fn buffer_updated(&mut self, nbytes: usize);

    /// See [`Protocol::eof_received`].
    fn eof_received(&mut self) -> bool {
        false
    }
}

/// A datagram protocol (asyncio's `DatagramProtocol`), for
/// [`Loop::create_datagram_endpoint`](crate::Loop::create_datagram_endpoint):
///
/// ```text
/// connection_made -> (datagram_received | error_received)* -> connection_lost
/// ```
pub trait DatagramProtocol: 'static {
    /// The endpoint is ready; keep `transport` to send and to close.
    fn connection_made(&mut self, transport: DatagramTransport) {
        let _ = transport;
    }

    /// A datagram arrived from `addr`.
    fn datagram_received(&mut self, data: &[u8], addr: SocketAddr) {
        let _ = (data, addr);
    }

    /// A send or a receive failed (a refused address: `PermissionDenied`
    /// naming the flag; an ICMP "port unreachable": `ConnectionRefused`).
    /// The endpoint stays open.
    fn error_received(&mut self, error: Error) {
        let _ = error;
    }

    /// The endpoint is closed (`None`), or the loop shut down
    /// (`Some(Cancelled)`). Called exactly once.
    fn connection_lost(&mut self, error: Option<Error>) {
        let _ = error;
    }
}

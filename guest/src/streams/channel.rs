//! What the stream core reads from and writes to when the bytes do not
//! come through a `stream<u8>` of their own: a connection of the
//! instance's socket multiplexer (`crate::net::mux`), which moves every
//! connection's bytes over one pair of streams. The multiplexer
//! implements these; the readers and writers only call them.

#![cfg_attr(not(feature = "host-mux"), allow(dead_code))]

use std::task::{Context, Poll};

use crate::errors::Result;

/// Bytes that arrived for one connection.
pub(crate) trait Inbox {
    /// Appends what arrived to `buf` (swapping it in when `buf` is empty):
    /// `Ok(true)` when bytes came, `Ok(false)` at the end, the error that
    /// ended receiving; `Pending` (and `cx` woken) while nothing came.
    fn poll_take(&self, cx: &mut Context<'_>, buf: &mut Vec<u8>) -> Poll<Result<bool>>;
}

/// Whether an [`Outbox`] takes bytes now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutState {
    Ready,
    /// Enough is on its way: wait for progress ([`Outbox::on_progress`]).
    Blocked,
    /// The other end went away: nothing more can be sent.
    Gone,
}

/// Where one connection's bytes go. Dropping it ends sending (the peer
/// sees EOF after the bytes sent).
pub(crate) trait Outbox {
    fn state(&self) -> OutState;
    /// Sends what it takes of `data` (in [`OutState::Ready`], at least a
    /// byte): how much.
    fn send(&self, data: &[u8]) -> usize;
    /// Sends all of `data` whatever is on its way (the loop is closing:
    /// nothing will wait for room any more).
    fn send_all(&self, data: &[u8]);
    /// Bytes sent that the system has not taken yet (part of the
    /// writer's buffer size, as in asyncio).
    fn unsent(&self) -> usize;
    /// Something waits for [`unsent`](Self::unsent) to shrink: make sure
    /// the other side reports progress soon (it may otherwise wait to
    /// report it with other news).
    fn ask_progress(&self);
    /// Calls `f` whenever [`unsent`](Self::unsent) shrinks or the state
    /// changes.
    fn on_progress(&self, f: Box<dyn Fn()>);
}

//! The state one [`StreamWriter`](super::StreamWriter) shares with its pump
//! task and its handles: the buffer, the stream, the write in flight, and
//! how the writer ends.

use std::pin::Pin;
use std::rc::Rc;
use std::task::Waker;

use super::WriteBufferLimits;
use crate::errors::Error;
use crate::streams::channel::Outbox;
use crate::streams::reader::CloseSignal;

/// Where a writer's bytes go: a stream of its own, or a connection of
/// the socket multiplexer.
pub(super) enum RawWriter {
    Stream(wit_bindgen::StreamWriter<u8>),
    #[cfg_attr(not(feature = "host-mux"), allow(dead_code))]
    Channel(Rc<dyn Outbox>),
}
/// A write to a stream of its own (a multiplexed connection has none: its
/// bytes are taken at once or wait in the buffer).
pub(super) type WriteOp =
    Pin<Box<dyn std::future::Future<Output = (wit_bindgen::StreamWriter<u8>, Vec<u8>)>>>;

pub(super) struct Shared {
    /// Written, not yet handed to the stream.
    pub(super) buf: Vec<u8>,
    /// Handed to the stream, not yet taken by the other end.
    pub(super) in_flight: usize,
    pub(super) limits: WriteBufferLimits,
    pub(super) closing: bool,
    pub(super) closed: bool,
    /// `abort`: drop what is buffered and close now.
    pub(super) aborted: bool,
    /// Why writing stopped early (the other end went away).
    pub(super) error: Option<Error>,
    pub(super) pump: Option<Waker>,
    pub(super) waiters: Vec<Waker>,
    /// A transport's driver (crate::transports): woken when the writer
    /// closes or fails, the limits change, or the buffer falls to the
    /// low-water mark; replaced rather than queued.
    pub(super) watcher: Option<Waker>,
    /// The stream, while no write is in flight.
    pub(super) raw: Option<RawWriter>,
    /// The write in flight (it owns the stream until it completes).
    pub(super) op: Option<WriteOp>,
    /// What must outlive the stream (a socket resource): declared after
    /// `raw` and `op`, so it drops after them. The host reads a socket
    /// dropped while its send stream is open as an abort and resets the
    /// connection; only [`Ending::Reset`](super::Ending::Reset) drops it first.
    pub(super) socket: Option<Rc<dyn std::any::Any>>,
    /// The connection's reader, ended (EOF) by an abort as asyncio's
    /// `connection_lost` ends a stream reader.
    pub(super) reader: Option<Rc<CloseSignal>>,
    /// The pump task exists. It is started only when a write is left
    /// unfinished or closing must wait for one: most connections never
    /// need it.
    pub(super) pump_started: bool,
}

impl Shared {
    pub(super) fn size(&self) -> usize {
        let unsent = self.outbox().map_or(0, |c| c.unsent());
        self.buf.len() + self.in_flight + unsent
    }

    /// A multiplexed connection's sending end (it never leaves `raw`
    /// before the writer is finished).
    pub(super) fn outbox(&self) -> Option<&Rc<dyn Outbox>> {
        match &self.raw {
            Some(RawWriter::Channel(outbox)) => Some(outbox),
            _ => None,
        }
    }

    /// Someone waits for the size to fall (a drain, the transport's
    /// flow control, a flush): a multiplexed connection asks for its
    /// progress to be reported at once.
    pub(super) fn wait_for_room(&mut self, waker: &Waker) {
        self.waiters.push(waker.clone());
        if let Some(outbox) = self.outbox() {
            outbox.ask_progress();
        }
    }

    /// A write in flight completed: the stream is free again.
    pub(super) fn completed(&mut self, stream: wit_bindgen::StreamWriter<u8>) {
        self.raw = Some(RawWriter::Stream(stream));
        let before = self.size();
        self.in_flight = 0;
        for w in self.waiters.drain(..) {
            w.wake();
        }
        // The driver acts on a shrink only when it reaches the low-water
        // mark (to resume writing): waking it for every write would run it
        // once more per message for nothing.
        if before > self.limits.low
            && self.size() <= self.limits.low
            && let Some(w) = self.watcher.take()
        {
            w.wake();
        }
    }

    /// Closed for good (everything written, aborted, or failed with
    /// `error`): returns the write in flight and the stream, for the
    /// caller to drop once it has let go of the borrow (dropping them
    /// cancels the write and closes the stream).
    pub(super) fn finish(&mut self, error: Option<Error>) -> (Option<WriteOp>, Option<RawWriter>) {
        self.closed = true;
        self.closing = true;
        if error.is_some() {
            self.error = error;
            self.buf = Vec::new();
        }
        self.in_flight = 0;
        self.wake_waiters();
        (self.op.take(), self.raw.take())
    }

    pub(super) fn wake_waiters(&mut self) {
        for w in self.waiters.drain(..) {
            w.wake();
        }
        if let Some(w) = self.watcher.take() {
            w.wake();
        }
    }

    pub(super) fn wake_pump(&mut self) {
        if let Some(w) = self.pump.take() {
            w.wake();
        }
    }
}

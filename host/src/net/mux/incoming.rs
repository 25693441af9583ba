//! The `incoming` stream: events, then the ready connections' data.

use super::ends::Got;
use super::{HEADER, READ_SHARE, SIDE_RECEIVE, Shared, from_host, lock, put_header};
use crate::streams::answer;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use wasmtime::StoreContextMut;
use wasmtime::component::{Destination, StreamProducer, StreamResult, VecBuffer};

/// A `sync` frame: the header and a `u64`.
const SYNC_FRAME: usize = HEADER + 8;
/// The least room worth a receive: below it the read ends.
const MIN_ROOM: usize = 256;
/// A host reader's buffer (tests read `incoming` on the host).
const HOST_CAPACITY: usize = 64 << 10;

/// Every attached connection's incoming frames.
pub(crate) struct Incoming(Arc<Shared>);

impl Incoming {
    pub(super) fn new(shared: Arc<Shared>) -> Incoming {
        Incoming(shared)
    }

    /// Fills `buf` with events and frames of the ready connections; the
    /// bytes written.
    pub(super) fn fill(&self, buf: &mut [u8]) -> usize {
        // Room is kept for a `sync` at the end.
        let Some(room) = buf.len().checked_sub(SYNC_FRAME) else {
            return 0;
        };
        let pos = self.fill_frames(&mut buf[..room]);
        let mut ready = lock(&self.0.ready);
        if (pos > 0 || ready.sync_wanted)
            && let Some(upto) = ready.sync.take()
        {
            ready.sync_wanted = false;
            put_header(&mut buf[pos..], 0, from_host::SYNC, 8);
            buf[pos + HEADER..pos + SYNC_FRAME].copy_from_slice(&upto.to_le_bytes());
            return pos + SYNC_FRAME;
        }
        pos
    }

    /// Events, then the ready connections' data.
    fn fill_frames(&self, buf: &mut [u8]) -> usize {
        let shared = &self.0;
        let mut pos = 0;
        {
            let mut ready = lock(&shared.ready);
            while let Some(event) = ready.events.front() {
                let frame = event.bytes();
                if buf.len() - pos < frame.len() {
                    return pos;
                }
                buf[pos..pos + frame.len()].copy_from_slice(frame);
                pos += frame.len();
                ready.events.pop_front();
            }
        }
        let mut conns = lock(&shared.conns);
        while buf.len() - pos >= HEADER + MIN_ROOM {
            let Some(token) = lock(&shared.ready).tokens.pop_front() else {
                break;
            };
            let Some(conn) = conns.get(token) else {
                continue;
            };
            // Clear the mark first: a wake from here on queues it again.
            conn.token.queued.store(false, Ordering::Release);
            if conn.paused {
                // Queued again when the guest resumes it.
                continue;
            }
            let Some(rx) = conn.rx.as_mut() else {
                continue;
            };
            let mut cx = Context::from_waker(&conn.waker);
            let cap = (buf.len() - pos - HEADER).min(READ_SHARE);
            let body = &mut buf[pos + HEADER..pos + HEADER + cap];
            match rx.poll_receive(&mut cx, body) {
                Poll::Pending => {}
                Poll::Ready(Got::Data(n)) => {
                    put_header(&mut buf[pos..], token, from_host::DATA, n);
                    pos += HEADER + n;
                    // A full share may have more behind it; a short read
                    // cleared the readiness, so arm the waker again.
                    if n == cap || rx.poll_ready(&mut cx).is_ready() {
                        // (This read is the reader: no wake.)
                        conn.token.queue(shared, false);
                    }
                }
                Poll::Ready(Got::Eof) => {
                    put_header(&mut buf[pos..], token, from_host::EOF, 0);
                    pos += HEADER;
                    conn.rx = None;
                }
                Poll::Ready(Got::Failed) => {
                    conn.rx = None;
                    // After this read, with the code.
                    shared.failed(token, SIDE_RECEIVE, &mut conn.rx_result);
                }
                Poll::Ready(Got::Secured(body)) => {
                    // Before any of the connection's data, so in this read
                    // (the body is small), or first in the next one.
                    let frame = HEADER + body.len();
                    if buf.len() - pos >= frame {
                        put_header(&mut buf[pos..], token, from_host::SECURED, body.len());
                        buf[pos + HEADER..pos + frame].copy_from_slice(&body);
                        pos += frame;
                        // Data may have come with the handshake's last flight.
                        conn.token.queue(shared, false);
                    } else {
                        // First in the next read, before the data: this
                        // read ends here.
                        shared.event(token, from_host::SECURED, &body);
                        conn.token.queue(shared, false);
                        break;
                    }
                }
                Poll::Ready(Got::TlsFailed(body)) => {
                    conn.rx = None;
                    shared.event(token, from_host::TLS_ERROR, &body);
                }
            }
        }
        pos
    }

    fn has_any(&self) -> bool {
        let ready = lock(&self.0.ready);
        !ready.tokens.is_empty()
            || !ready.events.is_empty()
            || (ready.sync_wanted && ready.sync.is_some())
    }

    fn register(&self, cx: &Context<'_>) {
        let mut ready = lock(&self.0.ready);
        match &ready.producer {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => ready.producer = Some(cx.waker().clone()),
        }
    }
}

impl<D> StreamProducer<D> for Incoming {
    type Item = u8;
    type Buffer = VecBuffer<u8>;

    fn poll_produce<'a>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut store: StoreContextMut<'a, D>,
        dst: Destination<'a, Self::Item, Self::Buffer>,
        finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        self.register(cx);
        if self.0.is_closed() && !self.has_any() {
            return Poll::Ready(Ok(StreamResult::Dropped));
        }
        if dst.remaining(&mut store) == Some(0) {
            let ready = if self.has_any() {
                Poll::Ready(StreamResult::Completed)
            } else {
                Poll::Pending
            };
            return answer(ready, finish);
        }
        let mut dst = dst.as_direct(store, HOST_CAPACITY);
        let n = self.fill(dst.remaining());
        if n == 0 {
            return answer(Poll::Pending, finish);
        }
        dst.mark_written(n);
        Poll::Ready(Ok(StreamResult::Completed))
    }
}

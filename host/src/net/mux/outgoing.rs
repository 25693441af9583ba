//! The `outgoing` stream: the guest's frames, sent to their sockets.

use super::{
    Conns, HEADER, MAX_FRAME, PENDING_LIMIT, SIDE_SEND, Shared, Tx, from_guest, from_host, lock,
};
use crate::net::tcp::Sent;
use crate::streams::answer;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use wasmtime::StoreContextMut;
use wasmtime::component::{Source, StreamConsumer, StreamResult};

/// The guest's outgoing frames.
pub(crate) struct Outgoing {
    pub(super) shared: Arc<Shared>,
    /// Bytes of frames taken so far (told to the guest as `sync`).
    taken: u64,
    /// The frames taken asked for a `sync` (`sync?`).
    sync_asked: AtomicBool,
}

/// What a batch of outgoing frames held.
#[derive(Debug, PartialEq)]
pub(super) enum Frames {
    /// `n` bytes of whole frames were taken.
    Took(usize),
    /// Too much waits for sockets that would block: no data frame now.
    Full,
    /// A frame is cut short at the end of the stream's data, or is not a
    /// frame: the guest broke the protocol.
    Broken,
}

impl Outgoing {
    pub(super) fn new(shared: Arc<Shared>) -> Outgoing {
        Outgoing {
            shared,
            taken: 0,
            sync_asked: AtomicBool::new(false),
        }
    }

    /// `n` bytes of frames were taken: the `sync` to tell.
    pub(super) fn consumed(&mut self, n: usize) {
        self.taken += n as u64;
        let asked = self.sync_asked.swap(false, Ordering::Relaxed);
        self.shared.note_sync(self.taken, asked);
    }

    /// Acts on the whole frames at the start of `data`.
    pub(super) fn take(&self, data: &[u8]) -> Frames {
        let mut conns = lock(&self.shared.conns);
        let mut used = 0;
        while data.len() - used >= HEADER {
            let head = &data[used..used + HEADER];
            let token = u32::from_le_bytes(head[..4].try_into().unwrap());
            let kind = head[4];
            let len = u32::from_le_bytes(head[5..HEADER].try_into().unwrap()) as usize;
            let Some(body) = data.get(used + HEADER..used + HEADER + len) else {
                break;
            };
            if kind > from_guest::SYNC_PLEASE
                || (kind != from_guest::DATA && len != 0)
                || len > MAX_FRAME
            {
                return Frames::Broken;
            }
            if kind == from_guest::DATA
                && self.shared.pending.load(Ordering::Relaxed) > PENDING_LIMIT
            {
                return if used == 0 {
                    Frames::Full
                } else {
                    Frames::Took(used)
                };
            }
            self.act(&mut conns, token, kind, body);
            used += HEADER + len;
        }
        if used == 0 {
            Frames::Broken
        } else {
            Frames::Took(used)
        }
    }

    /// One frame. Frames about a token that is not (or no longer) attached
    /// are dropped: the guest may send them before it learns of an end.
    fn act(&self, conns: &mut Conns, token: u32, kind: u8, body: &[u8]) {
        match kind {
            from_guest::DATA => {
                if let Some(conn) = conns.get(token) {
                    self.send(&conn.tx, body);
                }
            }
            from_guest::CLOSE => {
                if let Some(conn) = conns.remove(token) {
                    self.end_sending(&conn.tx);
                }
            }
            from_guest::ABORT => {
                if let Some(conn) = conns.remove(token) {
                    let mut t = lock(&conn.tx);
                    if let Some(c) = t.consumer.take() {
                        c.reset();
                    }
                    let dropped = t.queue.len();
                    t.queue.clear();
                    self.shared.pending.fetch_sub(dropped, Ordering::Relaxed);
                }
            }
            from_guest::SHUTDOWN => {
                if let Some(conn) = conns.get(token) {
                    self.end_sending(&conn.tx);
                }
            }
            from_guest::SYNC_PLEASE => self.sync_asked.store(true, Ordering::Relaxed),
            from_guest::PAUSE => {
                if let Some(conn) = conns.get(token) {
                    conn.paused = true;
                }
            }
            from_guest::RESUME => {
                if let Some(conn) = conns.get(token)
                    && std::mem::replace(&mut conn.paused, false)
                    && let Some(reader) = conn.token.queue(&self.shared, true)
                {
                    reader.wake();
                }
            }
            // `take` refused every other kind.
            _ => {}
        }
    }

    /// Sends `body` now, or queues what the socket cannot take.
    fn send(&self, tx: &Arc<Mutex<Tx>>, mut body: &[u8]) {
        let mut t = lock(tx);
        if t.closing {
            return;
        }
        if !t.flushing {
            let Some(consumer) = t.consumer.as_mut() else {
                return;
            };
            let mut cx = Context::from_waker(Waker::noop());
            while !body.is_empty() {
                match consumer.poll_send(&mut cx, body) {
                    Poll::Ready(Sent::Wrote(n)) => body = &body[n..],
                    Poll::Ready(Sent::Failed) => {
                        t.consumer = None;
                        let token = t.token;
                        self.shared.failed(token, SIDE_SEND, &mut t.result);
                        return;
                    }
                    Poll::Pending => break,
                }
            }
            if body.is_empty() && !consumer.has_backlog() {
                return;
            }
            self.start_flush(tx, &mut t);
        }
        if body.is_empty() {
            return;
        }
        t.queue.extend(body);
        self.shared.pending.fetch_add(body.len(), Ordering::Relaxed);
        queued(&self.shared, &t);
    }
}

impl Outgoing {
    /// Starts the task that sends `t`'s queue (and what its end holds) as
    /// the socket takes it.
    fn start_flush(&self, tx: &Arc<Mutex<Tx>>, t: &mut Tx) {
        t.flushing = true;
        let task = tokio::spawn(flush(tx.clone(), Arc::downgrade(&self.shared)));
        t.flusher = Some(task.abort_handle());
    }

    /// Ends a connection's send side once what waits for it is sent: the
    /// end's own closing (a TLS `close_notify`) and then the FIN the send
    /// half's drop sends.
    fn end_sending(&self, tx: &Arc<Mutex<Tx>>) {
        let mut t = lock(tx);
        t.closing = true;
        if !t.flushing {
            match &t.consumer {
                Some(c) if c.closes_async() => self.start_flush(tx, &mut t),
                _ => t.consumer = None,
            }
        }
    }
}

/// Tells the guest how much of `t`'s data waits on the host.
fn queued(shared: &Shared, t: &Tx) {
    let n = u32::try_from(t.queue.len()).unwrap_or(u32::MAX);
    shared.event(t.token, from_host::QUEUED, &n.to_le_bytes());
}

/// Sends a connection's queue as its socket takes it, saying `queued` as
/// it shrinks (or `error`).
async fn flush(tx: Arc<Mutex<Tx>>, shared: Weak<Shared>) {
    std::future::poll_fn(|cx| {
        let mut guard = lock(&tx);
        let t = &mut *guard;
        loop {
            let sent = match t.consumer.as_mut() {
                Some(consumer) if t.queue.is_empty() => {
                    // What the end holds goes too (and its close).
                    let done = if t.closing {
                        consumer.poll_close(cx)
                    } else {
                        consumer.poll_flush(cx)
                    };
                    match done {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(true) => break,
                        Poll::Ready(false) => Poll::Ready(Sent::Failed),
                    }
                }
                Some(consumer) => consumer.poll_send(cx, t.queue.as_slices().0),
                // Aborted: the queue was dropped with it.
                None => break,
            };
            let n = match sent {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Sent::Wrote(n)) => n,
                Poll::Ready(Sent::Failed) => {
                    t.consumer = None;
                    if let Some(shared) = shared.upgrade() {
                        shared.failed(t.token, SIDE_SEND, &mut t.result);
                    }
                    t.queue.len()
                }
            };
            t.queue.drain(..n);
            if let Some(shared) = shared.upgrade() {
                if t.consumer.is_some() {
                    queued(&shared, t);
                }
                let before = shared.pending.fetch_sub(n, Ordering::Relaxed);
                if before > PENDING_LIMIT
                    && before - n <= PENDING_LIMIT
                    && let Some(w) = lock(&shared.consumer).take()
                {
                    w.wake();
                }
            }
        }
        t.flushing = false;
        t.flusher = None;
        if t.closing {
            t.consumer = None;
        }
        Poll::Ready(())
    })
    .await
}

impl<D> StreamConsumer<D> for Outgoing {
    type Item = u8;

    fn poll_consume(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        store: StoreContextMut<D>,
        src: Source<Self::Item>,
        finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        let this = self.get_mut();
        if this.shared.is_closed() {
            return Poll::Ready(Ok(StreamResult::Dropped));
        }
        let mut src = src.as_direct(store);
        if src.remaining().is_empty() {
            return Poll::Ready(Ok(StreamResult::Completed));
        }
        let mut took = this.take(src.remaining());
        if took == Frames::Full {
            *lock(&this.shared.consumer) = Some(cx.waker().clone());
            // (A flush may have ended in between.)
            took = this.take(src.remaining());
        }
        match took {
            Frames::Took(n) => {
                src.mark_read(n);
                this.consumed(n);
                Poll::Ready(Ok(StreamResult::Completed))
            }
            Frames::Full => answer(Poll::Pending, finish),
            Frames::Broken => Poll::Ready(Ok(StreamResult::Dropped)),
        }
    }
}

//! Batched socket I/O (`aio:host/mux`): every attached connection's bytes
//! over one incoming and one outgoing `stream<u8>`, in frames
//! (wit/mux.wit), so a guest pays for one stream read and one stream
//! write per turn of its loop instead of one of each per message
//! (docs/design-batched-io.md).
//!
//! - **Incoming** ([`Incoming`]): each connection has a waker of its own
//!   ([`TokenWaker`]) that the reactor wakes when the socket becomes
//!   readable; it queues the connection's token and wakes the guest's
//!   pending read of `incoming`. That read takes the queued connections in
//!   order, each up to [`READ_SHARE`] bytes straight into the guest's
//!   buffer, until the buffer is full: one stream completion for every
//!   connection that became ready. Events (how much of a connection's
//!   data waits on the host, a side that failed) go first; `sync` last.
//! - **Outgoing** ([`Outgoing`]): each data frame is sent at once; what a
//!   socket cannot take waits in that connection's queue, which a task of
//!   the connection's own sends as the socket takes it; the guest is told
//!   how much waits (`queued`) as it changes, and how far the host has
//!   read (`sync`), so it knows each connection's unsent bytes as
//!   asyncio's `get_write_buffer_size` does. `sync` rides along with the
//!   next read that has something else to say; it wakes the guest on its
//!   own only once the guest asked (`sync?`: something of its waits for
//!   room), so a loop turn costs one completion of `incoming`, not two.
//!   While more than [`PENDING_LIMIT`] bytes wait over all connections,
//!   no more data frames are taken: a guest that ignores its write
//!   buffer's size stalls only itself, and its bytes stay in its memory.

mod ends;
mod incoming;
mod outgoing;

pub(crate) use ends::{RxEnd, TxEnd};
pub(crate) use incoming::Incoming;
pub(crate) use outgoing::Outgoing;

use super::tcp::ResultRx;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Wake, Waker};
use wasmtime_wasi::p3::bindings::sockets::types::ErrorCode;

/// A frame's header: token (u32 LE), kind (u8), length (u32 LE).
pub(crate) const HEADER: usize = 9;

/// Frame kinds from the host (wit/mux.wit).
mod from_host {
    pub(super) const DATA: u8 = 0;
    pub(super) const EOF: u8 = 1;
    pub(super) const ERROR: u8 = 2;
    pub(super) const QUEUED: u8 = 3;
    pub(super) const SYNC: u8 = 4;
    pub(super) const SECURED: u8 = 5;
    pub(super) const TLS_ERROR: u8 = 6;
}

/// Frame kinds from the guest (wit/mux.wit).
mod from_guest {
    pub(super) const DATA: u8 = 0;
    pub(super) const CLOSE: u8 = 1;
    pub(super) const ABORT: u8 = 2;
    pub(super) const SHUTDOWN: u8 = 3;
    pub(super) const PAUSE: u8 = 4;
    pub(super) const RESUME: u8 = 5;
    /// Token 0: tell me `sync` even if nothing else comes.
    pub(super) const SYNC_PLEASE: u8 = 6;
}

/// Which side of a connection an `error` frame is about.
const SIDE_RECEIVE: u8 = 0;
const SIDE_SEND: u8 = 1;

/// The most one connection gives to one read of `incoming` (fairness: the
/// rest waits for the next read, behind the other ready connections).
const READ_SHARE: usize = 64 << 10;
/// Bytes waiting on the host for sockets that would block, over all
/// connections, above which `outgoing` is not read (the guest's own
/// memory holds the rest).
const PENDING_LIMIT: usize = 4 << 20;
/// The longest data frame a guest may send.
const MAX_FRAME: usize = 1 << 20;
/// A token's low bits index the connection; the high bits count the reuse
/// of that index, so a frame about a closed connection never names its
/// successor.
const INDEX_BITS: u32 = 20;
const INDEX_MASK: u32 = (1 << INDEX_BITS) - 1;

/// The `mux` resource (reached only through the guest's `aio:host/mux`
/// import).
pub struct Mux {
    shared: Arc<Shared>,
    incoming_taken: bool,
    outgoing_taken: bool,
}

struct Shared {
    conns: Mutex<Conns>,
    ready: Mutex<Ready>,
    /// Bytes queued for sockets that would block.
    pending: AtomicUsize,
    /// The outgoing stream, waiting for `pending` to fall.
    consumer: Mutex<Option<Waker>>,
    /// The `mux` resource was dropped: every connection is closed, and
    /// both streams end.
    closed: AtomicBool,
}

/// A frame that is not data: most have no body, or one of at most eight
/// bytes; a TLS error's is longer.
enum Event {
    Small([u8; HEADER + 8], usize),
    Large(Vec<u8>),
}

impl Event {
    fn bytes(&self) -> &[u8] {
        match self {
            Event::Small(frame, len) => &frame[..*len],
            Event::Large(frame) => frame,
        }
    }
}

#[derive(Default)]
struct Ready {
    /// Frames to deliver before any data.
    events: VecDeque<Event>,
    tokens: VecDeque<u32>,
    /// Bytes of frames read from `outgoing`, not yet told (`sync`).
    sync: Option<u64>,
    /// The guest asked for `sync`: tell it even with nothing else.
    sync_wanted: bool,
    /// The guest's pending read of `incoming`.
    producer: Option<Waker>,
}

#[derive(Default)]
struct Conns {
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// The handles of connections given back, for the glue to delete
    /// from the resource table (see [`Mux::attach`]).
    released: Vec<u32>,
}

#[derive(Default)]
struct Slot {
    generation: u32,
    conn: Option<Attached>,
}

struct Attached {
    /// The resource-table entry that counts this connection against the
    /// store's handle limit.
    handle: u32,
    rx: Option<RxEnd>,
    /// How receiving ended (an error's code).
    rx_result: ResultRx,
    /// The guest asked for no more data for now.
    paused: bool,
    /// `token` as a waker, for the socket's readiness.
    waker: Waker,
    token: Arc<TokenWaker>,
    tx: Arc<Mutex<Tx>>,
}

/// A connection's send side and what waits for it.
struct Tx {
    token: u32,
    consumer: Option<TxEnd>,
    /// How sending ended (an error's code).
    result: ResultRx,
    queue: VecDeque<u8>,
    flushing: bool,
    /// The guest is done sending: end the send side once the queue is
    /// sent.
    closing: bool,
    /// The task sending the queue, while there is one.
    flusher: Option<tokio::task::AbortHandle>,
}

impl Shared {
    /// The guest let go of the mux (or of everything that reached it):
    /// every connection is closed now, and no connection's queue outlives
    /// it (a peer that never reads would keep a flusher waiting forever).
    fn close_all(&self) {
        self.closed.store(true, Ordering::Release);
        let taken: Vec<Attached> = {
            let mut conns = lock(&self.conns);
            conns
                .slots
                .iter_mut()
                .filter_map(|s| s.conn.take())
                .collect()
        };
        for conn in taken {
            if let Some(flusher) = lock(&conn.tx).flusher.take() {
                flusher.abort();
            }
        }
        // The streams see the end.
        let producer = lock(&self.ready).producer.take();
        let consumer = lock(&self.consumer).take();
        for w in [producer, consumer].into_iter().flatten() {
            w.wake();
        }
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.close_all();
    }
}

impl Drop for Mux {
    /// Dropping the resource closes every connection, even while the guest
    /// still holds the `incoming` or `outgoing` stream (they end).
    fn drop(&mut self) {
        self.shared.close_all();
    }
}

/// Queues its connection's token when its socket becomes readable.
struct TokenWaker {
    token: u32,
    queued: AtomicBool,
    shared: Weak<Shared>,
}

impl Wake for TokenWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(shared) = self.shared.upgrade()
            && let Some(producer) = self.queue(&shared, true)
        {
            producer.wake();
        }
    }
}

impl TokenWaker {
    /// Queues the token unless it is queued already; the reader of
    /// `incoming` to wake, if `take_reader` and one waits.
    fn queue(&self, shared: &Shared, take_reader: bool) -> Option<Waker> {
        if self.queued.swap(true, Ordering::AcqRel) {
            return None;
        }
        let mut ready = lock(&shared.ready);
        ready.tokens.push_back(self.token);
        if take_reader {
            ready.producer.take()
        } else {
            None
        }
    }
}

/// A poisoned lock only means a panic elsewhere; the data is still whole
/// (every update below is a single step).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// Delivers `kind` (with `body`, at most eight bytes) about `token`
    /// before any more data, waking the reader.
    fn event(&self, token: u32, kind: u8, body: &[u8]) {
        let event = if body.len() <= 8 {
            let mut frame = [0; HEADER + 8];
            put_header(&mut frame, token, kind, body.len());
            frame[HEADER..HEADER + body.len()].copy_from_slice(body);
            Event::Small(frame, HEADER + body.len())
        } else {
            let mut frame = vec![0; HEADER];
            put_header(&mut frame, token, kind, body.len());
            frame.extend_from_slice(body);
            Event::Large(frame)
        };
        let reader = {
            let mut ready = lock(&self.ready);
            ready.events.push_back(event);
            ready.producer.take()
        };
        if let Some(w) = reader {
            w.wake();
        }
    }

    /// The host has read `taken` bytes of `outgoing`: a `sync` for the
    /// next read, waking it only if the guest asked (`asked`: in the
    /// frames just read, or earlier).
    fn note_sync(&self, taken: u64, asked: bool) {
        let reader = {
            let mut ready = lock(&self.ready);
            ready.sync = Some(taken);
            ready.sync_wanted |= asked;
            if ready.sync_wanted {
                ready.producer.take()
            } else {
                None
            }
        };
        if let Some(w) = reader {
            w.wake();
        }
    }

    /// Tells the guest a side of `token` failed, with the code its result
    /// holds (`connection-broken` when it holds none).
    fn failed(&self, token: u32, side: u8, result: &mut ResultRx) {
        let code = match result.try_recv() {
            Ok(Err(code)) => code_index(&code),
            _ => code_index(&ErrorCode::ConnectionBroken),
        };
        self.event(token, from_host::ERROR, &[side, code]);
    }
}

/// An `error-code` case's index in wit/deps/sockets.wit (`other`'s
/// message is not sent).
fn code_index(code: &ErrorCode) -> u8 {
    match code {
        ErrorCode::AccessDenied => 0,
        ErrorCode::NotSupported => 1,
        ErrorCode::InvalidArgument => 2,
        ErrorCode::OutOfMemory => 3,
        ErrorCode::Timeout => 4,
        ErrorCode::InvalidState => 5,
        ErrorCode::AddressNotBindable => 6,
        ErrorCode::AddressInUse => 7,
        ErrorCode::RemoteUnreachable => 8,
        ErrorCode::ConnectionRefused => 9,
        ErrorCode::ConnectionBroken => 10,
        ErrorCode::ConnectionReset => 11,
        ErrorCode::ConnectionAborted => 12,
        ErrorCode::DatagramTooLarge => 13,
        ErrorCode::Other(_) => 14,
    }
}

fn put_header(buf: &mut [u8], token: u32, kind: u8, len: usize) {
    buf[..4].copy_from_slice(&token.to_le_bytes());
    buf[4] = kind;
    buf[5..HEADER].copy_from_slice(&(len as u32).to_le_bytes());
}

impl Mux {
    pub(crate) fn new() -> Mux {
        Mux {
            shared: Arc::new(Shared {
                conns: Mutex::default(),
                ready: Mutex::default(),
                pending: AtomicUsize::new(0),
                consumer: Mutex::default(),
                closed: AtomicBool::new(false),
            }),
            incoming_taken: false,
            outgoing_taken: false,
        }
    }

    /// Attaches a connection's halves; its token, or `None` when every
    /// index is in use. `handle` is the resource-table entry the glue made
    /// for it, so that a guest's connections count against its handle
    /// limit as its sockets and streams do; it comes back from
    /// [`take_released`](Self::take_released) once the connection is given
    /// back.
    #[cfg(test)]
    pub(crate) fn attach(&self, halves: super::tcp::Halves, handle: u32) -> Option<u32> {
        let ((rx, rx_result), (tx, tx_result)) = halves;
        self.attach_ends(
            (RxEnd::Tcp(rx), rx_result),
            (TxEnd::Tcp(tx), tx_result),
            handle,
        )
    }

    /// [`attach`](Self::attach) for ends of any kind (a TLS session's).
    pub(crate) fn attach_ends(
        &self,
        (rx, rx_result): (RxEnd, ResultRx),
        (tx, tx_result): (TxEnd, ResultRx),
        handle: u32,
    ) -> Option<u32> {
        let mut conns = lock(&self.shared.conns);
        let index = match conns.free.pop() {
            Some(i) => i,
            None if conns.slots.len() <= INDEX_MASK as usize => {
                conns.slots.push(Slot::default());
                (conns.slots.len() - 1) as u32
            }
            None => return None,
        };
        let slot = &mut conns.slots[index as usize];
        let token = index | (slot.generation << INDEX_BITS);
        let waker = Arc::new(TokenWaker {
            token,
            queued: AtomicBool::new(false),
            shared: Arc::downgrade(&self.shared),
        });
        slot.conn = Some(Attached {
            handle,
            rx: Some(rx),
            rx_result,
            paused: false,
            waker: Waker::from(waker.clone()),
            token: waker.clone(),
            tx: Arc::new(Mutex::new(Tx {
                token,
                consumer: Some(tx),
                result: tx_result,
                queue: VecDeque::new(),
                flushing: false,
                closing: false,
                flusher: None,
            })),
        });
        drop(conns);
        // Whatever is there already is read at the next turn.
        waker.wake_by_ref();
        Some(token)
    }

    /// Puts `token`'s TCP ends under a TLS session (`start-tls`):
    /// `secure` makes the session's ends from them. `Err` says why not.
    #[cfg(feature = "tls")]
    pub(crate) fn start_tls(
        &self,
        token: u32,
        secure: impl FnOnce(
            super::tcp::ReceiveProducer,
            super::tcp::SendConsumer,
        ) -> (super::tls::TlsReceiver, super::tls::TlsSender),
    ) -> Result<(), &'static str> {
        let mut conns = lock(&self.shared.conns);
        let conn = conns.get(token).ok_or("the connection is not attached")?;
        let mut t = lock(&conn.tx);
        if t.flushing || !t.queue.is_empty() {
            return Err("data sent before start_tls still waits to go out");
        }
        if t.closing {
            return Err("the connection's sending has ended");
        }
        let (Some(RxEnd::Tcp(_)), Some(TxEnd::Tcp(_))) = (&conn.rx, &t.consumer) else {
            return Err("the connection has ended, or is TLS already");
        };
        let (Some(RxEnd::Tcp(rx)), Some(TxEnd::Tcp(tx))) = (conn.rx.take(), t.consumer.take())
        else {
            unreachable!("checked above");
        };
        let (rx, tx) = secure(rx, tx);
        conn.rx = Some(RxEnd::Tls(rx));
        t.consumer = Some(TxEnd::Tls(tx));
        drop(t);
        // The handshake starts at the next read (a client speaks first).
        conn.paused = false;
        let token = conn.token.clone();
        drop(conns);
        if let Some(reader) = token.queue(&self.shared, true) {
            reader.wake();
        }
        Ok(())
    }

    /// The handles of the connections given back since the last call.
    pub(crate) fn take_released(&self) -> Vec<u32> {
        std::mem::take(&mut lock(&self.shared.conns).released)
    }

    /// Every handle still counted: the connections' and the released.
    pub(crate) fn take_all_handles(&self) -> Vec<u32> {
        let mut conns = lock(&self.shared.conns);
        let live: Vec<u32> = conns
            .slots
            .iter()
            .filter_map(|s| s.conn.as_ref().map(|c| c.handle))
            .collect();
        let mut all = std::mem::take(&mut conns.released);
        all.extend(live);
        all
    }

    /// The incoming producer, once.
    pub(crate) fn take_incoming(&mut self) -> Option<Incoming> {
        (!std::mem::replace(&mut self.incoming_taken, true))
            .then(|| Incoming::new(self.shared.clone()))
    }

    /// The outgoing consumer, once.
    pub(crate) fn take_outgoing(&mut self) -> Option<Outgoing> {
        (!std::mem::replace(&mut self.outgoing_taken, true))
            .then(|| Outgoing::new(self.shared.clone()))
    }
}

impl Conns {
    fn get(&mut self, token: u32) -> Option<&mut Attached> {
        let slot = self.slots.get_mut((token & INDEX_MASK) as usize)?;
        if slot.generation != token >> INDEX_BITS {
            return None;
        }
        slot.conn.as_mut()
    }

    /// Frees `token`'s index; its connection, if it had one.
    fn remove(&mut self, token: u32) -> Option<Attached> {
        let index = token & INDEX_MASK;
        let slot = self.slots.get_mut(index as usize)?;
        if slot.generation != token >> INDEX_BITS {
            return None;
        }
        let conn = slot.conn.take()?;
        slot.generation = (slot.generation + 1) & (u32::MAX >> INDEX_BITS);
        self.free.push(index);
        self.released.push(conn.handle);
        Some(conn)
    }
}

#[cfg(test)]
mod tests;

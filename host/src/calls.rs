//! `aio:host/calls`: how the host tells a plugin's export call that its
//! caller gave up on it (docs/design-plugins.md §4).
//!
//! wasmtime 48 cannot cancel a guest task the host started, so
//! cancellation is a protocol. Before a plugin call starts, the host
//! [registers](CallSlots::register) the call's guest task. The SDK's first
//! act in every export call is the sync import `enter()`, which finds the
//! call it was made in (`async_call_stack().last()`: the root export task)
//! and gives the guest the call's number. Anything else (a second `enter`
//! in the same call, the SDK's driver task, a program's `wasi:cli/run`)
//! gets `none`. When the host gives up on a call the guest entered, it
//! [sends](CallSlots::cancel) `(number, reason)` on the instance's one
//! `cancellations` stream, which the SDK's driver keeps reading; when it
//! gives up before the guest entered (a caller that cancels at once), the
//! cancellation is sent the moment the guest enters.
//!
//! One stream rather than a future per call: a guest dropping a pending
//! future read (every call that ends normally would) does a synchronous
//! `cancel-read`, and wasmtime 48 suspends the whole instance until the
//! host side answers it; with 1,000 calls in flight every other call's
//! events then queue up behind it (docs/PERFORMANCE.md, "Plugins").
//!
//! Guest task ids are table slots, reused once a task is gone (spike S2):
//! the host [removes](CallSlots::remove) a call's slot when its host side
//! ends, so a later call never inherits it.
//!
//! ```ignore
//! store.data_mut().calls.register(call.task());
//! // ... the guest calls `enter()` ...
//! let delivery = store.data_mut().calls.cancel(call.task(), CancelReason::Timeout);
//! ```

use crate::bindings::aio::host::calls as wit;
use crate::streams::answer;
use std::collections::{HashMap, HashSet};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;
use wasmtime::component::{
    Access, Destination, GuestTaskId, HasData, StreamProducer, StreamReader, StreamResult,
    VecBuffer,
};
use wasmtime::{AsContextMut, StoreContextMut};

/// Why the host gave up on a call (the WIT `cancel-reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CancelReason {
    /// The caller dropped the call.
    Cancelled,
    /// The call's per-call timeout passed.
    Timeout,
}

impl From<CancelReason> for wit::CancelReason {
    fn from(reason: CancelReason) -> Self {
        match reason {
            CancelReason::Cancelled => wit::CancelReason::Cancelled,
            CancelReason::Timeout => wit::CancelReason::Timeout,
        }
    }
}

/// The calls of one store that the host tracks, by root guest task, and
/// the sending end of the guest's `cancellations` stream.
#[derive(Debug, Default)]
pub(crate) struct CallSlots {
    slots: HashMap<GuestTaskId, Slot>,
    /// The numbers of the calls in `slots`.
    numbers: HashSet<u32>,
    /// The next call number `enter` gives.
    next: u32,
    /// Feeds the stream the guest asked for last.
    cancellations: Option<mpsc::UnboundedSender<wit::Cancellation>>,
}

/// One tracked call.
#[derive(Debug, Clone, Copy)]
enum Slot {
    /// Started, not yet entered; with the reason if the host already gave
    /// up on it (sent as soon as the guest enters).
    Waiting(Option<CancelReason>),
    /// Entered: the number the guest knows it by.
    Entered(u32),
}

/// What became of a cancellation ([`CallSlots::cancel`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// Sent on the guest's stream.
    Sent,
    /// The guest has not entered the call yet: it is sent when it does
    /// (a guest that never calls `enter` never sees it).
    Pending,
    /// The guest cannot know: not a tracked call, or no stream.
    Lost,
}

impl CallSlots {
    /// Tracks the call whose guest task is `task`.
    pub(crate) fn register(&mut self, task: GuestTaskId) {
        if let Some(Slot::Entered(stale)) = self.slots.insert(task, Slot::Waiting(None)) {
            self.numbers.remove(&stale);
        }
    }

    /// Tells the guest the host gave up on call `task`.
    pub(crate) fn cancel(&mut self, task: GuestTaskId, reason: CancelReason) -> Delivery {
        match self.slots.get_mut(&task) {
            Some(Slot::Entered(number)) => {
                let number = *number;
                if self.send(number, reason) {
                    Delivery::Sent
                } else {
                    Delivery::Lost
                }
            }
            Some(Slot::Waiting(pending)) => {
                *pending = Some(reason);
                Delivery::Pending
            }
            None => Delivery::Lost,
        }
    }

    fn send(&self, call: u32, reason: CancelReason) -> bool {
        let cancellation = wit::Cancellation {
            call,
            reason: reason.into(),
        };
        self.cancellations
            .as_ref()
            .is_some_and(|tx| tx.send(cancellation).is_ok())
    }

    /// Stops tracking call `task` (its host side ended).
    pub(crate) fn remove(&mut self, task: GuestTaskId) {
        if let Some(Slot::Entered(number)) = self.slots.remove(&task) {
            self.numbers.remove(&number);
        }
    }

    /// Numbers call `task`, once; a cancellation that came first is sent
    /// right after (the guest registers the call under its number before
    /// its stream reader can see it).
    fn enter(&mut self, task: GuestTaskId) -> Option<u32> {
        let Some(Slot::Waiting(pending)) = self.slots.get(&task).copied() else {
            return None;
        };
        // Skip numbers still in use: after 2^32 calls the counter wraps
        // while a long call may still hold an old one.
        let mut number = self.next;
        while !self.numbers.insert(number) {
            number = number.wrapping_add(1);
        }
        self.next = number.wrapping_add(1);
        self.slots.insert(task, Slot::Entered(number));
        if let Some(reason) = pending {
            self.send(number, reason);
        }
        Some(number)
    }
}

/// The [`HasData`] marker of `aio:host/calls`.
pub(crate) struct CallsData;

impl HasData for CallsData {
    type Data<'a> = &'a mut CallSlots;
}

impl wit::Host for &mut CallSlots {}

impl<T> wit::HostWithStore<T> for CallsData {
    fn enter(mut store: Access<'_, T, Self>) -> wasmtime::Result<Option<u32>> {
        // No concurrent call stack (not inside `run_concurrent`): no call.
        let root = match store.as_context_mut().async_call_stack() {
            Ok(stack) => stack.last(),
            Err(_) => None,
        };
        Ok(root.and_then(|task| store.get().enter(task)))
    }

    fn cancellations(
        mut store: Access<'_, T, Self>,
    ) -> wasmtime::Result<StreamReader<wit::Cancellation>> {
        let (tx, rx) = mpsc::unbounded_channel();
        // Replacing the sender ends the stream given before.
        store.get().cancellations = Some(tx);
        StreamReader::new(&mut store, Cancellations(rx))
    }
}

/// The `cancellations` stream: what [`CallSlots::cancel`] sends.
struct Cancellations(mpsc::UnboundedReceiver<wit::Cancellation>);

/// At most this many cancellations per read.
const BATCH: usize = 64;

impl<D> StreamProducer<D> for Cancellations {
    type Item = wit::Cancellation;
    type Buffer = VecBuffer<wit::Cancellation>;

    fn poll_produce<'a>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut store: StoreContextMut<'a, D>,
        mut dst: Destination<'a, Self::Item, Self::Buffer>,
        finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        let rx = &mut self.get_mut().0;
        let room = dst.remaining(&mut store);
        if room == Some(0) {
            // A zero-length read (the SDK makes none): say ready, which a
            // producer may do without testing.
            return Poll::Ready(Ok(StreamResult::Completed));
        }
        let want = room.unwrap_or(1).min(BATCH);
        let mut got = Vec::new();
        while got.len() < want {
            match rx.poll_recv(cx) {
                Poll::Ready(Some(c)) => got.push(c),
                Poll::Ready(None) if got.is_empty() => {
                    return Poll::Ready(Ok(StreamResult::Dropped));
                }
                Poll::Ready(None) | Poll::Pending => break,
            }
        }
        if got.is_empty() {
            return answer(Poll::Pending, finish);
        }
        dst.set_buffer(VecBuffer::from(got));
        Poll::Ready(Ok(StreamResult::Completed))
    }
}

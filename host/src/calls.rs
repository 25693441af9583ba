//! `aio:host/calls`: how the host tells a plugin's export call that its
//! caller gave up on it (docs/design-plugins.md §4).
//!
//! wasmtime 48 cannot cancel a guest task the host started, so
//! cancellation is a protocol. Before a plugin call starts, the host
//! [registers](CallSlots::register) the call's guest task and keeps the
//! sending half of a one-shot channel. The SDK's first act in every export
//! call is the sync import `enter()`, which finds the call it was made in
//! (`async_call_stack().last()`: the root export task) and hands the guest
//! a `future<cancel-reason>` that resolves when the host sends. Anything
//! else (a second `enter` in the same call, the SDK's driver task, a
//! program's `wasi:cli/run`) gets `none`.
//!
//! Guest task ids are table slots, reused once a task is gone (spike S2):
//! the host [removes](CallSlots::remove) a call's slot when its host side
//! ends, so a later call never inherits it.
//!
//! ```ignore
//! let cancel = store.data_mut().calls.register(call.task());
//! // ... the guest calls `enter()` and awaits the future ...
//! let _ = cancel.send(CancelReason::Timeout); // the guest's future resolves
//! ```

use crate::bindings::aio::host::calls as wit;
use std::collections::HashMap;
use tokio::sync::oneshot;
use wasmtime::AsContextMut;
use wasmtime::component::{Access, FutureReader, GuestTaskId, HasData};

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

/// One registered call: the receiver `enter` hands to the guest (taken by
/// the first `enter`), and whether that happened.
#[derive(Debug)]
struct CallSlot {
    cancel: Option<oneshot::Receiver<CancelReason>>,
}

/// The calls of one store that the host tracks, by root guest task.
#[derive(Debug, Default)]
pub(crate) struct CallSlots {
    slots: HashMap<GuestTaskId, CallSlot>,
}

impl CallSlots {
    /// Tracks the call whose guest task is `task`; the returned sender
    /// resolves the guest's `enter` future.
    pub(crate) fn register(&mut self, task: GuestTaskId) -> oneshot::Sender<CancelReason> {
        let (tx, rx) = oneshot::channel();
        self.slots.insert(task, CallSlot { cancel: Some(rx) });
        tx
    }

    /// Whether the guest of call `task` called `enter` (and so will see a
    /// cancellation).
    pub(crate) fn entered(&self, task: GuestTaskId) -> bool {
        self.slots.get(&task).is_some_and(|s| s.cancel.is_none())
    }

    /// Stops tracking call `task` (its host side ended).
    pub(crate) fn remove(&mut self, task: GuestTaskId) {
        self.slots.remove(&task);
    }

    /// The receiver for `enter` in call `task`, once.
    fn enter(&mut self, task: GuestTaskId) -> Option<oneshot::Receiver<CancelReason>> {
        self.slots.get_mut(&task)?.cancel.take()
    }
}

/// The [`HasData`] marker of `aio:host/calls`.
pub(crate) struct CallsData;

impl HasData for CallsData {
    type Data<'a> = &'a mut CallSlots;
}

impl wit::Host for &mut CallSlots {}

impl<T> wit::HostWithStore<T> for CallsData {
    fn enter(
        mut store: Access<'_, T, Self>,
    ) -> wasmtime::Result<Option<FutureReader<wit::CancelReason>>> {
        // No concurrent call stack (not inside `run_concurrent`): no call.
        let root = match store.as_context_mut().async_call_stack() {
            Ok(stack) => stack.last(),
            Err(_) => None,
        };
        let Some(cancel) = root.and_then(|task| store.get().enter(task)) else {
            return Ok(None);
        };
        let future = FutureReader::new(&mut store, async move {
            match cancel.await {
                Ok(reason) => wasmtime::error::Ok(wit::CancelReason::from(reason)),
                // The host side ended without giving up: never resolves.
                Err(_) => std::future::pending().await,
            }
        })?;
        Ok(Some(future))
    }
}

//! The calls the host may cancel, by the number `aio:host/calls.enter`
//! gave them, and the reader of the host's `cancellations` stream.
//!
//! A call registers its task under its number while it waits
//! ([`Registration`]); a cancellation for a number no longer registered
//! (the call ended while the host gave up on it) is ignored. Tasks are
//! held weakly: the loop owns them.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};

use super::CancelReason;
use crate::runtime::task::TaskRun;

/// The instance's cancellable calls.
#[derive(Default)]
pub(crate) struct Cancels {
    calls: RefCell<BTreeMap<u32, Weak<dyn TaskRun>>>,
}

impl Cancels {
    /// Registers `task` as call `number` until the registration is dropped.
    pub(crate) fn register(self: &Rc<Self>, number: u32, task: &Rc<dyn TaskRun>) -> Registration {
        self.calls.borrow_mut().insert(number, Rc::downgrade(task));
        Registration {
            cancels: self.clone(),
            number,
        }
    }

    /// The host gave up on call `number`: cancel its task, as asyncio
    /// cancels one (a no-op once the call ended).
    // (Natively only the tests cancel: there is no host.)
    #[cfg_attr(not(all(target_arch = "wasm32", feature = "plugin")), allow(dead_code))]
    pub(crate) fn cancel(&self, number: u32, reason: CancelReason) {
        let task = self.calls.borrow().get(&number).and_then(Weak::upgrade);
        if let Some(task) = task {
            task.header()
                .request_cancel(Some(reason.message().to_owned()));
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.calls.borrow().len()
    }
}

/// A call's place in [`Cancels`], given up on drop.
pub(crate) struct Registration {
    cancels: Rc<Cancels>,
    number: u32,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.cancels.calls.borrow_mut().remove(&self.number);
    }
}

/// Reads the host's cancellations for as long as the stream lasts
/// (spawned beside the driver, in its component-model task, so the
/// stream's events come to the task that polls it).
#[cfg(all(target_arch = "wasm32", feature = "plugin"))]
pub(crate) async fn watch(cancels: Rc<Cancels>, watching: Rc<std::cell::Cell<bool>>) {
    use crate::bindings::aio::host::calls;
    use wit_bindgen::StreamResult;

    /// Clears `watching` however the watcher ends (a cancelled driver
    /// task drops it), so the next driver starts another.
    struct Clear(Rc<std::cell::Cell<bool>>);
    impl Drop for Clear {
        fn drop(&mut self) {
            self.0.set(false);
        }
    }
    let _clear = Clear(watching);
    let mut stream = calls::cancellations();
    loop {
        let (result, batch) = stream.read(Vec::with_capacity(16)).await;
        for c in batch {
            let reason = match c.reason {
                calls::CancelReason::Cancelled => CancelReason::Cancelled,
                calls::CancelReason::Timeout => CancelReason::Timeout,
            };
            cancels.cancel(c.call, reason);
        }
        if !matches!(result, StreamResult::Complete(_)) {
            // The host ended the stream (it gave a newer one).
            return;
        }
    }
}

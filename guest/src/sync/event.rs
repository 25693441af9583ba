//! [`Event`]: a flag that tasks wait for.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::waiters::{WaitQueue, WaiterKey};
use crate::debug::AwaitCheck;
use crate::errors::Result;
use crate::runtime::task::Awaiting;
use crate::runtime::{self};

#[derive(Debug, Default)]
struct State {
    set: bool,
    waiters: WaitQueue,
}

/// asyncio's `Event`; see the [module docs](super). Clones are the same
/// event.
#[derive(Clone, Default)]
pub struct Event {
    state: Rc<RefCell<State>>,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.borrow();
        write!(
            f,
            "<Event [{}, waiters:{}]>",
            if s.set { "set" } else { "unset" },
            s.waiters.len()
        )
    }
}

impl Event {
    /// A new event, not set.
    pub fn new() -> Event {
        Event::default()
    }

    /// True once set (until cleared).
    pub fn is_set(&self) -> bool {
        self.state.borrow().set
    }

    /// Sets the flag and wakes every waiter.
    pub fn set(&self) {
        let mut s = self.state.borrow_mut();
        if !s.set {
            s.set = true;
            s.waiters.notify_all();
        }
    }

    /// Clears the flag: later `wait`s block again. Waiters already woken by
    /// a `set` still return (as in asyncio).
    pub fn clear(&self) {
        self.state.borrow_mut().set = false;
    }

    /// Waits until the flag is set (at once if it is).
    pub fn wait(&self) -> EventWait<'_> {
        EventWait {
            event: self,
            key: None,
            check: AwaitCheck::new(),
        }
    }
}

/// The future of [`Event::wait`].
///
/// **Cancelled:** leaves the waiters and returns `Err(Cancelled)`.
/// **Dropped:** leaves the waiters. A `set` wakes every waiter at once, so
/// there is no wake-up to pass on.
#[must_use = "futures do nothing unless awaited"]
pub struct EventWait<'a> {
    event: &'a Event,
    key: Option<WaiterKey>,
    check: AwaitCheck,
}

impl EventWait<'_> {
    fn withdraw(&mut self) {
        if let Some(key) = self.key.take() {
            self.event.state.borrow_mut().waiters.remove(key);
        }
    }
}

impl Future for EventWait<'_> {
    type Output = Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.check.polled();
        if let Some(e) = runtime::take_cancel() {
            self.withdraw();
            return Poll::Ready(Err(e));
        }
        let this = &mut *self;
        let mut s = this.event.state.borrow_mut();
        match this.key {
            None if s.set => return Poll::Ready(Ok(())),
            None => this.key = Some(s.waiters.push_back(cx.waker())),
            Some(key) => {
                if s.waiters.poll(key, cx.waker()).is_ready() {
                    this.key = None;
                    return Poll::Ready(Ok(()));
                }
            }
        }
        runtime::set_awaiting(Awaiting::Event);
        Poll::Pending
    }
}

impl Drop for EventWait<'_> {
    fn drop(&mut self) {
        self.check.check("Event.wait()");
        self.withdraw();
    }
}

impl fmt::Debug for EventWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventWait")
            .field("queued", &self.key.is_some())
            .finish()
    }
}

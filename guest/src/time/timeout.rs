//! Timeouts: `asyncio.timeout`, `timeout_at` and `wait_for`.
//!
//! When the deadline passes, the task running the operation is cancelled
//! (cooperatively: the operation sees `Err(Cancelled)`, may clean up, even
//! with further awaits); when the operation then ends cancelled, the
//! cancellation is withdrawn (`uncancel`) and the result is `Err(Timeout)`.
//! If the operation swallows the cancellation and returns a value, that
//! value is the result. Nested timeouts work as in asyncio: each one only
//! turns its own cancellation into `Timeout` (it compares the task's
//! [`cancelling`](crate::TaskRef::cancelling) count with the count it saw
//! when it started), and a cancellation from outside stays a cancellation.
//!
//! ```no_run
//! # async fn demo() -> asyncio::Result<()> {
//! use std::time::Duration;
//! use asyncio::{sleep, timeout, Timeout};
//! let r = timeout(Duration::from_millis(10), sleep(Duration::from_secs(1))).await;
//! assert!(r.unwrap_err().is_timeout());
//!
//! // A handle lets the operation move its own deadline.
//! let cm = Timeout::after(Duration::from_millis(10));
//! let handle = cm.clone();
//! cm.run(async move {
//!     handle.reschedule(Some(asyncio::Instant::now() + Duration::from_secs(5)))?;
//!     sleep(Duration::from_millis(50)).await
//! })
//! .await?;
//! # Ok(()) }
//! ```
//!
//! **Dropping** a [`TimeoutFuture`] drops the operation and unschedules the
//! deadline. Timeouts must run inside a task.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::Instant;
use crate::errors::{Error, Result};
use crate::events::TimerHandle;
use crate::tasks::{TaskRef, current_task};

/// Runs `future` with a deadline `delay` from now (asyncio's
/// `async with timeout(delay)`).
pub fn timeout<F, T>(delay: Duration, future: F) -> TimeoutFuture<F>
where
    F: Future<Output = Result<T>>,
{
    Timeout::after(delay).run(future)
}

/// Runs `future` with the deadline `when` (`None`: no deadline).
pub fn timeout_at<F, T>(when: Option<Instant>, future: F) -> TimeoutFuture<F>
where
    F: Future<Output = Result<T>>,
{
    Timeout::at(when).run(future)
}

/// asyncio's `wait_for(aw, timeout)`: on expiry the operation is cancelled,
/// allowed to finish its cleanup, and then `Err(Timeout)` is returned.
pub fn wait_for<F, T>(delay: Duration, future: F) -> TimeoutFuture<F>
where
    F: Future<Output = Result<T>>,
{
    timeout(delay, future)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Created,
    Entered,
    Expiring,
    Expired,
    Exited,
}

/// A deadline that can be inspected and moved (asyncio's `Timeout` context
/// manager). Clones share the same deadline.
#[derive(Clone)]
pub struct Timeout {
    inner: Rc<Inner>,
}

struct Inner {
    when: Cell<Option<Instant>>,
    state: Cell<State>,
    task: RefCell<Option<TaskRef>>,
    cancelling: Cell<u32>,
    handle: RefCell<Option<TimerHandle>>,
}

impl std::fmt::Debug for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timeout")
            .field("when", &self.inner.when.get())
            .field("state", &self.inner.state.get())
            .finish()
    }
}

impl Timeout {
    /// A timeout at `when` (`None`: never), not yet running.
    pub fn at(when: Option<Instant>) -> Timeout {
        Timeout {
            inner: Rc::new(Inner {
                when: Cell::new(when),
                state: Cell::new(State::Created),
                task: RefCell::new(None),
                cancelling: Cell::new(0),
                handle: RefCell::new(None),
            }),
        }
    }

    /// A timeout `delay` from now.
    pub fn after(delay: Duration) -> Timeout {
        Timeout::at(Some(Instant::now() + delay))
    }

    /// The deadline (`None`: none).
    pub fn when(&self) -> Option<Instant> {
        self.inner.when.get()
    }

    /// True once the deadline passed and the operation was cancelled by it.
    pub fn expired(&self) -> bool {
        matches!(self.inner.state.get(), State::Expiring | State::Expired)
    }

    /// Moves the deadline (`None`: remove it). Only while running, and not
    /// once expired (asyncio raises `RuntimeError` then too).
    pub fn reschedule(&self, when: Option<Instant>) -> Result<()> {
        match self.inner.state.get() {
            State::Entered => {}
            State::Created => return Err(Error::runtime("Timeout has not been entered")),
            State::Expiring | State::Expired => {
                return Err(Error::runtime("cannot change state of an expired Timeout"));
            }
            State::Exited => {
                return Err(Error::runtime("cannot change state of a finished Timeout"));
            }
        }
        self.inner.when.set(when);
        if let Some(h) = self.inner.handle.borrow_mut().take() {
            h.cancel();
        }
        let Some(when) = when else {
            return Ok(());
        };
        let lp = crate::events::get_running_loop();
        let weak = Rc::downgrade(&self.inner);
        let on_timeout = move || {
            if let Some(inner) = weak.upgrade() {
                inner.handle.borrow_mut().take();
                if let Some(task) = inner.task.borrow().as_ref() {
                    task.cancel();
                }
                inner.state.set(State::Expiring);
            }
        };
        // A deadline already passed fires on the next loop iteration.
        let handle = lp.call_at(when, on_timeout);
        *self.inner.handle.borrow_mut() = Some(handle);
        Ok(())
    }

    /// Runs `future` under this timeout.
    pub fn run<F, T>(self, future: F) -> TimeoutFuture<F>
    where
        F: Future<Output = Result<T>>,
    {
        TimeoutFuture {
            timeout: self,
            future,
        }
    }

    fn enter(&self) -> Result<()> {
        if self.inner.state.get() != State::Created {
            return Err(Error::runtime("Timeout has already been entered"));
        }
        let Some(task) = current_task() else {
            return Err(Error::runtime("Timeout must be used inside a task"));
        };
        self.inner.cancelling.set(task.cancelling());
        *self.inner.task.borrow_mut() = Some(task);
        self.inner.state.set(State::Entered);
        self.reschedule(self.inner.when.get())
    }

    fn exit<T>(&self, result: Result<T>) -> Result<T> {
        if let Some(h) = self.inner.handle.borrow_mut().take() {
            h.cancel();
        }
        let task = self.inner.task.borrow_mut().take();
        if self.inner.state.get() == State::Expiring {
            self.inner.state.set(State::Expired);
            let remaining = task.map(|t| t.uncancel()).unwrap_or(0);
            if remaining <= self.inner.cancelling.get()
                && matches!(&result, Err(e) if e.is_cancelled())
            {
                return Err(Error::timeout());
            }
        } else {
            self.inner.state.set(State::Exited);
        }
        result
    }
}

pin_project_lite::pin_project! {
    /// The future of [`timeout`], [`timeout_at`], [`wait_for`] and
    /// [`Timeout::run`].
    #[must_use = "futures do nothing unless awaited"]
    pub struct TimeoutFuture<F> {
        timeout: Timeout,
        #[pin]
        future: F,
    }

    impl<F> PinnedDrop for TimeoutFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(h) = this.timeout.inner.handle.borrow_mut().take() {
                h.cancel();
            }
        }
    }
}

impl<F> TimeoutFuture<F> {
    /// The timeout handle (to reschedule or inspect it).
    pub fn handle(&self) -> Timeout {
        self.timeout.clone()
    }
}

impl<F, T> Future for TimeoutFuture<F>
where
    F: Future<Output = Result<T>>,
{
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let this = self.project();
        if this.timeout.inner.state.get() == State::Created
            && let Err(e) = this.timeout.enter()
        {
            return Poll::Ready(Err(e));
        }
        match this.future.poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(result) => Poll::Ready(this.timeout.exit(result)),
        }
    }
}

//! [`Future`]: asyncio's low-level awaitable, completed by hand.
//!
//! A `Future<T>` is a shared slot that some code completes
//! ([`set_result`](Future::set_result), [`set_exception`](Future::set_exception),
//! [`cancel`](Future::cancel)) and any number of tasks await. Clones are the
//! same future (like references to one Python object). Awaiting it gives a
//! clone of the result, so every awaiter sees it (`T: Clone`; for other types
//! use [`take_result`](Future::take_result) after [`done`](Future::done), or
//! wrap the value in an `Rc`).
//!
//! **Cancellation:** when the task awaiting a future is cancelled, the future
//! itself is cancelled (as in asyncio) and the awaiter gets
//! `Err(Cancelled)`. **Dropping** an awaiter is always safe and changes
//! nothing.
//!
//! ```no_run
//! # async fn demo() -> asyncio::Result<()> {
//! let fut = asyncio::Future::new();
//! let setter = fut.clone();
//! asyncio::get_running_loop().call_soon(move || { setter.set_result(7).ok(); });
//! assert_eq!(fut.await?, 7);
//! # Ok(()) }
//! ```

use std::cell::RefCell;
use std::fmt;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::errors::{Error, Result};
use crate::runtime::task::Awaiting;
use crate::runtime::{self};

enum Slot<T> {
    Pending,
    Value(Option<T>),
    Error(Error),
    Cancelled(Error),
}

type DoneCallback<T> = Box<dyn FnOnce(&Future<T>)>;

struct Inner<T> {
    slot: Slot<T>,
    waiters: Vec<Waker>,
    callbacks: Vec<DoneCallback<T>>,
}

/// asyncio's `Future`; see the [module docs](self).
pub struct Future<T> {
    inner: Rc<RefCell<Inner<T>>>,
}

impl<T> Clone for Future<T> {
    fn clone(&self) -> Self {
        Future {
            inner: self.inner.clone(),
        }
    }
}

impl<T: 'static> Default for Future<T> {
    fn default() -> Self {
        Future::new()
    }
}

impl<T> fmt::Debug for Future<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.inner.borrow().slot {
            Slot::Pending => "pending",
            Slot::Value(_) => "finished",
            Slot::Error(_) => "failed",
            Slot::Cancelled(_) => "cancelled",
        };
        write!(f, "<Future {state}>")
    }
}

impl<T: 'static> Future<T> {
    /// A new pending future (asyncio's `loop.create_future()`).
    pub fn new() -> Future<T> {
        Future {
            inner: Rc::new(RefCell::new(Inner {
                slot: Slot::Pending,
                waiters: Vec::new(),
                callbacks: Vec::new(),
            })),
        }
    }

    /// True once it has a result, an error, or was cancelled.
    pub fn done(&self) -> bool {
        !matches!(self.inner.borrow().slot, Slot::Pending)
    }

    /// True once it was cancelled.
    pub fn cancelled(&self) -> bool {
        matches!(self.inner.borrow().slot, Slot::Cancelled(_))
    }

    /// Completes it with a value; `Err(InvalidState)` (giving nothing back
    /// but the error) if it is already done.
    pub fn set_result(&self, value: T) -> Result<()> {
        self.complete(Slot::Value(Some(value)))
    }

    /// Completes it with an error.
    pub fn set_exception(&self, error: Error) -> Result<()> {
        self.complete(Slot::Error(error))
    }

    /// Cancels it; false if it was already done.
    pub fn cancel(&self) -> bool {
        self.cancel_inner(None)
    }

    /// Cancels it with a message.
    pub fn cancel_with(&self, message: impl Into<String>) -> bool {
        self.cancel_inner(Some(message.into()))
    }

    fn cancel_inner(&self, message: Option<String>) -> bool {
        self.complete(Slot::Cancelled(Error::cancelled(message)))
            .is_ok()
    }

    fn complete(&self, slot: Slot<T>) -> Result<()> {
        let (waiters, callbacks) = {
            let mut inner = self.inner.borrow_mut();
            if !matches!(inner.slot, Slot::Pending) {
                return Err(Error::invalid_state("the future is already done"));
            }
            inner.slot = slot;
            (
                std::mem::take(&mut inner.waiters),
                std::mem::take(&mut inner.callbacks),
            )
        };
        for w in waiters {
            w.wake();
        }
        if !callbacks.is_empty() {
            let lp = runtime::try_current_loop();
            for cb in callbacks {
                let fut = self.clone();
                match &lp {
                    Some(lp) => {
                        lp.call_soon(Box::new(move || cb(&fut)));
                    }
                    None => cb(&fut),
                }
            }
        }
        Ok(())
    }

    /// The error: `Ok(None)` with a value, `Ok(Some(e))` with an error,
    /// `Err(Cancelled)` if cancelled, `Err(InvalidState)` if pending.
    pub fn exception(&self) -> Result<Option<Error>> {
        match &self.inner.borrow().slot {
            Slot::Pending => Err(Error::invalid_state("exception is not set")),
            Slot::Value(_) => Ok(None),
            Slot::Error(e) => Ok(Some(e.clone())),
            Slot::Cancelled(e) => Err(e.clone()),
        }
    }

    /// The result, a clone of the value.
    pub fn result(&self) -> Result<T>
    where
        T: Clone,
    {
        self.outcome(|v| v.clone())
    }

    /// The result, moving the value out; later calls give `InvalidState`.
    pub fn take_result(&self) -> Result<T> {
        self.outcome(Option::take)
    }

    fn outcome(&self, get: impl FnOnce(&mut Option<T>) -> Option<T>) -> Result<T> {
        match &mut self.inner.borrow_mut().slot {
            Slot::Pending => Err(Error::invalid_state("result is not set")),
            Slot::Value(v) => {
                get(v).ok_or_else(|| Error::invalid_state("the result was already taken"))
            }
            Slot::Error(e) | Slot::Cancelled(e) => Err(e.clone()),
        }
    }

    /// Runs `callback` (with `call_soon`) once the future is done; at once
    /// (scheduled) if it already is.
    pub fn add_done_callback(&self, callback: impl FnOnce(&Future<T>) + 'static) {
        if self.done() {
            let fut = self.clone();
            match runtime::try_current_loop() {
                Some(lp) => {
                    lp.call_soon(Box::new(move || callback(&fut)));
                }
                None => callback(&fut),
            }
        } else {
            self.inner.borrow_mut().callbacks.push(Box::new(callback));
        }
    }

    fn poll_with(
        &self,
        cx: &mut Context<'_>,
        get: impl FnOnce(&Self) -> Result<T>,
    ) -> Poll<Result<T>> {
        if let Some(e) = runtime::take_cancel() {
            // asyncio: cancelling the awaiter cancels the future it awaits.
            self.cancel_inner(e.cancel_message().map(str::to_owned));
            return Poll::Ready(Err(e));
        }
        if self.done() {
            return Poll::Ready(get(self));
        }
        let mut inner = self.inner.borrow_mut();
        if !inner.waiters.iter().any(|w| w.will_wake(cx.waker())) {
            inner.waiters.push(cx.waker().clone());
        }
        runtime::set_awaiting(Awaiting::Future);
        Poll::Pending
    }
}

impl<T: Clone + 'static> std::future::Future for Future<T> {
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        self.poll_with(cx, Future::result)
    }
}

//! [`Semaphore`] and [`BoundedSemaphore`]: a counter of permits, FIFO-fair.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::waiters::{WaitQueue, WaiterKey};
use crate::debug::AwaitCheck;
use crate::errors::{Error, Result};
use crate::runtime::task::Awaiting;
use crate::runtime::{self};

#[derive(Debug)]
struct State {
    /// Free permits. Never above zero while anyone waits: a release with
    /// waiters hands its permit straight to the first one.
    value: usize,
    /// `BoundedSemaphore`: the initial value, which a release may not exceed.
    bound: Option<usize>,
    waiters: WaitQueue,
}

impl State {
    fn release(&mut self) {
        if !self.waiters.notify_one() {
            self.value += 1;
        }
    }
}

/// asyncio's `Semaphore`; see the [module docs](super). Clones are the same
/// semaphore.
///
/// `acquire().await?` gives a [`SemaphorePermit`] that releases on drop
/// (`async with sem:`); [`forget`](SemaphorePermit::forget) it and call
/// [`release`](Semaphore::release) for asyncio's manual style.
#[derive(Clone)]
pub struct Semaphore {
    state: Rc<RefCell<State>>,
}

/// asyncio's `BoundedSemaphore`: a [`Semaphore`] whose
/// [`release`](BoundedSemaphore::release) fails if it would raise the value
/// above the initial one. Clones are the same semaphore.
#[derive(Clone)]
pub struct BoundedSemaphore {
    sem: Semaphore,
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.borrow();
        write!(
            f,
            "<{}Semaphore [value:{}, waiters:{}]>",
            if s.bound.is_some() { "Bounded" } else { "" },
            s.value,
            s.waiters.len()
        )
    }
}

impl fmt::Debug for BoundedSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.sem, f)
    }
}

impl Semaphore {
    /// A semaphore with `value` permits.
    pub fn new(value: usize) -> Semaphore {
        Semaphore::with_bound(value, None)
    }

    fn with_bound(value: usize, bound: Option<usize>) -> Semaphore {
        Semaphore {
            state: Rc::new(RefCell::new(State {
                value,
                bound,
                waiters: WaitQueue::new(),
            })),
        }
    }

    /// True if `acquire` would wait (no free permit).
    pub fn locked(&self) -> bool {
        self.state.borrow().value == 0
    }

    /// The number of free permits (asyncio's `_value`).
    pub fn value(&self) -> usize {
        self.state.borrow().value
    }

    /// Waits for a permit, in arrival order. See [`SemaphoreAcquire`].
    pub fn acquire(&self) -> SemaphoreAcquire<'_> {
        SemaphoreAcquire {
            sem: self,
            key: None,
            check: AwaitCheck::new(),
        }
    }

    /// Takes a permit if one is free now.
    #[must_use = "dropping the SemaphorePermit releases it at once: bind it (`let Some(_permit) = ...`)"]
    pub fn try_acquire(&self) -> Option<SemaphorePermit> {
        let mut s = self.state.borrow_mut();
        if s.value == 0 {
            return None;
        }
        s.value -= 1;
        Some(SemaphorePermit {
            sem: self.clone(),
            armed: true,
        })
    }

    /// Adds a permit (handing it to the first waiter, if any): asyncio's
    /// `sem.release()`, for a permit taken with
    /// [`forget`](SemaphorePermit::forget) (or none at all). A plain
    /// `Semaphore` may go above its initial value, as in asyncio; a
    /// [`BoundedSemaphore`] refuses with [`ErrorKind::Value`](crate::ErrorKind::Value).
    pub fn release(&self) -> Result<()> {
        let mut s = self.state.borrow_mut();
        if let Some(bound) = s.bound
            && s.value >= bound
        {
            return Err(Error::value("BoundedSemaphore released too many times"));
        }
        s.release();
        Ok(())
    }
}

impl BoundedSemaphore {
    /// A semaphore with `value` permits that never holds more.
    pub fn new(value: usize) -> BoundedSemaphore {
        BoundedSemaphore {
            sem: Semaphore::with_bound(value, Some(value)),
        }
    }

    /// Adds a permit; `Err` of kind [`ErrorKind::Value`](crate::ErrorKind::Value) (asyncio's
    /// `ValueError`) if that would exceed the initial value, and then
    /// nothing changes.
    pub fn release(&self) -> Result<()> {
        self.sem.release()
    }
}

impl std::ops::Deref for BoundedSemaphore {
    type Target = Semaphore;
    fn deref(&self) -> &Semaphore {
        &self.sem
    }
}

/// A permit of a [`Semaphore`], given back when dropped.
///
/// Dropping it (or [`release`](Self::release)) is asyncio's `sem.release()`
/// after an `acquire`. A permit left unused (`sem.acquire().await?;`)
/// would be given back at the end of the statement, so the compiler warns
/// about it: bind it (`let _permit = ...`), or [`forget`](Self::forget) it
/// and call [`Semaphore::release`] later, asyncio's manual style.
#[must_use = "dropping a SemaphorePermit releases it at once: bind it (`let _permit = ...`), or `forget()` it and call `Semaphore::release` later"]
pub struct SemaphorePermit {
    sem: Semaphore,
    armed: bool,
}

impl SemaphorePermit {
    /// Gives the permit back now (asyncio's `sem.release()`; the same as
    /// dropping it): the first waiter gets it, or the value goes up by one.
    /// It never exceeds a [`BoundedSemaphore`]'s bound: the permit was
    /// taken from it.
    pub fn release(self) {}

    /// Keeps the permit taken for good (the semaphore's value stays one
    /// lower until someone calls [`Semaphore::release`]).
    pub fn forget(mut self) {
        self.armed = false;
    }

    /// The semaphore the permit came from.
    pub fn semaphore(&self) -> &Semaphore {
        &self.sem
    }
}

impl Drop for SemaphorePermit {
    fn drop(&mut self) {
        if self.armed {
            self.sem.state.borrow_mut().release();
        }
    }
}

impl fmt::Debug for SemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit").finish_non_exhaustive()
    }
}

/// The future of [`Semaphore::acquire`].
///
/// A free permit is taken at once (a free permit means nobody waits);
/// otherwise the waiter queues, FIFO, and a release hands its permit to the
/// first waiter.
///
/// **Cancelled:** leaves the queue and returns `Err(Cancelled)`; a permit
/// already handed to it is passed on to the next waiter (or back to the
/// counter), so no permit leaks. **Dropped:** the same, without the error.
#[must_use = "futures do nothing unless awaited"]
pub struct SemaphoreAcquire<'a> {
    sem: &'a Semaphore,
    key: Option<WaiterKey>,
    check: AwaitCheck,
}

impl SemaphoreAcquire<'_> {
    fn withdraw(&mut self) {
        if let Some(key) = self.key.take() {
            let mut s = self.sem.state.borrow_mut();
            if s.waiters.remove(key) {
                s.release();
            }
        }
    }
}

impl Future for SemaphoreAcquire<'_> {
    type Output = Result<SemaphorePermit>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<SemaphorePermit>> {
        self.check.polled();
        if let Some(e) = runtime::take_cancel() {
            self.withdraw();
            return Poll::Ready(Err(e));
        }
        let this = &mut *self;
        let mut s = this.sem.state.borrow_mut();
        let granted = match this.key {
            None if s.value > 0 => {
                s.value -= 1;
                true
            }
            None => {
                this.key = Some(s.waiters.push_back(cx.waker()));
                false
            }
            Some(key) => s.waiters.poll(key, cx.waker()).is_ready(),
        };
        drop(s);
        if granted {
            this.key = None;
            return Poll::Ready(Ok(SemaphorePermit {
                sem: this.sem.clone(),
                armed: true,
            }));
        }
        runtime::set_awaiting(Awaiting::Semaphore);
        Poll::Pending
    }
}

impl Drop for SemaphoreAcquire<'_> {
    fn drop(&mut self) {
        self.check.check("Semaphore.acquire()");
        self.withdraw();
    }
}

impl fmt::Debug for SemaphoreAcquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphoreAcquire")
            .field("queued", &self.key.is_some())
            .finish()
    }
}

//! [`Lock`]: asyncio's mutual-exclusion lock, FIFO-fair.

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
pub(crate) struct LockState {
    /// Held by someone, or handed to a notified waiter that has not run yet.
    pub(crate) locked: bool,
    pub(crate) waiters: WaitQueue,
}

impl LockState {
    /// Releases: hands the lock straight to the first waiter (it stays
    /// locked), or unlocks if nobody waits.
    pub(crate) fn release(&mut self) {
        if !self.waiters.notify_one() {
            self.locked = false;
        }
    }
}

/// asyncio's `Lock`; see the [module docs](super). Clones are the same lock.
///
/// `acquire().await?` gives a [`LockGuard`]; the lock is released when the
/// guard is dropped (or [`LockGuard::release`]d), which plays the role of
/// `async with lock:`.
#[derive(Clone, Default)]
pub struct Lock {
    pub(crate) state: Rc<RefCell<LockState>>,
}

impl fmt::Debug for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.borrow();
        write!(
            f,
            "<Lock [{}, waiters:{}]>",
            if s.locked { "locked" } else { "unlocked" },
            s.waiters.len()
        )
    }
}

impl Lock {
    /// A new, unlocked lock.
    pub fn new() -> Lock {
        Lock::default()
    }

    /// True while the lock is held (or handed to a waiter about to run).
    pub fn locked(&self) -> bool {
        self.state.borrow().locked
    }

    /// Waits for the lock, in arrival order. See [`LockAcquire`] for
    /// cancellation and drop.
    pub fn acquire(&self) -> LockAcquire<'_> {
        LockAcquire {
            lock: self,
            key: None,
            check: AwaitCheck::new(),
        }
    }

    /// Takes the lock if it is free now (no waiting): `None` if it is held.
    #[must_use = "dropping the LockGuard releases the lock at once: bind it (`let Some(_guard) = ...`)"]
    pub fn try_acquire(&self) -> Option<LockGuard> {
        let mut s = self.state.borrow_mut();
        if s.locked {
            return None;
        }
        s.locked = true;
        Some(LockGuard::new(self.clone()))
    }

    pub(crate) fn same_as(&self, other: &Lock) -> bool {
        Rc::ptr_eq(&self.state, &other.state)
    }
}

/// Holds a [`Lock`] until dropped; owns a handle to it, so it can move to
/// another task (asyncio lets any task release a lock).
///
/// Dropping it is asyncio's `lock.release()`; [`release`](Self::release)
/// says so explicitly. A guard left unused (`lock.acquire().await?;`)
/// would release the lock at the end of the statement, so the compiler
/// warns about it: bind it, `let _guard = lock.acquire().await?;` (not
/// `let _ = ...`, which drops it at once too).
#[must_use = "dropping a LockGuard releases the lock at once: bind it (`let _guard = ...`) to hold the lock"]
pub struct LockGuard {
    pub(crate) lock: Lock,
    /// False while a `Condition::wait` has let the lock go (and for good if
    /// that wait was dropped before getting the lock back).
    pub(crate) held: bool,
}

impl LockGuard {
    pub(crate) fn new(lock: Lock) -> LockGuard {
        LockGuard { lock, held: true }
    }

    /// Releases the lock now (asyncio's `lock.release()`; the same as
    /// dropping the guard). asyncio's `RuntimeError` for releasing an
    /// unlocked lock cannot happen: the guard is consumed, and one that
    /// holds nothing ([`is_held`](Self::is_held) false) releases nothing.
    pub fn release(self) {}

    /// The lock this guard holds.
    pub fn lock(&self) -> &Lock {
        &self.lock
    }

    /// False only after a [`Condition::wait`](super::Condition::wait) on it
    /// was dropped before it got the lock back (the guard then holds
    /// nothing, and dropping it releases nothing).
    pub fn is_held(&self) -> bool {
        self.held
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if self.held {
            self.lock.state.borrow_mut().release();
        }
    }
}

impl fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard")
            .field("held", &self.held)
            .finish()
    }
}

/// The future of [`Lock::acquire`].
///
/// The lock is taken at once only if it is free (and then nobody waits);
/// otherwise the waiter queues behind the others, FIFO, and a release hands
/// the lock straight to the first one.
///
/// **Cancelled** (its task's `cancel()`): it leaves the queue and returns
/// `Err(Cancelled)` without the lock; if the lock had already been handed
/// to it, it is passed on to the next waiter. **Dropped**: the same, without
/// the error. Cancel-safe: no lock is ever lost or kept.
#[must_use = "futures do nothing unless awaited"]
pub struct LockAcquire<'a> {
    lock: &'a Lock,
    key: Option<WaiterKey>,
    check: AwaitCheck,
}

impl LockAcquire<'_> {
    fn withdraw(&mut self) {
        if let Some(key) = self.key.take() {
            let mut s = self.lock.state.borrow_mut();
            if s.waiters.remove(key) {
                // It was handed the lock: pass it on.
                s.release();
            }
        }
    }
}

impl Future for LockAcquire<'_> {
    type Output = Result<LockGuard>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<LockGuard>> {
        self.check.polled();
        if let Some(e) = runtime::take_cancel() {
            self.withdraw();
            return Poll::Ready(Err(e));
        }
        let this = &mut *self;
        let mut s = this.lock.state.borrow_mut();
        match this.key {
            None if !s.locked => {
                s.locked = true;
                drop(s);
                return Poll::Ready(Ok(LockGuard::new(this.lock.clone())));
            }
            None => this.key = Some(s.waiters.push_back(cx.waker())),
            Some(key) => {
                if s.waiters.poll(key, cx.waker()).is_ready() {
                    this.key = None;
                    drop(s);
                    return Poll::Ready(Ok(LockGuard::new(this.lock.clone())));
                }
            }
        }
        runtime::set_awaiting(Awaiting::Lock);
        Poll::Pending
    }
}

impl Drop for LockAcquire<'_> {
    fn drop(&mut self) {
        self.check.check("Lock.acquire()");
        self.withdraw();
    }
}

impl fmt::Debug for LockAcquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockAcquire")
            .field("queued", &self.key.is_some())
            .finish()
    }
}

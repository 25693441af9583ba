//! [`Condition`]: wait for a notification while holding a lock.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::lock::{Lock, LockAcquire, LockGuard};
use super::waiters::{WaitQueue, WaiterKey};
use crate::debug::AwaitCheck;
use crate::errors::{Error, Result};
use crate::runtime::task::Awaiting;
use crate::runtime::{self};

/// asyncio's `Condition`; see the [module docs](super). Clones are the same
/// condition.
///
/// ```no_run
/// # async fn demo(cond: asyncio::sync::Condition, ready: std::rc::Rc<std::cell::Cell<bool>>) -> asyncio::Result<()> {
/// let mut guard = cond.acquire().await?;
/// cond.wait_for(&mut guard, || ready.get()).await?;
/// // the lock is held again here; it is released when `guard` drops
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct Condition {
    lock: Lock,
    waiters: Rc<RefCell<WaitQueue>>,
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<Condition [{}, waiters:{}]>",
            if self.locked() { "locked" } else { "unlocked" },
            self.waiters.borrow().len()
        )
    }
}

impl Condition {
    /// A condition with a lock of its own.
    pub fn new() -> Condition {
        Condition::default()
    }

    /// A condition over an existing lock (asyncio's `Condition(lock)`).
    pub fn with_lock(lock: Lock) -> Condition {
        Condition {
            lock,
            waiters: Rc::default(),
        }
    }

    /// The underlying lock.
    pub fn lock(&self) -> &Lock {
        &self.lock
    }

    /// Acquires the underlying lock (`async with cond:`).
    pub fn acquire(&self) -> LockAcquire<'_> {
        self.lock.acquire()
    }

    /// True while the underlying lock is held.
    pub fn locked(&self) -> bool {
        self.lock.locked()
    }

    /// Releases the lock held by `guard`, waits for a notification, and
    /// takes the lock back before returning, even when cancelled. See
    /// [`ConditionWait`].
    pub fn wait<'a>(&'a self, guard: &'a mut LockGuard) -> ConditionWait<'a> {
        ConditionWait {
            cond: self,
            guard,
            state: WaitState::Start,
            check: AwaitCheck::new(),
        }
    }

    /// Waits until `predicate` is true: checks it, and after every
    /// notification checks it again (with the lock held). See
    /// [`ConditionWaitFor`].
    pub fn wait_for<'a, P: FnMut() -> bool>(
        &'a self,
        guard: &'a mut LockGuard,
        predicate: P,
    ) -> ConditionWaitFor<'a, P> {
        ConditionWaitFor {
            cond: self,
            guard,
            predicate,
            state: None,
            check: AwaitCheck::new(),
        }
    }

    /// Wakes up to `n` waiters (in the order they started waiting).
    /// `Err(Runtime)` if the lock is not held, as in asyncio.
    pub fn notify(&self, n: usize) -> Result<()> {
        if !self.locked() {
            return Err(Error::runtime("cannot notify on un-acquired lock"));
        }
        self.waiters.borrow_mut().notify(n);
        Ok(())
    }

    /// Wakes every waiter. `Err(Runtime)` if the lock is not held.
    pub fn notify_all(&self) -> Result<()> {
        self.notify(usize::MAX)
    }
}

/// Where one wait is.
#[derive(Debug)]
enum WaitState {
    Start,
    /// Released the lock; waiting for a notification.
    Waiting(WaiterKey),
    /// Taking the lock back; `error` is a cancellation to give after that.
    Acquiring {
        key: Option<WaiterKey>,
        notified: bool,
        error: Option<Error>,
    },
    Done,
}

impl WaitState {
    fn poll(
        &mut self,
        cond: &Condition,
        guard: &mut LockGuard,
        cx: &mut Context<'_>,
    ) -> Poll<Result<()>> {
        loop {
            match self {
                WaitState::Start => {
                    if !guard.held || !guard.lock.same_as(&cond.lock) {
                        *self = WaitState::Done;
                        return Poll::Ready(Err(Error::runtime("cannot wait on un-acquired lock")));
                    }
                    if let Some(e) = runtime::take_cancel() {
                        *self = WaitState::Done;
                        return Poll::Ready(Err(e));
                    }
                    guard.held = false;
                    cond.lock.state.borrow_mut().release();
                    *self = WaitState::Waiting(cond.waiters.borrow_mut().push_back(cx.waker()));
                    runtime::set_awaiting(Awaiting::Condition);
                    return Poll::Pending;
                }
                WaitState::Waiting(key) => {
                    let key = *key;
                    if let Some(e) = runtime::take_cancel() {
                        let notified = cond.waiters.borrow_mut().remove(key);
                        *self = WaitState::Acquiring {
                            key: None,
                            notified,
                            error: Some(e),
                        };
                        continue;
                    }
                    if cond.waiters.borrow_mut().poll(key, cx.waker()).is_pending() {
                        runtime::set_awaiting(Awaiting::Condition);
                        return Poll::Pending;
                    }
                    *self = WaitState::Acquiring {
                        key: None,
                        notified: true,
                        error: None,
                    };
                }
                WaitState::Acquiring {
                    key,
                    notified,
                    error,
                } => {
                    // asyncio re-acquires the lock even when cancelled
                    // meanwhile, and then raises the latest cancellation.
                    if let Some(e) = runtime::take_cancel() {
                        *error = Some(e);
                    }
                    let mut lock = cond.lock.state.borrow_mut();
                    let acquired = match key {
                        None if !lock.locked => {
                            lock.locked = true;
                            true
                        }
                        None => {
                            *key = Some(lock.waiters.push_back(cx.waker()));
                            false
                        }
                        Some(k) => lock.waiters.poll(*k, cx.waker()).is_ready(),
                    };
                    drop(lock);
                    if !acquired {
                        runtime::set_awaiting(Awaiting::Lock);
                        return Poll::Pending;
                    }
                    guard.held = true;
                    let (notified, error) = (*notified, error.take());
                    *self = WaitState::Done;
                    return Poll::Ready(match error {
                        Some(e) => {
                            if notified {
                                // Woken, but it will not act on it: pass the
                                // notification on.
                                cond.waiters.borrow_mut().notify(1);
                            }
                            Err(e)
                        }
                        None => Ok(()),
                    });
                }
                WaitState::Done => {
                    return Poll::Ready(Err(Error::invalid_state(
                        "Condition.wait() polled after it finished",
                    )));
                }
            }
        }
    }

    /// The wait is dropped mid-flight: withdraw, pass on a notification it
    /// will never act on, and keep the lock if it was already handed over.
    fn abandon(&mut self, cond: &Condition, guard: &mut LockGuard) {
        match std::mem::replace(self, WaitState::Done) {
            WaitState::Waiting(key) => {
                let mut waiters = cond.waiters.borrow_mut();
                if waiters.remove(key) {
                    waiters.notify(1);
                }
            }
            WaitState::Acquiring {
                key: Some(key),
                notified,
                ..
            } => {
                if cond.lock.state.borrow_mut().waiters.remove(key) {
                    guard.held = true;
                }
                if notified {
                    cond.waiters.borrow_mut().notify(1);
                }
            }
            _ => {}
        }
    }
}

/// The future of [`Condition::wait`].
///
/// **Cancelled** while waiting: it leaves the waiters, takes the lock back
/// (waiting for it if need be, as asyncio does), and then returns
/// `Err(Cancelled)` with the guard holding the lock again; a notification it
/// had already received is passed on to the next waiter.
///
/// **Dropped** mid-flight: it leaves the waiters and passes on a
/// notification it had received; it cannot wait for the lock, so the guard
/// then holds nothing ([`LockGuard::is_held`] is false and dropping it
/// releases nothing), unless the lock had already been handed back to it.
#[must_use = "futures do nothing unless awaited"]
pub struct ConditionWait<'a> {
    cond: &'a Condition,
    guard: &'a mut LockGuard,
    state: WaitState,
    check: AwaitCheck,
}

impl Future for ConditionWait<'_> {
    type Output = Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = &mut *self;
        this.check.polled();
        this.state.poll(this.cond, this.guard, cx)
    }
}

impl Drop for ConditionWait<'_> {
    fn drop(&mut self) {
        self.check.check("Condition.wait()");
        self.state.abandon(self.cond, self.guard);
    }
}

impl fmt::Debug for ConditionWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConditionWait")
            .field("state", &self.state)
            .finish()
    }
}

/// The future of [`Condition::wait_for`]: [`ConditionWait`]s until the
/// predicate holds; cancellation and drop as there.
#[must_use = "futures do nothing unless awaited"]
pub struct ConditionWaitFor<'a, P> {
    cond: &'a Condition,
    guard: &'a mut LockGuard,
    predicate: P,
    state: Option<WaitState>,
    check: AwaitCheck,
}

impl<P: FnMut() -> bool> Future for ConditionWaitFor<'_, P> {
    type Output = Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = &mut *self;
        this.check.polled();
        loop {
            let state = match &mut this.state {
                Some(state) => state,
                None => {
                    if !this.guard.held || !this.guard.lock.same_as(&this.cond.lock) {
                        return Poll::Ready(Err(Error::runtime("cannot wait on un-acquired lock")));
                    }
                    if let Some(e) = runtime::take_cancel() {
                        return Poll::Ready(Err(e));
                    }
                    if (this.predicate)() {
                        return Poll::Ready(Ok(()));
                    }
                    this.state.insert(WaitState::Start)
                }
            };
            match state.poll(this.cond, this.guard, cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => {
                    this.state = None;
                    return Poll::Ready(Err(e));
                }
                Poll::Ready(Ok(())) => this.state = None,
            }
        }
    }
}

// Nothing is structurally pinned: the predicate is only called by `&mut`.
impl<P> Unpin for ConditionWaitFor<'_, P> {}

impl<P> Drop for ConditionWaitFor<'_, P> {
    fn drop(&mut self) {
        self.check.check("Condition.wait_for()");
        if let Some(state) = &mut self.state {
            state.abandon(self.cond, self.guard);
        }
    }
}

impl<P> fmt::Debug for ConditionWaitFor<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConditionWaitFor")
            .field("state", &self.state)
            .finish()
    }
}

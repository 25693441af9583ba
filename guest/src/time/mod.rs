//! Sleeping and the loop's clock: [`sleep`], [`sleep_until`],
//! [`yield_now`], [`Instant`], and timeouts ([`timeout`], [`timeout_at`],
//! [`wait_for`], [`Timeout`]).
//!
//! Deadlines are kept in the loop's timer heap, in the guest; the host waits
//! only for the earliest one. Timers due at the same moment fire in the order
//! they were scheduled.
//!
//! **Cancellation:** a [`Sleep`] that sees its task's cancellation returns
//! `Err(Cancelled)` and removes its timer. **Dropping** a `Sleep` removes its
//! timer too; it is always safe to drop.

mod timeout;

pub use timeout::{Timeout, TimeoutFuture, timeout, timeout_at, wait_for};

use std::future::Future;
use std::ops::{Add, AddAssign, Sub};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::debug::AwaitCheck;
use crate::errors::Result;
use crate::runtime::slab::Key;
use crate::runtime::task::Awaiting;
use crate::runtime::timers::{Action, Entry};
use crate::runtime::{self, LoopInner};

/// A point in time on the loop's monotonic clock (asyncio's `loop.time()`),
/// with nanosecond resolution. Only differences mean anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(pub(crate) u64);

impl Instant {
    /// Now, on the running loop's clock (the host's monotonic clock outside
    /// a loop).
    pub fn now() -> Instant {
        match runtime::try_current_loop() {
            Some(lp) => Instant(lp.clock.now()),
            None => Instant(runtime::clock::host_now()),
        }
    }

    /// The time since `earlier` (zero if `earlier` is later).
    pub fn duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// The time since this instant.
    pub fn elapsed(self) -> Duration {
        Instant::now().duration_since(self)
    }

    /// Seconds on the clock's scale, as Python's `loop.time()` gives them.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// `self + d`, saturating at the end of time.
    pub fn saturating_add(self, d: Duration) -> Instant {
        Instant(
            self.0
                .saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        )
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        self.saturating_add(d)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, d: Duration) -> Instant {
        Instant(
            self.0
                .saturating_sub(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        )
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.duration_since(earlier)
    }
}

/// Suspends the task for `delay` (asyncio's `sleep`). `sleep(ZERO)` yields
/// once, like `asyncio.sleep(0)`.
///
/// Panics outside a running loop.
#[track_caller]
pub fn sleep(delay: Duration) -> Sleep {
    let lp = runtime::current_loop("sleep");
    if delay.is_zero() {
        return Sleep::new(lp, None);
    }
    let deadline = Instant(lp.clock.now()) + delay;
    Sleep::new(lp, Some(deadline))
}

/// Suspends the task until `deadline`.
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    let lp = runtime::current_loop("sleep_until");
    Sleep::new(lp, Some(deadline))
}

/// Yields to the other ready tasks and callbacks once (`asyncio.sleep(0)`).
#[track_caller]
pub fn yield_now() -> Sleep {
    sleep(Duration::ZERO)
}

/// A timer for an awaitable's own deadline (`wait`, `as_completed`): it
/// may be dropped unpolled without being reported as never awaited.
pub(crate) fn internal_timer(delay: Duration) -> Sleep {
    let mut s = sleep(delay);
    s.check.polled();
    s
}

/// The future of [`sleep`], [`sleep_until`] and [`yield_now`].
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    lp: Rc<LoopInner>,
    /// `None`: a bare yield.
    deadline: Option<Instant>,
    timer: Option<Key>,
    yielded: bool,
    check: AwaitCheck,
}

impl std::fmt::Debug for Sleep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl Sleep {
    fn new(lp: Rc<LoopInner>, deadline: Option<Instant>) -> Sleep {
        Sleep {
            lp,
            deadline,
            timer: None,
            yielded: false,
            check: AwaitCheck::new(),
        }
    }

    /// When it ends (`None` for a bare yield).
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Polls the timer without looking at cancellation (for awaitables that
    /// use a sleep as their own timeout). True once the deadline passed.
    pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.check.polled();
        let Some(deadline) = self.deadline else {
            return true;
        };
        let mut timers = self.lp.timers.borrow_mut();
        match self.timer {
            None => {
                let key = timers.insert(
                    deadline.0,
                    Action::Wake {
                        waker: Some(cx.waker().clone()),
                        fired: false,
                    },
                );
                self.timer = Some(key);
                false
            }
            Some(key) => match timers.get_mut(key) {
                Some(Entry {
                    action: Action::Wake { fired: true, .. },
                    ..
                })
                | None => true,
                Some(Entry {
                    action: Action::Wake { waker, .. },
                    ..
                }) => {
                    match waker {
                        Some(w) if w.will_wake(cx.waker()) => {}
                        _ => *waker = Some(cx.waker().clone()),
                    }
                    false
                }
                Some(_) => true,
            },
        }
    }

    fn release(&mut self) {
        if let Some(key) = self.timer.take() {
            self.lp.timers.borrow_mut().remove(key);
        }
    }
}

impl Future for Sleep {
    type Output = Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.check.polled();
        if let Some(e) = runtime::take_cancel() {
            self.release();
            return Poll::Ready(Err(e));
        }
        match self.deadline {
            None => {
                if self.yielded {
                    return Poll::Ready(Ok(()));
                }
                self.yielded = true;
                cx.waker().wake_by_ref();
                runtime::set_awaiting(Awaiting::Yield);
                Poll::Pending
            }
            Some(deadline) => {
                if self.poll_expired(cx) {
                    self.release();
                    return Poll::Ready(Ok(()));
                }
                runtime::set_awaiting(Awaiting::Sleep { until: deadline.0 });
                Poll::Pending
            }
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.check.check("sleep()");
        self.release();
    }
}

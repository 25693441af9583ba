//! Synchronization primitives (asyncio's "Synchronization Primitives"):
//! [`Lock`], [`Event`], [`Condition`], [`Semaphore`], [`BoundedSemaphore`],
//! [`Barrier`].
//!
//! Use them to coordinate tasks of one loop; they are not thread-safe, and
//! need not be (a guest has one thread). Choose:
//!
//! - [`Lock`]: one task at a time in a critical section that awaits.
//! - [`Semaphore`]: at most N at a time (a connection pool, a worker limit);
//!   [`BoundedSemaphore`] also catches a release too many.
//! - [`Event`]: many tasks wait until something happened, once.
//! - [`Condition`]: tasks wait for a state change that others announce,
//!   under a lock (producer/consumer with a predicate).
//! - [`Barrier`]: N tasks wait for each other, then all go on.
//! - For handing values between tasks, see [`queues`](crate::queues).
//!
//! ```no_run
//! # async fn demo() -> asyncio::Result<()> {
//! use asyncio::sync::Semaphore;
//! let limit = Semaphore::new(10);
//! let _permit = limit.acquire().await?; // released when dropped
//! # Ok(()) }
//! ```
//!
//! **Fairness** is asyncio's: waiters are served in arrival order, and an
//! acquire takes a free lock or permit at once only when nobody waits (a
//! release hands the lock or permit straight to the first waiter). All the
//! primitives (and the queues) are built on one waiter queue, so fairness
//! and cancellation are right in one place.
//!
//! **Cancellation:** each awaitable returns `Err(Cancelled)` when its task
//! is cancelled, after leaving the queue; a waiter cancelled (or dropped)
//! after it was woken passes its wake-up on, so no permit, lock or
//! notification is lost. Each future type documents the details.
//!
//! **Guards:** [`LockGuard`] and [`SemaphorePermit`] release on drop, which
//! plays the role of `async with`; `release()` on them is asyncio's
//! explicit `release()`. Both are `#[must_use]`: `lock.acquire().await?;`
//! would release the lock at the end of the statement, so the compiler
//! warns. Keep the guard in a named binding (`let _guard = ...`; `let _ =`
//! drops it at once).

mod barrier;
mod condition;
mod event;
mod lock;
mod semaphore;
pub(crate) mod waiters;

pub use barrier::{Barrier, BarrierWait};
pub use condition::{Condition, ConditionWait, ConditionWaitFor};
pub use event::{Event, EventWait};
pub use lock::{Lock, LockAcquire, LockGuard};
pub use semaphore::{BoundedSemaphore, Semaphore, SemaphoreAcquire, SemaphorePermit};

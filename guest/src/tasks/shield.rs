//! `shield`: protect an operation from the cancellation of its awaiter.
//!
//! The future runs as its own task. If the task awaiting the shield is
//! cancelled, the shield returns `Err(Cancelled)` at once while the inner
//! task keeps running to completion. If the inner task itself is cancelled
//! (from elsewhere), the shield returns its `Err(Cancelled)` too, as asyncio.
//!
//! ```no_run
//! # async fn save() -> asyncio::Result<()> { Ok(()) }
//! # async fn demo() -> asyncio::Result<()> {
//! // Even if this task is cancelled, `save()` runs to the end.
//! asyncio::shield(save()).await?;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{Task, create_task};
use crate::errors::Result;
use crate::runtime::task::Awaiting;
use crate::runtime::{self};

/// Runs `future` as a task that the awaiter's cancellation does not reach.
pub fn shield<F, T>(future: F) -> Shield<T>
where
    F: Future<Output = Result<T>> + 'static,
    T: 'static,
{
    let task = create_task(future);
    // asyncio: the inner task is awaited by the task that shields it.
    task.set_awaiter(super::current_task_id());
    Shield { task }
}

/// The future of [`shield`].
#[must_use = "futures do nothing unless awaited (the task runs regardless)"]
pub struct Shield<T> {
    task: Task<T>,
}

impl<T> Shield<T> {
    /// The shielded task (to await it later, or to cancel it on purpose).
    pub fn into_task(self) -> Task<T> {
        self.task.set_awaiter(0);
        self.task
    }
}

impl<T> Future for Shield<T> {
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        if let Some(e) = runtime::take_cancel() {
            // The await is over; the task runs on, awaited by nobody.
            self.task.set_awaiter(0);
            return Poll::Ready(Err(e));
        }
        let h = self.task.cell.header();
        if h.done() {
            return Poll::Ready(self.task.take_result());
        }
        h.add_waker(cx.waker());
        runtime::set_awaiting(Awaiting::Shield { id: h.id });
        Poll::Pending
    }
}

impl<T> std::fmt::Debug for Shield<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shield").finish_non_exhaustive()
    }
}

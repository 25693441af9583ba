//! `as_completed`: results in the order the tasks finish.
//!
//! The futures become tasks at once. [`AsCompleted::next`] gives the next
//! result to finish (`None` when all were given); it is also a
//! [`futures_core::Stream`]. With [`timeout`](AsCompleted::timeout), once
//! the deadline passes the next item is `Err(Timeout)` and the stream ends;
//! the tasks left are not cancelled (as in asyncio).
//!
//! ```no_run
//! # async fn demo() -> asyncio::Result<()> {
//! use std::time::Duration;
//! let mut results = asyncio::as_completed([300u64, 100, 200].map(|ms| async move {
//!     asyncio::sleep(Duration::from_millis(ms)).await?;
//!     Ok(ms)
//! }));
//! while let Some(ms) = results.next().await {
//!     println!("{}", ms?); // 100, 200, 300
//! }
//! # Ok(()) }
//! ```

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::{Task, create_task};
use crate::errors::{Error, Result};
use crate::runtime::task::{Awaiting, TaskRun};
use crate::runtime::{self};
use crate::time::Sleep;

/// Runs the futures as tasks; yields their results as they finish.
pub fn as_completed<I, F, T>(futures: I) -> AsCompleted<T>
where
    I: IntoIterator<Item = F>,
    F: Future<Output = Result<T>> + 'static,
    T: 'static,
{
    let tasks: Vec<Option<Task<T>>> = futures.into_iter().map(|f| Some(create_task(f))).collect();
    // Awaited by the task iterating, until each result is given (or the
    // stream dropped).
    let caller = super::current_task_id();
    for t in tasks.iter().flatten() {
        t.set_awaiter(caller);
    }
    let state = Rc::new(State {
        done: RefCell::new(VecDeque::new()),
        waker: RefCell::new(None),
    });
    for (i, t) in tasks.iter().enumerate() {
        let Some(t) = t else { continue };
        let state = state.clone();
        t.on_done(move |_: &Rc<dyn TaskRun>| {
            state.done.borrow_mut().push_back(i);
            if let Some(w) = state.waker.borrow_mut().take() {
                w.wake();
            }
        });
    }
    AsCompleted {
        remaining: tasks.len(),
        tasks,
        state,
        timeout: None,
        timed_out: false,
    }
}

struct State {
    done: RefCell<VecDeque<usize>>,
    waker: RefCell<Option<Waker>>,
}

/// The stream of [`as_completed`].
#[must_use = "streams do nothing unless polled (the tasks run regardless)"]
pub struct AsCompleted<T> {
    tasks: Vec<Option<Task<T>>>,
    remaining: usize,
    state: Rc<State>,
    timeout: Option<Sleep>,
    timed_out: bool,
}

impl<T> AsCompleted<T> {
    /// Gives up after `timeout` (from now): the next item is then
    /// `Err(Timeout)` and the stream ends.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(crate::time::internal_timer(timeout));
        self
    }

    /// How many results have not been given yet.
    pub fn remaining(&self) -> usize {
        self.remaining
    }

    /// The next result to finish; `None` when every result was given.
    pub async fn next(&mut self) -> Option<Result<T>> {
        std::future::poll_fn(|cx| self.poll_item(cx)).await
    }

    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        if self.remaining == 0 || self.timed_out {
            return Poll::Ready(None);
        }
        if let Some(e) = runtime::take_cancel() {
            return Poll::Ready(Some(Err(e)));
        }
        let next = self.state.done.borrow_mut().pop_front();
        if let Some(i) = next {
            self.remaining -= 1;
            let task = self.tasks[i].take();
            return Poll::Ready(task.map(|t| t.take_result()));
        }
        if let Some(timeout) = &mut self.timeout
            && timeout.poll_expired(cx)
        {
            self.timed_out = true;
            return Poll::Ready(Some(Err(Error::timeout())));
        }
        *self.state.waker.borrow_mut() = Some(cx.waker().clone());
        runtime::set_awaiting(Awaiting::AsCompleted);
        Poll::Pending
    }
}

impl<T> futures_core::Stream for AsCompleted<T> {
    type Item = Result<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        self.poll_item(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining))
    }
}

impl<T> std::fmt::Debug for AsCompleted<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsCompleted").finish_non_exhaustive()
    }
}

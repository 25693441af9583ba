//! `wait`: wait for tasks until a condition, then hand them back split into
//! `(done, pending)`.
//!
//! Nothing is cancelled: not on timeout (unlike `wait_for`), and not when
//! the waiting task itself is cancelled (then the handles are dropped and the
//! tasks keep running), exactly as asyncio's `wait`.
//!
//! ```no_run
//! # async fn demo() -> asyncio::Result<()> {
//! use std::time::Duration;
//! use asyncio::{ReturnWhen, create_task, sleep, wait};
//! let tasks = vec![
//!     create_task(async { sleep(Duration::from_millis(10)).await?; Ok(1) }),
//!     create_task(async { sleep(Duration::from_secs(10)).await?; Ok(2) }),
//! ];
//! let (done, pending) = wait(tasks, ReturnWhen::FirstCompleted, None).await?;
//! assert_eq!((done.len(), pending.len()), (1, 1));
//! # Ok(()) }
//! ```

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::Task;
use crate::errors::Result;
use crate::runtime::task::{Awaiting, State, TaskRun};
use crate::runtime::{self};
use crate::time::Sleep;

/// When [`wait`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnWhen {
    /// As soon as any task finishes or is cancelled.
    FirstCompleted,
    /// As soon as any task fails; if none fails, when all are done.
    FirstException,
    /// When every task is done.
    AllCompleted,
}

/// Waits for `tasks` as `return_when` says, or until `timeout`; see the
/// [module docs](self). An empty list is an error, as in asyncio.
pub fn wait<T, I>(tasks: I, return_when: ReturnWhen, timeout: Option<Duration>) -> Wait<T>
where
    I: IntoIterator<Item = Task<T>>,
{
    let tasks: Vec<Task<T>> = tasks.into_iter().collect();
    let state = Rc::new(WaitState {
        finished: Cell::new(0),
        failed: Cell::new(false),
        waker: RefCell::new(None),
    });
    for t in &tasks {
        let state = state.clone();
        t.on_done(move |task: &Rc<dyn TaskRun>| {
            state.finished.set(state.finished.get() + 1);
            if task.header().state.get() == State::Failed {
                state.failed.set(true);
            }
            if let Some(w) = state.waker.borrow_mut().take() {
                w.wake();
            }
        });
    }
    Wait {
        tasks,
        state,
        return_when,
        timeout: timeout.map(crate::time::internal_timer),
        awaiter: 0,
    }
}

struct WaitState {
    finished: Cell<usize>,
    failed: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

/// The future of [`wait`].
#[must_use = "futures do nothing unless awaited"]
pub struct Wait<T> {
    tasks: Vec<Task<T>>,
    state: Rc<WaitState>,
    return_when: ReturnWhen,
    timeout: Option<Sleep>,
    /// The task the handles record as their awaiter (0: none yet).
    awaiter: u64,
}

type Split<T> = (Vec<Task<T>>, Vec<Task<T>>);

impl<T> Wait<T> {
    fn split(&mut self) -> Split<T> {
        // The wait is over: the handles go back to the caller, awaited by
        // nobody.
        for t in &self.tasks {
            t.set_awaiter(0);
        }
        std::mem::take(&mut self.tasks)
            .into_iter()
            .partition(|t| t.done())
    }
}

impl<T> Future for Wait<T> {
    type Output = Result<Split<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Some(e) = runtime::take_cancel() {
            return Poll::Ready(Err(e));
        }
        if this.tasks.is_empty() {
            return Poll::Ready(Err(crate::Error::runtime("wait() needs at least one task")));
        }
        let finished = this.state.finished.get();
        let all = finished == this.tasks.len();
        let ready = match this.return_when {
            ReturnWhen::FirstCompleted => finished > 0,
            ReturnWhen::FirstException => all || this.state.failed.get(),
            ReturnWhen::AllCompleted => all,
        };
        if ready {
            return Poll::Ready(Ok(this.split()));
        }
        if let Some(timeout) = &mut this.timeout
            && timeout.poll_expired(cx)
        {
            return Poll::Ready(Ok(this.split()));
        }
        // The waiting task awaits each task until the wait ends (or is
        // dropped with the handles).
        let me = super::current_task_id();
        if this.awaiter != me {
            this.awaiter = me;
            for t in &this.tasks {
                t.set_awaiter(me);
            }
        }
        *this.state.waker.borrow_mut() = Some(cx.waker().clone());
        runtime::set_awaiting(Awaiting::Wait {
            pending: this.tasks.len() - finished,
        });
        Poll::Pending
    }
}

impl<T> std::fmt::Debug for Wait<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wait").finish_non_exhaustive()
    }
}

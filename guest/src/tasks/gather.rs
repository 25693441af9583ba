//! `gather`: run awaitables concurrently, results in argument order.
//!
//! Each future becomes a task when `gather` is called (as asyncio wraps
//! coroutines with `ensure_future`), so they start running even before the
//! gather is awaited.
//!
//! - [`gather`]: `Ok(results)` in argument order, or the first error as soon
//!   as it happens; the other tasks keep running (they are not cancelled).
//! - [`gather_all`]: `return_exceptions=True`; waits for every task and
//!   gives each one's `Result`.
//! - [`gather!`](crate::gather!): mixed result types, gives a tuple.
//!
//! Cancelling the task that awaits a gather cancels every child; the gather
//! then returns `Err(Cancelled)`. Dropping a gather leaves the children
//! running.
//!
//! ```no_run
//! # async fn demo() -> asyncio::Result<()> {
//! let squares = asyncio::gather((1..=3).map(|i| async move { Ok(i * i) })).await?;
//! assert_eq!(squares, vec![1, 4, 9]);
//! let (a, b) = asyncio::gather!(async { Ok(1) }, async { Ok("two") }).await?;
//! # let _ = (a, b); Ok(()) }
//! ```

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::{Task, TaskRef, create_task, current_task_id};
use crate::errors::{Error, Result};
use crate::runtime::task::{Awaiting, State, TaskRun};
use crate::runtime::{self};

/// Runs the futures as tasks and waits for all of them; see the
/// [module docs](self).
pub fn gather<I, F, T>(futures: I) -> Gather<T>
where
    I: IntoIterator<Item = F>,
    F: Future<Output = Result<T>> + 'static,
    T: 'static,
{
    let (core, tasks) = spawn_all(futures, false);
    Gather { core, tasks }
}

/// `gather(..., return_exceptions=True)`: waits for every task and gives
/// each one's result. `Err` only if the gather itself was cancelled.
pub fn gather_all<I, F, T>(futures: I) -> GatherAll<T>
where
    I: IntoIterator<Item = F>,
    F: Future<Output = Result<T>> + 'static,
    T: 'static,
{
    let (core, tasks) = spawn_all(futures, true);
    GatherAll { core, tasks }
}

fn spawn_all<I, F, T>(futures: I, return_exceptions: bool) -> (Core, Vec<Task<T>>)
where
    I: IntoIterator<Item = F>,
    F: Future<Output = Result<T>> + 'static,
    T: 'static,
{
    let tasks: Vec<Task<T>> = futures.into_iter().map(create_task).collect();
    // asyncio: gather's children are awaited by the task calling gather.
    let caller = current_task_id();
    for t in &tasks {
        t.set_awaiter(caller);
    }
    let core = Core::new(
        tasks.iter().map(|t| t.task_ref()).collect(),
        return_exceptions,
    );
    (core, tasks)
}

/// What both kinds of gather share: counting children as they finish.
struct Core {
    tasks: Vec<TaskRef>,
    state: Rc<CoreState>,
    return_exceptions: bool,
    cancel_requested: Option<Error>,
}

struct CoreState {
    finished: Cell<usize>,
    first_error: RefCell<Option<Error>>,
    waker: RefCell<Option<Waker>>,
}

impl Core {
    fn new(tasks: Vec<TaskRef>, return_exceptions: bool) -> Core {
        let state = Rc::new(CoreState {
            finished: Cell::new(0),
            first_error: RefCell::new(None),
            waker: RefCell::new(None),
        });
        for t in &tasks {
            let state = state.clone();
            t.on_done(move |task: &Rc<dyn TaskRun>| {
                state.finished.set(state.finished.get() + 1);
                let h = task.header();
                if !return_exceptions && state.first_error.borrow().is_none() {
                    match h.state.get() {
                        State::Failed | State::Cancelled => {
                            *state.first_error.borrow_mut() = h.retrieve_error();
                        }
                        _ => {}
                    }
                }
                if let Some(w) = state.waker.borrow_mut().take() {
                    w.wake();
                }
            });
        }
        Core {
            tasks,
            state,
            return_exceptions,
            cancel_requested: None,
        }
    }

    /// Ready(Ok) when every child is done; Ready(Err) on the first error
    /// (without return_exceptions) or after cancellation.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if let Some(e) = runtime::take_cancel()
            && self.cancel_requested.is_none()
        {
            for t in &self.tasks {
                match e.cancel_message() {
                    Some(m) => t.cancel_with(m),
                    None => t.cancel(),
                };
            }
            self.cancel_requested = Some(e);
        }
        if !self.return_exceptions
            && let Some(e) = self.state.first_error.borrow_mut().take()
        {
            return Poll::Ready(Err(e));
        }
        let pending = self.tasks.len() - self.state.finished.get();
        if pending == 0 {
            if let Some(e) = self.cancel_requested.take() {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(()));
        }
        *self.state.waker.borrow_mut() = Some(cx.waker().clone());
        runtime::set_awaiting(Awaiting::Gather { pending });
        Poll::Pending
    }
}

/// The future of [`gather`].
#[must_use = "futures do nothing unless awaited (the tasks run regardless)"]
pub struct Gather<T> {
    core: Core,
    tasks: Vec<Task<T>>,
}

impl<T> Future for Gather<T> {
    type Output = Result<Vec<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Vec<T>>> {
        let this = &mut *self;
        match this.core.poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) => Poll::Ready(this.tasks.iter().map(Task::take_result).collect()),
        }
    }
}

/// The future of [`gather_all`].
#[must_use = "futures do nothing unless awaited (the tasks run regardless)"]
pub struct GatherAll<T> {
    core: Core,
    tasks: Vec<Task<T>>,
}

impl<T> Future for GatherAll<T> {
    type Output = Result<Vec<Result<T>>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        match this.core.poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) => {
                Poll::Ready(Ok(this.tasks.iter().map(Task::take_result).collect()))
            }
        }
    }
}

/// A tuple of tasks with possibly different result types (what
/// [`gather!`](crate::gather!) builds).
pub trait TaskTuple {
    /// The tuple of results.
    type Output;
    #[doc(hidden)]
    fn task_refs(&self) -> Vec<TaskRef>;
    #[doc(hidden)]
    fn take_results(&self) -> Result<Self::Output>;
    #[doc(hidden)]
    fn set_awaiter(&self, awaiter: u64);
}

macro_rules! task_tuple {
    ($($t:ident $i:tt),+) => {
        impl<$($t),+> TaskTuple for ($(Task<$t>,)+) {
            type Output = ($($t,)+);
            fn task_refs(&self) -> Vec<TaskRef> {
                vec![$(self.$i.task_ref()),+]
            }
            fn take_results(&self) -> Result<Self::Output> {
                Ok(($(self.$i.take_result()?,)+))
            }
            fn set_awaiter(&self, awaiter: u64) {
                $(self.$i.set_awaiter(awaiter);)+
            }
        }
    };
}
task_tuple!(A 0);
task_tuple!(A 0, B 1);
task_tuple!(A 0, B 1, C 2);
task_tuple!(A 0, B 1, C 2, D 3);
task_tuple!(A 0, B 1, C 2, D 3, E 4);
task_tuple!(A 0, B 1, C 2, D 3, E 4, F 5);
task_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
task_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
task_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
task_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
task_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10);
task_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11);

/// The future of [`gather!`](crate::gather!).
#[must_use = "futures do nothing unless awaited (the tasks run regardless)"]
pub struct GatherTuple<U: TaskTuple> {
    core: Core,
    tasks: U,
}

impl<U: TaskTuple> GatherTuple<U> {
    #[doc(hidden)]
    pub fn new(tasks: U) -> GatherTuple<U> {
        tasks.set_awaiter(current_task_id());
        GatherTuple {
            core: Core::new(tasks.task_refs(), false),
            tasks,
        }
    }
}

impl<U: TaskTuple + Unpin> Future for GatherTuple<U> {
    type Output = Result<U::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        match this.core.poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) => Poll::Ready(this.tasks.take_results()),
        }
    }
}

/// `gather` for futures of different result types: gives a tuple.
///
/// ```no_run
/// # async fn demo() -> asyncio::Result<()> {
/// let (n, s) = asyncio::gather!(async { Ok(1) }, async { Ok("one") }).await?;
/// # let _ = (n, s); Ok(()) }
/// ```
#[macro_export]
macro_rules! gather {
    ($($future:expr),+ $(,)?) => {
        $crate::tasks::GatherTuple::new(($($crate::create_task($future),)+))
    };
}

impl<T> std::fmt::Debug for Gather<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gather").finish_non_exhaustive()
    }
}

impl<T> std::fmt::Debug for GatherAll<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatherAll").finish_non_exhaustive()
    }
}

impl<U: TaskTuple> std::fmt::Debug for GatherTuple<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatherTuple").finish_non_exhaustive()
    }
}

//! `TaskGroup`: structured concurrency, as `async with asyncio.TaskGroup()`.
//!
//! [`TaskGroup::run`] runs a body that creates tasks in the group and then
//! waits for all of them. The first task that fails cancels every other task
//! of the group and the body itself (the task running `run`); once all have
//! finished, `run` returns `Err` of kind [`Group`](crate::ErrorKind::Group)
//! holding every real failure (cancellations are not failures), in the
//! order they happened. An error returned by the body is part of the group
//! too.
//!
//! Cancelling the task that runs the group (from outside) cancels every
//! child and the group returns `Err(Cancelled)` once they are done. The
//! group's own cancellation of its parent never leaks: it is withdrawn with
//! `uncancel` when the group exits, exactly as asyncio does.
//!
//! ```no_run
//! # async fn fetch(n: u32) -> asyncio::Result<u32> { Ok(n) }
//! # async fn demo() -> asyncio::Result<()> {
//! let (a, b) = asyncio::TaskGroup::run(|tg| async move {
//!     let a = tg.create_task(fetch(1))?;
//!     let b = tg.create_task(fetch(2))?;
//!     Ok((a, b))
//! })
//! .await?;
//! println!("{} {}", a.result()?, b.result()?);
//! # Ok(()) }
//! ```
//!
//! Dropping a `run` future before it finishes leaves the children running
//! (Rust's drop cannot wait for them); await it to the end.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::task::{Poll, Waker};

use super::{Task, TaskRef, current_task};
use crate::errors::{Error, ErrorKind, Result};
use crate::runtime::slab::Slab;
use crate::runtime::task::{Awaiting, State, TaskRun};
use crate::runtime::{self};

/// A group of tasks that finish together; see the [module docs](self).
#[derive(Clone)]
pub struct TaskGroup {
    inner: Rc<Inner>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Body,
    Exiting,
    Finished,
}

struct Inner {
    parent: TaskRef,
    children: RefCell<Slab<TaskRef>>,
    errors: RefCell<Vec<Error>>,
    aborting: Cell<bool>,
    parent_cancel_requested: Cell<bool>,
    phase: Cell<Phase>,
    waker: RefCell<Option<Waker>>,
}

impl std::fmt::Debug for TaskGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskGroup")
            .field("tasks", &self.inner.children.borrow().len())
            .field("errors", &self.inner.errors.borrow().len())
            .field("aborting", &self.inner.aborting.get())
            .finish()
    }
}

impl TaskGroup {
    /// Runs `body` with a new group, then waits for every task of the group;
    /// see the [module docs](self). Must run inside a task.
    pub async fn run<B, Fut, R>(body: B) -> Result<R>
    where
        B: FnOnce(TaskGroup) -> Fut,
        Fut: Future<Output = Result<R>>,
    {
        let Some(parent) = current_task() else {
            return Err(Error::runtime("TaskGroup::run must run inside a task"));
        };
        let group = TaskGroup {
            inner: Rc::new(Inner {
                parent,
                children: RefCell::new(Slab::default()),
                errors: RefCell::new(Vec::new()),
                aborting: Cell::new(false),
                parent_cancel_requested: Cell::new(false),
                phase: Cell::new(Phase::Body),
                waker: RefCell::new(None),
            }),
        };
        let outcome = body(group.clone()).await;
        group.exit(outcome).await
    }

    /// Creates a task in the group. `Err(Runtime)` once the group is
    /// finished or shutting down after a failure.
    pub fn create_task<F, T>(&self, future: F) -> Result<Task<T>>
    where
        F: Future<Output = Result<T>> + 'static,
        T: 'static,
    {
        self.spawn(None, future)
    }

    /// [`create_task`](Self::create_task) with a task name.
    pub fn create_named_task<F, T>(&self, name: impl Into<String>, future: F) -> Result<Task<T>>
    where
        F: Future<Output = Result<T>> + 'static,
        T: 'static,
    {
        self.spawn(Some(name.into()), future)
    }

    fn spawn<F, T>(&self, name: Option<String>, future: F) -> Result<Task<T>>
    where
        F: Future<Output = Result<T>> + 'static,
        T: 'static,
    {
        let inner = &self.inner;
        if inner.phase.get() == Phase::Finished {
            return Err(Error::runtime("TaskGroup is finished"));
        }
        if inner.aborting.get() {
            return Err(Error::runtime("TaskGroup is shutting down"));
        }
        let lp = runtime::current_loop("TaskGroup::create_task");
        let eager = lp.eager.get();
        let task = super::spawn_on(&lp, future, name, eager);
        if task.done() {
            let run: Rc<dyn TaskRun> = task.cell.clone();
            self.on_child_done(&run, None);
            return Ok(task);
        }
        let key = inner.children.borrow_mut().insert(task.task_ref());
        // asyncio: the child is awaited by the group's parent task from
        // now until it is done (`future_add_to_awaited_by`).
        task.cell.header().add_awaited_by(inner.parent.id());
        let group = self.clone();
        task.on_done(move |t: &Rc<dyn TaskRun>| group.on_child_done(t, Some(key)));
        Ok(task)
    }

    /// asyncio's `_on_task_done`.
    fn on_child_done(&self, task: &Rc<dyn TaskRun>, key: Option<crate::runtime::slab::Key>) {
        let inner = &self.inner;
        if let Some(key) = key {
            inner.children.borrow_mut().remove(key);
            task.header().discard_awaited_by(inner.parent.id());
        }
        if inner.children.borrow().len() == 0
            && let Some(w) = inner.waker.borrow_mut().take()
        {
            w.wake();
        }
        let h = task.header();
        if h.state.get() != State::Failed {
            return;
        }
        if let Some(e) = h.retrieve_error() {
            inner.errors.borrow_mut().push(e);
        }
        if !inner.aborting.get() && !inner.parent_cancel_requested.get() {
            self.abort();
            inner.parent_cancel_requested.set(true);
            inner.parent.cancel();
        }
    }

    fn abort(&self) {
        self.inner.aborting.set(true);
        let children: Vec<TaskRef> = self.inner.children.borrow().values().cloned().collect();
        for t in children {
            if !t.done() {
                t.cancel();
            }
        }
    }

    /// asyncio's `__aexit__`.
    async fn exit<R>(&self, outcome: Result<R>) -> Result<R> {
        let inner = &self.inner;
        inner.phase.set(Phase::Exiting);
        let mut propagate_cancel = match &outcome {
            Err(e) if e.is_cancelled() => Some(e.clone()),
            _ => None,
        };
        if outcome.is_err() && !inner.aborting.get() {
            self.abort();
        }
        // Wait for every child; a cancellation meanwhile aborts the group.
        std::future::poll_fn(|cx| {
            if let Some(e) = runtime::take_cancel()
                && !inner.aborting.get()
            {
                propagate_cancel = Some(e);
                self.abort();
            }
            let pending = inner.children.borrow().len();
            if pending == 0 {
                return Poll::Ready(());
            }
            *inner.waker.borrow_mut() = Some(cx.waker().clone());
            runtime::set_awaiting(Awaiting::TaskGroup { pending });
            Poll::Pending
        })
        .await;
        inner.phase.set(Phase::Finished);

        if inner.parent_cancel_requested.get() && inner.parent.uncancel() == 0 {
            // The only cancellation was ours: do not propagate it.
            propagate_cancel = None;
        }
        let mut errors = std::mem::take(&mut *inner.errors.borrow_mut());
        if let Some(e) = propagate_cancel
            && errors.is_empty()
        {
            return Err(e);
        }
        let value = match outcome {
            Ok(v) => Some(v),
            Err(e) if e.is_cancelled() => None,
            Err(e) => {
                errors.push(e);
                None
            }
        };
        if !errors.is_empty() {
            return Err(Error::new(ErrorKind::Group(errors)));
        }
        match value {
            Some(v) => Ok(v),
            // The body was cancelled by our own abort yet nothing failed
            // (the failure was withdrawn): report the cancellation.
            None => Err(Error::cancelled(None)),
        }
    }
}

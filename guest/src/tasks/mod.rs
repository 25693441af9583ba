//! Coroutines and tasks: `create_task`, [`Task`], the ways to wait for
//! several of them ([`gather()`], [`wait()`], [`as_completed()`],
//! [`shield()`], [`TaskGroup`]), and call graph introspection
//! ([`capture_call_graph`], [`format_call_graph`], [`print_call_graph`],
//! [`task_table`], [`task_dump`]).
//!
//! A task runs a future on the loop, concurrently with other tasks, until it
//! finishes; it keeps running when its handle is dropped. Awaiting a
//! [`Task`] gives its result (the first awaiter takes the value):
//!
//! ```no_run
//! # async fn demo() -> asyncio::Result<()> {
//! use std::time::Duration;
//! let task = asyncio::create_task(async {
//!     asyncio::sleep(Duration::from_millis(10)).await?;
//!     Ok(6 * 7)
//! });
//! assert_eq!(task.await?, 42);
//! # Ok(()) }
//! ```
//!
//! **Cancellation** is cooperative, as in asyncio: [`Task::cancel`](TaskRef::cancel) asks the
//! task to stop, and the next SDK awaitable it is suspended in returns
//! `Err(Cancelled)` (once). The task may clean up (even with further
//! awaits), propagate it with `?`, or swallow it with
//! [`uncancel`](TaskRef::uncancel). A task that finishes while a cancellation
//! request is still undelivered ends cancelled, as in asyncio.
//!
//! **Dropping** a `Task` handle never cancels the task (use `cancel`).
//! Awaiting a task and being cancelled meanwhile cancels the awaited task
//! too, and the awaiter then gets that task's outcome, as
//! `await task` does in asyncio.
//!
//! **Introspection**: every task knows which tasks await it (asyncio 3.14's
//! `awaited_by`: the task awaiting it, the caller of the gather over it,
//! the parent of its TaskGroup, ...; see [`graph`]), which gives the call
//! graph and the task table that `python -m asyncio ps` and `pstree` show.
//!
//! | asyncio | here |
//! |---|---|
//! | `create_task(coro, name=)`, `eager_task_factory` | [`create_task`], [`create_named_task`], [`create_eager_task`] |
//! | `Task` | [`Task<T>`](Task) (typed), [`TaskRef`] (any type) |
//! | `current_task()`, `all_tasks()` | [`current_task`], [`all_tasks`] |
//! | `gather`, `wait`, `as_completed`, `shield`, `TaskGroup` | [`gather()`], [`gather_all`], [`gather!`](crate::gather!), [`wait()`], [`as_completed()`], [`shield()`], [`TaskGroup`] |
//! | `capture_call_graph(future)` | [`capture_call_graph`] gives a [`CallGraph`] (`FutureCallGraph`), what the task awaits standing in for `call_stack` |
//! | `format_call_graph(future)`, `print_call_graph(future)` | [`format_call_graph`], [`print_call_graph`] (asyncio's layout) |
//! | `python -m asyncio ps PID` | [`task_table`] (a [`TaskInfo`] per pending task), and `aio ps` through the `aio:host/control` export |
//! | `python -m asyncio pstree PID` | the `task tree:` part of [`task_dump`] |

mod as_completed;
pub mod gather;
pub mod graph;
pub mod group;
mod shield;
pub mod wait;

pub use as_completed::{AsCompleted, as_completed};
pub use gather::{Gather, GatherAll, GatherTuple, TaskTuple, gather, gather_all};
pub use graph::{
    CallGraph, TaskInfo, capture_call_graph, format_call_graph, print_call_graph, task_table,
};
pub use group::TaskGroup;
pub use shield::{Shield, shield};
pub use wait::{ReturnWhen, Wait, wait};

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use crate::errors::{Error, Result};
use crate::runtime::task::{Awaiting, Header, State, TaskOutput, TaskRun, Waiter};
use crate::runtime::{self, LoopInner};

/// Schedules `future` as a task on the running loop (asyncio's
/// `create_task`). With eager tasks on (see [`Runner::eager_tasks`]) its
/// first step runs right away.
///
/// Panics outside a running loop.
///
/// [`Runner::eager_tasks`]: crate::Runner::eager_tasks
#[track_caller]
pub fn create_task<F, T>(future: F) -> Task<T>
where
    F: Future<Output = Result<T>> + 'static,
    T: 'static,
{
    let lp = runtime::current_loop("create_task");
    let eager = lp.eager.get();
    spawn_on(&lp, future, None, eager)
}

/// Like [`create_task`], with a name (asyncio's `name=`).
#[track_caller]
pub fn create_named_task<F, T>(name: impl Into<String>, future: F) -> Task<T>
where
    F: Future<Output = Result<T>> + 'static,
    T: 'static,
{
    let lp = runtime::current_loop("create_named_task");
    let eager = lp.eager.get();
    spawn_on(&lp, future, Some(name.into()), eager)
}

/// Creates a task and runs its first step now, before returning (asyncio's
/// eager task factory, for one task). A task that finishes in its first step
/// is never scheduled at all.
#[track_caller]
pub fn create_eager_task<F, T>(future: F) -> Task<T>
where
    F: Future<Output = Result<T>> + 'static,
    T: 'static,
{
    let lp = runtime::current_loop("create_eager_task");
    spawn_on(&lp, future, None, true)
}

pub(crate) fn spawn_on<F, T>(
    lp: &Rc<LoopInner>,
    future: F,
    name: Option<String>,
    eager: bool,
) -> Task<T>
where
    F: Future<Output = Result<T>> + 'static,
    T: 'static,
{
    Task::from_cell(lp.spawn(future, name, eager))
}

/// The task whose step is running now (asyncio's `current_task()`).
pub fn current_task() -> Option<TaskRef> {
    runtime::current_task().map(TaskRef::from_rc)
}

/// Every task of the running loop that is not done (asyncio's
/// `all_tasks()`).
pub fn all_tasks() -> Vec<TaskRef> {
    match runtime::try_current_loop() {
        Some(lp) => lp.user_tasks().into_iter().map(TaskRef::from_rc).collect(),
        None => Vec::new(),
    }
}

/// A readable dump of every pending task (asyncio's `python -m asyncio
/// ps` and `pstree` in one): a count, one line per task with its id, name,
/// what it is suspended in and the tasks that await it, then the tasks as
/// a tree, the ones nobody awaits at the top:
///
/// ```text
/// 3 pending task(s)
///   #1 'main': awaiting its TaskGroup (1 pending)
///   #2 'album': awaiting its TaskGroup (1 pending), awaited by #1
///   #3 'track': awaiting sleep (0.100s left), awaited by #2
/// task tree:
///   └── (T) main
///       └── (T) album
///           └── (T) track
/// ```
///
/// The task asking is `running`; a task with cancellation requests pending
/// says `(cancelling: N)` after its state. Outside a running loop: `no
/// running event loop`.
pub fn task_dump() -> String {
    let Some(lp) = runtime::try_current_loop() else {
        return String::from("no running event loop\n");
    };
    let snapshot = graph::Snapshot::take(&lp);
    let mut out = format!("{} pending task(s)\n", snapshot.len());
    for h in snapshot.tasks() {
        let state = snapshot.awaiting(h);
        let cancelling = match h.num_cancels_requested.get() {
            0 => String::new(),
            n => format!(" (cancelling: {n})"),
        };
        let awaited_by = snapshot.awaited_by(h);
        let awaited_by = if awaited_by.is_empty() {
            String::new()
        } else {
            let ids: Vec<String> = awaited_by.iter().map(|id| format!("#{id}")).collect();
            format!(", awaited by {}", ids.join(", "))
        };
        out.push_str(&format!(
            "  #{} '{}': {state}{cancelling}{awaited_by}\n",
            h.id,
            h.name()
        ));
    }
    if snapshot.len() > 0 {
        out.push_str("task tree:\n");
        out.push_str(&snapshot.tree("  "));
    }
    out
}

/// The id of the task whose step is running (0: none).
pub(crate) fn current_task_id() -> u64 {
    runtime::current_task().map_or(0, |t| t.header().id)
}

/// What a task is suspended in, or how it ended.
fn describe_state(h: &Header, now: u64) -> String {
    match h.state.get() {
        State::Pending => describe_awaiting(h.awaiting.get(), now),
        State::Finished => "finished".into(),
        State::Failed => "failed".into(),
        State::Cancelled => "cancelled".into(),
    }
}

fn describe_awaiting(a: Awaiting, now: u64) -> String {
    match a {
        Awaiting::Nothing => "not started".into(),
        Awaiting::Scheduled => "ready to run".into(),
        Awaiting::Sleep { until } => format!(
            "awaiting sleep ({:.3}s left)",
            until.saturating_sub(now) as f64 / 1e9
        ),
        Awaiting::Yield => "yielding".into(),
        Awaiting::Task { id } => format!("awaiting task #{id}"),
        Awaiting::Future => "awaiting a future".into(),
        Awaiting::Gather { pending } => format!("awaiting gather ({pending} pending)"),
        Awaiting::Wait { pending } => format!("awaiting wait ({pending} pending)"),
        Awaiting::TaskGroup { pending } => {
            format!("awaiting its TaskGroup ({pending} pending)")
        }
        Awaiting::AsCompleted => "awaiting as_completed".into(),
        Awaiting::Shield { id } => format!("awaiting shield of task #{id}"),
        Awaiting::Lock => "awaiting a Lock".into(),
        Awaiting::Event => "awaiting an Event".into(),
        Awaiting::Condition => "awaiting a Condition".into(),
        Awaiting::Semaphore => "awaiting a Semaphore".into(),
        Awaiting::Barrier => "awaiting a Barrier".into(),
        Awaiting::QueueGet => "awaiting Queue.get".into(),
        Awaiting::QueuePut => "awaiting Queue.put".into(),
        Awaiting::QueueJoin => "awaiting Queue.join".into(),
        Awaiting::Io { what } => format!("awaiting {what}"),
    }
}

pub use crate::runtime::task::TaskRef;

impl TaskRef {
    /// A number that identifies the task for the life of the loop.
    pub fn id(&self) -> u64 {
        self.cell.header().id
    }

    /// The task's name (`Task-<id>` unless set).
    pub fn get_name(&self) -> String {
        self.cell.header().name()
    }

    /// Renames the task.
    pub fn set_name(&self, name: impl Into<String>) {
        self.cell.header().set_name(name.into())
    }

    /// Asks the task to stop: the next SDK awaitable it is suspended in
    /// returns `Err(Cancelled)`. False if it is already done.
    pub fn cancel(&self) -> bool {
        self.cell.header().request_cancel(None)
    }

    /// [`cancel`](Self::cancel) with a message, found in the `Cancelled`
    /// error.
    pub fn cancel_with(&self, message: impl Into<String>) -> bool {
        self.cell.header().request_cancel(Some(message.into()))
    }

    /// True once the task ended cancelled.
    pub fn cancelled(&self) -> bool {
        self.cell.header().state.get() == State::Cancelled
    }

    /// True once the task ended (value, error or cancelled).
    pub fn done(&self) -> bool {
        self.cell.header().done()
    }

    /// The number of pending cancellation requests (asyncio's
    /// `cancelling()`): `cancel` adds one, `uncancel` removes one.
    pub fn cancelling(&self) -> u32 {
        self.cell.header().num_cancels_requested.get()
    }

    /// Removes one cancellation request; returns how many remain. At zero, an
    /// undelivered request is withdrawn (as in Python 3.13).
    pub fn uncancel(&self) -> u32 {
        self.cell.header().uncancel()
    }

    /// The task's error: `Ok(None)` if it finished with a value,
    /// `Ok(Some(e))` if it failed, `Err(Cancelled)` if it was cancelled,
    /// `Err(InvalidState)` if it is not done.
    pub fn exception(&self) -> Result<Option<Error>> {
        let h = self.cell.header();
        match h.state.get() {
            State::Pending => Err(Error::invalid_state(
                "exception is not set: task is not done",
            )),
            State::Finished => Ok(None),
            State::Failed => Ok(h.retrieve_error()),
            State::Cancelled => Err(h.retrieve_error().unwrap_or_else(|| Error::cancelled(None))),
        }
    }

    /// Adds a callback run (with `call_soon`) when the task is done; at once
    /// (scheduled) if it already is. Returns an id for
    /// [`remove_done_callback`](Self::remove_done_callback).
    pub fn add_done_callback(&self, callback: impl Fn(&TaskRef) + 'static) -> CallbackId {
        let id = next_callback_id();
        let callback: Rc<dyn Fn(&TaskRef)> = Rc::new(callback);
        let h = self.cell.header();
        if h.done() {
            if let Some(lp) = h.lp.upgrade() {
                let task = self.clone();
                lp.call_soon(Box::new(move || callback(&task)));
            }
        } else {
            h.push_done_callback(id, callback);
        }
        CallbackId(id)
    }

    /// Removes a done callback that has not been scheduled yet; returns how
    /// many were removed (0 or 1).
    pub fn remove_done_callback(&self, id: CallbackId) -> usize {
        self.cell.header().remove_done_callback(id.0)
    }

    /// What the task is suspended in, as the task dump shows it.
    pub fn awaiting(&self) -> String {
        let h = self.cell.header();
        let now = h.lp.upgrade().map(|lp| lp.clock.now()).unwrap_or(0);
        describe_state(h, now)
    }

    /// Registers a synchronous hook run when the task finishes (internal:
    /// gather, wait, TaskGroup). Runs it at once if the task is done.
    pub(crate) fn on_done(&self, hook: impl FnOnce(&Rc<dyn TaskRun>) + 'static) {
        let h = self.cell.header();
        if h.done() {
            hook(&self.cell);
        } else {
            h.waiters.borrow_mut().push(Waiter::Hook(Box::new(hook)));
        }
    }

    /// Waits until the task is done, without taking its result. Cancelling
    /// the waiter cancels the task (as awaiting it does).
    /// `Ready(Err)`: the waiter itself was cancelled after the task had
    /// already finished (asyncio then raises in the waiter; the task's
    /// result stays in the task).
    pub(crate) fn poll_done(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let h = self.cell.header();
        if let Some(e) = runtime::take_cancel() {
            if h.done() {
                return Poll::Ready(Err(e));
            }
            h.request_cancel(e.cancel_message().map(str::to_owned));
        }
        if h.done() {
            return Poll::Ready(Ok(()));
        }
        h.add_waker(cx.waker());
        runtime::set_awaiting(Awaiting::Task { id: h.id });
        Poll::Pending
    }
}

impl PartialEq for TaskRef {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.cell, &other.cell)
    }
}
impl Eq for TaskRef {}

impl fmt::Debug for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = self.cell.header();
        write!(f, "<Task #{} '{}' {}>", h.id, h.name(), self.awaiting())
    }
}

/// Identifies a done callback for `remove_done_callback`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallbackId(u64);

fn next_callback_id() -> u64 {
    thread_local!(static NEXT: Cell<u64> = const { Cell::new(1) });
    NEXT.with(|n| {
        let id = n.get();
        n.set(id + 1);
        id
    })
}

/// A task with a result of type `T` (asyncio's `Task`). Await it for the
/// result; every [`TaskRef`] method is available through `Deref`.
pub struct Task<T> {
    pub(crate) cell: Rc<dyn TaskOutput<T>>,
    task: TaskRef,
    /// The task this handle has put in its task's awaited_by (0: none):
    /// the one awaiting it, or the caller of the gather, `wait` or `shield`
    /// that holds it. Taken out when the await ends or the handle drops.
    awaiter: Cell<u64>,
}

impl<T> Task<T> {
    pub(crate) fn from_cell(cell: Rc<dyn TaskOutput<T>>) -> Task<T> {
        let task = TaskRef::from_rc(cell.clone());
        Task {
            cell,
            task,
            awaiter: Cell::new(0),
        }
    }

    /// Makes `awaiter` (a task id; 0: none) the task this handle records
    /// in its task's awaited_by, replacing the one it recorded before.
    pub(crate) fn set_awaiter(&self, awaiter: u64) {
        let h = self.cell.header();
        let awaiter = if h.done() { 0 } else { awaiter };
        let old = self.awaiter.replace(awaiter);
        if old != awaiter {
            h.discard_awaited_by(old);
            h.add_awaited_by(awaiter);
        }
    }

    /// A type-erased handle to the same task.
    pub fn task_ref(&self) -> TaskRef {
        self.task.clone()
    }

    /// The result: the value, the task's error, `Err(Cancelled)`, or
    /// `Err(InvalidState)` if it is not done (or the value was taken).
    pub fn result(&self) -> Result<T>
    where
        T: Clone,
    {
        self.outcome(|cell| cell.clone_value())
    }

    /// Like [`result`](Self::result), moving the value out (for types that
    /// are not `Clone`); a second call gives `Err(InvalidState)`.
    pub fn take_result(&self) -> Result<T> {
        self.outcome(|cell| cell.take_value())
    }

    fn outcome(&self, value: impl FnOnce(&dyn TaskOutput<T>) -> Option<T>) -> Result<T> {
        let h = self.cell.header();
        match h.state.get() {
            State::Pending => Err(Error::invalid_state("result is not set: task is not done")),
            State::Finished => value(&*self.cell)
                .ok_or_else(|| Error::invalid_state("the task's result was already taken")),
            State::Failed | State::Cancelled => {
                Err(h.retrieve_error().unwrap_or_else(|| Error::cancelled(None)))
            }
        }
    }
}

impl<T> std::ops::Deref for Task<T> {
    type Target = TaskRef;
    fn deref(&self) -> &TaskRef {
        &self.task
    }
}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.task, f)
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        self.set_awaiter(0);
    }
}

impl<T> Future for Task<T> {
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let h = self.cell.header();
        let current = runtime::current_task().map_or(0, |t| t.header().id);
        if current == h.id {
            return Poll::Ready(Err(Error::runtime("a task cannot await itself")));
        }
        match self.task.poll_done(cx) {
            Poll::Ready(result) => {
                self.set_awaiter(0);
                match result {
                    Ok(()) => Poll::Ready(self.take_result()),
                    Err(e) => Poll::Ready(Err(e)),
                }
            }
            Poll::Pending => {
                // asyncio's `future_add_to_awaited_by(task, current)`, for
                // as long as this await lasts.
                self.set_awaiter(current);
                Poll::Pending
            }
        }
    }
}

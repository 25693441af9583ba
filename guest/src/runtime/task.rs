//! Task cells: a task's future, its state, its cancellation request and who
//! waits for it. No scheduling policy here (that is `mod.rs`), and no public
//! API (that is `crate::tasks`).
//!
//! A task is one `Rc` allocation holding a [`Header`] (everything that does
//! not depend on the future's type) and the future itself, which later makes
//! room for its output. The loop sees tasks as `Rc<dyn TaskRun>`; a typed
//! `Task<T>` handle sees the same cell as `Rc<dyn TaskOutput<T>>`. Its
//! waker is a second allocation, recycled through the loop (see
//! [`TaskWaker`]).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::slab::Key;
use super::{LoopInner, Ready, Shared};
use crate::errors::{Error, Result};

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Pending,
    /// Finished with a value.
    Finished,
    /// Finished with an error other than cancellation.
    Failed,
    Cancelled,
}

/// What a pending task is waiting for, for the task dump.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Awaiting {
    /// Not started, or not suspended in an SDK awaitable.
    Nothing,
    /// Ready to run.
    Scheduled,
    Sleep {
        until: u64,
    },
    Yield,
    Task {
        id: u64,
    },
    Future,
    Gather {
        pending: usize,
    },
    Wait {
        pending: usize,
    },
    TaskGroup {
        pending: usize,
    },
    AsCompleted,
    Shield {
        id: u64,
    },
    /// A stream, a subprocess or another host import (`what` names it).
    Io {
        what: &'static str,
    },
    Lock,
    Event,
    Condition,
    Semaphore,
    Barrier,
    QueueGet,
    QueuePut,
    QueueJoin,
}

/// Something to do when a task finishes: wake an awaiter, or run an
/// internal hook (gather, wait, TaskGroup) synchronously.
pub(crate) enum Waiter {
    Waker(Waker),
    Hook(Hook),
}

/// An internal completion hook.
pub(crate) type Hook = Box<dyn FnOnce(&Rc<dyn TaskRun>)>;

/// A user's done callback (`add_done_callback`), run with `call_soon`.
pub(crate) type DoneCallback = Rc<dyn Fn(&TaskRef)>;

/// A handle to a task of any result type: what `current_task()`,
/// `all_tasks()` and done callbacks give. Cheap to clone. (Declared here,
/// with the task cells it holds; its API is `crate::tasks`'.)
#[derive(Clone)]
pub struct TaskRef {
    pub(crate) cell: Rc<dyn TaskRun>,
}

impl TaskRef {
    pub(crate) fn from_rc(cell: Rc<dyn TaskRun>) -> TaskRef {
        TaskRef { cell }
    }
}

/// Type-independent part of a task. Kept small (a hundred thousand tasks
/// are common): what most tasks never need lives in [`Extra`], allocated on
/// first use.
pub(crate) struct Header {
    pub(crate) id: u64,
    pub(crate) key: Cell<Option<Key>>,
    pub(crate) state: Cell<State>,
    pub(crate) started: Cell<bool>,
    /// Run the body even if cancelled before its first step (a plugin's
    /// export call must produce its value: the body sees the cancellation
    /// at its first await instead).
    pub(crate) start_even_if_cancelled: Cell<bool>,
    /// 0 for the program's tasks; above 0, one of the SDK's own (see
    /// [`Service`]): hidden from `all_tasks` and the task dump, and
    /// cancelled at shutdown only after every task of a lower level has
    /// finished, so that what those wrote goes out.
    pub(crate) service: Cell<u8>,
    pub(crate) must_cancel: Cell<bool>,
    pub(crate) error_retrieved: Cell<bool>,
    pub(crate) num_cancels_requested: Cell<u32>,
    extra: RefCell<Option<Box<Extra>>>,
    pub(crate) waiters: RefCell<Vec<Waiter>>,
    pub(crate) awaiting: Cell<Awaiting>,
    /// The first task that awaits this one (asyncio's `awaited_by`; 0:
    /// none, task ids start at 1). More awaiters go to [`Extra`]: one is
    /// the common case, and it costs no allocation.
    awaited_by: Cell<u64>,
    pub(crate) waker: Waker,
    /// What `waker` wakes through (`None` only while the header drops, when
    /// it goes back to the loop for the next task if nobody else holds it).
    wake_state: Option<Arc<TaskWaker>>,
    pub(crate) lp: Weak<LoopInner>,
}

/// The rarely used part of a task header.
#[derive(Default)]
struct Extra {
    name: Option<String>,
    cancel_message: Option<String>,
    /// The error of a failed task, or the `Cancelled` error of a cancelled one.
    error: Option<Error>,
    done_callbacks: Vec<(u64, DoneCallback)>,
    /// The awaiters after the first ([`Header::awaited_by`]).
    awaited_by: Vec<u64>,
}

/// The SDK's service tasks, in the order a closing loop stops them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Service {
    /// A `StreamWriter`'s pump: it hands what is buffered on.
    WriterPump = 1,
    /// The socket multiplexer: it writes out what the pumps handed on.
    SocketMux = 2,
}

impl Service {
    pub(crate) const LAST: u8 = Service::SocketMux as u8;
}

impl Header {
    /// Makes the task a service: hidden, stopped late at shutdown, and
    /// started even if cancelled first (to hand on what it holds).
    pub(crate) fn make_service(&self, service: Service) {
        self.service.set(service as u8);
        self.start_even_if_cancelled.set(true);
    }

    pub(crate) fn new(id: u64, name: Option<String>, lp: &Rc<LoopInner>) -> Header {
        let wake_state = lp.take_spare_waker().unwrap_or_else(|| {
            Arc::new(TaskWaker {
                key: AtomicU64::new(u64::MAX),
                scheduled: AtomicBool::new(false),
                shared: lp.shared.clone(),
            })
        });
        let extra = name.map(|name| {
            Box::new(Extra {
                name: Some(name),
                ..Extra::default()
            })
        });
        Header {
            id,
            key: Cell::new(None),
            state: Cell::new(State::Pending),
            started: Cell::new(false),
            start_even_if_cancelled: Cell::new(false),
            service: Cell::new(0),
            must_cancel: Cell::new(false),
            error_retrieved: Cell::new(false),
            num_cancels_requested: Cell::new(0),
            extra: RefCell::new(extra),
            waiters: RefCell::new(Vec::new()),
            awaiting: Cell::new(Awaiting::Nothing),
            awaited_by: Cell::new(0),
            waker: Waker::from(wake_state.clone()),
            wake_state: Some(wake_state),
            lp: Rc::downgrade(lp),
        }
    }

    pub(crate) fn set_key(&self, key: Key) {
        self.key.set(Some(key));
        if let Some(w) = &self.wake_state {
            w.key.store(pack(key), Ordering::Relaxed);
        }
    }

    /// Marks the task as on the ready queue (a wake-up then pushes nothing)
    /// or as off it (its step is running: the next wake-up pushes it).
    pub(crate) fn set_scheduled(&self, scheduled: bool) {
        if let Some(w) = &self.wake_state {
            w.scheduled.store(scheduled, Ordering::Relaxed);
        }
    }

    fn read<R>(&self, f: impl FnOnce(&Extra) -> R) -> Option<R> {
        self.extra.borrow().as_deref().map(f)
    }

    fn write<R>(&self, f: impl FnOnce(&mut Extra) -> R) -> R {
        f(self.extra.borrow_mut().get_or_insert_with(Box::default))
    }

    pub(crate) fn name(&self) -> String {
        self.read(|x| x.name.clone())
            .flatten()
            .unwrap_or_else(|| format!("Task-{}", self.id))
    }

    pub(crate) fn set_name(&self, name: String) {
        self.write(|x| x.name = Some(name));
    }

    pub(crate) fn cancel_message(&self) -> Option<String> {
        self.read(|x| x.cancel_message.clone()).flatten()
    }

    /// The error of a failed task, or the `Cancelled` error of a cancelled one.
    pub(crate) fn error(&self) -> Option<Error> {
        self.read(|x| x.error.clone()).flatten()
    }

    pub(crate) fn set_error(&self, error: Option<Error>) {
        if error.is_some() || self.extra.borrow().is_some() {
            self.write(|x| x.error = error);
        }
    }

    pub(crate) fn push_done_callback(&self, id: u64, callback: DoneCallback) {
        self.write(|x| x.done_callbacks.push((id, callback)));
    }

    pub(crate) fn take_done_callbacks(&self) -> Vec<(u64, DoneCallback)> {
        match self.extra.borrow_mut().as_deref_mut() {
            Some(x) => std::mem::take(&mut x.done_callbacks),
            None => Vec::new(),
        }
    }

    /// Removes a done callback; returns how many were removed.
    pub(crate) fn remove_done_callback(&self, id: u64) -> usize {
        match self.extra.borrow_mut().as_deref_mut() {
            Some(x) => {
                let before = x.done_callbacks.len();
                x.done_callbacks.retain(|(i, _)| *i != id);
                before - x.done_callbacks.len()
            }
            None => 0,
        }
    }

    /// Records that task `awaiter` awaits this one (asyncio's
    /// `future_add_to_awaited_by`). A count, not a set: a task that awaits
    /// this one in two ways (its TaskGroup, and directly) is recorded twice,
    /// and each end of an await removes one.
    pub(crate) fn add_awaited_by(&self, awaiter: u64) {
        if awaiter == 0 {
            return;
        }
        if self.awaited_by.get() == 0 {
            self.awaited_by.set(awaiter);
        } else {
            self.write(|x| x.awaited_by.push(awaiter));
        }
    }

    /// Undoes one [`add_awaited_by`](Self::add_awaited_by) (asyncio's
    /// `future_discard_from_awaited_by`); nothing if `awaiter` is not there.
    pub(crate) fn discard_awaited_by(&self, awaiter: u64) {
        if awaiter == 0 {
            return;
        }
        let mut extra = self.extra.borrow_mut();
        let more = extra.as_deref_mut().map(|x| &mut x.awaited_by);
        if self.awaited_by.get() == awaiter {
            self.awaited_by.set(more.and_then(|m| m.pop()).unwrap_or(0));
        } else if let Some(more) = more
            && let Some(i) = more.iter().position(|&id| id == awaiter)
        {
            more.swap_remove(i);
        }
    }

    /// Forgets every awaiter (the task is done: nobody awaits it any more).
    pub(crate) fn clear_awaited_by(&self) {
        if self.awaited_by.replace(0) != 0
            && let Some(x) = self.extra.borrow_mut().as_deref_mut()
        {
            x.awaited_by = Vec::new();
        }
    }

    /// The ids of the tasks that await this one, each once, by id.
    pub(crate) fn awaited_by(&self) -> Vec<u64> {
        let first = self.awaited_by.get();
        if first == 0 {
            return Vec::new();
        }
        let mut ids = vec![first];
        if let Some(x) = self.extra.borrow().as_deref() {
            ids.extend_from_slice(&x.awaited_by);
        }
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    pub(crate) fn done(&self) -> bool {
        self.state.get() != State::Pending
    }

    /// Takes a pending cancellation request: the first SDK awaitable that
    /// sees it returns `Err(Cancelled)`.
    pub(crate) fn take_cancel(&self) -> Option<Error> {
        if self.must_cancel.replace(false) {
            Some(Error::cancelled(self.cancel_message()))
        } else {
            None
        }
    }

    /// `Task.cancel(msg)`: asks the task to stop at its next SDK awaitable.
    pub(crate) fn request_cancel(&self, message: Option<String>) -> bool {
        if self.done() {
            return false;
        }
        self.num_cancels_requested
            .set(self.num_cancels_requested.get() + 1);
        self.must_cancel.set(true);
        if message.is_some() || self.extra.borrow().is_some() {
            self.write(|x| x.cancel_message = message);
        }
        self.waker.wake_by_ref();
        true
    }

    /// `Task.uncancel()`.
    pub(crate) fn uncancel(&self) -> u32 {
        let n = self.num_cancels_requested.get().saturating_sub(1);
        self.num_cancels_requested.set(n);
        if n == 0 {
            self.must_cancel.set(false);
        }
        n
    }

    /// Registers `waker` to be woken when the task finishes (once per waker).
    pub(crate) fn add_waker(&self, waker: &Waker) {
        let mut waiters = self.waiters.borrow_mut();
        let known = waiters
            .iter()
            .any(|w| matches!(w, Waiter::Waker(w) if w.will_wake(waker)));
        if !known {
            waiters.push(Waiter::Waker(waker.clone()));
        }
    }

    /// Forgets a waker [`add_waker`](Self::add_waker) registered (its task
    /// is going away and must not be woken).
    pub(crate) fn remove_waker(&self, waker: &Waker) {
        self.waiters
            .borrow_mut()
            .retain(|w| !matches!(w, Waiter::Waker(w) if w.will_wake(waker)));
    }

    /// The error, marked as retrieved (it will not be reported as lost).
    pub(crate) fn retrieve_error(&self) -> Option<Error> {
        self.error_retrieved.set(true);
        self.error()
    }
}

impl Drop for Header {
    fn drop(&mut self) {
        // asyncio logs "Task exception was never retrieved" when a failed
        // task is garbage collected; this is the moment it can no longer be.
        if self.state.get() == State::Failed && !self.error_retrieved.get() {
            let error = self.error();
            let name = self.name();
            if let (Some(lp), Some(error)) = (self.lp.upgrade(), error) {
                lp.report_lost_error(&name, &error);
            }
        }
        // The waker's allocation serves the loop's next task, unless a
        // clone of it is still held somewhere (`recycle_waker` checks).
        if let Some(state) = self.wake_state.take() {
            drop(std::mem::replace(&mut self.waker, Waker::noop().clone()));
            if let Some(lp) = self.lp.upgrade() {
                lp.recycle_waker(state);
            }
        }
    }
}

/// The loop's view of a task: poll it, drop it.
pub(crate) trait TaskRun {
    fn header(&self) -> &Header;
    /// Polls the future. `Ready(Ok(()))`: it returned `Ok` and the value is
    /// stored; `Ready(Err(e))`: it returned an error.
    fn poll_future(&self, cx: &mut Context<'_>) -> Poll<Result<()>>;
    /// Drops the future (or the stored value) in place.
    fn discard(&self);
}

/// A typed handle's view of a task: take its value.
pub(crate) trait TaskOutput<T>: TaskRun {
    /// The stored value (`None`: not finished with a value, or taken).
    fn take_value(&self) -> Option<T>;
    fn clone_value(&self) -> Option<T>
    where
        T: Clone;
}

enum Stage<F, T> {
    Running(F),
    Finished(Option<T>),
    Discarded,
}

pub(crate) struct TaskCell<F, T> {
    header: Header,
    stage: RefCell<Stage<F, T>>,
}

impl<F, T> TaskCell<F, T>
where
    F: Future<Output = Result<T>>,
{
    pub(crate) fn new(header: Header, future: F) -> TaskCell<F, T> {
        TaskCell {
            header,
            stage: RefCell::new(Stage::Running(future)),
        }
    }
}

impl<F, T> TaskRun for TaskCell<F, T>
where
    F: Future<Output = Result<T>>,
{
    fn header(&self) -> &Header {
        &self.header
    }

    fn poll_future(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut stage = self.stage.borrow_mut();
        let Stage::Running(future) = &mut *stage else {
            return Poll::Ready(Ok(()));
        };
        // Safety: the future lives inside this `Rc` allocation, which never
        // moves, and it is only ever dropped in place (by assigning a new
        // stage below or in `discard`), never moved out.
        let future = unsafe { Pin::new_unchecked(future) };
        match future.poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(value)) => {
                *stage = Stage::Finished(Some(value));
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => {
                *stage = Stage::Finished(None);
                Poll::Ready(Err(e))
            }
        }
    }

    fn discard(&self) {
        // A future being dropped may touch its own task (never its stage);
        // take it out of the cell first only if nobody is polling it.
        if let Ok(mut stage) = self.stage.try_borrow_mut() {
            *stage = Stage::Discarded;
        }
    }
}

impl<F, T> TaskOutput<T> for TaskCell<F, T>
where
    F: Future<Output = Result<T>>,
{
    fn take_value(&self) -> Option<T> {
        match &mut *self.stage.try_borrow_mut().ok()? {
            Stage::Finished(value) => value.take(),
            _ => None,
        }
    }

    fn clone_value(&self) -> Option<T>
    where
        T: Clone,
    {
        match &*self.stage.try_borrow().ok()? {
            Stage::Finished(value) => value.clone(),
            _ => None,
        }
    }
}

/// Shared by the loop and every task waker: the ready queue, in two lanes.
pub(crate) struct ReadyQueue {
    pub(crate) items: std::collections::VecDeque<Ready>,
    /// What timers woke; runs before the backlog in `items`.
    pub(crate) timer_items: std::collections::VecDeque<Ready>,
    /// Set while timers fire: pushes go to `timer_items`.
    pub(crate) timer_lane: bool,
    /// The waker of the loop's driver while it waits for the host; the
    /// first push wakes it.
    pub(crate) parked: Option<Waker>,
}

impl Shared {
    pub(crate) fn new() -> Shared {
        Shared {
            queue: Mutex::new(ReadyQueue {
                items: std::collections::VecDeque::new(),
                timer_items: std::collections::VecDeque::new(),
                timer_lane: false,
                parked: None,
            }),
            wakes: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Task wake-ups so far (see [`Shared::wakes`]).
    pub(crate) fn wakes(&self) -> u64 {
        self.wakes.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ReadyQueue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn push(&self, item: Ready) {
        let parked = {
            let mut q = self.lock();
            if q.timer_lane {
                q.timer_items.push_back(item);
            } else {
                q.items.push_back(item);
            }
            q.parked.take()
        };
        if let Some(w) = parked {
            w.wake();
        }
    }

    pub(crate) fn set_timer_lane(&self, on: bool) {
        self.lock().timer_lane = on;
    }

    pub(crate) fn pop_main(&self) -> Option<Ready> {
        self.lock().items.pop_front()
    }

    pub(crate) fn pop_timer_lane(&self) -> Option<Ready> {
        self.lock().timer_items.pop_front()
    }

    pub(crate) fn pop(&self) -> Option<Ready> {
        let mut q = self.lock();
        q.timer_items.pop_front().or_else(|| q.items.pop_front())
    }

    /// Items in the backlog lane.
    pub(crate) fn len_main(&self) -> usize {
        self.lock().items.len()
    }

    /// Items ready in both lanes.
    pub(crate) fn len(&self) -> usize {
        let q = self.lock();
        q.items.len() + q.timer_items.len()
    }

    /// Parks the driver: returns false (and does not park) if work arrived.
    pub(crate) fn park(&self, waker: &Waker) -> bool {
        let mut q = self.lock();
        if !q.items.is_empty() || !q.timer_items.is_empty() {
            return false;
        }
        q.parked = Some(waker.clone());
        true
    }

    pub(crate) fn unpark(&self) {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).parked = None;
    }
}

mod waker;
pub(crate) use waker::TaskWaker;
use waker::pack;

#[cfg(test)]
mod tests;

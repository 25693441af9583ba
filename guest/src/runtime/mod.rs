//! The event loop itself: ready queue, timer wheel, task cells and the
//! current-task context. Everything public is built on this module; nothing
//! here is public.
//!
//! One loop iteration (`run_once`) is asyncio's `_run_once`: move the timers
//! that are due onto the ready queue (in deadline order), then run exactly
//! the items that are on the queue at that moment (task steps and
//! `call_soon` callbacks share one FIFO queue), so a task that keeps
//! rescheduling itself cannot starve timers or I/O. When nothing is ready,
//! the driver in `run.rs` waits in the host for the earliest deadline or
//! for an import (socket, process, ...) to wake a task.
//!
//! Cancellation is cooperative: `Task::cancel` sets the task's
//! `must_cancel` flag and schedules it; the next SDK awaitable that polls
//! inside that task takes the flag ([`take_cancel`]) and returns
//! `Err(Cancelled)` after cancelling whatever it was waiting on.

pub(crate) mod clock;
pub(crate) mod run;
pub(crate) mod serve;
pub(crate) mod slab;
pub(crate) mod task;
pub(crate) mod timers;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use clock::Clock;
use slab::{Key, Slab};
use task::{Awaiting, Header, ReadyQueue, State, TaskCell, TaskRun, Waiter};
use timers::{Fired, Timers};

use crate::errors::Error;

/// How many backlog items run between two looks at the clock for due timers.
const TIMER_CHECK_EVERY: usize = 64;

/// At each of those looks, up to this many times as many timer wake-ups
/// run before the backlog goes on. A wake-up ends a task's lateness at once,
/// while a backlog item (typically a new task's first step) mostly sets a
/// deadline still ahead: with 100,000 random sleeps a share of 4 made the
/// mean lateness about a quarter lower than 1 (and 1/4 made it twice as
/// bad). The backlog still moves: 64 items at every look.
const TIMER_LANE_SHARE: usize = 4;

/// An item on the ready queue.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ready {
    Task(Key),
    Callback(Key),
}

/// The part of a loop that task wakers reach (wakers must be `Send + Sync`;
/// a guest has one thread, so the lock is never contended).
pub(crate) struct Shared {
    pub(crate) queue: Mutex<ReadyQueue>,
    /// Task wake-ups so far, counting those of tasks already scheduled:
    /// how the event drain sees that the host delivered an event.
    pub(crate) wakes: std::sync::atomic::AtomicU64,
}

/// A context for the loop's exception handler (asyncio's context dict).
#[derive(Clone)]
pub struct ExceptionContext {
    /// What happened.
    pub message: String,
    /// The error, if there is one.
    pub error: Option<Error>,
    /// The task concerned, if any.
    pub task: Option<task::TaskRef>,
}

impl std::fmt::Debug for ExceptionContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExceptionContext")
            .field("message", &self.message)
            .field("error", &self.error)
            .field("task", &self.task.as_ref().map(|t| t.get_name()))
            .finish()
    }
}

/// The loop's exception handler, as the loop keeps it: the public API
/// (`Loop::set_exception_handler`) wraps the user's, which takes a `Loop`.
pub(crate) type ExceptionHandler = Rc<dyn Fn(&Rc<LoopInner>, &ExceptionContext)>;

/// A per-loop source of events that a higher layer keeps (the host's
/// signals, `crate::signals`): the driver polls every source once a turn
/// and before it parks. The runtime knows nothing of what a source holds;
/// the layer that owns it finds it again by type ([`LoopInner::source`]).
pub(crate) trait EventSource: std::any::Any {
    /// Dispatches what arrived (scheduling callbacks on `lp`), keeping its
    /// waits registered with `cx`: true if anything was dispatched.
    fn poll(&self, lp: &LoopInner, cx: &mut std::task::Context<'_>) -> bool;
    /// The loop is closing: drop every wait on the host.
    fn close(&self);
}

pub(crate) struct LoopInner {
    pub(crate) shared: Arc<Shared>,
    pub(crate) clock: Clock,
    tasks: RefCell<Slab<Rc<dyn TaskRun>>>,
    callbacks: RefCell<Slab<Box<dyn FnOnce()>>>,
    pub(crate) timers: RefCell<Timers>,
    current: RefCell<Option<Rc<dyn TaskRun>>>,
    next_task_id: Cell<u64>,
    pub(crate) debug: Cell<bool>,
    pub(crate) eager: Cell<bool>,
    pub(crate) slow_callback: Cell<Duration>,
    pub(crate) running: Cell<bool>,
    pub(crate) closed: Cell<bool>,
    pub(crate) exception_handler: RefCell<Option<ExceptionHandler>>,
    fired: RefCell<Vec<Fired>>,
    /// Wakers of finished tasks, for the next tasks (see `TaskWaker`).
    spare_wakers: RefCell<Vec<Arc<task::TaskWaker>>>,
    /// Event sources of higher layers ([`EventSource`]).
    sources: RefCell<Vec<Rc<dyn EventSource>>>,
}

/// At most this many spare task wakers wait for new tasks (a burst of a
/// million finished tasks keeps no more).
const SPARE_WAKERS: usize = 1024;

impl LoopInner {
    pub(crate) fn new(clock: Clock) -> Rc<LoopInner> {
        Rc::new(LoopInner {
            shared: Arc::new(Shared::new()),
            clock,
            tasks: RefCell::new(Slab::default()),
            callbacks: RefCell::new(Slab::default()),
            timers: RefCell::new(Timers::default()),
            current: RefCell::new(None),
            next_task_id: Cell::new(1),
            debug: Cell::new(false),
            eager: Cell::new(false),
            slow_callback: Cell::new(Duration::from_millis(100)),
            running: Cell::new(false),
            closed: Cell::new(false),
            exception_handler: RefCell::new(None),
            fired: RefCell::new(Vec::new()),
            spare_wakers: RefCell::new(Vec::new()),
            sources: RefCell::default(),
        })
    }

    // ---- tasks ----

    /// Creates a task for `future`; runs its first step now if `eager`,
    /// else puts it on the ready queue.
    pub(crate) fn spawn<F, T>(
        self: &Rc<Self>,
        future: F,
        name: Option<String>,
        eager: bool,
    ) -> Rc<TaskCell<F, T>>
    where
        F: Future<Output = crate::Result<T>> + 'static,
        T: 'static,
    {
        assert!(
            !self.closed.get(),
            "asyncio: cannot create a task: the event loop is closed"
        );
        let id = self.next_task_id.get();
        self.next_task_id.set(id + 1);
        let cell = Rc::new(TaskCell::new(Header::new(id, name, self), future));
        let run: Rc<dyn TaskRun> = cell.clone();
        let key = self.tasks.borrow_mut().insert(run.clone());
        let header = run.header();
        header.set_key(key);
        if eager {
            self.run_task(run);
        } else {
            header.set_scheduled(true);
            header.awaiting.set(Awaiting::Scheduled);
            self.shared.push(Ready::Task(key));
        }
        cell
    }

    /// One step of a task (asyncio's `Task.__step`).
    fn run_task(self: &Rc<Self>, task: Rc<dyn TaskRun>) {
        let header = task.header();
        if header.done() {
            return;
        }
        header.set_scheduled(false);
        if !header.started.replace(true)
            && header.must_cancel.get()
            && !header.start_even_if_cancelled.get()
        {
            // Cancelled before it ever ran: the body never starts.
            task.discard();
            let error = Error::cancelled(header.cancel_message());
            self.finish(&task, State::Cancelled, Some(error));
            return;
        }
        header.awaiting.set(Awaiting::Nothing);
        let previous = self.current.replace(Some(task.clone()));
        let started_at = self.debug.get().then(|| self.clock.now());
        let poll = task.poll_future(&mut Context::from_waker(&header.waker));
        *self.current.borrow_mut() = previous;
        if let Some(t0) = started_at {
            self.check_slow(t0, || format!("task '{}'", header.name()));
        }
        match poll {
            Poll::Pending => {}
            Poll::Ready(Ok(())) if header.must_cancel.get() => {
                // asyncio: a task asked to cancel that finishes without
                // seeing the request is cancelled all the same.
                task.discard();
                let error = Error::cancelled(header.cancel_message());
                self.finish(&task, State::Cancelled, Some(error));
            }
            Poll::Ready(Ok(())) => self.finish(&task, State::Finished, None),
            Poll::Ready(Err(e)) if e.is_cancelled() => {
                self.finish(&task, State::Cancelled, Some(e))
            }
            Poll::Ready(Err(e)) => self.finish(&task, State::Failed, Some(e)),
        }
    }

    fn finish(self: &Rc<Self>, task: &Rc<dyn TaskRun>, state: State, error: Option<Error>) {
        let header = task.header();
        header.state.set(state);
        header.must_cancel.set(false);
        header.set_error(error);
        header.clear_awaited_by();
        if let Some(key) = header.key.take() {
            self.tasks.borrow_mut().remove(key);
        }
        let waiters = std::mem::take(&mut *header.waiters.borrow_mut());
        for waiter in waiters {
            match waiter {
                Waiter::Waker(w) => w.wake(),
                Waiter::Hook(hook) => hook(task),
            }
        }
        let callbacks = header.take_done_callbacks();
        for (_, callback) in callbacks {
            let task = task::TaskRef::from_rc(task.clone());
            self.call_soon(Box::new(move || callback(&task)));
        }
    }

    /// A finished task's waker, for a new task (`None`: allocate one).
    pub(crate) fn take_spare_waker(&self) -> Option<Arc<task::TaskWaker>> {
        self.spare_wakers.try_borrow_mut().ok()?.pop()
    }

    /// Keeps a dropped task's waker for the next task, if nobody else holds
    /// it (a clone kept elsewhere must go on naming the old task).
    pub(crate) fn recycle_waker(&self, waker: Arc<task::TaskWaker>) {
        if self.closed.get() {
            return;
        }
        if let Ok(mut spare) = self.spare_wakers.try_borrow_mut()
            && spare.len() < SPARE_WAKERS
            && let Some(waker) = task::TaskWaker::reset(waker)
        {
            spare.push(waker);
        }
    }

    pub(crate) fn current_task(&self) -> Option<Rc<dyn TaskRun>> {
        self.current.borrow().clone()
    }

    /// Every task, the SDK's own services too.
    pub(crate) fn all_tasks(&self) -> Vec<Rc<dyn TaskRun>> {
        self.tasks.borrow().values().cloned().collect()
    }

    /// The program's tasks (asyncio's `all_tasks`): services left out.
    pub(crate) fn user_tasks(&self) -> Vec<Rc<dyn TaskRun>> {
        self.tasks_at(0)
    }

    /// The tasks of one service level (see `Header::service`; 0: the
    /// program's).
    pub(crate) fn tasks_at(&self, service: u8) -> Vec<Rc<dyn TaskRun>> {
        let tasks = self.tasks.borrow();
        let matching = tasks
            .values()
            .filter(|t| t.header().service.get() == service);
        matching.cloned().collect()
    }

    pub(crate) fn task_count(&self) -> usize {
        self.tasks.borrow().len()
    }

    // ---- callbacks ----

    pub(crate) fn call_soon(&self, f: Box<dyn FnOnce()>) -> Key {
        let key = self.callbacks.borrow_mut().insert(f);
        self.shared.push(Ready::Callback(key));
        key
    }

    /// Cancels a `call_soon` callback that has not run; true if it was pending.
    pub(crate) fn cancel_callback(&self, key: Key) -> bool {
        let removed = self.callbacks.borrow_mut().remove(key);
        removed.is_some()
    }

    fn run_callback(&self, key: Key) {
        let Some(f) = self.callbacks.borrow_mut().remove(key) else {
            return; // cancelled
        };
        let started_at = self.debug.get().then(|| self.clock.now());
        f();
        if let Some(t0) = started_at {
            self.check_slow(t0, || "a callback".to_string());
        }
    }

    // ---- the iteration ----

    /// One loop iteration at time `now`: fire due timers, then run the items
    /// that are ready at this moment. Returns how many ran.
    ///
    /// Timer wake-ups do not wait behind a long backlog: they go to the
    /// timer lane, which runs first; and every [`TIMER_CHECK_EVERY`] items
    /// of the batch the clock is read again, timers that came due are fired,
    /// and up to [`TIMER_LANE_SHARE`] times as many timer-lane items run
    /// before the backlog goes on (so neither lane can starve the other). Within each lane the order is
    /// FIFO; timers keep their deadline order.
    pub(crate) fn run_once(self: &Rc<Self>, now: u64) -> usize {
        self.fire_timers(now);
        let mut ran = self.run_timer_lane(usize::MAX);
        let n = self.shared.len_main();
        for i in 1..=n {
            let Some(item) = self.shared.pop_main() else {
                break;
            };
            self.run_item(item);
            ran += 1;
            if i % TIMER_CHECK_EVERY == 0 {
                if let Some(due) = self.next_deadline() {
                    // One clock read (a host call in a guest) serves both.
                    let now = self.clock.now();
                    if due <= now {
                        self.fire_timers(now);
                    }
                }
                // Share the time, so that neither lane starves the other.
                ran += self.run_timer_lane(TIMER_CHECK_EVERY * TIMER_LANE_SHARE);
            }
        }
        ran
    }

    fn run_timer_lane(self: &Rc<Self>, limit: usize) -> usize {
        let mut ran = 0;
        while ran < limit
            && let Some(item) = self.shared.pop_timer_lane()
        {
            self.run_item(item);
            ran += 1;
        }
        ran
    }

    fn run_item(self: &Rc<Self>, item: Ready) {
        match item {
            Ready::Task(key) => {
                let task = self.tasks.borrow().get(key).cloned();
                if let Some(task) = task {
                    self.run_task(task);
                }
            }
            Ready::Callback(key) => self.run_callback(key),
        }
    }

    fn fire_timers(&self, now: u64) {
        let mut fired = std::mem::take(&mut *self.fired.borrow_mut());
        self.timers.borrow_mut().fire_due(now, &mut fired);
        if !fired.is_empty() {
            self.shared.set_timer_lane(true);
            for f in fired.drain(..) {
                match f {
                    Fired::Wake(w) => w.wake(),
                    Fired::Callback(f) => {
                        self.call_soon(f);
                    }
                }
            }
            self.shared.set_timer_lane(false);
        }
        *self.fired.borrow_mut() = fired;
    }

    /// When to wake for the timers, if any is pending: never later than the
    /// earliest deadline (see `Timers::next_deadline`).
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        self.timers.borrow_mut().next_deadline()
    }

    // ---- shutdown ----

    /// Drops every task, callback and timer left (`loop.close()`).
    pub(crate) fn close(&self) {
        self.closed.set(true);
        let sources = self.sources.borrow().clone();
        for source in sources {
            source.close();
        }
        let tasks = self.tasks.borrow_mut().drain();
        for t in &tasks {
            let h = t.header();
            h.key.set(None);
            t.discard();
            // Break reference cycles (hooks of groups and gathers).
            drop(std::mem::take(&mut *h.waiters.borrow_mut()));
            drop(h.take_done_callbacks());
        }
        drop(tasks);
        let callbacks = self.callbacks.borrow_mut().drain();
        drop(callbacks);
        let timers = self.timers.borrow_mut().clear();
        drop(timers);
        drop(std::mem::take(&mut *self.spare_wakers.borrow_mut()));
        while self.shared.pop().is_some() {}
        self.shared.unpark();
    }

    // ---- event sources of higher layers ----

    /// The source of type `S` registered on this loop, registered now
    /// (`S::default()`) if there is none.
    pub(crate) fn source<S: EventSource + Default>(&self) -> Rc<S> {
        if let Some(s) = self.find_source::<S>() {
            return s;
        }
        let s = Rc::new(S::default());
        self.sources.borrow_mut().push(s.clone());
        s
    }

    /// The source of type `S`, if one was registered.
    pub(crate) fn find_source<S: EventSource>(&self) -> Option<Rc<S>> {
        self.sources.borrow().iter().find_map(|s| {
            let any: Rc<dyn std::any::Any> = s.clone();
            any.downcast::<S>().ok()
        })
    }

    /// Polls every source: true if one dispatched something.
    pub(crate) fn poll_sources(&self, cx: &mut std::task::Context<'_>) -> bool {
        let mut dispatched = false;
        let mut i = 0;
        loop {
            // (A source may register another while it dispatches.)
            let Some(source) = self.sources.borrow().get(i).cloned() else {
                return dispatched;
            };
            dispatched |= source.poll(self, cx);
            i += 1;
        }
    }

    // ---- reporting ----

    pub(crate) fn call_exception_handler(self: &Rc<Self>, context: ExceptionContext) {
        let handler = self.exception_handler.borrow().clone();
        match handler {
            Some(h) => h(self, &context),
            None => default_exception_handler(&context),
        }
    }

    pub(crate) fn report_lost_error(self: &Rc<Self>, name: &str, error: &Error) {
        if self.closed.get() {
            default_exception_handler(&ExceptionContext {
                message: format!("Task exception was never retrieved (task '{name}')"),
                error: Some(error.clone()),
                task: None,
            });
            return;
        }
        self.call_exception_handler(ExceptionContext {
            message: format!("Task exception was never retrieved (task '{name}')"),
            error: Some(error.clone()),
            task: None,
        });
    }

    fn check_slow(&self, t0: u64, what: impl FnOnce() -> String) {
        let took = Duration::from_nanos(self.clock.now().saturating_sub(t0));
        if took >= self.slow_callback.get() {
            eprintln!(
                "asyncio: executing {} took {:.3} seconds",
                what(),
                took.as_secs_f64()
            );
        }
    }
}

/// asyncio's default exception handler: one line on stderr.
pub(crate) fn default_exception_handler(context: &ExceptionContext) {
    let mut line = format!("asyncio: {}", context.message);
    if let Some(task) = &context.task {
        line.push_str(&format!(" (task '{}')", task.get_name()));
    }
    if let Some(e) = &context.error {
        line.push_str(&format!(": {e}"));
    }
    eprintln!("{line}");
}

// ---- the current loop and task ----

thread_local! {
    static CURRENT: RefCell<Option<Rc<LoopInner>>> = const { RefCell::new(None) };
}

/// Makes `lp` the running loop until the guard drops.
#[must_use = "dropping the EnterGuard leaves the loop at once: bind it (`let _enter = ...`)"]
pub(crate) struct EnterGuard {
    previous: Option<Rc<LoopInner>>,
}

pub(crate) fn enter(lp: &Rc<LoopInner>) -> EnterGuard {
    let previous = CURRENT.with(|c| c.replace(Some(lp.clone())));
    EnterGuard { previous }
}

/// Makes no loop the running loop until the guard drops.
pub(crate) fn leave() -> EnterGuard {
    let previous = CURRENT.with(|c| c.replace(None));
    EnterGuard { previous }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

pub(crate) fn try_current_loop() -> Option<Rc<LoopInner>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// The running loop; panics with a clear message outside one (asyncio
/// raises `RuntimeError: no running event loop`).
#[track_caller]
pub(crate) fn current_loop(what: &str) -> Rc<LoopInner> {
    match try_current_loop() {
        Some(lp) if !lp.closed.get() => lp,
        Some(_) => panic!("asyncio::{what}: the event loop is closed"),
        None => panic!(
            "asyncio::{what}: no running event loop (call it inside #[asyncio::main], \
             Runner::run or a task)"
        ),
    }
}

/// The task whose step is running, on the running loop.
pub(crate) fn current_task() -> Option<Rc<dyn TaskRun>> {
    CURRENT.with(|c| c.borrow().as_ref()?.current_task())
}

/// Takes the running task's cancellation request, if there is one. Every SDK
/// awaitable calls this first on every poll.
pub(crate) fn take_cancel() -> Option<Error> {
    CURRENT.with(|c| {
        let lp = c.borrow();
        let current = lp.as_ref()?.current.borrow();
        current.as_ref()?.header().take_cancel()
    })
}

/// Records what the running task is suspended in (for the task dump).
pub(crate) fn set_awaiting(what: Awaiting) {
    CURRENT.with(|c| {
        if let Some(lp) = c.borrow().as_ref()
            && let Some(t) = lp.current.borrow().as_ref()
        {
            t.header().awaiting.set(what);
        }
    })
}

/// Stores `waker` in `slot` unless the one there already wakes the same
/// task (drivers store theirs on every poll; a clone is an atomic
/// increment and a drop, each time).
pub(crate) fn store_waker(slot: &mut Option<std::task::Waker>, waker: &std::task::Waker) {
    if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
        *slot = Some(waker.clone());
    }
}

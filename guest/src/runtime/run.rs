//! Driving a loop to completion: `asyncio.run`'s shape, and the one place
//! that waits in the host.
//!
//! [`RunLoop`] runs the main task, then (as `asyncio.run` does) cancels the
//! tasks still pending and waits for them, reports errors they raised while
//! being cancelled, then does the same for the SDK's service tasks (the
//! socket multiplexer writes out what the others left) and closes the loop. Turning the loop itself is
//! [`Drive`], which a plugin instance's loop (`serve.rs`) shares. How it waits when nothing is ready
//! is a [`Park`]: in a guest, a single `wasi:clocks` `wait-until` for the
//! earliest timer (the component runtime also wakes the loop when an import
//! a task awaits completes); in native tests, a virtual clock jumps.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::task::{Service, State, TaskOutput, TaskRun};
use super::{ExceptionContext, LoopInner, enter};
use crate::errors::Result;

/// How the driver waits when no task is ready.
pub(crate) trait Park {
    /// Wait until `deadline` (a clock time) or until woken through `cx`.
    /// `Ready`: time may have moved on, run the loop again.
    fn park(&mut self, lp: &LoopInner, deadline: Option<u64>, cx: &mut Context<'_>) -> Poll<()>;

    /// Called while work is ready: true to give the host a turn first (so
    /// imports can complete while tasks keep the loop busy).
    fn should_yield(&mut self, _now: u64) -> bool {
        false
    }

    /// True if events can be taken in batches (see [`Drain`]).
    fn drains(&self) -> bool {
        false
    }
}

/// Taking every ready host event before running tasks.
///
/// The component runtime hands a guest one event per callback, and picks
/// it from the waitable set in handle order (wasmtime 48 keeps the ready
/// waitables in a `BTreeSet` and pops the first), not in arrival order.
/// Under load new events keep arriving for low handles while a high one
/// waits: with 1000 connections some were not served for 2 s. When the
/// root future wakes itself and returns `Pending`, wit-bindgen delivers
/// the next ready event and polls it again at once (or, with none left,
/// yields to the host). So the loop asks for more events this way for as
/// long as each one woke a task (counted in [`Shared::wakes`], so an event
/// for a task already scheduled counts too), then runs everything that is
/// ready in one FIFO batch, as asyncio runs every ready selector event of
/// one `select()`.
///
/// Two moments start a drain:
///
/// - a turn given to the host while tasks keep the loop busy
///   ([`Park::should_yield`]): the drain *is* that turn (with no event
///   left, wit-bindgen yields to the host; the loop then runs on), so it
///   costs nothing more. Without it a loop that never idles takes one
///   event per turn, lowest handle first, and the other clients starve
///   (guest/tests/drain.rs shows it);
/// - a wake-up from idle, when the first event brought work. A drain
///   there ends with one extra host turn, so it is done only while the
///   last one found more than one event, or at most every
///   [`DRAIN_EVERY_NS`] otherwise.
///
/// [`Shared::wakes`]: super::Shared::wakes
#[derive(Default)]
struct Drain {
    /// The task wake-up count when the loop asked for one more event.
    mark: Option<u64>,
    /// Events taken so far in this drain.
    taken: u32,
    /// The last drain found more than one event.
    busy: bool,
    /// When the last drain started.
    last: u64,
    /// The loop last returned because it had nothing to do (not to give
    /// the host a turn): only such a wake-up starts a drain.
    parked: bool,
}

/// At most this many events per drain.
const DRAIN_MAX: u32 = 4096;

/// Without load, a drain at most this often.
const DRAIN_EVERY_NS: u64 = 1_000_000;

enum Phase {
    Main,
    Shutdown(Vec<Rc<dyn TaskRun>>),
    /// The tasks below this service level are done: this level's finish
    /// (writer pumps hand on what they hold, then the socket multiplexer
    /// writes it out).
    Services(u8, Vec<Rc<dyn TaskRun>>),
    Done,
}

/// Turning a loop: run what is ready, give the host turns while busy,
/// drain events, and park when idle. Shared by the two root futures: a
/// program's [`RunLoop`] and a plugin instance's `ServeLoop`.
pub(crate) struct Drive<P> {
    park: P,
    /// The clock as last read, and how many iterations have used it since:
    /// reading the host clock costs about as much as a task switch, so with
    /// no timer pending it is read only every [`CLOCK_READ_EVERY`]
    /// iterations (it then only paces the host turns).
    now: u64,
    clock_reuses: u32,
    drain: Drain,
}

/// With no timer pending, the loop reads the clock once per this many
/// iterations.
const CLOCK_READ_EVERY: u32 = 16;

impl<P: Park> Drive<P> {
    pub(crate) fn new(park: P) -> Drive<P> {
        Drive {
            park,
            now: 0,
            clock_reuses: CLOCK_READ_EVERY,
            drain: Drain::default(),
        }
    }

    /// One poll of a loop's root future. `finished` is asked before every
    /// iteration; once it gives a value, the poll returns it.
    pub(crate) fn poll<R>(
        &mut self,
        lp: &Rc<LoopInner>,
        cx: &mut Context<'_>,
        mut finished: impl FnMut(&Rc<LoopInner>) -> Option<R>,
    ) -> Poll<R> {
        let _enter = enter(lp);
        lp.running.set(true);
        // Events of higher layers: signals from the host (none unless a
        // handler or asyncio.run's SIGINT behaviour asked for them).
        lp.poll_sources(cx);
        if self.park.drains() && self.ask_for_events(lp) {
            cx.waker().wake_by_ref();
            lp.running.set(false);
            return Poll::Pending;
        }
        loop {
            if let Some(r) = finished(lp) {
                lp.running.set(false);
                return Poll::Ready(r);
            }
            let now = if self.clock_reuses < CLOCK_READ_EVERY && lp.next_deadline().is_none() {
                self.clock_reuses += 1;
                self.now
            } else {
                self.clock_reuses = 0;
                self.now = lp.clock.now();
                self.now
            };
            let ran = lp.run_once(now);
            if lp.shared.len() > 0 {
                if self.park.should_yield(now) {
                    if self.park.drains() {
                        // The host's turn is a drain (see `Drain`).
                        self.drain.mark = Some(lp.shared.wakes());
                        self.drain.taken = 0;
                    }
                    cx.waker().wake_by_ref();
                    lp.running.set(false);
                    return Poll::Pending;
                }
                continue;
            }
            if ran > 0 {
                continue; // the root may have finished: check first
            }
            let deadline = lp.next_deadline();
            if matches!(deadline, Some(d) if d <= lp.clock.now()) {
                continue;
            }
            if lp.poll_sources(cx) {
                continue;
            }
            if self.park.park(lp, deadline, cx).is_ready() {
                continue;
            }
            if !lp.shared.park(cx.waker()) {
                continue; // a task became ready meanwhile
            }
            self.drain.parked = true;
            lp.running.set(false);
            return Poll::Pending;
        }
    }

    /// True to return `Pending` (having woken itself) so that the component
    /// runtime delivers one more ready event first: see [`Drain`].
    fn ask_for_events(&mut self, lp: &LoopInner) -> bool {
        let wakes = lp.shared.wakes();
        let d = &mut self.drain;
        match d.mark.take() {
            Some(mark) if wakes != mark && d.taken < DRAIN_MAX => {
                d.taken += 1;
                d.mark = Some(wakes);
                true
            }
            Some(_) => {
                // (A drain after a busy turn that found nothing says
                // nothing about load.)
                if d.taken > 0 {
                    d.busy = d.taken > 1;
                }
                d.taken = 0;
                false
            }
            None if lp.shared.len() > 0
                && std::mem::take(&mut d.parked)
                && (d.busy || self.now.saturating_sub(d.last) >= DRAIN_EVERY_NS) =>
            {
                d.last = self.now;
                d.taken = 1;
                d.mark = Some(wakes);
                true
            }
            None => {
                d.parked = false;
                false
            }
        }
    }
}

/// The loop's root future: runs `main` to completion, then shuts down.
pub(crate) struct RunLoop<T, P> {
    lp: Rc<LoopInner>,
    main: Rc<dyn TaskOutput<T>>,
    result: Option<Result<T>>,
    phase: Phase,
    drive: Drive<P>,
}

impl<T: 'static, P: Park> RunLoop<T, P> {
    pub(crate) fn new<F>(lp: Rc<LoopInner>, main: F, park: P) -> RunLoop<T, P>
    where
        F: Future<Output = Result<T>> + 'static,
    {
        let _enter = enter(&lp);
        let eager = lp.eager.get();
        let main: Rc<dyn TaskOutput<T>> = lp.spawn(main, Some("main".to_string()), eager);
        RunLoop {
            lp,
            main,
            result: None,
            phase: Phase::Main,
            drive: Drive::new(park),
        }
    }

    /// The main task (for `asyncio.run`'s SIGINT behaviour).
    pub(crate) fn main_task(&self) -> std::rc::Weak<dyn TaskRun> {
        let main: Rc<dyn TaskRun> = self.main.clone();
        Rc::downgrade(&main)
    }
}

/// `asyncio.run`'s phases: `Some` once the loop is done (and closed).
fn advance<T>(
    lp: &Rc<LoopInner>,
    main: &Rc<dyn TaskOutput<T>>,
    phase: &mut Phase,
    result: &mut Option<Result<T>>,
) -> Option<Result<T>> {
    loop {
        match phase {
            Phase::Main if main.header().done() => {
                *result = Some(main_result(main));
                *phase = Phase::Shutdown(cancel_all(lp.user_tasks()));
            }
            Phase::Shutdown(tasks) if tasks.iter().all(|t| t.header().done()) => {
                let tasks = std::mem::take(tasks);
                report_failures(lp, &tasks);
                *phase = Phase::Services(1, cancel_all(lp.tasks_at(1)));
            }
            Phase::Services(level, tasks) if tasks.iter().all(|t| t.header().done()) => {
                let (level, tasks) = (*level, std::mem::take(tasks));
                report_failures(lp, &tasks);
                if level < Service::LAST {
                    *phase = Phase::Services(level + 1, cancel_all(lp.tasks_at(level + 1)));
                    continue;
                }
                *phase = Phase::Done;
                lp.running.set(false);
                lp.close();
                return Some(
                    result.take().unwrap_or_else(|| {
                        Err(crate::Error::invalid_state("loop already finished"))
                    }),
                );
            }
            Phase::Done => {
                return Some(Err(crate::Error::invalid_state(
                    "the loop has already run to completion",
                )));
            }
            _ => return None,
        }
    }
}

fn cancel_all(tasks: Vec<Rc<dyn TaskRun>>) -> Vec<Rc<dyn TaskRun>> {
    for t in &tasks {
        t.header().request_cancel(None);
    }
    tasks
}

/// Reports the tasks that failed while being cancelled at shutdown.
fn report_failures(lp: &Rc<LoopInner>, tasks: &[Rc<dyn TaskRun>]) {
    for t in tasks {
        let h = t.header();
        if h.state.get() == State::Failed {
            lp.call_exception_handler(ExceptionContext {
                message: "unhandled exception during asyncio.run() shutdown".into(),
                error: h.retrieve_error(),
                task: Some(super::task::TaskRef::from_rc(t.clone())),
            });
        }
    }
}

fn main_result<T>(main: &Rc<dyn TaskOutput<T>>) -> Result<T> {
    let header = main.header();
    match header.state.get() {
        State::Finished => main
            .take_value()
            .ok_or_else(|| crate::Error::invalid_state("main result already taken")),
        _ => Err(header
            .retrieve_error()
            .unwrap_or_else(|| crate::Error::cancelled(None))),
    }
}

// Nothing in a `RunLoop` is pinned: its fields are only ever moved whole.
impl<T, P> Unpin for RunLoop<T, P> {}

impl<T: 'static, P: Park> Future for RunLoop<T, P> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let RunLoop {
            lp,
            main,
            result,
            phase,
            drive,
        } = &mut *self;
        drive.poll(lp, cx, |lp| advance(lp, main, phase, result))
    }
}

/// Virtual time: jump the clock to the next deadline.
pub(crate) struct VirtualPark;

impl Park for VirtualPark {
    fn park(&mut self, lp: &LoopInner, deadline: Option<u64>, _cx: &mut Context<'_>) -> Poll<()> {
        match deadline {
            Some(d) => {
                lp.clock.advance_to(d);
                Poll::Ready(())
            }
            None => Poll::Pending,
        }
    }
}

/// The host's `wait-until` for one deadline, kept while it is the earliest.
#[cfg(target_arch = "wasm32")]
type HostWait = Pin<Box<dyn Future<Output = ()>>>;

/// A guest: one `wait-until` in the host for the earliest deadline.
#[cfg(target_arch = "wasm32")]
pub(crate) struct HostPark {
    wait: Option<(u64, HostWait)>,
    last_yield: u64,
}

#[cfg(target_arch = "wasm32")]
impl HostPark {
    pub(crate) fn new() -> HostPark {
        HostPark {
            wait: None,
            last_yield: 0,
        }
    }
}

/// While tasks keep the loop busy, give the host a turn this often, so that
/// completed imports (sockets, processes) are delivered.
#[cfg(target_arch = "wasm32")]
const HOST_TURN_NS: u64 = 2_000_000;

#[cfg(target_arch = "wasm32")]
impl Park for HostPark {
    fn park(&mut self, _lp: &LoopInner, deadline: Option<u64>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(deadline) = deadline else {
            // No timers: drop an outstanding wait (cancels the host subtask).
            self.wait = None;
            return Poll::Pending;
        };
        // Keep one outstanding host wait; replace it only for an earlier
        // deadline (a later one just means an early, harmless wake-up).
        if !matches!(&self.wait, Some((w, _)) if *w <= deadline) {
            let wait = crate::bindings::wasi::clocks::monotonic_clock::wait_until(deadline);
            self.wait = Some((deadline, Box::pin(wait)));
        }
        let Some((_, wait)) = &mut self.wait else {
            return Poll::Ready(());
        };
        match wait.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.wait = None;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn drains(&self) -> bool {
        true
    }

    fn should_yield(&mut self, now: u64) -> bool {
        if now.saturating_sub(self.last_yield) >= HOST_TURN_NS {
            self.last_yield = now;
            true
        } else {
            false
        }
    }
}

/// Native real time (no host to wait in): sleep the thread until the
/// deadline. Used only when the crate runs natively.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) struct ThreadPark;

#[cfg(not(target_arch = "wasm32"))]
impl Park for ThreadPark {
    fn park(&mut self, lp: &LoopInner, deadline: Option<u64>, _cx: &mut Context<'_>) -> Poll<()> {
        match deadline {
            Some(d) => {
                let now = lp.clock.now();
                std::thread::sleep(std::time::Duration::from_nanos(d.saturating_sub(now)));
                Poll::Ready(())
            }
            None => Poll::Pending,
        }
    }
}

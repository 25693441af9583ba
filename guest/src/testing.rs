//! Deterministic testing with virtual time, natively (no host needed).
//!
//! [`TestLoop`] is a loop whose clock moves only when you say: spawn tasks,
//! run the ready queue until idle, advance time, and look at what happened
//! between the steps. [`run_virtual`] runs a whole program the way
//! `Runner::run` does, with time jumping straight to the next timer, so a
//! test that sleeps for an hour takes microseconds.
//!
//! ```
//! use std::time::Duration;
//! use asyncio::testing::TestLoop;
//!
//! let tl = TestLoop::new();
//! let task = tl.spawn(async {
//!     asyncio::sleep(Duration::from_secs(10)).await?;
//!     Ok("woke")
//! });
//! tl.run_until_idle();
//! assert!(!task.done());
//! tl.advance(Duration::from_secs(9));
//! assert!(!task.done());
//! tl.advance(Duration::from_secs(1));
//! assert_eq!(task.result().unwrap(), "woke");
//! ```

use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::Runner;
use crate::errors::Result;
use crate::events::Loop;
use crate::runtime::clock::Clock;
use crate::runtime::run::{RunLoop, VirtualPark};
use crate::runtime::{LoopInner, enter};
use crate::tasks::Task;
use crate::time::Instant;

/// A loop on a virtual clock, driven step by step; see the
/// [module docs](self). Dropping it closes the loop.
#[must_use = "dropping a TestLoop closes its loop"]
pub struct TestLoop {
    lp: Rc<LoopInner>,
}

impl std::fmt::Debug for TestLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestLoop")
            .field("now", &self.lp.clock.now())
            .field("tasks", &self.lp.task_count())
            .finish()
    }
}

impl Default for TestLoop {
    fn default() -> Self {
        TestLoop::new()
    }
}

impl TestLoop {
    /// A loop at virtual time zero.
    pub fn new() -> TestLoop {
        TestLoop::with_runner(&Runner::new().debug(false))
    }

    /// A loop with a runner's settings (eager tasks, debug).
    pub fn with_runner(runner: &Runner) -> TestLoop {
        let lp = runner.make_loop(Clock::Virtual(Default::default()));
        lp.running.set(true);
        TestLoop { lp }
    }

    /// A handle to the loop.
    pub fn handle(&self) -> Loop {
        Loop::from_inner(self.lp.clone())
    }

    /// Creates a task (it runs on the next step, or now if eager).
    pub fn spawn<F, T>(&self, future: F) -> Task<T>
    where
        F: Future<Output = Result<T>> + 'static,
        T: 'static,
    {
        let _enter = enter(&self.lp);
        let eager = self.lp.eager.get();
        crate::tasks::spawn_on(&self.lp, future, None, eager)
    }

    /// Runs `f` with this loop as the running loop (to call `sleep`,
    /// `create_task`, `get_running_loop`, ... from test code).
    pub fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        let _enter = enter(&self.lp);
        f()
    }

    /// Runs one loop iteration (due timers, then what is ready now);
    /// returns how many items ran.
    pub fn run_once(&self) -> usize {
        let _enter = enter(&self.lp);
        self.lp.run_once(self.lp.clock.now())
    }

    /// Runs iterations until nothing is ready (time does not move); returns
    /// how many items ran. Panics after a million iterations (a task that
    /// never stops yielding).
    pub fn run_until_idle(&self) -> usize {
        let mut total = 0;
        for _ in 0..1_000_000 {
            let n = self.run_once();
            total += n;
            if n == 0 && self.lp.shared.len() == 0 {
                return total;
            }
        }
        panic!("TestLoop::run_until_idle: the loop never became idle");
    }

    /// Moves virtual time forward by `d`, firing timers in order (time stops
    /// at each deadline on the way, and the loop runs until idle there).
    pub fn advance(&self, d: Duration) {
        let target = self.now() + d;
        self.run_until_idle();
        while let Some(deadline) = self.lp.next_deadline() {
            if deadline > target.0 {
                break;
            }
            self.lp.clock.advance_to(deadline);
            self.run_until_idle();
        }
        self.lp.clock.advance_to(target.0);
        self.run_until_idle();
    }

    /// Moves virtual time forward by `d` without running anything (the next
    /// `run_once` then sees the timers that came due).
    pub fn advance_clock(&self, d: Duration) {
        let target = self.now() + d;
        self.lp.clock.advance_to(target.0);
    }

    /// The virtual time.
    pub fn now(&self) -> Instant {
        Instant(self.lp.clock.now())
    }

    /// Time since the loop was created.
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.lp.clock.now())
    }

    /// When the loop next wakes for its timers, if any is pending: the
    /// earliest deadline, or (when that timer shares a far-off wheel slot
    /// with over a hundred others) the earlier start of that slot, where the
    /// loop sorts the slot and asks again. Never later than the earliest
    /// deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.lp.next_deadline().map(Instant)
    }

    /// Delivers `sig` as if the host had (its handler is scheduled with
    /// `call_soon`; run the loop to see it run).
    pub fn send_signal(&self, sig: crate::signals::Signal) {
        let _enter = enter(&self.lp);
        crate::signals::dispatch(&self.lp, sig);
    }

    /// How many tasks are not done.
    pub fn pending_tasks(&self) -> usize {
        self.lp.task_count()
    }
}

impl Drop for TestLoop {
    fn drop(&mut self) {
        self.lp.running.set(false);
        self.lp.close();
    }
}

/// Runs `main` as `Runner::run` does (leftover tasks cancelled and awaited,
/// loop closed), on a virtual clock that jumps to each next deadline.
/// Panics if the program can never progress (no task ready, no timer).
pub fn run_virtual<F, T>(runner: Runner, main: F) -> Result<T>
where
    F: Future<Output = Result<T>> + 'static,
    T: 'static,
{
    let lp = runner.make_loop(Clock::Virtual(Default::default()));
    block_on(RunLoop::new(lp, main, VirtualPark))
        .expect("run_virtual: deadlock: no task can make progress and no timer is pending")
}

/// Polls `future` on this thread until it is ready; `None` if it is pending
/// and nothing will ever wake it.
pub(crate) fn block_on<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    let waker = Waker::noop();
    let mut cx = Context::from_waker(waker);
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

// ---- A native stand-in for the component runtime ----
//
// Why this exists: the loop's event drain (`runtime::run::Drain`) only
// matters under the component runtime's delivery rule: one host event per
// callback, lowest handle first, and after a root future that woke itself
// and returned `Pending`, the next ready event at once (or a `yield` to
// the host when none is left). Natively nothing delivers events that way,
// so without this the drain was covered only by a host test
// (`net_thousand`). `HostSim` plays that runtime on a virtual clock, with
// "sockets" that are just handle numbers, so guest/tests/drain.rs can run a
// real `RunLoop` under it. Not API: hidden, and only for this crate's tests.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::runtime::run::Park;
use crate::runtime::task::Awaiting;

/// The waitable of the loop's timer (lower than every socket handle).
const SIM_TIMER: u32 = 0;

/// Not API (see the comment above): a simulated component runtime that
/// runs a loop and delivers "socket" events one per callback, lowest
/// handle first, as wasmtime does.
#[doc(hidden)]
#[derive(Clone, Default)]
pub struct HostSim {
    inner: Rc<SimInner>,
}

#[derive(Default)]
struct SimInner {
    /// Handles some task awaits (joined to the waitable set): its waker,
    /// and whether the event has been delivered.
    joined: RefCell<BTreeMap<u32, (Waker, bool)>>,
    /// Events the host holds (seen at a host turn), per handle.
    events: RefCell<BTreeMap<u32, u32>>,
    /// Sent during the current callback: the host sees them at its turn.
    sent: RefCell<Vec<u32>>,
    /// The loop's one timer wait: its deadline and the waker to wake.
    timer: RefCell<Option<(u64, Waker)>>,
    stats: Cell<SimStats>,
}

/// Not API: what a [`HostSim`] run did.
#[doc(hidden)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SimStats {
    /// Callbacks into the guest (one host event, or none, each).
    pub callbacks: u64,
    /// Callbacks that ended in a `yield` (the guest woke itself).
    pub yields: u64,
    /// Socket events delivered.
    pub delivered: u64,
    /// Host turns the loop asked for while busy (`Park::should_yield`).
    pub busy_turns: u64,
}

impl std::fmt::Debug for HostSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostSim")
            .field("stats", &self.inner.stats.get())
            .finish()
    }
}

/// The root waker: records that the root future was woken (wit-bindgen's
/// `sleep_state`).
#[derive(Default)]
struct Woken(AtomicBool);

impl std::task::Wake for Woken {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// How the loop parks under a [`HostSim`]: `HostPark`'s rules, with the
/// drain switchable.
struct SimPark {
    sim: Rc<SimInner>,
    drain: bool,
    last_yield: u64,
}

/// `HostPark`'s pacing of host turns while busy.
const SIM_HOST_TURN_NS: u64 = 2_000_000;

impl Park for SimPark {
    fn park(&mut self, lp: &LoopInner, deadline: Option<u64>, cx: &mut Context<'_>) -> Poll<()> {
        match deadline {
            Some(d) if d <= lp.clock.now() => Poll::Ready(()),
            Some(d) => {
                *self.sim.timer.borrow_mut() = Some((d, cx.waker().clone()));
                Poll::Pending
            }
            None => {
                *self.sim.timer.borrow_mut() = None;
                Poll::Pending
            }
        }
    }

    fn drains(&self) -> bool {
        self.drain
    }

    fn should_yield(&mut self, now: u64) -> bool {
        if now.saturating_sub(self.last_yield) >= SIM_HOST_TURN_NS {
            self.last_yield = now;
            let mut stats = self.sim.stats.get();
            stats.busy_turns += 1;
            self.sim.stats.set(stats);
            true
        } else {
            false
        }
    }
}

impl HostSim {
    /// Waits for the host to deliver an event on `handle` (at least 1): a
    /// socket read completing. Cancellable like any SDK awaitable.
    pub fn event(&self, handle: u32) -> impl Future<Output = Result<()>> + use<> {
        assert!(handle > SIM_TIMER, "HostSim: handles start at 1");
        SimEvent {
            sim: self.inner.clone(),
            handle,
        }
    }

    /// The peer sends on `handle`: the host sees it at its next turn (when
    /// the current callback returns).
    pub fn send(&self, handle: u32) {
        self.inner.sent.borrow_mut().push(handle);
    }

    /// The guest spends `d` of virtual time computing (the clock moves by
    /// it at once).
    pub fn spend(&self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let lp = crate::runtime::try_current_loop().expect("HostSim::spend outside the loop");
        lp.clock.advance_to(lp.clock.now().saturating_add(ns));
    }

    /// What the last run did.
    pub fn stats(&self) -> SimStats {
        self.inner.stats.get()
    }

    /// Runs `main` as `Runner::run` does, with this simulated runtime
    /// calling the guest: `drain` says whether the loop may drain events
    /// (`HostPark` does). A host turn takes `turn` of virtual time. Panics
    /// on a deadlock or after `max_callbacks` callbacks.
    pub fn run<F, T>(
        &self,
        runner: &Runner,
        drain: bool,
        turn: Duration,
        max_callbacks: u64,
        main: F,
    ) -> Result<T>
    where
        F: Future<Output = Result<T>> + 'static,
        T: 'static,
    {
        let sim = &self.inner;
        sim.stats.set(SimStats::default());
        let lp = runner.make_loop(Clock::Virtual(Default::default()));
        let park = SimPark {
            sim: sim.clone(),
            drain,
            last_yield: 0,
        };
        let woken = Arc::new(Woken::default());
        let waker = Waker::from(woken.clone());
        let mut cx = Context::from_waker(&waker);
        let mut root = pin!(RunLoop::new(lp.clone(), main, park));
        let turn = u64::try_from(turn.as_nanos()).unwrap_or(u64::MAX);
        let mut event = None; // the first callback has no event
        for _ in 0..max_callbacks {
            // One callback (wit-bindgen's `TaskState::callback`).
            if let Some(h) = event {
                self.deliver(h);
            }
            let yielded = loop {
                woken.0.store(false, Ordering::Relaxed);
                if let Poll::Ready(result) = root.as_mut().poll(&mut cx) {
                    return result;
                }
                if !woken.0.load(Ordering::Relaxed) {
                    break false; // waits
                }
                match self.next_ready(lp.clock.now()) {
                    Some(h) => self.deliver(h),
                    None => break true, // yields
                }
            };
            let mut stats = sim.stats.get();
            stats.callbacks += 1;
            stats.yields += u64::from(yielded);
            sim.stats.set(stats);
            // The host's turn: time passes, what peers sent arrives.
            lp.clock.advance_to(lp.clock.now() + turn);
            for h in sim.sent.borrow_mut().drain(..) {
                *sim.events.borrow_mut().entry(h).or_default() += 1;
            }
            event = self.next_ready(lp.clock.now());
            if event.is_none() && !yielded {
                // The guest waits and no socket is ready: only its timer
                // can wake it.
                let deadline = sim.timer.borrow().as_ref().map(|(d, _)| *d);
                let d = deadline.expect("HostSim: deadlock: the guest waits for nothing");
                lp.clock.advance_to(d);
                event = Some(SIM_TIMER);
            }
        }
        panic!("HostSim: the program did not finish within {max_callbacks} callbacks");
    }

    /// The event the host delivers next: the lowest ready handle.
    fn next_ready(&self, now: u64) -> Option<u32> {
        let sim = &self.inner;
        if matches!(&*sim.timer.borrow(), Some((d, _)) if *d <= now) {
            return Some(SIM_TIMER);
        }
        let events = sim.events.borrow();
        sim.joined
            .borrow()
            .iter()
            .find(|(h, (_, delivered))| !delivered && events.get(h).is_some_and(|n| *n > 0))
            .map(|(h, _)| *h)
    }

    fn deliver(&self, h: u32) {
        let sim = &self.inner;
        if h == SIM_TIMER {
            if let Some((_, w)) = sim.timer.borrow_mut().take() {
                w.wake();
            }
            return;
        }
        *sim.events.borrow_mut().get_mut(&h).expect("an event") -= 1;
        let waker = {
            let mut joined = sim.joined.borrow_mut();
            let (waker, delivered) = joined.get_mut(&h).expect("a joined handle");
            *delivered = true;
            waker.clone()
        };
        let mut stats = sim.stats.get();
        stats.delivered += 1;
        sim.stats.set(stats);
        waker.wake();
    }
}

/// [`HostSim::event`]'s future (one at a time per handle); dropped, it
/// leaves the waitable set.
struct SimEvent {
    sim: Rc<SimInner>,
    handle: u32,
}

impl Future for SimEvent {
    type Output = Result<()>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if let Some(e) = crate::runtime::take_cancel() {
            self.sim.joined.borrow_mut().remove(&self.handle);
            return Poll::Ready(Err(e));
        }
        let mut joined = self.sim.joined.borrow_mut();
        if let Some((_, true)) = joined.get(&self.handle) {
            joined.remove(&self.handle);
            return Poll::Ready(Ok(()));
        }
        joined.insert(self.handle, (cx.waker().clone(), false));
        crate::runtime::set_awaiting(Awaiting::Io {
            what: "HostSim event",
        });
        Poll::Pending
    }
}

impl Drop for SimEvent {
    fn drop(&mut self) {
        self.sim.joined.borrow_mut().remove(&self.handle);
    }
}

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
/// [module docs](self).
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

    /// The earliest pending timer, if any.
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

//! [`Barrier`]: `parties` tasks wait for each other, then all go on.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::waiters::{WaitQueue, WaiterKey};
use crate::debug::AwaitCheck;
use crate::errors::{Error, ErrorKind, Result};
use crate::runtime::task::Awaiting;
use crate::runtime::{self};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Tasks arrive.
    Filling,
    /// The last one arrived: the others leave.
    Draining,
    /// `reset` while tasks waited: they leave with BrokenBarrier.
    Resetting,
    /// `abort`: every wait fails until `reset`.
    Broken,
}

#[derive(Debug)]
struct State {
    parties: usize,
    phase: Phase,
    /// Tasks inside `wait` (arrived and not yet left).
    count: usize,
    /// Woken on every phase change; each waiter re-checks.
    waiters: WaitQueue,
}

impl State {
    /// asyncio's `Barrier._exit`: the last one out refills the barrier.
    fn leave(&mut self) {
        self.count -= 1;
        if self.count == 0 {
            if matches!(self.phase, Phase::Resetting | Phase::Draining) {
                self.phase = Phase::Filling;
            }
            self.waiters.notify_all();
        }
    }
}

/// asyncio's `Barrier`; see the [module docs](super). Clones are the same
/// barrier.
#[derive(Clone)]
pub struct Barrier {
    state: Rc<RefCell<State>>,
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.borrow();
        write!(
            f,
            "<Barrier [{:?}, waiters:{}/{}]>",
            s.phase,
            self.n_waiting(),
            s.parties
        )
    }
}

fn broken() -> Error {
    Error::new(ErrorKind::BrokenBarrier)
}

impl Barrier {
    /// A barrier for `parties` tasks. Panics if `parties` is 0 (Python
    /// raises `ValueError`).
    pub fn new(parties: usize) -> Barrier {
        assert!(parties > 0, "Barrier: parties must be > 0");
        Barrier {
            state: Rc::new(RefCell::new(State {
                parties,
                phase: Phase::Filling,
                count: 0,
                waiters: WaitQueue::new(),
            })),
        }
    }

    /// Waits until `parties` tasks are waiting, then returns this task's
    /// arrival index (0 to `parties - 1`); `Err(BrokenBarrier)` if the
    /// barrier is aborted or reset meanwhile. See [`BarrierWait`].
    pub fn wait(&self) -> BarrierWait<'_> {
        BarrierWait {
            barrier: self,
            stage: Stage::Block(None),
            check: AwaitCheck::new(),
        }
    }

    /// Back to the initial state: tasks waiting now get
    /// `Err(BrokenBarrier)`; a broken barrier is usable again. (A plain
    /// method: in asyncio it is a coroutine only because it takes the
    /// barrier's lock, which never needs waiting here.)
    pub fn reset(&self) {
        let mut s = self.state.borrow_mut();
        if s.count > 0 {
            s.phase = Phase::Resetting;
        } else {
            s.phase = Phase::Filling;
        }
        s.waiters.notify_all();
    }

    /// Breaks the barrier: waiting tasks and later `wait`s get
    /// `Err(BrokenBarrier)` until [`reset`](Self::reset).
    pub fn abort(&self) {
        let mut s = self.state.borrow_mut();
        s.phase = Phase::Broken;
        s.waiters.notify_all();
    }

    /// The number of tasks needed to pass.
    pub fn parties(&self) -> usize {
        self.state.borrow().parties
    }

    /// The number of tasks waiting now.
    pub fn n_waiting(&self) -> usize {
        let s = self.state.borrow();
        if s.phase == Phase::Filling {
            s.count
        } else {
            0
        }
    }

    /// True once aborted (until reset).
    pub fn broken(&self) -> bool {
        self.state.borrow().phase == Phase::Broken
    }
}

#[derive(Debug)]
enum Stage {
    /// Not arrived yet: waiting while the barrier drains or resets.
    Block(Option<WaiterKey>),
    /// Arrived with this index: waiting for the others.
    Wait(usize, WaiterKey),
    Done,
}

/// The future of [`Barrier::wait`].
///
/// **Cancelled** or **dropped** before the barrier trips: the task leaves
/// the barrier (it no longer counts as arrived, as in asyncio, and the
/// barrier is not broken) and `Err(Cancelled)` is returned.
#[must_use = "futures do nothing unless awaited"]
pub struct BarrierWait<'a> {
    barrier: &'a Barrier,
    stage: Stage,
    check: AwaitCheck,
}

impl BarrierWait<'_> {
    fn withdraw(&mut self) {
        let mut s = self.barrier.state.borrow_mut();
        match std::mem::replace(&mut self.stage, Stage::Done) {
            Stage::Block(Some(key)) => {
                s.waiters.remove(key);
            }
            Stage::Wait(_, key) => {
                s.waiters.remove(key);
                s.leave();
            }
            _ => {}
        }
    }
}

impl Future for BarrierWait<'_> {
    type Output = Result<usize>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<usize>> {
        self.check.polled();
        if let Some(e) = runtime::take_cancel() {
            self.withdraw();
            return Poll::Ready(Err(e));
        }
        let this = &mut *self;
        let mut s = this.barrier.state.borrow_mut();
        'pending: {
            match &mut this.stage {
                Stage::Block(key) => {
                    if let Some(k) = *key {
                        if s.waiters.poll(k, cx.waker()).is_pending() {
                            break 'pending;
                        }
                        *key = None;
                    }
                    match s.phase {
                        Phase::Draining | Phase::Resetting => {
                            *key = Some(s.waiters.push_back(cx.waker()));
                            break 'pending;
                        }
                        Phase::Broken => {
                            this.stage = Stage::Done;
                            return Poll::Ready(Err(broken()));
                        }
                        Phase::Filling => {}
                    }
                    let index = s.count;
                    s.count += 1;
                    if index + 1 == s.parties {
                        // The last one: release everybody.
                        s.phase = Phase::Draining;
                        s.waiters.notify_all();
                        s.leave();
                        this.stage = Stage::Done;
                        return Poll::Ready(Ok(index));
                    }
                    this.stage = Stage::Wait(index, s.waiters.push_back(cx.waker()));
                    break 'pending;
                }
                Stage::Wait(index, key) => {
                    let index = *index;
                    if s.waiters.poll(*key, cx.waker()).is_pending() {
                        break 'pending;
                    }
                    match s.phase {
                        Phase::Filling => {
                            *key = s.waiters.push_back(cx.waker());
                            break 'pending;
                        }
                        phase => {
                            s.leave();
                            this.stage = Stage::Done;
                            return Poll::Ready(if phase == Phase::Draining {
                                Ok(index)
                            } else {
                                Err(broken())
                            });
                        }
                    }
                }
                Stage::Done => {
                    return Poll::Ready(Err(Error::invalid_state(
                        "Barrier.wait() polled after it finished",
                    )));
                }
            }
        }
        runtime::set_awaiting(Awaiting::Barrier);
        Poll::Pending
    }
}

impl Drop for BarrierWait<'_> {
    fn drop(&mut self) {
        self.check.check("Barrier.wait()");
        self.withdraw();
    }
}

impl fmt::Debug for BarrierWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BarrierWait")
            .field("stage", &self.stage)
            .finish()
    }
}

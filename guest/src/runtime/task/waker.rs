//! A task's waker (the loop's ready queue, reached from any thread).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::Wake;

use crate::runtime::slab::Key;
use crate::runtime::{Ready, Shared};

/// The waker of one task: scheduling it is pushing its key on the loop's
/// ready queue, at most once until it runs again.
///
/// Its `Arc` is the task's second allocation (the first is the task cell);
/// a finished task gives it back to its loop for the next task
/// ([`TaskWaker::reset`]), so that tasks that come and go allocate once.
/// Only an `Arc` nobody else holds is reused: a clone kept after the task
/// ended (by a host future, a timer, another thread) keeps its own
/// `TaskWaker`, which then names the finished task's key, whose generation
/// no live task has.
pub(crate) struct TaskWaker {
    pub(super) key: AtomicU64,
    pub(super) scheduled: AtomicBool,
    pub(super) shared: Arc<Shared>,
}

impl TaskWaker {
    /// Makes a waker nobody else holds fit for a new task: `None` (and the
    /// `Arc` dropped) if a clone of it lives on.
    pub(crate) fn reset(mut this: Arc<TaskWaker>) -> Option<Arc<TaskWaker>> {
        let w = Arc::get_mut(&mut this)?;
        *w.key.get_mut() = u64::MAX;
        *w.scheduled.get_mut() = false;
        Some(this)
    }
}

pub(super) fn pack(key: Key) -> u64 {
    let (index, generation) = key.parts();
    (u64::from(generation) << 32) | u64::from(index)
}

fn unpack(v: u64) -> Key {
    Key::from_parts(v as u32, (v >> 32) as u32)
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.shared.wakes.fetch_add(1, Ordering::Relaxed);
        let key = self.key.load(Ordering::Relaxed);
        if key == u64::MAX || self.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        self.shared.push(Ready::Task(unpack(key)));
    }
}

//! A plugin instance's loop: the root future of the instance's driver,
//! which lives across export calls.
//!
//! A program's loop ([`RunLoop`](super::run::RunLoop)) runs one main task
//! and shuts down. A plugin's loop has no main task: each export call adds
//! a task, and the loop turns for as long as the instance lives, so tasks,
//! servers and timers a call started outlive it. The component model
//! delivers an import's completion to the task that last polled it, so
//! the loop is always turned by one long-lived driver task (started by the
//! host's `aio:host/control.start` call, or by the first export call); the
//! export calls only hand work to it and wait for their task to finish
//! (`crate::plugin`).

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::LoopInner;
use super::run::{Drive, Park};

/// Turns a plugin instance's loop until the loop is closed.
// (Only plugins on wasm make one; natively, the tests.)
#[cfg_attr(not(all(target_arch = "wasm32", feature = "plugin")), allow(dead_code))]
pub(crate) struct ServeLoop<P> {
    lp: Rc<LoopInner>,
    drive: Drive<P>,
    /// Set while this driver lives; cleared when it is dropped, so that
    /// the next export call starts another.
    alive: Rc<Cell<bool>>,
}

#[cfg_attr(not(all(target_arch = "wasm32", feature = "plugin")), allow(dead_code))]
impl<P: Park> ServeLoop<P> {
    /// A driver for `lp`; `alive` is set now and cleared on drop.
    pub(crate) fn new(lp: Rc<LoopInner>, park: P, alive: Rc<Cell<bool>>) -> ServeLoop<P> {
        alive.set(true);
        ServeLoop {
            lp,
            drive: Drive::new(park),
            alive,
        }
    }
}

// Nothing in a `ServeLoop` is pinned.
impl<P> Unpin for ServeLoop<P> {}

impl<P: Park> Future for ServeLoop<P> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let ServeLoop { lp, drive, .. } = &mut *self;
        drive.poll(lp, cx, |lp| lp.closed.get().then_some(()))
    }
}

impl<P> Drop for ServeLoop<P> {
    /// The driver is gone while tasks may still wait (its component-model
    /// task was cancelled by a guest caller): forget its waker, which must
    /// never be woken again, and schedule every task once, so that the
    /// next driver polls them all and their imports move to it.
    fn drop(&mut self) {
        self.alive.set(false);
        self.lp.shared.unpark();
        if !self.lp.closed.get() {
            for task in self.lp.all_tasks() {
                task.header().waker.wake_by_ref();
            }
        }
    }
}

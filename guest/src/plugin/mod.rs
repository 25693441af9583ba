//! Plugins: one asyncio loop per component instance, living across calls.
//!
//! A plugin is a `cdylib` that exports its own WIT interface; its author
//! writes an ordinary impl of the generated trait with `async fn`s and puts
//! `#[asyncio::plugin]` on it ([`asyncio::generate!`](crate::generate)
//! makes the bindings). Each export call then runs as an asyncio task on
//! the instance's loop, named after the export (`"greeter.greet"`):
//!
//! - tasks a call creates keep running after it returns, and servers and
//!   timers it started keep going, because they live in the loop, not in
//!   the call;
//! - state kept in the instance (a `thread_local`, a `static`) is seen by
//!   later calls: one instance is one memory;
//! - calls run concurrently, interleaved at their awaits, as asyncio tasks
//!   do; a call that never awaits stalls every other call (the host's CPU
//!   limit then ends the instance);
//! - when the host gives up on a call (the caller dropped it, or its
//!   per-call timeout passed), the call's task is cancelled as asyncio
//!   cancels one: its next SDK await returns `Err(Cancelled)`, its cleanup
//!   may await, and the function still returns a value, which the host
//!   discards (it reports `Cancelled` or a timeout to its caller);
//! - a panic or trap ends the instance (every call in flight fails).
//!
//! Synchronous exports (`fn`, not `async fn`) run inside the instance's
//! loop, so they can create tasks, put into queues and set events, but they
//! cannot await: the component model forbids a synchronous export to block.
//!
//! How it works: the component model delivers an import's completion to
//! the task that last polled it, so one long-lived *driver* task turns the
//! loop (`runtime::serve`); the host starts it with the SDK's
//! `aio:host/control.start` export right after instantiating (the first
//! export call starts it otherwise). An export call asks the host for its
//! number (`aio:host/calls.enter`), hands its body to the loop as a task
//! registered under that number, and waits for that task; a reader beside
//! the driver takes the host's cancellations off the instance's one stream
//! (`cancels`). docs/design-plugins.md has the details.

mod cancels;
mod instance;

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::runtime::task::TaskRun;
use crate::runtime::{LoopInner, enter};
use cancels::{Cancels, Registration};

pub use instance::Options;

/// Why the host gave up on a call.
// (Only plugins on wasm make them; natively, the tests.)
#[cfg_attr(not(all(target_arch = "wasm32", feature = "plugin")), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CancelReason {
    /// The caller dropped the call.
    Cancelled,
    /// The call's per-call timeout passed.
    Timeout,
}

impl CancelReason {
    #[cfg_attr(not(all(target_arch = "wasm32", feature = "plugin")), allow(dead_code))]
    fn message(self) -> &'static str {
        match self {
            CancelReason::Cancelled => "the host cancelled the call",
            CancelReason::Timeout => "the call timed out",
        }
    }
}

/// An async export call: runs `body` as a task named `name` on the
/// instance's loop and gives its value (`#[asyncio::plugin]` wraps every
/// `async fn` of the impl in this).
#[doc(hidden)]
pub async fn call<F, R>(options: &'static Options, name: &'static str, body: F) -> R
where
    F: Future<Output = R> + 'static,
    R: 'static,
{
    let instance = instance::get(Some(options));
    instance.ensure_driver();
    // First, in this call's own component-model task: the host finds the
    // call by the task that asks.
    let number = host_enter();
    let cancels = number.map(|n| (instance.cancels().clone(), n));
    call_on(instance.lp(), name, cancels, body).await
}

/// A synchronous export call: runs `body` inside the instance's loop.
#[doc(hidden)]
pub fn call_sync<R>(options: &'static Options, body: impl FnOnce() -> R) -> R {
    let instance = instance::get(Some(options));
    instance.ensure_driver();
    let _enter = enter(instance.lp());
    body()
}

/// `aio:host/control.start`: make sure the loop has its driver.
#[doc(hidden)]
pub fn start() {
    instance::get(None).ensure_driver();
}

/// `aio:host/control.task-dump`: the loop's tasks, one per line.
#[doc(hidden)]
pub fn task_dump() -> String {
    in_instance_loop(crate::tasks::task_dump)
}

/// `aio:host/control.task-table`: the loop's pending tasks.
pub(crate) fn task_table() -> Vec<crate::tasks::TaskInfo> {
    in_instance_loop(crate::tasks::task_table)
}

/// Runs `f` with the instance's loop as the running loop (a synchronous
/// export call is not inside a step of the loop).
fn in_instance_loop<R>(f: impl FnOnce() -> R) -> R {
    let instance = instance::get(None);
    let _enter = enter(instance.lp());
    f()
}

/// Runs `body` as a task on `lp`, registered in `cancels` under the
/// call's number (so the host can cancel it), and cancelled when the
/// returned future is dropped.
pub(crate) async fn call_on<F, R>(
    lp: &Rc<LoopInner>,
    name: &'static str,
    cancels: Option<(Rc<Cancels>, u32)>,
    body: F,
) -> R
where
    F: Future<Output = R> + 'static,
    R: 'static,
{
    let slot: Rc<Cell<Option<R>>> = Rc::new(Cell::new(None));
    let out = slot.clone();
    let task = lp.spawn(
        async move {
            out.set(Some(body.await));
            Ok(())
        },
        Some(name.to_owned()),
        // Never eager: the body's first step must run in the driver, so
        // that what it awaits is the driver's to complete.
        false,
    );
    task.header().start_even_if_cancelled.set(true);
    let task: Rc<dyn TaskRun> = task;
    let registration = cancels.map(|(cancels, number)| cancels.register(number, &task));
    CallWait {
        task,
        _registration: registration,
        registered: None,
    }
    .await;
    match slot.take() {
        Some(value) => value,
        // Only if the loop was closed under the call (it never is in a
        // plugin): there is no value to return, and returning none would
        // trap the instance.
        None => std::future::pending().await,
    }
}

/// Waits for a call's task.
struct CallWait {
    task: Rc<dyn TaskRun>,
    /// Where the host's cancellation finds the task, while the call waits.
    _registration: Option<Registration>,
    /// The waker registered with the task (the caller's).
    registered: Option<Waker>,
}

impl CallWait {
    fn forget_waker(&mut self) {
        if let Some(w) = self.registered.take() {
            self.task.header().remove_waker(&w);
        }
    }
}

impl Future for CallWait {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if this.task.header().done() {
            this.forget_waker();
            return Poll::Ready(());
        }
        if !this
            .registered
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            this.forget_waker();
            this.task.header().add_waker(cx.waker());
            this.registered = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl Drop for CallWait {
    /// The caller went away (a Rust drop, or a guest caller cancelled its
    /// subtask): the waker it left must never be woken, and the task is
    /// cancelled (its cleanup runs on in the driver).
    fn drop(&mut self) {
        self.forget_waker();
        if !self.task.header().done() {
            self.task
                .header()
                .request_cancel(Some("the caller dropped the call".to_owned()));
        }
    }
}

/// Asks the host for this call's number.
#[cfg(target_arch = "wasm32")]
fn host_enter() -> Option<u32> {
    crate::bindings::aio::host::calls::enter()
}

/// Natively there is no host to cancel calls.
#[cfg(not(target_arch = "wasm32"))]
fn host_enter() -> Option<u32> {
    None
}

#[cfg(test)]
mod tests;

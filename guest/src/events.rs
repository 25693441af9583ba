//! The low-level event loop API: [`get_running_loop`] and [`Loop`]
//! (`call_soon`, `call_later`, `call_at`, `time`, `create_future`,
//! `create_task`, the exception handler and debug mode).
//!
//! Most programs never need it: tasks, `sleep` and the high-level API cover
//! them. Callbacks are plain closures run by the loop between task steps,
//! in FIFO order; `call_later`/`call_at` callbacks due at the same moment
//! run in the order they were scheduled.
//!
//! ```no_run
//! # async fn demo() -> asyncio::Result<()> {
//! use std::time::Duration;
//! let lp = asyncio::get_running_loop();
//! let fut = lp.create_future::<&str>();
//! let f = fut.clone();
//! lp.call_later(Duration::from_millis(10), move || { f.set_result("done").ok(); });
//! assert_eq!(fut.await?, "done");
//! # Ok(()) }
//! ```

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::rc::{Rc, Weak};
use std::time::Duration;

use crate::errors::Result;
use crate::runtime::slab::Key;
use crate::runtime::timers::Action;
use crate::runtime::{self, ExceptionContext, LoopInner};
use crate::tasks::Task;
use crate::time::Instant;

/// The running event loop (asyncio's `get_running_loop()`).
///
/// Panics outside a running loop, where asyncio raises `RuntimeError`; see
/// [`try_get_running_loop`].
#[track_caller]
pub fn get_running_loop() -> Loop {
    Loop::from_inner(runtime::current_loop("get_running_loop"))
}

/// The running event loop, or `None` outside one.
pub fn try_get_running_loop() -> Option<Loop> {
    runtime::try_current_loop().map(Loop::from_inner)
}

/// A handle to an event loop; cheap to clone.
#[derive(Clone)]
pub struct Loop {
    inner: Rc<LoopInner>,
}

impl fmt::Debug for Loop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loop")
            .field("running", &self.is_running())
            .field("closed", &self.is_closed())
            .field("debug", &self.get_debug())
            .finish()
    }
}

impl Loop {
    pub(crate) fn from_inner(inner: Rc<LoopInner>) -> Loop {
        Loop { inner }
    }

    /// The loop's monotonic time (asyncio's `loop.time()`).
    pub fn time(&self) -> Instant {
        Instant(self.inner.clock.now())
    }

    /// Runs `callback` on a later iteration, after the callbacks and task
    /// steps already scheduled (FIFO).
    pub fn call_soon(&self, callback: impl FnOnce() + 'static) -> Handle {
        let cancelled = Rc::new(Cell::new(false));
        let key = self.inner.call_soon(guarded(&cancelled, callback));
        Handle {
            lp: Rc::downgrade(&self.inner),
            key,
            cancelled,
        }
    }

    /// Runs `callback` after `delay`.
    pub fn call_later(&self, delay: Duration, callback: impl FnOnce() + 'static) -> TimerHandle {
        self.call_at(self.time() + delay, callback)
    }

    /// Runs `callback` at `when` (on the loop's clock).
    pub fn call_at(&self, when: Instant, callback: impl FnOnce() + 'static) -> TimerHandle {
        let cancelled = Rc::new(Cell::new(false));
        let key = self
            .inner
            .timers
            .borrow_mut()
            .insert(when.0, Action::Callback(guarded(&cancelled, callback)));
        TimerHandle {
            lp: Rc::downgrade(&self.inner),
            key,
            when,
            cancelled,
        }
    }

    /// A new pending [`Future`](crate::Future) on this loop.
    pub fn create_future<T: 'static>(&self) -> crate::Future<T> {
        crate::Future::new()
    }

    /// Schedules a task on this loop (see [`create_task`](crate::create_task)).
    pub fn create_task<F, T>(&self, future: F) -> Task<T>
    where
        F: Future<Output = Result<T>> + 'static,
        T: 'static,
    {
        let eager = self.inner.eager.get();
        crate::tasks::spawn_on(&self.inner, future, None, eager)
    }

    /// True while the loop is running a step (always, seen from a task).
    pub fn is_running(&self) -> bool {
        self.inner.running.get()
    }

    /// True once the loop has been closed (after `Runner::run` returned).
    pub fn is_closed(&self) -> bool {
        self.inner.closed.get()
    }

    /// Debug mode (see the crate docs on debug mode).
    pub fn get_debug(&self) -> bool {
        self.inner.debug.get()
    }

    /// Turns debug mode on or off.
    pub fn set_debug(&self, on: bool) {
        self.inner.debug.set(on)
    }

    /// Steps and callbacks slower than this are reported in debug mode
    /// (default 100 ms; asyncio's `slow_callback_duration`).
    pub fn set_slow_callback_duration(&self, d: Duration) {
        self.inner.slow_callback.set(d)
    }

    /// Sets the handler of errors nobody else can handle (`None`: the
    /// default, which prints one line on stderr).
    pub fn set_exception_handler(
        &self,
        handler: Option<impl Fn(&Loop, &ExceptionContext) + 'static>,
    ) {
        *self.inner.exception_handler.borrow_mut() = handler.map(|h| {
            let h: runtime::ExceptionHandler =
                Rc::new(move |inner, context| h(&Loop::from_inner(inner.clone()), context));
            h
        });
    }

    /// Calls the exception handler with `context`.
    pub fn call_exception_handler(&self, context: ExceptionContext) {
        self.inner.call_exception_handler(context)
    }

    /// The default exception handler (one line on stderr).
    pub fn default_exception_handler(&self, context: &ExceptionContext) {
        runtime::default_exception_handler(context)
    }

    /// Runs `callback` (as a loop callback, like `call_soon`) each time the
    /// host delivers `sig`; replaces the signal's previous handler. `Err`
    /// (`RuntimeError`) once the loop is closed. See [`signals`](crate::signals).
    pub fn add_signal_handler(
        &self,
        sig: crate::signals::Signal,
        callback: impl Fn() + 'static,
    ) -> Result<()> {
        crate::signals::add_handler(&self.inner, sig, Rc::new(callback))
    }

    /// Removes the handler of `sig`, restoring the default; false if it
    /// had none.
    pub fn remove_signal_handler(&self, sig: crate::signals::Signal) -> bool {
        crate::signals::remove_handler(&self.inner, sig)
    }
}

/// Wraps a callback so that it does nothing once its handle is cancelled
/// (a timer callback may already sit on the ready queue when cancelled).
fn guarded(cancelled: &Rc<Cell<bool>>, callback: impl FnOnce() + 'static) -> Box<dyn FnOnce()> {
    let cancelled = cancelled.clone();
    Box::new(move || {
        if !cancelled.get() {
            callback()
        }
    })
}

/// A callback scheduled with `call_soon`; can be cancelled until it runs.
#[derive(Clone)]
pub struct Handle {
    lp: Weak<LoopInner>,
    key: Key,
    cancelled: Rc<Cell<bool>>,
}

impl Handle {
    /// Cancels the callback if it has not run yet.
    pub fn cancel(&self) {
        if self.cancelled.replace(true) {
            return;
        }
        if let Some(lp) = self.lp.upgrade() {
            lp.cancel_callback(self.key);
        }
    }

    /// True once `cancel` was called.
    pub fn cancelled(&self) -> bool {
        self.cancelled.get()
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("cancelled", &self.cancelled())
            .finish()
    }
}

/// A callback scheduled with `call_later`/`call_at`.
#[derive(Clone)]
pub struct TimerHandle {
    lp: Weak<LoopInner>,
    key: Key,
    when: Instant,
    cancelled: Rc<Cell<bool>>,
}

impl TimerHandle {
    /// Cancels the callback if it has not fired yet.
    pub fn cancel(&self) {
        if self.cancelled.replace(true) {
            return;
        }
        if let Some(lp) = self.lp.upgrade() {
            lp.timers.borrow_mut().remove(self.key);
        }
    }

    /// True if `cancel` was called.
    pub fn cancelled(&self) -> bool {
        self.cancelled.get()
    }

    /// When it is (or was) due.
    pub fn when(&self) -> Instant {
        self.when
    }
}

impl fmt::Debug for TimerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerHandle")
            .field("when", &self.when)
            .field("cancelled", &self.cancelled())
            .finish()
    }
}

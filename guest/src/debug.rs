//! Debug-mode reports that the SDK's own types make (the loop makes the
//! others: slow steps and callbacks, errors never retrieved).
//!
//! **Never-awaited futures.** Python warns when a coroutine object is
//! garbage collected without having been awaited. A Rust `async fn` body is
//! not the SDK's to watch (the compiler's `#[must_use]` warning is the check
//! there), but every *leaf* awaitable of the SDK knows whether it was ever
//! polled: [`sleep`](crate::sleep)'s `Sleep` and every future of
//! [`sync`](crate::sync) and [`queues`](crate::queues). One that is dropped
//! without ever being polled (`drop(lock.acquire())`, a `select` that
//! built it and never polled it) is reported, in debug mode only, through
//! the loop's exception handler: one stderr line by default,
//! `asyncio: Lock.acquire() was never awaited (task 'main')`.
//!
//! **Unclosed transports** (Python's `ResourceWarning: unclosed transport`)
//! are reported by [`report_unclosed`], which the transports of the network
//! and subprocess modules call from their `Drop` when they were not closed.

use crate::runtime::{self, ExceptionContext};
use crate::tasks::TaskRef;

/// Remembers whether a future was polled; see the [module docs](self).
/// One byte; costs nothing unless a future is dropped unpolled.
#[derive(Debug, Default)]
pub(crate) struct AwaitCheck {
    polled: bool,
}

impl AwaitCheck {
    pub(crate) const fn new() -> AwaitCheck {
        AwaitCheck { polled: false }
    }

    #[inline]
    pub(crate) fn polled(&mut self) {
        self.polled = true;
    }

    /// Call from `Drop`: reports `what` if it was never polled.
    #[inline]
    pub(crate) fn check(&self, what: &'static str) {
        if !self.polled {
            report(&format!("{what} was never awaited"));
        }
    }
}

/// Reports an SDK resource dropped without being closed (debug mode only),
/// naming it: `asyncio: unclosed transport <what> (task 'name')`.
pub(crate) fn report_unclosed(what: &str) {
    report(&format!("unclosed {what}"));
}

/// Reports an error the program cannot see (a TLS client's failed
/// handshake on a server), with the error, in debug mode only.
pub(crate) fn report_error(message: &str, error: &crate::Error) {
    let Some(lp) = runtime::try_current_loop() else {
        return;
    };
    if !lp.debug.get() || lp.closed.get() {
        return;
    }
    lp.call_exception_handler(ExceptionContext {
        message: message.to_string(),
        error: Some(error.clone()),
        task: runtime::current_task().map(TaskRef::from_rc),
    });
}

fn report(message: &str) {
    let Some(lp) = runtime::try_current_loop() else {
        return;
    };
    if !lp.debug.get() || lp.closed.get() {
        return;
    }
    let task = runtime::current_task().map(TaskRef::from_rc);
    lp.call_exception_handler(ExceptionContext {
        message: message.to_string(),
        error: None,
        task,
    });
}

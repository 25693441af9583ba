//! Signals from the host: [`Loop::add_signal_handler`](crate::Loop::add_signal_handler) and
//! [`Loop::remove_signal_handler`](crate::Loop::remove_signal_handler), and what `asyncio.run` does with
//! SIGINT.
//!
//! ```no_run
//! # async fn demo() -> asyncio::Result<()> {
//! use asyncio::signals::Signal;
//! let lp = asyncio::get_running_loop();
//! let stop = asyncio::Event::new();
//! let s = stop.clone();
//! lp.add_signal_handler(Signal::SIGTERM, move || s.set())?;
//! stop.wait().await?; // runs until SIGTERM
//! # Ok(()) }
//! ```
//!
//! The host (`aio run`, or an embedder) forwards SIGHUP, SIGINT, SIGUSR1,
//! SIGUSR2, SIGTERM and SIGWINCH. A guest receives only the signals it
//! asked for (it tells the host, `aio:host/signals`); the others get the
//! host's default action: SIGWINCH is ignored, the rest end the run with
//! status 128 + the signal's number, without the guest's cleanup.
//!
//! - **A handler** runs as a loop callback (`call_soon`) each time the
//!   signal arrives, as in asyncio. Adding one replaces the previous one for
//!   that signal; removing it restores the default.
//! - **SIGINT without a handler**, inside [`Runner::run`](crate::Runner::run)
//!   (so in every `#[asyncio::main]` program), does what `asyncio.run` does:
//!   the main task is cancelled, so `Err(Cancelled)` reaches `main` at its
//!   next await and its cleanup runs; leftover tasks are then cancelled as
//!   at any end. If `main` ends cancelled, `Runner::run` returns
//!   [`ErrorKind::KeyboardInterrupt`](crate::ErrorKind::KeyboardInterrupt)
//!   and the program exits with status 130. A second SIGINT, or a cleanup
//!   longer than the host's grace period (5 s with `aio run`), makes the
//!   host stop the guest (also status 130).
//! - **SIGTERM without a handler** ends the program at once (status 143),
//!   as it ends a Python program. Install a handler (for example one that
//!   cancels the main task) for a graceful shutdown.
//!
//! Every `#[asyncio::main]` guest imports `aio:host/signals` for this (the
//! default SIGINT behaviour needs it). To build a guest that imports only
//! standard WASI 0.3 and runs on any WASI 0.3 host, depend on asyncio with
//! `default-features = false`: the feature `host-signals` is then off, SIGINT
//! gets the host's default action, and `add_signal_handler` fails with a
//! clear error.
//!
//! Natively (outside a component) handlers are recorded but no signal ever
//! arrives; [`testing::TestLoop::send_signal`](crate::testing::TestLoop::send_signal)
//! delivers one by hand.

use std::cell::RefCell;
use std::fmt;
use std::rc::{Rc, Weak};
#[cfg(all(target_arch = "wasm32", feature = "host-signals"))]
use std::{future::Future, pin::Pin};

use crate::errors::{Error, Result};
use crate::runtime::task::TaskRun;
use crate::runtime::{EventSource, LoopInner};

/// The signals a host forwards (the names of Python's `signal` module).
#[allow(clippy::upper_case_acronyms)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Signal {
    /// The terminal went away (or, by convention, "reload").
    SIGHUP,
    /// Ctrl-C.
    SIGINT,
    /// User-defined signal 1.
    SIGUSR1,
    /// User-defined signal 2.
    SIGUSR2,
    /// Please stop.
    SIGTERM,
    /// The terminal was resized.
    SIGWINCH,
}

impl Signal {
    /// Every signal a host forwards.
    pub const ALL: [Signal; 6] = [
        Signal::SIGHUP,
        Signal::SIGINT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGTERM,
        Signal::SIGWINCH,
    ];

    /// Its number on Linux (SIGINT is 2).
    pub fn number(self) -> i32 {
        match self {
            Signal::SIGHUP => 1,
            Signal::SIGINT => 2,
            Signal::SIGUSR1 => 10,
            Signal::SIGUSR2 => 12,
            Signal::SIGTERM => 15,
            Signal::SIGWINCH => 28,
        }
    }

    /// Its name, `"SIGINT"`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::SIGHUP => "SIGHUP",
            Signal::SIGINT => "SIGINT",
            Signal::SIGUSR1 => "SIGUSR1",
            Signal::SIGUSR2 => "SIGUSR2",
            Signal::SIGTERM => "SIGTERM",
            Signal::SIGWINCH => "SIGWINCH",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the host was told about a signal (`aio:host/signals` disposition).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Disposition {
    #[default]
    Default,
    Handle,
    Graceful,
}

type Handler = Rc<dyn Fn()>;

/// A loop's signal state: the loop's [`EventSource`] for signals,
/// registered by the first handler (or `Runner::run`'s SIGINT behaviour).
#[derive(Default)]
pub(crate) struct SignalSource(RefCell<LoopSignals>);

impl EventSource for SignalSource {
    fn poll(&self, lp: &LoopInner, cx: &mut std::task::Context<'_>) -> bool {
        poll(self, lp, cx)
    }

    fn close(&self) {
        self.0.borrow_mut().close();
    }
}

/// This loop's signal state, registered now if it has none.
fn state(lp: &LoopInner) -> Rc<SignalSource> {
    lp.source::<SignalSource>()
}

#[derive(Default)]
struct LoopSignals {
    handlers: [Option<Handler>; 6],
    /// `Runner::run`'s SIGINT behaviour: cancel this (the main task).
    default_interrupt: Option<Weak<dyn TaskRun>>,
    /// SIGINT cancelled the main task.
    interrupted: bool,
    told: [Disposition; 6],
    /// The outstanding `next` call to the host, while any signal is wanted.
    #[cfg(all(target_arch = "wasm32", feature = "host-signals"))]
    watch: Option<Pin<Box<dyn Future<Output = crate::bindings::aio::host::signals::Signal>>>>,
}

impl LoopSignals {
    fn wanted(&self, sig: Signal) -> Disposition {
        if self.handlers[sig.index()].is_some() {
            Disposition::Handle
        } else if sig == Signal::SIGINT && self.default_interrupt.is_some() {
            Disposition::Graceful
        } else {
            Disposition::Default
        }
    }

    /// Tells the host when what we want for `sig` changed.
    fn sync(&mut self, sig: Signal) {
        let wanted = self.wanted(sig);
        if self.told[sig.index()] != wanted {
            self.told[sig.index()] = wanted;
            tell_host(sig, wanted);
        }
    }

    /// Forgets every handler and the main task, and gives every signal back
    /// to the host's default. Keeps `interrupted` (read after the loop ends).
    fn close(&mut self) {
        self.handlers = Default::default();
        self.default_interrupt = None;
        for sig in Signal::ALL {
            self.sync(sig);
        }
        #[cfg(all(target_arch = "wasm32", feature = "host-signals"))]
        {
            self.watch = None;
        }
    }

    #[cfg(all(target_arch = "wasm32", feature = "host-signals"))]
    fn watching(&self) -> bool {
        self.told.iter().any(|d| *d != Disposition::Default)
    }
}

#[cfg(all(target_arch = "wasm32", feature = "host-signals"))]
fn tell_host(sig: Signal, d: Disposition) {
    use crate::bindings::aio::host::signals as wit;
    let sig = match sig {
        Signal::SIGHUP => wit::Signal::Hangup,
        Signal::SIGINT => wit::Signal::Interrupt,
        Signal::SIGUSR1 => wit::Signal::User1,
        Signal::SIGUSR2 => wit::Signal::User2,
        Signal::SIGTERM => wit::Signal::Terminate,
        Signal::SIGWINCH => wit::Signal::WindowChange,
    };
    let d = match d {
        Disposition::Default => wit::Disposition::Default,
        Disposition::Handle => wit::Disposition::Handle,
        Disposition::Graceful => wit::Disposition::Graceful,
    };
    wit::set_disposition(sig, d);
}

#[cfg(not(all(target_arch = "wasm32", feature = "host-signals")))]
fn tell_host(_sig: Signal, _d: Disposition) {}

/// `loop.add_signal_handler`.
pub(crate) fn add_handler(lp: &LoopInner, sig: Signal, handler: Handler) -> Result<()> {
    if cfg!(all(target_arch = "wasm32", not(feature = "host-signals"))) {
        return Err(Error::runtime(format!(
            "add_signal_handler({sig}): this guest was built without the asyncio \
             feature `host-signals`, so it cannot receive signals"
        )));
    }
    if lp.closed.get() {
        return Err(Error::runtime(
            "add_signal_handler: the event loop is closed",
        ));
    }
    let state = state(lp);
    let mut s = state.0.borrow_mut();
    s.handlers[sig.index()] = Some(handler);
    s.sync(sig);
    Ok(())
}

/// `loop.remove_signal_handler`: true if there was a handler.
pub(crate) fn remove_handler(lp: &LoopInner, sig: Signal) -> bool {
    let Some(state) = lp.find_source::<SignalSource>() else {
        return false;
    };
    let mut s = state.0.borrow_mut();
    let had = s.handlers[sig.index()].take().is_some();
    if had {
        s.sync(sig);
    }
    had
}

/// `Runner::run`: SIGINT without a handler cancels `main`.
pub(crate) fn install_default_interrupt(lp: &LoopInner, main: Weak<dyn TaskRun>) {
    let state = state(lp);
    let mut s = state.0.borrow_mut();
    s.default_interrupt = Some(main);
    s.sync(Signal::SIGINT);
}

/// True if SIGINT cancelled the main task of this loop.
pub(crate) fn interrupted(lp: &LoopInner) -> bool {
    lp.find_source::<SignalSource>()
        .is_some_and(|s| s.0.borrow().interrupted)
}

/// A signal arrived: run its handler soon, or apply `asyncio.run`'s SIGINT
/// behaviour. A signal nobody wants any more (a handler removed while it
/// was on its way) is dropped.
pub(crate) fn dispatch(lp: &LoopInner, sig: Signal) {
    let state = state(lp);
    let (handler, main) = {
        let s = state.0.borrow();
        (s.handlers[sig.index()].clone(), s.default_interrupt.clone())
    };
    if let Some(handler) = handler {
        lp.call_soon(Box::new(move || handler()));
        return;
    }
    if sig == Signal::SIGINT
        && let Some(main) = main.and_then(|m| m.upgrade())
        && !main.header().done()
    {
        let first = !std::mem::replace(&mut state.0.borrow_mut().interrupted, true);
        if first {
            main.header().request_cancel(None);
        }
    }
}

/// Keeps one `next` call outstanding in the host while any signal is
/// wanted, and dispatches what it returns. Called by the loop's driver;
/// true if a signal was dispatched.
#[cfg(all(target_arch = "wasm32", feature = "host-signals"))]
fn poll(state: &SignalSource, lp: &LoopInner, cx: &mut std::task::Context<'_>) -> bool {
    use crate::bindings::aio::host::signals as wit;
    use std::task::Poll;
    let mut dispatched = false;
    loop {
        let sig = {
            let mut s = state.0.borrow_mut();
            if !s.watching() {
                s.watch = None;
                return dispatched;
            }
            let watch = s.watch.get_or_insert_with(|| Box::pin(wit::next()));
            match watch.as_mut().poll(cx) {
                Poll::Pending => return dispatched,
                Poll::Ready(sig) => {
                    s.watch = None;
                    sig
                }
            }
        };
        let sig = match sig {
            wit::Signal::Hangup => Signal::SIGHUP,
            wit::Signal::Interrupt => Signal::SIGINT,
            wit::Signal::User1 => Signal::SIGUSR1,
            wit::Signal::User2 => Signal::SIGUSR2,
            wit::Signal::Terminate => Signal::SIGTERM,
            wit::Signal::WindowChange => Signal::SIGWINCH,
        };
        dispatch(lp, sig);
        dispatched = true;
    }
}

/// Natively no signal ever arrives.
#[cfg(not(all(target_arch = "wasm32", feature = "host-signals")))]
fn poll(_state: &SignalSource, _lp: &LoopInner, _cx: &mut std::task::Context<'_>) -> bool {
    false
}

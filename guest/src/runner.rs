//! Running a program: [`Runner`] (asyncio's `asyncio.run` and `Runner`) and
//! [`exit`].
//!
//! `#[asyncio::main]` uses a `Runner` for you. Use one directly to run a
//! coroutine on a fresh loop from other async code (a plugin's exports
//! already run on their instance's loop: see [`plugin`](mod@crate::plugin)):
//!
//! ```no_run
//! # async fn export() -> asyncio::Result<u32> {
//! let n = asyncio::Runner::new()
//!     .debug(true)
//!     .run(async { Ok(42) })
//!     .await?;
//! # Ok(n) }
//! ```
//!
//! `run` creates a loop, runs the future as its main task (named `main`),
//! then, as `asyncio.run` does, cancels every task still pending, waits for
//! them to finish their cleanup, reports any error they raised meanwhile to
//! the exception handler, and closes the loop.
//!
//! While `#[asyncio::main]` runs `main`, the program's loop is what its
//! `aio:host/control` export reports on (`task-dump`, `task-table`: how
//! `aio ps` sees a running program); a `Runner` of your own is not.

use std::cell::RefCell;
use std::future::Future;
use std::io::Write;
use std::rc::Rc;
use std::time::Duration;

use crate::errors::{Error, Result};
use crate::runtime::clock::Clock;
use crate::runtime::run::RunLoop;
use crate::runtime::{LoopInner, try_current_loop};

/// Debug mode is also turned on by this environment variable (`1`), when
/// the host passes it (`aio run --allow-env=ASYNCIO_DEBUG`); it plays the
/// role of `PYTHONASYNCIODEBUG`.
pub const DEBUG_ENV: &str = "ASYNCIO_DEBUG";

/// Runs a coroutine on a new event loop; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Runner {
    debug: Option<bool>,
    eager_tasks: bool,
    slow_callback_duration: Duration,
}

impl Default for Runner {
    fn default() -> Self {
        Runner::new()
    }
}

impl Runner {
    /// Defaults: debug mode from [`DEBUG_ENV`] (off if unset), lazy tasks,
    /// a 100 ms slow-step threshold.
    pub fn new() -> Runner {
        Runner {
            debug: None,
            eager_tasks: false,
            slow_callback_duration: Duration::from_millis(100),
        }
    }

    /// Debug mode: report slow task steps and callbacks (and more; see the
    /// crate docs).
    pub fn debug(mut self, on: bool) -> Runner {
        self.debug = Some(on);
        self
    }

    /// Eager tasks: `create_task` runs the new task's first step at once
    /// (asyncio's `eager_task_factory`).
    pub fn eager_tasks(mut self, on: bool) -> Runner {
        self.eager_tasks = on;
        self
    }

    /// The threshold for slow-step reports in debug mode.
    pub fn slow_callback_duration(mut self, d: Duration) -> Runner {
        self.slow_callback_duration = d;
        self
    }

    pub(crate) fn make_loop(&self, clock: Clock) -> std::rc::Rc<LoopInner> {
        let lp = LoopInner::new(clock);
        self.configure(&lp);
        lp
    }

    /// Applies these settings to a loop.
    pub(crate) fn configure(&self, lp: &LoopInner) {
        let debug = self
            .debug
            .unwrap_or_else(|| std::env::var(DEBUG_ENV).is_ok_and(|v| !v.is_empty() && v != "0"));
        lp.debug.set(debug);
        lp.eager.set(self.eager_tasks);
        lp.slow_callback.set(self.slow_callback_duration);
    }

    /// Runs `main` to completion on a new loop and gives its result.
    /// `Err(Runtime)` if called from inside a running loop.
    pub async fn run<F, T>(self, main: F) -> Result<T>
    where
        F: Future<Output = Result<T>> + 'static,
        T: 'static,
    {
        self.run_on_loop(main, false).await
    }

    /// [`run`](Self::run); `program`: the loop is the program's, which the
    /// `aio:host/control` export reports on while it runs.
    async fn run_on_loop<F, T>(self, main: F, program: bool) -> Result<T>
    where
        F: Future<Output = Result<T>> + 'static,
        T: 'static,
    {
        if try_current_loop().is_some_and(|lp| lp.running.get()) {
            return Err(Error::runtime(
                "Runner::run cannot be called from a running event loop",
            ));
        }
        let lp = self.make_loop(Clock::Host);
        let _program = program.then(|| ProgramLoop::set(&lp));
        #[cfg(target_arch = "wasm32")]
        let park = crate::runtime::run::HostPark::new();
        #[cfg(not(target_arch = "wasm32"))]
        let park = crate::runtime::run::ThreadPark;
        let run = RunLoop::new(lp.clone(), main, park);
        // asyncio.run's SIGINT: cancel main (crate::signals).
        crate::signals::install_default_interrupt(&lp, run.main_task());
        match run.await {
            Err(e) if e.is_cancelled() && crate::signals::interrupted(&lp) => {
                Err(Error::new(crate::ErrorKind::KeyboardInterrupt))
            }
            result => result,
        }
    }
}

/// What `#[asyncio::main]` accepts as `main`'s return type.
pub trait MainResult {
    #[doc(hidden)]
    fn into_result(self) -> Result<()>;
}

impl MainResult for () {
    fn into_result(self) -> Result<()> {
        Ok(())
    }
}

impl<E: Into<Error>> MainResult for std::result::Result<(), E> {
    fn into_result(self) -> Result<()> {
        self.map_err(Into::into)
    }
}

/// Flushes stdout and stderr (the component exits without running Rust's
/// own end-of-`main` flush).
pub fn flush_stdio() {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
}

/// Ends the program now with exit status `code` (flushing stdout and
/// stderr first). Use this rather than `std::process::exit`, which can only
/// report 0 or 1 from a WASI 0.3 program.
pub fn exit(code: u8) -> ! {
    flush_stdio();
    #[cfg(target_arch = "wasm32")]
    {
        crate::bindings::wasi::cli::exit::exit_with_code(code);
        unreachable!("wasi:cli/exit returned");
    }
    #[cfg(not(target_arch = "wasm32"))]
    std::process::exit(i32::from(code))
}

/// What `#[asyncio::main]`'s export runs: `main` on a `Runner`, its error
/// printed on stderr, stdio flushed.
#[doc(hidden)]
pub async fn run_main<F, R>(runner: Runner, main: F) -> std::result::Result<(), ()>
where
    F: Future<Output = R> + 'static,
    R: MainResult + 'static,
{
    let result = runner
        .run_on_loop(async move { main.await.into_result() }, true)
        .await;
    flush_stdio();
    match result {
        Ok(()) => Ok(()),
        // SIGINT ended main (crate::signals): status 130, as a shell
        // reports a program Ctrl-C stopped.
        Err(e) if matches!(e.kind(), crate::ErrorKind::KeyboardInterrupt) => exit(130),
        Err(e) => {
            eprintln!("Error: {e}");
            flush_stdio();
            Err(())
        }
    }
}

thread_local! {
    /// The loop of the program's `main`, while [`run_main`] runs it: a
    /// synchronous export call (`aio:host/control`) is not inside a step
    /// of the loop, so it finds the loop here.
    static PROGRAM_LOOP: RefCell<Option<Rc<LoopInner>>> = const { RefCell::new(None) };
}

/// Makes a loop the program's until it drops.
struct ProgramLoop;

impl ProgramLoop {
    fn set(lp: &Rc<LoopInner>) -> ProgramLoop {
        PROGRAM_LOOP.with(|p| *p.borrow_mut() = Some(lp.clone()));
        ProgramLoop
    }
}

impl Drop for ProgramLoop {
    fn drop(&mut self) {
        let lp = PROGRAM_LOOP.with(|p| p.borrow_mut().take());
        drop(lp);
    }
}

/// Runs `f` with the program's loop as the running loop, or with no
/// running loop when no program runs (before `main` starts, after it
/// ended, or in a plugin).
pub(crate) fn in_program_loop<R>(f: impl FnOnce() -> R) -> R {
    let lp = PROGRAM_LOOP.with(|p| p.borrow().clone());
    let _enter = match &lp {
        Some(lp) => crate::runtime::enter(lp),
        None => crate::runtime::leave(),
    };
    f()
}

/// What the `fn main` that `#[asyncio::main]` leaves behind does: explain.
#[doc(hidden)]
pub fn no_async_host() -> ! {
    eprintln!(
        "this program is an asyncio-wasm guest: it exports wasi:cli/run@0.3.0 and needs a \
         WASI 0.3 host; run it with `aio run <program>.wasm`"
    );
    std::process::exit(1)
}

//! Python's asyncio, for Rust programs that run as WebAssembly components.
//!
//! A guest is an ordinary binary crate built for `wasm32-wasip2` and run by
//! the `aio` host (`aio run app.wasm`):
//!
//! ```no_run
//! use std::time::Duration;
//!
//! #[asyncio::main]
//! async fn main() -> asyncio::Result<()> {
//!     println!("Hello ...");
//!     asyncio::sleep(Duration::from_secs(1)).await?;
//!     println!("... World!");
//!     Ok(())
//! }
//! ```
//!
//! The names follow asyncio wherever the behaviour matches: [`create_task`],
//! [`gather()`], [`wait_for`], [`timeout`], [`TaskGroup`], [`shield()`],
//! [`get_running_loop`], ... One module per section of the asyncio
//! reference:
//!
//! | asyncio | here |
//! |---|---|
//! | Runners | [`runner`]: [`Runner`], `#[asyncio::main]`, [`exit`] |
//! | Coroutines and Tasks | [`tasks`] and [`time`] |
//! | Call Graph Introspection | [`tasks::graph`]: [`capture_call_graph`], [`format_call_graph`], [`print_call_graph`], [`task_table`], [`task_dump`] (`asyncio ps`/`pstree`) |
//! | Futures | [`futures`]: [`Future`] |
//! | Streams | [`streams`]: [`open_connection`], [`start_server`], [`Server`], [`StreamReader`], [`StreamWriter`] |
//! | Event Loop: DNS | [`net`]: [`net::getaddrinfo`], [`net::getnameinfo`] |
//! | Transports and Protocols | [`transports`]: [`Loop::create_connection`], [`Loop::create_server`], [`Loop::create_datagram_endpoint`] |
//! | Subprocesses | [`subprocess`]: [`create_subprocess_exec`], [`Process`], [`Loop::subprocess_exec`] with a [`SubprocessProtocol`](subprocess::SubprocessProtocol) |
//! | Synchronization Primitives | [`sync`]: [`Lock`], [`Event`], [`Condition`], [`Semaphore`], [`Barrier`] |
//! | Queues | [`queues`]: [`Queue`], [`PriorityQueue`], [`LifoQueue`] |
//! | Event Loop | [`events`]: [`Loop`], `call_soon`, `call_later`, ... |
//! | Event Loop: Unix signals | [`signals`]: [`Loop::add_signal_handler`], SIGINT cancels `main` |
//! | Exceptions | [`errors`]: [`Error`], [`ErrorKind`] |
//!
//! # Plugins
//!
//! A guest can also be a plugin: a `cdylib` that exports its own WIT
//! interface for a host application to call, while one asyncio loop per
//! instance runs across the calls ([`plugin`](mod@plugin) has the semantics,
//! docs/embedding.md the whole story). With the `plugin` feature:
//!
//! ```ignore
//! // wit/greeter.wit:
//! //   package acme:greeter@0.1.0;
//! //   interface greeter { greet: async func(name: string) -> string; }
//! //   world plugin { include aio:host/imports@0.1.0; export greeter; }
//! asyncio::generate!({ world: "acme:greeter/plugin" });
//!
//! struct Greeter;
//!
//! #[asyncio::plugin]
//! impl exports::acme::greeter::greeter::Guest for Greeter {
//!     async fn greet(name: String) -> String {
//!         let _ = asyncio::sleep(std::time::Duration::from_millis(10)).await;
//!         format!("hello, {name}")
//!     }
//! }
//!
//! export!(Greeter);
//! ```
//!
//! # Errors and cancellation
//!
//! Everything that can fail returns [`Result`]; `?` plays the role of
//! `raise`. Cancellation is cooperative, as in asyncio: [`Task::cancel`](TaskRef::cancel)
//! makes the next SDK awaitable the task is suspended in return
//! `Err(Cancelled)` (once), and whatever that awaitable waited on is
//! cancelled too. The task may clean up (even awaiting), propagate the error
//! with `?`, or swallow it ([`TaskRef::uncancel`]). Dropping an SDK future is
//! always safe; each type documents what dropping it does.
//!
//! # One thread
//!
//! A guest has one thread: tasks and futures need not be `Send`, and there
//! is no `to_thread` or `run_coroutine_threadsafe`.
//!
//! # Debug mode
//!
//! [`Runner::debug`] (or `#[asyncio::main(debug = true)]`, or the
//! environment variable [`runner::DEBUG_ENV`] set to `1`) reports task steps
//! and callbacks slower than 100 ms on stderr, and SDK futures dropped
//! without ever being awaited. Whatever the mode, a task whose error nobody
//! retrieved is reported when it is dropped, as asyncio does.
//!
//! # Testing
//!
//! [`testing`] runs the loop natively on a virtual clock, step by step.

extern crate self as asyncio;

#[doc(hidden)]
pub mod bindings {
    //! The WIT bindings (generated from `wit/`); private to the SDK.
    wit_bindgen::generate!({
        path: "wit",
        world: "aio:host/guest",
        pub_export_macro: true,
        default_bindings_module: "asyncio::bindings",
        generate_all,
    });
}

/// The SDK's `aio:host/control` export of every plugin (see [`plugin`](mod@plugin));
/// private to the SDK.
#[doc(hidden)]
pub mod control_bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "aio:host/sdk-exports",
        pub_export_macro: true,
        export_macro_name: "export_control",
        default_bindings_module: "asyncio::control_bindings",
    });
}

mod debug;
pub mod errors;
pub mod events;
pub mod futures;
pub mod net;
pub mod plugin;
pub mod queues;
pub mod runner;
mod runtime;
pub mod signals;
pub mod ssl;
pub mod streams;
pub mod subprocess;
pub mod sync;
pub mod tasks;
pub mod testing;
pub mod time;
pub mod transports;

/// A plugin's bindings: wit-bindgen's `generate!`, through the SDK's own
/// wit-bindgen, with the WASI and `aio:host` interfaces the world imports
/// taken from the SDK (no second copy of them), and the SDK's
/// `aio:host/control` export added.
///
/// `asyncio::generate!({ world: "ns:pkg/world" })` reads the WIT in the
/// crate's `wit/` directory (or `path: "..."`/`path: [...]`); other options
/// are wit-bindgen's, passed through (`additional_derives`, `with`, ...),
/// except `runtime_path`, `inline` and the export-macro options. The world
/// usually includes `aio:host/imports@0.1.0`. Needs the `plugin` feature.
/// See the [crate docs](crate#plugins).
pub use asyncio_macros::generate;
pub use asyncio_macros::main;
/// Runs a plugin's exports on the instance's loop: put it on the impl of
/// a generated `Guest` trait (written with its full path,
/// `exports::ns::pkg::iface::Guest`). Each `async fn` runs as a task named
/// `iface.func` (asyncio names); a plain `fn` runs inside the loop and
/// cannot await. Options: `#[asyncio::plugin(debug = true, eager_tasks =
/// true)]`, applied by the first call. See [`plugin`](mod@plugin).
pub use asyncio_macros::plugin;
pub use errors::{Error, ErrorKind, Result};
pub use events::{Handle, Loop, TimerHandle, get_running_loop, try_get_running_loop};
pub use futures::Future;
pub use queues::{LifoQueue, PriorityQueue, Queue, QueueStream};
pub use runner::{Runner, exit};
pub use runtime::ExceptionContext;
pub use streams::{
    Server, StreamReader, StreamWriter, open_connection, open_connection_ssl, open_unix_connection,
    start_server, start_server_ssl, start_unix_server,
};
pub use subprocess::{Process, create_subprocess_exec, create_subprocess_shell};
pub use sync::{Barrier, BoundedSemaphore, Condition, Event, Lock, Semaphore};
pub use tasks::{
    AsCompleted, CallGraph, CallbackId, ReturnWhen, Task, TaskGroup, TaskInfo, TaskRef, all_tasks,
    as_completed, capture_call_graph, create_eager_task, create_named_task, create_task,
    current_task, format_call_graph, gather, gather_all, print_call_graph, shield, task_dump,
    task_table, wait,
};
pub use time::{
    Instant, Sleep, Timeout, sleep, sleep_until, timeout, timeout_at, wait_for, yield_now,
};

/// `#[asyncio::main]`'s `aio:host/control` export (feature `host-control`).
#[cfg(feature = "host-control")]
#[doc(hidden)]
#[macro_export]
macro_rules! __export_program_control {
    () => {
        #[doc(hidden)]
        use ::asyncio::__private::ProgramControl as __AsyncioControl;
        ::asyncio::__private::export_control!(
            __AsyncioControl with_types_in ::asyncio::control_bindings
        );
    };
}

/// Without `host-control`, a program exports `wasi:cli/run` only.
#[cfg(not(feature = "host-control"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __export_program_control {
    () => {};
}

/// What `#[asyncio::main]` expands to refers to these; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::exports::wasi::cli::run::Guest as RunExport;
    pub use crate::runner::{MainResult, no_async_host, run_main};

    pub use crate::bindings::export;
    pub use crate::control_bindings::export_control;
    pub use crate::plugin::{
        Options as PluginOptions, call as plugin_call, call_sync as plugin_call_sync,
    };

    use crate::control_bindings::exports::aio::host::control;

    /// The SDK's `aio:host/control` export, which every plugin gets from
    /// `asyncio::generate!`: about the instance's loop.
    #[derive(Debug)]
    pub struct Control;

    impl control::Guest for Control {
        async fn start() {
            crate::plugin::start()
        }

        fn task_dump() -> String {
            crate::plugin::task_dump()
        }

        fn task_table() -> Vec<control::TaskInfo> {
            crate::plugin::task_table()
                .into_iter()
                .map(task_info)
                .collect()
        }
    }

    /// The `aio:host/control` export of a program (`#[asyncio::main]`):
    /// about the loop `main` runs on, while it runs (`aio ps` asks it).
    /// There is nothing to start: `start` does nothing.
    #[derive(Debug)]
    pub struct ProgramControl;

    impl control::Guest for ProgramControl {
        async fn start() {}

        fn task_dump() -> String {
            crate::runner::in_program_loop(crate::tasks::task_dump)
        }

        fn task_table() -> Vec<control::TaskInfo> {
            crate::runner::in_program_loop(crate::tasks::task_table)
                .into_iter()
                .map(task_info)
                .collect()
        }
    }

    fn task_info(t: crate::tasks::TaskInfo) -> control::TaskInfo {
        control::TaskInfo {
            id: t.id,
            name: t.name,
            state: t.state,
            awaiting: t.awaiting,
            awaited_by: t.awaited_by,
        }
    }
    /// For plugin crates' `generate!` (spike S4, docs/design-plugins.md §7):
    /// their export glue must be the same wit-bindgen as the SDK's.
    pub use wit_bindgen;

    /// The `fn main` of a guest: natively, run the program on a real-time
    /// loop (handy for quick experiments); in a component, explain that a
    /// WASI 0.3 host is needed (the entry point is the async export).
    pub fn main_entry<F, R>(runner: crate::Runner, main: F)
    where
        F: std::future::Future<Output = R> + 'static,
        R: MainResult + 'static,
    {
        #[cfg(target_arch = "wasm32")]
        {
            let _ = (runner, main);
            no_async_host()
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            match crate::testing::block_on(run_main(runner, main)) {
                Some(Ok(())) => {}
                Some(Err(())) => std::process::exit(1),
                None => {
                    eprintln!("asyncio: deadlock: no task can make progress");
                    std::process::exit(1)
                }
            }
        }
    }
}

/// `asyncio::generate!` expands to this first: plugins need the `plugin`
/// feature (wit-bindgen's cross-task wake-ups).
#[cfg(feature = "plugin")]
#[doc(hidden)]
#[macro_export]
macro_rules! __plugin_feature_check {
    () => {};
}

#[cfg(not(feature = "plugin"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __plugin_feature_check {
    () => {
        ::core::compile_error!(
            "asyncio plugins need the crate's `plugin` feature: \
             asyncio = { version = \"...\", features = [\"plugin\"] }"
        );
    };
}

//! The asyncio-wasm host: runs guest programs (WebAssembly components that
//! export `wasi:cli/run@0.3.0`, as `#[asyncio::main]` makes them) in a
//! sandbox, on wasmtime with WASI 0.3 and 0.2.
//!
//! This crate is both the `aio` command and a library to embed guests:
//! programs that run to the end ([`Program::run`]), and plugins that stay
//! alive and serve concurrent calls to their exports ([`plugin`]).
//!
//! # Quick start
//!
//! ```no_run
//! use aio_host::{Grants, Limits, RunOptions, Runtime, Status, Stdio};
//! use std::time::Duration;
//!
//! # async fn demo() -> Result<(), aio_host::Error> {
//! // One runtime per process: it owns the compiler and the compile cache.
//! let runtime = Runtime::new()?;
//!
//! // Loading validates the component and compiles it (or takes it from
//! // the cache); a `Program` can be run many times.
//! let program = runtime.load("hello.wasm")?;
//!
//! let outcome = program
//!     .run(
//!         RunOptions::new()
//!             .arg("--name=world")
//!             .grants(Grants::new().allow_env_vars(["LANG"]))
//!             .limits(Limits::new().timeout(Duration::from_secs(5)).max_memory(64 << 20))
//!             .stdio(Stdio::Capture),
//!     )
//!     .await;
//!
//! match outcome.status() {
//!     Status::Exited(code) => println!("exited with {code}"),
//!     Status::Failed(err) => println!("{}: {err}", err.kind()),
//! }
//! println!("{}", String::from_utf8_lossy(outcome.stdout()));
//! # Ok(())
//! # }
//! ```
//!
//! Poll runs on a tokio runtime with the time driver enabled. The `aio`
//! command uses a `current_thread` runtime: it is measurably cheaper per I/O
//! event than a multi-thread one, and a busy guest still yields every 10 ms.
//!
//! # Plugins
//!
//! A plugin is a component of any world that includes `aio:host/imports`
//! and exports its own interface (built with `asyncio::generate!` and
//! `#[asyncio::plugin]`). Load it once, instantiate it as often as needed,
//! each instance with its own grants and limits, and call its exports:
//!
//! ```no_run
//! use aio_host::plugin::{CallOptions, InstanceOptions};
//! use aio_host::{ErrorKind, Runtime};
//! use std::time::Duration;
//! use wasmtime::component::Val;
//!
//! # async fn demo() -> Result<(), aio_host::Error> {
//! let runtime = Runtime::new()?;
//! let plugin = runtime.load_plugin("greeter.wasm")?;
//! let instance = plugin.instantiate(InstanceOptions::new()).await?;
//! let hello = instance.call("greet", &[Val::String("world".into())]).await?;
//! let late = instance
//!     .call_with(
//!         "sleep",
//!         &[Val::U32(60_000), Val::String("late".into())],
//!         CallOptions::new().timeout(Duration::from_millis(100)),
//!     )
//!     .await;
//! // The guest saw an asyncio cancellation and cleaned up first.
//! assert_eq!(late.unwrap_err().kind(), ErrorKind::CallTimeout);
//! # let _ = hello;
//! # Ok(())
//! # }
//! ```
//!
//! An [`Instance`] is `Send + Sync + Clone`; calls through it run
//! concurrently on the instance's one asyncio loop. A trap, panic or limit
//! ends that instance only, and every call of it gets the same error.
//! `aio call APP.wasm 'greet("world")'` does the same from the shell, with
//! arguments and results in WAVE.
//!
//! # Where things live
//!
//! - [`runner`]: [`Runtime`], [`Program`], [`RunOptions`].
//! - [`plugin`]: [`Plugin`], [`Instance`], [`InstanceOptions`], [`CallOptions`]:
//!   live guests called through their exports.
//! - [`store`]: what every guest store is made of (programs and plugins).
//! - [`outcome`]: [`Outcome`], [`Status`]: how a run ended.
//! - [`policy`]: [`Grants`], deny by default.
//! - [`audit`]: the JSON-lines audit log of capability uses and refusals.
//! - [`process`]: subprocesses (`--allow-run`), killed and reaped at the end.
//! - [`signals`]: [`Signals`]: SIGINT, SIGTERM, ... delivered to a run.
//! - [`limits`]: [`Limits`]: memory, CPU, wall clock, handles.
//! - [`pooling`]: [`Pooling`]: the pooling instance allocator, an option.
//! - [`stdio`]: [`Stdio`]: inherit or capture.
//! - [`cache`]: the compile cache ([`LoadedFrom`]).
//! - [`inspect`]: [`Inspection`], a component's imports and exports.
//! - [`error`]: [`Error`] and [`ErrorKind`].
//! - [`units`]: `10s`, `64MiB` parsing.
//!
//! # Diagnostics
//!
//! The crate reports through [`tracing`](https://docs.rs/tracing) and
//! prints nothing itself: warnings (a compile cache it will not use, an
//! audit log it cannot write), at `info` each refused capability use and
//! each run's and plugin instance's span (`run{program=.. run=N}`,
//! `instance{plugin=.. number=N}`), at `debug` the compile cache's
//! decisions, every capability use and each instance's life. Install any
//! subscriber to see them; the `aio` command's is filtered by `AIO_LOG`
//! (docs/cli.md).
//!
//! # Exit statuses
//!
//! A run ends with a [`Status`]: the guest's own exit code, or a failure
//! whose [`ErrorKind`] decides the `aio` command's status:
//!
//! | status | meaning |
//! |---|---|
//! | 0 | `main` returned `Ok(())` |
//! | 1 | `main` returned an error |
//! | n | the guest called `asyncio::exit(n)` |
//! | 2 | usage error (bad flag or value); `aio call` arguments that do not fit ([`ErrorKind::BadArguments`]) |
//! | 70 | other host error ([`ErrorKind::Host`]), or a call to a closed instance ([`ErrorKind::Closed`]) |
//! | 124 | wall-clock timeout ([`ErrorKind::Timeout`]), or a call's timeout ([`ErrorKind::CallTimeout`]) |
//! | 125 | no `wasi:cli/run@0.3.0` export ([`ErrorKind::NoRunExport`]), or no such plugin export ([`ErrorKind::NoSuchExport`]) |
//! | 126 | not a component ([`ErrorKind::NotAComponent`]), or precompiled code not opted in to ([`ErrorKind::Precompiled`]) |
//! | 127 | file not found ([`ErrorKind::NotFound`]) |
//! | 134 | guest trap, panic or stack overflow ([`ErrorKind::Trap`], [`ErrorKind::Panic`], [`ErrorKind::StackOverflow`]) |
//! | 137 | memory limit ([`ErrorKind::MemoryLimit`]) |
//! | 152 | CPU limit ([`ErrorKind::CpuLimit`]) |
//! | 153 | handle limit ([`ErrorKind::HandleLimit`]) |
//! | 75 | the instance pool is full: try again ([`ErrorKind::PoolExhausted`]) |
//! | 128 + n | signal n ended the run ([`ErrorKind::Signal`]): 130 SIGINT, 143 SIGTERM |
//! | 130 | a plugin call was cancelled ([`ErrorKind::Cancelled`]) |
//!
//! A guest's own code can collide with a failure status (a guest may call
//! `asyncio::exit(124)`); embedders should match on [`Status`] instead.

pub mod audit;
mod bindings;
pub mod cache;
mod calls;
pub mod error;
pub mod fs;
#[doc(hidden)]
pub mod fuzzing;
pub mod inspect;
mod instances;
pub mod introspect;
pub mod limits;
pub mod net;
pub mod outcome;
pub mod plugin;
pub mod policy;
pub mod pooling;
pub mod process;
pub mod runner;
pub mod signals;
pub mod stdio;
pub mod store;
mod streams;
pub mod units;

pub use cache::LoadedFrom;
pub use error::{Error, ErrorKind};
pub use inspect::Inspection;
pub use introspect::{TaskInfo, TaskProbe};
pub use limits::Limits;
pub use outcome::{Outcome, Status};
pub use plugin::{CallOptions, Instance, InstanceOptions, Plugin};
pub use policy::{AuditEvent, AuditHook, EnvGrant, Grants};
pub use pooling::Pooling;
pub use runner::{Program, RunOptions, Runtime, RuntimeBuilder};
pub use signals::{Signal, Signals};
pub use stdio::Stdio;

//! Plugins: guests that stay alive and serve calls to their exports.
//!
//! A program runs `wasi:cli/run` to the end ([`Program::run`](crate::Program::run));
//! a plugin is instantiated once and then called, many times and
//! concurrently, like a library with its own event loop. Tasks, servers and
//! timers a call starts outlive it; state persists between calls.
//!
//! - [`Runtime::load_plugin`](crate::Runtime::load_plugin) compiles (or takes
//!   from the cache) a component of any world that includes
//!   `aio:host/imports`, pre-instantiates it, and finds its export
//!   functions once: a [`Plugin`].
//! - [`Plugin::instantiate`] makes an [`Instance`] with its own
//!   [`InstanceOptions`]: grants (audited), limits, stdio, a default
//!   per-call timeout and a cancel grace. Each instance is one store owned
//!   by an actor task; instances never share fate.
//! - [`Instance::call`] calls an export with [`Val`](wasmtime::component::Val)s
//!   (names as `greet`, `api.greet` or `ns:pkg/api.greet@1.0.0`);
//!   [`Instance::call_typed`] takes a `TypedFunc` from the embedder's own
//!   `bindgen!` ([`Instance::bind`]).
//! - Dropping a call's future, or its timeout, cancels it in the guest as
//!   asyncio cancels a task; the caller gets [`ErrorKind::Cancelled`]
//!   or [`ErrorKind::CallTimeout`] once the
//!   guest's cleanup ran.
//! - A trap, panic or limit ends the instance; every pending and later call
//!   gets the same error, with the message `aio run` would print.
//!
//! ```no_run
//! use aio_host::plugin::{CallOptions, InstanceOptions};
//! use aio_host::{Grants, Limits, Runtime};
//! use std::time::Duration;
//! use wasmtime::component::Val;
//!
//! # async fn demo() -> Result<(), aio_host::Error> {
//! let runtime = Runtime::new()?;
//! let plugin = runtime.load_plugin("plugin.wasm")?;
//! for export in plugin.exports() {
//!     println!("{}", export.signature());
//! }
//! let instance = plugin
//!     .instantiate(
//!         InstanceOptions::new()
//!             .grants(Grants::new().allow_net(["127.0.0.1:8080"]).unwrap())
//!             .limits(Limits::new().max_memory(64 << 20)),
//!     )
//!     .await?;
//! let greeting = instance.call("greet", &[Val::String("world".into())]).await?;
//! let slow = instance
//!     .call_with(
//!         "sleep",
//!         &[Val::U32(10_000), Val::String("late".into())],
//!         CallOptions::new().timeout(Duration::from_millis(100)),
//!     )
//!     .await;
//! assert!(slow.is_err());
//! # let _ = greeting;
//! # Ok(())
//! # }
//! ```
//!
//! The instance's actor runs on a tokio task (the runtime `instantiate` is
//! polled on, or [`InstanceOptions::runtime`]); the tokio runtime needs
//! its time driver.

mod actor;
mod call;
mod exports;
mod instance;
mod options;
mod typecheck;
mod wave;

pub use wave::{format_call, format_results};

pub use exports::ExportFunc;
pub use instance::Instance;
pub use options::{CallOptions, CancelToken, DEFAULT_CANCEL_GRACE, InstanceOptions};

use crate::cache::LoadedFrom;
use crate::error::{Error, ErrorKind, one_line};
use crate::limits::EpochTicker;
use crate::outcome::Ended;
use crate::runner::{Native, Runtime, display_name, read_program};
use crate::signals::RunSignals;
use crate::store::{GuestStore, RunState, Setup};
use actor::Actor;
use call::Funcs;
use exports::Exports;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};
use wasmtime::Engine;
use wasmtime::component::{Component, InstancePre};

/// A loaded, pre-instantiated plugin: cheap to clone and to instantiate
/// (no compilation, exports already resolved).
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<Loaded>,
}

struct Loaded {
    name: String,
    engine: Engine,
    component: Component,
    pre: InstancePre<RunState>,
    exports: Exports,
    loaded_from: LoadedFrom,
    ticker: Arc<EpochTicker>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.inner.name)
            .field("loaded_from", &self.inner.loaded_from)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Loads a plugin component (`.wasm`) from a file; its name is the
    /// file name.
    ///
    /// Unlike [`load`](Self::load) it needs no `wasi:cli/run` export; the
    /// same checks apply otherwise (precompiled code is refused with
    /// [`ErrorKind::Precompiled`], imports the host lacks with
    /// [`ErrorKind::NotAComponent`]).
    pub fn load_plugin(&self, path: impl AsRef<Path>) -> Result<Plugin, Error> {
        let path = path.as_ref();
        let bytes = read_program(path)?;
        self.load_plugin_bytes(&display_name(path), &bytes)
    }

    /// [`load_plugin`](Self::load_plugin) from memory; `name` is used in
    /// messages and as `argv[0]`.
    pub fn load_plugin_bytes(&self, name: &str, bytes: &[u8]) -> Result<Plugin, Error> {
        let (component, loaded_from) = self.component(name, bytes, Native::Refuse)?;
        let pre = self.linker.instantiate_pre(&component).map_err(|e| {
            Error::new(
                ErrorKind::NotAComponent,
                format!(
                    "{name}: imports something aio does not provide: {}",
                    one_line(&e)
                ),
            )
        })?;
        let exports = Exports::of(&self.engine, &component);
        Ok(Plugin {
            inner: Arc::new(Loaded {
                name: name.to_owned(),
                engine: self.engine.clone(),
                component,
                pre,
                exports,
                loaded_from,
                ticker: self.ticker.clone(),
            }),
        })
    }
}

impl Plugin {
    /// The plugin's name (its file name), used in messages.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Where its machine code came from.
    pub fn loaded_from(&self) -> &LoadedFrom {
        &self.inner.loaded_from
    }

    /// The compiled component.
    pub fn component(&self) -> &Component {
        &self.inner.component
    }

    /// The pre-instantiated component, for an embedder's `bindgen!` index
    /// types (`PluginIndices::new(plugin.instance_pre())`).
    pub fn instance_pre(&self) -> &InstancePre<RunState> {
        &self.inner.pre
    }

    /// Its export functions, without the SDK's `aio:host/control`.
    pub fn exports(&self) -> &[ExportFunc] {
        &self.inner.exports.funcs
    }

    /// The export function `name` names (see [`Instance::call`]).
    pub fn export(&self, name: &str) -> Result<&ExportFunc, Error> {
        let index = self.inner.exports.resolve(self.name(), name)?;
        Ok(&self.inner.exports.funcs[index])
    }

    /// Whether it exports the SDK's `aio:host/control` (built with the
    /// asyncio SDK: it has a loop to start and a task dump).
    pub fn has_control(&self) -> bool {
        let control = &self.inner.exports.control;
        control.start.is_some() || control.task_dump.is_some()
    }

    pub(crate) fn exports_table(&self) -> &Exports {
        &self.inner.exports
    }

    /// Instantiates the plugin in a fresh store with `options`, starts its
    /// actor and, when exported, its loop (`aio:host/control.start`).
    ///
    /// Fails as a run would fail to start (e.g.
    /// [`ErrorKind::PoolExhausted`]), or with the error the guest died of
    /// while starting.
    pub async fn instantiate(&self, options: InstanceOptions) -> Result<Instance, Error> {
        let InstanceOptions {
            args,
            grants,
            limits,
            stdio,
            signals,
            call_timeout,
            cancel_grace,
            runtime,
        } = options;
        let run_signals = match &signals {
            Some(signals) => signals.attach(),
            None => Arc::new(RunSignals::new(crate::signals::DEFAULT_GRACE_PERIOD)),
        };
        let inner = &self.inner;
        let mut guest = GuestStore::new(
            &inner.engine,
            Setup {
                argv0: &inner.name,
                args: &args,
                grants,
                limits: &limits,
                stdio,
                signals: run_signals.clone(),
            },
        )?;
        let instance = match inner.pre.instantiate_async(&mut guest.store).await {
            Ok(instance) => instance,
            Err(e) => return Err(actor::died(Ended::Returned(Err(e)), &guest)),
        };
        let mut func = |index| {
            instance.get_func(&mut guest.store, index).ok_or_else(|| {
                Error::new(
                    ErrorKind::Host,
                    format!("{}: an export vanished at instantiation", inner.name),
                )
            })
        };
        let exports = inner
            .exports
            .funcs
            .iter()
            .map(|export| func(export.index))
            .collect::<Result<Vec<_>, _>>()?;
        let control = &inner.exports.control;
        let task_dump = control.task_dump.map(&mut func).transpose()?;
        let task_table = control.task_table.map(&mut func).transpose()?;
        let start = control.start.map(&mut func).transpose()?;

        let (tx, commands) = mpsc::unbounded_channel();
        let (ended, ending) = watch::channel(Default::default());
        let (ready, started) = oneshot::channel();
        let captured = guest.captured.clone();
        let actor = Actor {
            name: inner.name.clone(),
            guest,
            instance,
            funcs: Funcs {
                exports,
                task_dump,
                task_table,
            },
            start,
            commands,
            ended,
            ready,
            wall_limit: limits.timeout_limit(),
            signals: run_signals,
            _ticker: inner.ticker.clone(),
        };
        // The instance's events (its calls, its capability uses, its end)
        // carry its name and number.
        static INSTANCES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let number = INSTANCES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let span = tracing::info_span!("instance", plugin = %inner.name, number);
        span.in_scope(|| tracing::debug!("instantiated"));
        let serving = tracing::Instrument::instrument(actor.run(), span);
        match runtime {
            Some(runtime) => drop(runtime.spawn(serving)),
            None => drop(tokio::spawn(serving)),
        }
        let instance = Instance::new(
            tx,
            self.clone(),
            ending,
            call_timeout,
            cancel_grace,
            captured,
        );
        match started.await {
            Ok(()) => Ok(instance),
            Err(_) => Err(instance.death().await),
        }
    }
}

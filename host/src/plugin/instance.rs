//! [`Instance`]: a live plugin, called concurrently from any task.

use super::actor::{BindFn, Cmd};
use super::call::{DynamicCall, Reply, Start, Supervision, Target, TypedCall};
use super::options::CallOptions;
use super::typecheck;
use super::{ExportFunc, Plugin};
use crate::error::{Error, ErrorKind, one_line};
use crate::introspect::TaskInfo;
use crate::stdio::Captured;
use crate::store::RunState;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use wasmtime::StoreContextMut;
use wasmtime::component::{ComponentNamedList, Lift, Lower, TypedFunc, Val};

/// A live plugin instance: one store, one asyncio loop, many concurrent
/// calls. Made by [`Plugin::instantiate`].
///
/// `Send + Sync + Clone`: clones are handles to the same instance, and
/// calls through any of them run concurrently (each is its own task in the
/// guest). The instance ends when the last handle is dropped or one calls
/// [`close`](Self::close), or when the guest dies (trap, panic, limit):
/// then every call in flight and every later call fails with the same
/// [`Error`], and only this instance is affected.
///
/// Dropping a call's future cancels the call: the guest sees an asyncio
/// cancellation, its cleanup runs (within the instance's cancel grace), and
/// the instance keeps serving.
///
/// ```no_run
/// use aio_host::Runtime;
/// use aio_host::plugin::InstanceOptions;
/// use wasmtime::component::Val;
///
/// # async fn demo() -> Result<(), aio_host::Error> {
/// let runtime = Runtime::new()?;
/// let plugin = runtime.load_plugin("greeter.wasm")?;
/// let instance = plugin.instantiate(InstanceOptions::new()).await?;
/// let out = instance.call("greet", &[Val::String("world".into())]).await?;
/// assert_eq!(out, [Val::String("hello, world!".into())]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Instance {
    tx: mpsc::UnboundedSender<Cmd>,
    shared: Arc<Shared>,
}

/// What every handle of one instance shares.
struct Shared {
    plugin: Plugin,
    ending: watch::Receiver<Ending>,
    call_timeout: Option<Duration>,
    cancel_grace: Duration,
    captured: Captured,
}

/// What the actor publishes about the instance's end.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ending {
    /// Why it ended, once it has.
    pub(crate) error: Option<Error>,
    /// Whether the store is gone and the children are reaped.
    pub(crate) finished: bool,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("plugin", &self.shared.plugin.name())
            .field("ended", &self.error())
            .finish_non_exhaustive()
    }
}

impl Instance {
    pub(crate) fn new(
        tx: mpsc::UnboundedSender<Cmd>,
        plugin: Plugin,
        ending: watch::Receiver<Ending>,
        call_timeout: Option<Duration>,
        cancel_grace: Duration,
        captured: Captured,
    ) -> Self {
        Instance {
            tx,
            shared: Arc::new(Shared {
                plugin,
                ending,
                call_timeout,
                cancel_grace,
                captured,
            }),
        }
    }

    /// The plugin this is an instance of.
    pub fn plugin(&self) -> &Plugin {
        &self.shared.plugin
    }

    /// Calls export `name` (`greet`, `api.greet`, or the full
    /// `ns:pkg/api.greet@1.0.0`) with the instance's default options.
    ///
    /// Fails with [`ErrorKind::NoSuchExport`] for an unknown or ambiguous
    /// name, [`ErrorKind::BadArguments`] when `params` do not fit the
    /// signature, [`ErrorKind::CallTimeout`] after the instance's call
    /// timeout, or the instance's death error.
    pub async fn call(&self, name: &str, params: &[Val]) -> Result<Vec<Val>, Error> {
        self.call_with(name, params, CallOptions::new()).await
    }

    /// [`call`](Self::call) with per-call options.
    pub async fn call_with(
        &self,
        name: &str,
        params: &[Val],
        options: CallOptions,
    ) -> Result<Vec<Val>, Error> {
        let plugin = &self.shared.plugin;
        let index = plugin.exports_table().resolve(plugin.name(), name)?;
        let export = &plugin.exports()[index];
        check_params(export, name, params)?;
        let (reply, answer) = oneshot::channel();
        let call = DynamicCall {
            target: Target::Export(index),
            func: None,
            params: params.to_vec(),
            result_count: export.ty().results().len(),
            supervision: self.supervision(options),
            label: name.to_owned(),
            reply,
        };
        self.ask(Box::new(call), answer).await
    }

    /// Calls a typed function of this instance (from [`bind`](Self::bind)),
    /// with the cancellation and timeouts of [`call`](Self::call).
    ///
    /// With the embedder's own `wasmtime::component::bindgen!` over the
    /// plugin's world, `func_*` accessors give the [`TypedFunc`]s:
    ///
    /// ```ignore
    /// mod acme {
    ///     wasmtime::component::bindgen!({
    ///         path: "wit", world: "acme:greeter/plugin",
    ///         with: { "wasi": wasmtime_wasi::p3::bindings },
    ///         exports: { default: async | store },
    ///     });
    /// }
    /// // Once per plugin: resolve the exports.
    /// let indices = acme::PluginIndices::new(plugin.instance_pre())?;
    /// // Once per instance: bind them.
    /// let api = instance
    ///     .bind(move |store, instance| indices.load(store, instance))
    ///     .await?;
    /// // Then call as often as you like.
    /// let (greeting,) = instance
    ///     .call_typed(api.acme_greeter_api().func_greet(), ("world".to_string(),))
    ///     .await?;
    /// ```
    pub async fn call_typed<P, R>(&self, func: TypedFunc<P, R>, params: P) -> Result<R, Error>
    where
        P: ComponentNamedList + Lower + Send + Sync + 'static,
        R: ComponentNamedList + Lift + Send + Sync + 'static,
    {
        self.call_typed_with(func, params, CallOptions::new()).await
    }

    /// [`call_typed`](Self::call_typed) with per-call options.
    pub async fn call_typed_with<P, R>(
        &self,
        func: TypedFunc<P, R>,
        params: P,
        options: CallOptions,
    ) -> Result<R, Error>
    where
        P: ComponentNamedList + Lower + Send + Sync + 'static,
        R: ComponentNamedList + Lift + Send + Sync + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let call = TypedCall {
            func,
            params,
            supervision: self.supervision(options),
            label: format!("{}: typed call", self.shared.plugin.name()),
            reply,
        };
        self.ask(Box::new(call), answer).await
    }

    /// Runs `bind` with the instance's store and wasmtime instance, on the
    /// actor, and returns what it made: typically an embedder's bindings
    /// (`acme::Plugin::new(store, instance)`, or
    /// `PluginIndices::load`), whose `TypedFunc`s then go to
    /// [`call_typed`](Self::call_typed). An error is
    /// [`ErrorKind::NoSuchExport`]: the plugin lacks what the bindings
    /// expect.
    pub async fn bind<T, F>(&self, bind: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(
                StoreContextMut<'_, RunState>,
                &wasmtime::component::Instance,
            ) -> wasmtime::Result<T>
            + Send
            + 'static,
    {
        let (reply, answer): (Reply<T>, _) = oneshot::channel();
        let name = self.shared.plugin.name().to_owned();
        let bind: BindFn = Box::new(move |store, instance| {
            let bound = bind(store, instance).map_err(|e| {
                Error::new(
                    ErrorKind::NoSuchExport,
                    format!("{name}: cannot bind: {}", one_line(&e)),
                )
            });
            let _ = reply.send(bound);
        });
        if self.tx.send(Cmd::Bind(bind)).is_err() {
            return Err(self.death().await);
        }
        match answer.await {
            Ok(result) => result,
            Err(_) => Err(self.death().await),
        }
    }

    /// The guest's asyncio tasks, one per line (the SDK's
    /// `aio:host/control.task-dump`). Fails with
    /// [`ErrorKind::NoSuchExport`] for a plugin not built with the SDK.
    pub async fn task_dump(&self) -> Result<String, Error> {
        let name = self.shared.plugin.name();
        let missing = "no task dump: the plugin does not export aio:host/control (it was not built with the asyncio SDK)";
        match self
            .control_call(Target::TaskDump, "task-dump", missing)
            .await?
        {
            Val::String(dump) => Ok(dump),
            other => Err(Error::new(
                ErrorKind::Host,
                format!("{name}: task-dump returned {other:?}"),
            )),
        }
    }

    /// The guest's asyncio tasks as a table (the SDK's
    /// `aio:host/control.task-table`), with who awaits whom: what `aio ps`
    /// shows ([`format_ps`](crate::introspect::format_ps),
    /// [`format_pstree`](crate::introspect::format_pstree)). Fails with
    /// [`ErrorKind::NoSuchExport`] for a plugin not built with this SDK.
    pub async fn task_table(&self) -> Result<Vec<TaskInfo>, Error> {
        let name = self.shared.plugin.name();
        let missing = "no task table: the plugin does not export aio:host/control.task-table (not built with this asyncio SDK)";
        let table = self
            .control_call(Target::TaskTable, "task-table", missing)
            .await?;
        TaskInfo::list_from_val(&table)
            .map_err(|why| Error::new(ErrorKind::Host, format!("{name}: task-table: {why}")))
    }

    /// Calls one function of the SDK's `aio:host/control` (no arguments,
    /// one result), or fails with `missing` when the plugin lacks it.
    async fn control_call(&self, target: Target, func: &str, missing: &str) -> Result<Val, Error> {
        let plugin = &self.shared.plugin;
        let control = &plugin.exports_table().control;
        let exported = match target {
            Target::TaskDump => control.task_dump.is_some(),
            Target::TaskTable => control.task_table.is_some(),
            Target::Export(_) => true,
        };
        if !exported {
            return Err(Error::new(
                ErrorKind::NoSuchExport,
                format!("{}: {missing}", plugin.name()),
            ));
        }
        let (reply, answer) = oneshot::channel();
        let call = DynamicCall {
            target,
            func: None,
            params: Vec::new(),
            result_count: 1,
            supervision: Supervision {
                timeout: None,
                grace: self.shared.cancel_grace,
                cancel: None,
                takes_part: plugin.has_control(),
            },
            label: format!("{}: {func}", plugin.name()),
            reply,
        };
        let results = self.ask(Box::new(call), answer).await?;
        let [value]: [Val; 1] = results.try_into().map_err(|other: Vec<Val>| {
            Error::new(
                ErrorKind::Host,
                format!("{}: {func} returned {other:?}", plugin.name()),
            )
        })?;
        Ok(value)
    }

    /// Ends the instance (for every handle) and waits until its store is
    /// gone and its subprocesses are reaped. Calls in flight and later fail
    /// with [`ErrorKind::Closed`]; closing a dead instance only waits.
    pub async fn close(&self) {
        let _ = self.tx.send(Cmd::Close);
        let mut ending = self.shared.ending.clone();
        let _ = ending.wait_for(|e| e.finished).await;
    }

    /// Why the instance ended, if it has.
    pub fn error(&self) -> Option<Error> {
        self.shared.ending.borrow().error.clone()
    }

    /// What the guest wrote to stdout so far ([`Stdio::Capture`](crate::Stdio::Capture) only).
    pub fn stdout(&self) -> Vec<u8> {
        self.shared.captured.contents().0
    }

    /// What the guest wrote to stderr so far ([`Stdio::Capture`](crate::Stdio::Capture) only).
    pub fn stderr(&self) -> Vec<u8> {
        self.shared.captured.contents().1
    }

    fn supervision(&self, options: CallOptions) -> Supervision {
        Supervision {
            timeout: options.timeout.or(self.shared.call_timeout),
            grace: self.shared.cancel_grace,
            cancel: options.cancel,
            takes_part: self.shared.plugin.has_control(),
        }
    }

    /// Sends a call to the actor and waits for its answer (or the death
    /// of the instance). Dropping this future cancels the call.
    async fn ask<T>(
        &self,
        call: Box<dyn Start>,
        answer: oneshot::Receiver<Result<T, Error>>,
    ) -> Result<T, Error> {
        if self.tx.send(Cmd::Call(call)).is_err() {
            return Err(self.death().await);
        }
        match answer.await {
            Ok(result) => result,
            Err(_) => Err(self.death().await),
        }
    }

    /// The error the instance ended with (waits for the actor to publish it).
    pub(crate) async fn death(&self) -> Error {
        let mut ending = self.shared.ending.clone();
        match ending.wait_for(|e| e.error.is_some()).await {
            Ok(ending) => ending.error.clone().unwrap_or_else(|| self.runtime_gone()),
            Err(_) => self.runtime_gone(),
        }
    }

    fn runtime_gone(&self) -> Error {
        Error::new(
            ErrorKind::Closed,
            format!(
                "{}: the instance ended with its tokio runtime",
                self.shared.plugin.name()
            ),
        )
    }
}

/// Checks `params` against `export`'s parameters.
fn check_params(export: &ExportFunc, name: &str, params: &[Val]) -> Result<(), Error> {
    let ty = export.ty();
    let bad = |what: String| {
        Error::new(
            ErrorKind::BadArguments,
            format!("{name}: {what}; expected {}", export.signature()),
        )
    };
    if ty.params().len() != params.len() {
        return Err(bad(format!(
            "{} argument(s) given, {} expected",
            params.len(),
            ty.params().len()
        )));
    }
    for ((param, ty), val) in ty.params().zip(params) {
        typecheck::check(val, &ty).map_err(|why| bad(format!("argument `{param}`: {why}")))?;
    }
    Ok(())
}

//! One plugin call on the instance's actor: a future in the actor's set of
//! calls in flight that starts the guest's export, registers it for
//! `aio:host/calls`, and supervises it (docs/design-plugins.md §4).
//!
//! Supervision: the call ends when the guest returns, when the caller
//! drops its future (the reply channel closes), or when the per-call
//! timeout passes. In the last two cases the host sends the call's number
//! and the reason (`cancelled` / `timeout`) on the guest's `cancellations`
//! stream, the SDK cancels the call's asyncio
//! task, and the supervisor waits up to the cancel grace for the export to
//! return (its value is discarded) before the caller gets
//! [`ErrorKind::Cancelled`] or [`ErrorKind::CallTimeout`]. A guest that never
//! called `enter` cannot see the cancellation, so the caller gets the error
//! at once and the guest task runs on, detached.
//!
//! A call's error from wasmtime (a trap in the guest) is not the call's
//! alone: it ends the instance, so the task returns it and every caller gets
//! the instance's death error instead (actor.rs).

use super::options::CancelToken;
use crate::calls::{CancelReason, Delivery};
use crate::error::{Error, ErrorKind};
use crate::store::RunState;
use crate::units::format_duration;
use std::future::Future;
use std::pin::{Pin, pin};
use std::time::Duration;
use tokio::sync::oneshot;
use wasmtime::component::{
    Accessor, ComponentNamedList, Func, GuestTaskId, Lift, Lower, TypedFunc, Val,
};

/// Where a call's answer goes.
pub(crate) type Reply<T> = oneshot::Sender<Result<T, Error>>;

/// The functions of one live instance, resolved once after instantiation.
pub(crate) struct Funcs {
    /// By export number (`Exports::funcs`).
    pub(crate) exports: Vec<Func>,
    /// `aio:host/control.task-dump`, when exported.
    pub(crate) task_dump: Option<Func>,
    /// `aio:host/control.task-table`, when exported.
    pub(crate) task_table: Option<Func>,
}

/// A call in flight on the actor: `Err` (a trap) ends the instance.
pub(crate) type CallFuture<'a> = Pin<Box<dyn Future<Output = wasmtime::Result<()>> + Send + 'a>>;

/// A call the actor can start.
///
/// The actor keeps the calls in flight in one `FuturesUnordered` inside
/// its `run_concurrent` rather than `Accessor::spawn`ing a task per call:
/// the same concurrency without wasmtime's per-task join handle and
/// bookkeeping on every call.
pub(crate) trait Start: Send {
    /// The call, to be polled until it ends.
    fn start<'a>(self: Box<Self>, acc: &'a Accessor<RunState>, funcs: &Funcs) -> CallFuture<'a>;
}

/// How a call is given up on.
#[derive(Debug, Clone)]
pub(crate) struct Supervision {
    pub(crate) timeout: Option<Duration>,
    pub(crate) grace: Duration,
    /// A caller's token (it waits for the outcome; see `CallOptions`).
    pub(crate) cancel: Option<CancelToken>,
    /// Whether the plugin takes part in cancellation (built with the SDK,
    /// which enters every call), so a cancellation still pending on its
    /// `enter` will reach it.
    pub(crate) takes_part: bool,
}

/// Which function a dynamic call calls.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    Export(usize),
    TaskDump,
    TaskTable,
}

/// A call with [`Val`]s, already type-checked.
pub(crate) struct DynamicCall {
    pub(crate) target: Target,
    pub(crate) func: Option<Func>,
    pub(crate) params: Vec<Val>,
    pub(crate) result_count: usize,
    pub(crate) supervision: Supervision,
    /// The export's name, for messages.
    pub(crate) label: String,
    pub(crate) reply: Reply<Vec<Val>>,
}

impl Start for DynamicCall {
    fn start<'a>(
        mut self: Box<Self>,
        acc: &'a Accessor<RunState>,
        funcs: &Funcs,
    ) -> CallFuture<'a> {
        tracing::trace!("call {}", self.label);
        let func = match self.target {
            Target::Export(i) => funcs.exports.get(i).copied(),
            Target::TaskDump => funcs.task_dump,
            Target::TaskTable => funcs.task_table,
        };
        let Some(func) = func else {
            let _ = self.reply.send(Err(Error::new(
                ErrorKind::NoSuchExport,
                format!("{}: not exported", self.label),
            )));
            return Box::pin(async { Ok(()) });
        };
        self.func = Some(func);
        Box::pin(self.run(acc))
    }
}

impl DynamicCall {
    async fn run(self, acc: &Accessor<RunState>) -> wasmtime::Result<()> {
        let DynamicCall {
            func,
            params,
            result_count,
            supervision,
            label,
            mut reply,
            ..
        } = self;
        let Some(func) = func else {
            return Ok(());
        };
        let mut results = vec![Val::Bool(false); result_count];
        let started = acc.with(|mut s| {
            let call = func.start_call_concurrent(&mut s, &params, &mut results)?;
            s.data_mut().calls.register(call.task());
            wasmtime::error::Ok(call)
        });
        let call = match started {
            Ok(started) => started,
            Err(e) => {
                let _ = reply.send(Err(Error::host(&format!("{label}: cannot start"), &e)));
                return Ok(());
            }
        };
        let task = call.task();
        let returned = func.finish_call_concurrent(acc, call);
        let verdict = supervise(acc, task, returned, &mut reply, &supervision).await;
        acc.with(|mut s| s.data_mut().calls.remove(task));
        match verdict {
            Verdict::Returned(Ok(())) => {
                let _ = reply.send(Ok(results));
            }
            Verdict::Returned(Err(e)) => return Err(e),
            Verdict::GaveUp(gave_up) => {
                let _ = reply.send(Err(gave_up.error(&label, &supervision)));
            }
        }
        Ok(())
    }
}

/// A call through an embedder's [`TypedFunc`].
pub(crate) struct TypedCall<P, R> {
    pub(crate) func: TypedFunc<P, R>,
    pub(crate) params: P,
    pub(crate) supervision: Supervision,
    pub(crate) label: String,
    pub(crate) reply: Reply<R>,
}

impl<P, R> Start for TypedCall<P, R>
where
    P: ComponentNamedList + Lower + Send + Sync + 'static,
    R: ComponentNamedList + Lift + Send + Sync + 'static,
{
    fn start<'a>(self: Box<Self>, acc: &'a Accessor<RunState>, _: &Funcs) -> CallFuture<'a> {
        Box::pin(self.run(acc))
    }
}

impl<P, R> TypedCall<P, R>
where
    P: ComponentNamedList + Lower + Send + Sync + 'static,
    R: ComponentNamedList + Lift + Send + Sync + 'static,
{
    async fn run(self, acc: &Accessor<RunState>) -> wasmtime::Result<()> {
        let TypedCall {
            func,
            params,
            supervision,
            label,
            mut reply,
        } = self;
        // wasmtime panics, before touching the store, when the function
        // belongs to another instance's store: an embedder's mistake that
        // must fail this call, not the instance.
        let started = acc.with(|mut s| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                func.start_call_concurrent(&mut s, params)
            }))
            .map(|call| call.inspect(|call| s.data_mut().calls.register(call.task())))
        });
        let started = match started {
            Ok(started) => started,
            Err(_) => {
                let _ = reply.send(Err(Error::new(
                    ErrorKind::BadArguments,
                    format!(
                        "{label}: the function was bound on another instance (bind it on this one)"
                    ),
                )));
                return Ok(());
            }
        };
        let call = match started {
            Ok(started) => started,
            Err(e) => {
                let _ = reply.send(Err(Error::host(&format!("{label}: cannot start"), &e)));
                return Ok(());
            }
        };
        let task = call.task();
        let mut value = None;
        let returned = async {
            value = Some(func.finish_call_concurrent(acc, call).await?);
            wasmtime::error::Ok(())
        };
        let verdict = supervise(acc, task, returned, &mut reply, &supervision).await;
        acc.with(|mut s| s.data_mut().calls.remove(task));
        match verdict {
            // `value` is set whenever `returned` gave `Ok`.
            Verdict::Returned(Ok(())) => {
                let _ = reply.send(value.ok_or_else(|| {
                    Error::new(ErrorKind::Host, format!("{label}: returned no value"))
                }));
            }
            Verdict::Returned(Err(e)) => return Err(e),
            Verdict::GaveUp(gave_up) => {
                let _ = reply.send(Err(gave_up.error(&label, &supervision)));
            }
        }
        Ok(())
    }
}

/// How a supervised call ended.
enum Verdict {
    /// The guest returned (or wasmtime failed the call: the instance dies).
    Returned(wasmtime::Result<()>),
    /// The host gave up on it.
    GaveUp(GaveUp),
}

/// Why the host gave up, and what the guest did about it.
struct GaveUp {
    reason: CancelReason,
    /// Whether the guest had called `enter` (so it saw the cancellation).
    entered: bool,
    /// Whether its cleanup finished within the grace.
    cleaned_up: bool,
}

impl GaveUp {
    fn error(&self, label: &str, supervision: &Supervision) -> Error {
        let (kind, what) = match self.reason {
            CancelReason::Cancelled => (ErrorKind::Cancelled, "was cancelled".to_owned()),
            CancelReason::Timeout => (
                ErrorKind::CallTimeout,
                format!(
                    "timed out after {}",
                    supervision.timeout.map_or("?".into(), format_duration)
                ),
            ),
        };
        let after = if !self.entered {
            " (the guest does not take part in cancellation: not built with the asyncio SDK; it runs on detached)".to_owned()
        } else if !self.cleaned_up {
            format!(
                " (its cleanup did not finish within the {} cancel grace; it runs on detached)",
                format_duration(supervision.grace)
            )
        } else {
            String::new()
        };
        Error::new(kind, format!("{label}: the call {what}{after}"))
    }
}

/// Waits for `returned` unless the caller gives up (drops `reply`) or the
/// timeout passes; then cancels the guest and waits up to the grace.
async fn supervise<T>(
    acc: &Accessor<RunState>,
    task: GuestTaskId,
    returned: impl Future<Output = wasmtime::Result<()>>,
    reply: &mut Reply<T>,
    supervision: &Supervision,
) -> Verdict {
    let mut returned = pin!(returned);
    let reason = tokio::select! {
        result = &mut returned => return Verdict::Returned(result),
        () = reply.closed() => CancelReason::Cancelled,
        () = token_cancelled(supervision.cancel.as_ref()) => CancelReason::Cancelled,
        () = sleep_for(supervision.timeout) => CancelReason::Timeout,
    };
    let delivery = acc.with(|mut s| s.data_mut().calls.cancel(task, reason));
    let entered = match delivery {
        Delivery::Sent => true,
        Delivery::Pending => supervision.takes_part,
        Delivery::Lost => false,
    };
    let mut cleaned_up = false;
    if entered {
        match tokio::time::timeout(supervision.grace, &mut returned).await {
            Ok(Ok(())) => cleaned_up = true,
            Ok(Err(e)) => return Verdict::Returned(Err(e)),
            Err(_) => {}
        }
    }
    Verdict::GaveUp(GaveUp {
        reason,
        entered,
        cleaned_up,
    })
}

/// Returns when `token` is cancelled; never without one.
async fn token_cancelled(token: Option<&CancelToken>) {
    match token {
        Some(token) => token.cancelled().await,
        None => std::future::pending().await,
    }
}

/// Sleeps for `limit`, or for ever without one.
async fn sleep_for(limit: Option<Duration>) {
    match limit {
        Some(limit) => tokio::time::sleep(limit).await,
        None => std::future::pending().await,
    }
}

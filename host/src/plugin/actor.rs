//! The task that owns a plugin instance's store (docs/design-plugins.md §4).
//!
//! Guest code progresses only inside `run_concurrent`, so the actor keeps
//! one running for the instance's whole life: it calls `control.start`
//! (the SDK's loop), then starts each call it receives ([`Start`]) and
//! keeps it in one set of calls in flight, polled beside the commands, so
//! calls run concurrently and a slow one holds up none of the others.
//!
//! The instance ends when its last [`Instance`](super::Instance) handle is
//! dropped or [`close`](super::Instance::close) is called, or when the guest
//! dies: a trap or panic, a memory or CPU limit, the wall-clock limit, a
//! signal it does not handle. The actor then publishes one error (the same
//! classification and message as `aio run`), *then* drops the store, which
//! drops every call in flight; each caller, finding its reply gone, reads
//! the published error. Children are killed and reaped last.

use super::call::{Funcs, Start};
use super::instance::Ending;
use crate::error::{Error, ErrorKind};
use crate::limits::EpochTicker;
use crate::outcome::{Ended, Status, classify_ending};
use crate::signals::RunSignals;
use crate::store::{CHILD_REAP_PATIENCE, GuestStore, RunState};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use wasmtime::component::{Func, Instance as Wasm};
use wasmtime::{AsContextMut, StoreContextMut};

/// A closure run with the store and the instance (`Instance::bind`).
pub(crate) type BindFn = Box<dyn FnOnce(StoreContextMut<'_, RunState>, &Wasm) + Send>;

/// What an [`Instance`](super::Instance) handle asks of the actor.
pub(crate) enum Cmd {
    /// Start a call.
    Call(Box<dyn Start>),
    /// Run a closure with the store and the instance.
    Bind(BindFn),
    /// End the instance.
    Close,
}

/// Everything the actor owns.
pub(crate) struct Actor {
    pub(crate) name: String,
    pub(crate) guest: GuestStore,
    pub(crate) instance: Wasm,
    pub(crate) funcs: Funcs,
    pub(crate) start: Option<Func>,
    pub(crate) commands: mpsc::UnboundedReceiver<Cmd>,
    /// Set once, when the instance has ended: why.
    pub(crate) ended: watch::Sender<Ending>,
    /// Answered once `control.start` returned (or dropped if the instance
    /// died first).
    pub(crate) ready: oneshot::Sender<()>,
    pub(crate) wall_limit: Option<Duration>,
    pub(crate) signals: Arc<RunSignals>,
    /// Keeps epochs ticking (CPU limit, yields) while the instance lives.
    pub(crate) _ticker: Arc<EpochTicker>,
}

/// How the command loop ended without an error.
enum Closing {
    /// `close()` was called.
    Asked,
    /// Every handle was dropped.
    Dropped,
}

impl Actor {
    /// Serves the instance until it ends; see the module docs.
    pub(crate) async fn run(self) {
        let Actor {
            name,
            mut guest,
            instance,
            funcs,
            start,
            mut commands,
            ended,
            ready,
            wall_limit,
            signals,
            _ticker,
        } = self;
        let serve = guest.store.run_concurrent(async move |acc| {
            if let Some(start) = start {
                start.call_concurrent(acc, &[], &mut []).await?;
            }
            let _ = ready.send(());
            let mut calls = FuturesUnordered::new();
            loop {
                tokio::select! {
                    cmd = commands.recv() => match cmd {
                        Some(Cmd::Call(call)) => calls.push(call.start(acc, &funcs)),
                        Some(Cmd::Bind(bind)) => {
                            acc.with(|mut s| bind(s.as_context_mut(), &instance));
                        }
                        Some(Cmd::Close) => return wasmtime::error::Ok(Closing::Asked),
                        None => return Ok(Closing::Dropped),
                    },
                    Some(ended) = calls.next(), if !calls.is_empty() => ended?,
                }
            }
        });
        let serve = async {
            tokio::select! {
                result = serve => match result.and_then(|r| r) {
                    Ok(closing) => Ok(closing),
                    Err(e) => Err(Ended::Returned(Err(e))),
                },
                ending = signals.until_ended() => Err(Ended::Signalled(ending)),
            }
        };
        let result = match wall_limit {
            Some(limit) => tokio::time::timeout(limit, serve)
                .await
                .unwrap_or(Err(Ended::TimedOut(limit))),
            None => serve.await,
        };
        let why = match result {
            Ok(Closing::Asked) => Error::new(
                ErrorKind::Closed,
                format!("{name}: the instance was closed"),
            ),
            Ok(Closing::Dropped) => Error::new(
                ErrorKind::Closed,
                format!("{name}: the instance was dropped"),
            ),
            Err(ended) => died(ended, &guest),
        };
        tracing::debug!("ending: {why}");
        // Published before the store (and with it every pending reply) is
        // dropped, so a caller whose reply vanished finds the reason.
        ended.send_modify(|e| e.error = Some(why));
        drop(guest.store);
        guest.children.0.shutdown(CHILD_REAP_PATIENCE).await;
        ended.send_modify(|e| e.finished = true);
        tracing::debug!("ended; its children are reaped");
    }
}

/// The error every call of a dead instance gets: what `aio run` would say.
pub(crate) fn died(ended: Ended, guest: &GuestStore) -> Error {
    match classify_ending(ended, guest.limits_hit()) {
        Status::Failed(err) => err,
        Status::Exited(code) => Error::new(
            ErrorKind::Host,
            format!("the guest exited (status {code}) while serving calls"),
        ),
    }
}

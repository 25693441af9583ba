//! What a plugin instance gets ([`InstanceOptions`]), what one call may
//! override ([`CallOptions`]), and how a caller cancels a call it keeps
//! waiting for ([`CancelToken`]).

use crate::limits::Limits;
use crate::policy::Grants;
use crate::signals::Signals;
use crate::stdio::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// How long a cancelled or timed-out call's cleanup may take by default
/// before its caller gets the error anyway (the guest task runs on).
pub const DEFAULT_CANCEL_GRACE: Duration = Duration::from_secs(5);

/// What one plugin instance gets: grants, limits, stdio, call defaults.
///
/// Defaults (what [`InstanceOptions::new`] gives): no grants
/// ([`Grants::new`]), [`Limits::new`], [`Stdio::Inherit`], no signals, no
/// per-call timeout, a cancel grace of [`DEFAULT_CANCEL_GRACE`], the
/// actor spawned on the current tokio runtime.
///
/// The limits apply to the whole instance: memory is its linear memory,
/// `max_cpu` is the CPU budget of its whole life (all calls together, never
/// reset), and `timeout` is the wall-clock time the instance may live.
/// Reaching any of them ends the instance, as a trap does.
///
/// ```
/// use aio_host::plugin::InstanceOptions;
/// use aio_host::{Grants, Limits};
/// use std::time::Duration;
///
/// let options = InstanceOptions::new()
///     .grants(Grants::new().allow_env_vars(["LANG"]))
///     .limits(Limits::new().max_memory(64 << 20).max_cpu(Duration::from_secs(10)))
///     .call_timeout(Duration::from_secs(2));
/// # let _ = options;
/// ```
#[derive(Debug, Clone)]
pub struct InstanceOptions {
    pub(crate) args: Vec<String>,
    pub(crate) grants: Grants,
    pub(crate) limits: Limits,
    pub(crate) stdio: Stdio,
    pub(crate) signals: Option<Signals>,
    pub(crate) call_timeout: Option<Duration>,
    pub(crate) cancel_grace: Duration,
    pub(crate) runtime: Option<tokio::runtime::Handle>,
}

impl Default for InstanceOptions {
    fn default() -> Self {
        InstanceOptions {
            args: Vec::new(),
            grants: Grants::new(),
            limits: Limits::new(),
            stdio: Stdio::Inherit,
            signals: None,
            call_timeout: None,
            cancel_grace: DEFAULT_CANCEL_GRACE,
            runtime: None,
        }
    }
}

impl InstanceOptions {
    /// The defaults listed on the type.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends arguments (after `argv[0]`, the plugin's name), for a guest
    /// that reads its command line.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// What the instance may use from the host. Audited as for a run
    /// ([`Grants::audit`]).
    pub fn grants(mut self, grants: Grants) -> Self {
        self.grants = grants;
        self
    }

    /// What the instance may consume over its life (see the type's docs).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Where its stdin, stdout and stderr go. With [`Stdio::Capture`],
    /// [`Instance::stdout`](super::Instance::stdout) and
    /// [`stderr`](super::Instance::stderr) read what it wrote.
    pub fn stdio(mut self, stdio: Stdio) -> Self {
        self.stdio = stdio;
        self
    }

    /// Signals sent through `signals` reach the instance; one it does not
    /// handle ends it, as it ends a run.
    pub fn signals(mut self, signals: &Signals) -> Self {
        self.signals = Some(signals.clone());
        self
    }

    /// The timeout of every call that does not set its own
    /// ([`CallOptions::timeout`]). Default: none.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = Some(timeout);
        self
    }

    /// How long a cancelled or timed-out call may take to clean up before
    /// its caller gets the error anyway. Default: [`DEFAULT_CANCEL_GRACE`].
    pub fn cancel_grace(mut self, grace: Duration) -> Self {
        self.cancel_grace = grace;
        self
    }

    /// Runs the instance's actor on `runtime` rather than on the tokio
    /// runtime `instantiate` is polled on (e.g. a `current_thread` runtime
    /// kept for guests). The instance cannot outlive that runtime: when it
    /// shuts down, the instance ends.
    pub fn runtime(mut self, runtime: tokio::runtime::Handle) -> Self {
        self.runtime = Some(runtime);
        self
    }
}

/// What one call may override.
///
/// ```
/// use aio_host::plugin::CallOptions;
/// use std::time::Duration;
///
/// let options = CallOptions::new().timeout(Duration::from_millis(500));
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    pub(crate) timeout: Option<Duration>,
    pub(crate) cancel: Option<CancelToken>,
}

impl CallOptions {
    /// The instance's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Gives up on the call after `timeout`: the guest's task is cancelled,
    /// its cleanup may run for the instance's cancel grace, then the call
    /// fails with [`ErrorKind::CallTimeout`](crate::ErrorKind::CallTimeout).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Lets `token` cancel the call. Unlike dropping the call's future,
    /// the caller keeps waiting: the guest's task is cancelled, its cleanup
    /// runs (for up to the instance's cancel grace), and then the call
    /// fails with [`ErrorKind::Cancelled`](crate::ErrorKind::Cancelled), so
    /// the caller knows the guest is done with it. The REPL's Ctrl-C works
    /// so. A token cancelled before the call starts cancels it at once.
    pub fn cancel_token(mut self, token: &CancelToken) -> Self {
        self.cancel = Some(token.clone());
        self
    }
}

/// Cancels the calls it was given to (with [`CallOptions::cancel_token`])
/// while their callers wait for the outcome. Clones are the same token;
/// once cancelled it stays cancelled.
///
/// ```
/// use aio_host::plugin::{CallOptions, CancelToken};
///
/// let token = CancelToken::new();
/// let options = CallOptions::new().cancel_token(&token);
/// // ... from anywhere, later:
/// token.cancel();
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default)]
pub struct CancelToken {
    inner: Arc<TokenState>,
}

#[derive(Debug, Default)]
struct TokenState {
    cancelled: AtomicBool,
    notify: Notify,
}

impl CancelToken {
    /// A token not yet cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels every call given this token (now, or when it starts).
    pub fn cancel(&self) {
        self.inner.cancelled.store(true, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::SeqCst)
    }

    /// Returns once the token is cancelled.
    pub(crate) async fn cancelled(&self) {
        loop {
            let notified = self.inner.notify.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the check, so a cancel in between wakes it.
            notified.as_mut().enable();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

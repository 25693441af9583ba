//! Why loading or running a guest failed, and the `aio` exit status for it.
//!
//! Every failure the host reports is an [`Error`] with an [`ErrorKind`]. The
//! kind is what a caller matches on (and what decides the `aio` command's exit
//! status, [`ErrorKind::exit_status`]); the message is one line naming the
//! cause; [`Error::detail`] carries the guest's wasm backtrace when there is
//! one.
//!
//! A guest that *chooses* its exit status (`asyncio::exit(3)`, or `main`
//! returning an error) has not failed: that is
//! [`Status::Exited`](crate::Status::Exited), not an `Error`.
//!
//! ```
//! use aio_host::ErrorKind;
//!
//! assert_eq!(ErrorKind::Timeout.exit_status(), 124);
//! assert_eq!(ErrorKind::MemoryLimit.exit_status(), 137);
//! ```

use std::fmt;

/// What kind of failure an [`Error`] is.
///
/// The `aio` command exits with [`exit_status`](Self::exit_status); the
/// numbers follow shell conventions where one exists (127: not found, 126:
/// cannot execute, 124: `timeout(1)`, 128 + signal for a kill).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The program file does not exist. Status 127.
    NotFound,
    /// The file is not a runnable component: garbage, a core wasm module, a
    /// precompiled core module, an invalid component, or a component that
    /// imports something this host does not provide. Status 126.
    NotAComponent,
    /// The file holds precompiled machine code (an `aio compile` output),
    /// and the caller did not opt in to running it
    /// ([`Runtime::load_precompiled`](crate::Runtime::load_precompiled),
    /// `aio run --allow-precompiled`). Status 126.
    Precompiled,
    /// The component does not export `wasi:cli/run@0.3.0` (a WASI 0.2
    /// command, or a library component). Status 125.
    NoRunExport,
    /// The wall-clock timeout ([`Limits::timeout`](crate::Limits::timeout))
    /// expired. Status 124.
    Timeout,
    /// The guest trapped (out-of-bounds access, stack overflow, ...). Status
    /// 134, as for SIGABRT.
    Trap,
    /// The guest panicked: its panic message was printed to its stderr, then
    /// it executed `unreachable`. Status 134, as for SIGABRT.
    Panic,
    /// The guest tried to grow its memory past
    /// [`Limits::max_memory`](crate::Limits::max_memory). Status 137, as for
    /// SIGKILL by an out-of-memory killer.
    MemoryLimit,
    /// The guest used up its CPU budget
    /// ([`Limits::max_cpu`](crate::Limits::max_cpu)). Status 152, as for
    /// SIGXCPU.
    CpuLimit,
    /// The guest held more live handles (streams, futures, sockets,
    /// subtasks, resources) than
    /// [`Limits::max_handles`](crate::Limits::max_handles) allows. Status
    /// 153, as for SIGXFSZ (the resource-limit signal that is not CPU).
    HandleLimit,
    /// The guest overflowed its stack (the shadow stack in linear memory, or
    /// the wasm call stack). Status 134, as for SIGABRT.
    StackOverflow,
    /// Every slot of the runtime's instance pool
    /// ([`RuntimeBuilder::pooling`](crate::RuntimeBuilder::pooling)) is in
    /// use: the guest could not be instantiated. Temporary: it may succeed
    /// once another run ends. Status 75 (`EX_TEMPFAIL`).
    PoolExhausted,
    /// A signal (SIGINT, SIGTERM, ... with this number) ended the run: the
    /// guest did not handle it, or did not finish within the grace period
    /// of a graceful one, or got a second one while shutting down (see
    /// [`signals`](crate::signals)). Status 128 + the number: 130 for
    /// SIGINT, 143 for SIGTERM.
    Signal(i32),
    /// A plugin call was cancelled: its caller dropped it (or the
    /// `aio call` command was interrupted). The guest saw the cancellation
    /// and its cleanup ran (or its [cancel grace](crate::plugin::InstanceOptions::cancel_grace)
    /// passed). Also an instance of
    /// [`Program::run_instances`](crate::Program::run_instances) stopped
    /// because another failed. Status 130, as for an interrupted command.
    Cancelled,
    /// A plugin call did not return within its per-call timeout
    /// ([`CallOptions::timeout`](crate::plugin::CallOptions::timeout),
    /// `aio call --timeout`); the guest saw the cancellation first. The
    /// instance lives on. Status 124, as for [`Timeout`](Self::Timeout).
    CallTimeout,
    /// A plugin has no export of that name, or the short name fits several
    /// (the message lists them), or it does not export what the call needs
    /// (`aio:host/control` for a task dump). Status 125, as for
    /// [`NoRunExport`](Self::NoRunExport).
    NoSuchExport,
    /// The arguments do not fit the export's signature (wrong count or
    /// types, malformed WAVE); the message says what was expected. Status
    /// 2, as for a usage error.
    BadArguments,
    /// The plugin instance was closed ([`Instance::close`](crate::plugin::Instance::close))
    /// before or during the call. Status 70, as for [`Host`](Self::Host).
    Closed,
    /// Anything else that went wrong in the host (I/O error, wasmtime error,
    /// a guest that broke a component-model rule the host reports as an
    /// error). Status 70 (`EX_SOFTWARE`).
    Host,
}

impl ErrorKind {
    /// The exit status of the `aio` command for this kind of failure.
    pub fn exit_status(self) -> u8 {
        match self {
            ErrorKind::NotFound => 127,
            ErrorKind::NotAComponent | ErrorKind::Precompiled => 126,
            ErrorKind::NoRunExport => 125,
            ErrorKind::Timeout => 124,
            ErrorKind::Trap | ErrorKind::Panic | ErrorKind::StackOverflow => 134,
            ErrorKind::MemoryLimit => 137,
            ErrorKind::CpuLimit => 152,
            ErrorKind::HandleLimit => 153,
            ErrorKind::PoolExhausted => 75,
            ErrorKind::Signal(n) => (128 + n.clamp(1, 127)) as u8,
            ErrorKind::Cancelled => 130,
            ErrorKind::CallTimeout => 124,
            ErrorKind::NoSuchExport => 125,
            ErrorKind::BadArguments => 2,
            ErrorKind::Host | ErrorKind::Closed => 70,
        }
    }

    /// A short lowercase name (`"timeout"`, `"memory limit"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::NotAComponent => "not a component",
            ErrorKind::Precompiled => "precompiled code refused",
            ErrorKind::NoRunExport => "no run export",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Trap => "trap",
            ErrorKind::Panic => "panic",
            ErrorKind::MemoryLimit => "memory limit",
            ErrorKind::CpuLimit => "cpu limit",
            ErrorKind::HandleLimit => "handle limit",
            ErrorKind::PoolExhausted => "instance pool exhausted",
            ErrorKind::StackOverflow => "stack overflow",
            ErrorKind::Signal(_) => "signal",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::CallTimeout => "call timeout",
            ErrorKind::NoSuchExport => "no such export",
            ErrorKind::BadArguments => "bad arguments",
            ErrorKind::Closed => "instance closed",
            ErrorKind::Host => "host error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure to load or run a guest: a kind, a one-line message, and
/// optionally the guest's wasm backtrace.
///
/// `Clone`, because one failure can be the answer to many calls: every call
/// in flight on a plugin instance that died gets the same error.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    detail: Option<String>,
}

impl Error {
    /// An error of `kind` with a one-line `message` (for embedders and the
    /// `aio` command's own failures).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            detail: None,
        }
    }

    pub(crate) fn with_detail(mut self, detail: Option<String>) -> Self {
        self.detail = detail;
        self
    }

    /// A host-side failure (status 70) from a wasmtime error, keeping its
    /// whole context chain on one line.
    pub(crate) fn host(context: &str, err: &wasmtime::Error) -> Self {
        Error::new(ErrorKind::Host, format!("{context}: {}", one_line(err)))
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The one-line message (also what `Display` prints).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// More lines about the failure, when there are any: the guest's wasm
    /// backtrace for a trap, a panic or an exhausted limit.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// An I/O failure in the host (status 70), with the I/O error's message.
impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Error::new(ErrorKind::Host, err.to_string())
    }
}

/// Text from outside (a flag's value, a path) as a message shows it:
/// control characters (a newline, an escape) escaped, so that the message
/// stays one line and cannot drive the terminal.
pub(crate) fn escape_controls(text: &str) -> String {
    text.chars()
        .map(|c| match c.is_control() {
            true => c.escape_default().to_string(),
            false => c.to_string(),
        })
        .collect()
}

/// A wasmtime error's context chain joined on one line (`a: b: c`), skipping
/// multi-line links such as a wasm backtrace.
pub(crate) fn one_line(err: &wasmtime::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if text.contains('\n') || parts.last() == Some(&text) {
            continue;
        }
        parts.push(text);
    }
    if parts.is_empty() {
        // Every link was multi-line: fall back to the first line of the first.
        return err
            .to_string()
            .lines()
            .next()
            .unwrap_or("unknown error")
            .to_owned();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_distinct_except_trap_and_panic() {
        let kinds = [
            ErrorKind::NotFound,
            ErrorKind::NotAComponent,
            ErrorKind::NoRunExport,
            ErrorKind::Timeout,
            ErrorKind::Trap,
            ErrorKind::MemoryLimit,
            ErrorKind::CpuLimit,
            ErrorKind::HandleLimit,
            ErrorKind::PoolExhausted,
            ErrorKind::Host,
        ];
        let mut statuses: Vec<u8> = kinds.iter().map(|k| k.exit_status()).collect();
        statuses.sort();
        statuses.dedup();
        assert_eq!(statuses.len(), kinds.len());
        assert_eq!(
            ErrorKind::Panic.exit_status(),
            ErrorKind::Trap.exit_status()
        );
        assert_eq!(
            ErrorKind::StackOverflow.exit_status(),
            ErrorKind::Trap.exit_status()
        );
        assert_eq!(
            ErrorKind::Precompiled.exit_status(),
            ErrorKind::NotAComponent.exit_status()
        );
        // Plugin calls reuse the statuses of the run failures they mirror.
        assert_eq!(ErrorKind::CallTimeout.exit_status(), 124);
        assert_eq!(
            ErrorKind::NoSuchExport.exit_status(),
            ErrorKind::NoRunExport.exit_status()
        );
        assert_eq!(ErrorKind::Cancelled.exit_status(), 130);
        assert_eq!(ErrorKind::BadArguments.exit_status(), 2);
        assert_eq!(ErrorKind::Closed.exit_status(), 70);
    }

    #[test]
    fn one_line_joins_the_chain() {
        let err = wasmtime::Error::msg("root")
            .context("middle")
            .context("top");
        assert_eq!(one_line(&err), "top: middle: root");
    }
}

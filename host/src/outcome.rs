//! How a run ended: the guest's exit code, or a failure with a kind.
//!
//! [`Program::run`](crate::Program::run) returns an [`Outcome`]: a
//! [`Status`] plus whatever the guest wrote when its stdio was captured.
//! This module also decides which [`ErrorKind`] a failed run gets: a limit
//! recorded by the store wins over the trap it caused, `unreachable` is a
//! panic, and the message names the innermost frame of the guest's own code.
//!
//! ```no_run
//! # async fn demo(program: aio_host::Program) {
//! use aio_host::{RunOptions, Status};
//!
//! let outcome = program.run(RunOptions::new()).await;
//! match outcome.status() {
//!     Status::Exited(0) => {}
//!     Status::Exited(code) => eprintln!("exited with {code}"),
//!     Status::Failed(err) => eprintln!("{}: {err}", err.kind()),
//! }
//! # }
//! ```

use crate::error::{Error, ErrorKind, one_line};
use crate::limits::MemoryRefusal;
use crate::units::{format_duration, format_size};
use std::time::Duration;
use wasmtime::component::ResourceTableError;
use wasmtime::{Trap, WasmBacktrace};
use wasmtime_wasi::I32Exit;

/// How a run ended.
#[derive(Debug)]
pub enum Status {
    /// The guest finished with this exit code: 0 when `main` returned `Ok`,
    /// 1 when it returned an error, `n` after `asyncio::exit(n)`.
    Exited(i32),
    /// The guest could not finish: a trap, a panic, a limit, a host error.
    Failed(Error),
}

impl Status {
    /// The `aio` command's exit status for this ending: the guest's code
    /// (low 8 bits), or [`ErrorKind::exit_status`].
    pub fn exit_status(&self) -> u8 {
        match self {
            // Exit statuses are 8 bits on every OS `aio` runs on.
            Status::Exited(code) => (*code & 0xff) as u8,
            Status::Failed(err) => err.kind().exit_status(),
        }
    }
}

/// The result of [`Program::run`](crate::Program::run): the status, and what the guest wrote
/// when its stdio was captured (empty otherwise).
#[derive(Debug)]
pub struct Outcome {
    status: Status,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Outcome {
    /// How the run ended.
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// How the run ended, by value.
    pub fn into_status(self) -> Status {
        self.status
    }

    /// The guest's exit code, if it exited.
    pub fn exit_code(&self) -> Option<i32> {
        match self.status {
            Status::Exited(code) => Some(code),
            Status::Failed(_) => None,
        }
    }

    /// Why the run failed, if it did.
    pub fn error(&self) -> Option<&Error> {
        match &self.status {
            Status::Exited(_) => None,
            Status::Failed(err) => Some(err),
        }
    }

    /// What the guest wrote to stdout ([`Stdio::Capture`](crate::Stdio::Capture) only).
    pub fn stdout(&self) -> &[u8] {
        &self.stdout
    }

    /// What the guest wrote to stderr ([`Stdio::Capture`](crate::Stdio::Capture) only).
    pub fn stderr(&self) -> &[u8] {
        &self.stderr
    }
}

impl Outcome {
    pub(crate) fn new(status: Status, stdout: Vec<u8>, stderr: Vec<u8>) -> Self {
        Outcome {
            status,
            stdout,
            stderr,
        }
    }
}

/// How the run future ended, before classification.
pub(crate) enum Ended {
    Returned(wasmtime::Result<Result<(), ()>>),
    TimedOut(Duration),
    /// A signal ended the run (see [`crate::signals`]).
    Signalled(crate::signals::SignalEnding),
    /// The host stopped it, for this reason (a sibling instance failed).
    Stopped(String),
}

/// What the store's limiter and CPU meter recorded during a run.
#[derive(Debug, Default)]
pub(crate) struct LimitsHit {
    /// The memory growth that was refused, if one was.
    pub(crate) memory: Option<MemoryRefusal>,
    /// The CPU budget, if it was used up.
    pub(crate) cpu: Option<Duration>,
    /// The handle cap in force (every run has one).
    pub(crate) handles: usize,
}

/// Turns the end of a run into a [`Status`], using what the limits recorded
/// to tell a limit from an ordinary trap.
pub(crate) fn classify_ending(ended: Ended, hit: LimitsHit) -> Status {
    let err = match ended {
        Ended::Returned(Ok(Ok(()))) => return Status::Exited(0),
        Ended::Returned(Ok(Err(()))) => return Status::Exited(1),
        Ended::TimedOut(limit) => {
            return Status::Failed(Error::new(
                ErrorKind::Timeout,
                format!("timed out after {}", format_duration(limit)),
            ));
        }
        Ended::Signalled(ending) => {
            return Status::Failed(Error::new(
                ErrorKind::Signal(ending.signal.number()),
                ending.message,
            ));
        }
        Ended::Stopped(why) => {
            return Status::Failed(Error::new(ErrorKind::Cancelled, format!("stopped: {why}")));
        }
        Ended::Returned(Err(err)) => err,
    };
    if let Some(exit) = err.downcast_ref::<I32Exit>() {
        return Status::Exited(exit.0);
    }
    let backtrace = err.downcast_ref::<WasmBacktrace>();
    let detail = backtrace.map(|bt| bt.to_string());
    let place = backtrace
        .and_then(culprit_frame)
        .map(|f| format!(" in {f}"))
        .unwrap_or_default();
    let failed = if let Some(refusal) = hit.memory {
        Error::new(
            ErrorKind::MemoryLimit,
            format!(
                "memory limit exceeded: the guest asked for {} of linear memory, the limit is {}{place}",
                format_size(refusal.requested_total),
                format_size(refusal.limit)
            ),
        )
    } else if let Some(budget) = hit.cpu {
        Error::new(
            ErrorKind::CpuLimit,
            format!(
                "CPU limit exceeded: the guest used its {} of CPU time{place}",
                format_duration(budget)
            ),
        )
    } else if let Some(full) = err.downcast_ref::<wasmtime::PoolConcurrencyLimitError>() {
        Error::new(
            ErrorKind::PoolExhausted,
            format!(
                "cannot instantiate the guest: the instance pool is full ({full}); try again when a run ends, or give the pool more instances"
            ),
        )
    } else if handles_exhausted(&err) {
        Error::new(
            ErrorKind::HandleLimit,
            format!(
                "handle limit exceeded: the guest wanted more than {} live handles (streams, futures, sockets, subtasks, resources); raise it with --max-handles{place}",
                hit.handles
            ),
        )
    } else if let Some(trap) = err.downcast_ref::<Trap>() {
        if *trap == Trap::StackOverflow || is_shadow_stack_overflow(*trap, &err, backtrace) {
            Error::new(
                ErrorKind::StackOverflow,
                format!("the guest overflowed its stack{place}"),
            )
        } else if *trap == Trap::UnreachableCodeReached {
            Error::new(
                ErrorKind::Panic,
                format!("the guest panicked (its message is on its stderr): {trap}{place}"),
            )
        } else {
            Error::new(ErrorKind::Trap, format!("the guest trapped: {trap}{place}"))
        }
    } else {
        Error::new(ErrorKind::Host, one_line(&err))
    };
    Status::Failed(failed.with_detail(detail))
}

/// Whether the guest died because a handle table was full: the store's
/// component-model handles, or the WASI resource table.
fn handles_exhausted(err: &wasmtime::Error) -> bool {
    err.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<ResourceTableError>(),
            Some(ResourceTableError::Full)
        ) || cause.to_string().contains("store handle limit exceeded")
    })
}

/// Whether an out-of-bounds access is the guest's shadow stack running out.
///
/// Rust's wasm32 targets put the stack first in linear memory, growing down
/// towards address 0; a frame pushed past the bottom wraps the 32-bit stack
/// pointer to just under 4 GiB, and the next access there is out of bounds.
/// The host cannot read the guest's stack pointer, so it goes by two signs:
///
/// - a plain load or store reports its address, as the context line
///   `memory fault at wasm address 0x... in linear memory of size 0x...`
///   (wasmtime 48's `WasmFault`, which has no public type): an address in the
///   top 16 MiB of the 32-bit space, beyond the memory, is a wrapped stack
///   pointer (frames are far smaller than 16 MiB);
/// - a bulk-memory instruction (`memory.fill` zeroing a frame's array, say)
///   reports no address; then a backtrace that is one function calling
///   itself, [`RECURSION_FRAMES`] deep or more, is taken as the overflow.
///
/// An ordinary out-of-bounds access matches neither, unless a guest
/// deliberately reads just under 4 GiB (tests/programs' cli_trap reads 2 GiB).
fn is_shadow_stack_overflow(
    trap: Trap,
    err: &wasmtime::Error,
    backtrace: Option<&WasmBacktrace>,
) -> bool {
    const WRAPPED: u64 = (1 << 32) - (16 << 20);
    if trap != Trap::MemoryOutOfBounds {
        return false;
    }
    let fault = err
        .chain()
        .find_map(|cause| fault_address(&cause.to_string()));
    match fault {
        Some((addr, size)) => (WRAPPED..1 << 32).contains(&addr) && addr >= size,
        None => backtrace.is_some_and(|bt| {
            let frames = bt.frames();
            frames.len() >= RECURSION_FRAMES
                && frames[..RECURSION_FRAMES]
                    .iter()
                    .all(|f| f.func_index() == frames[0].func_index())
        }),
    }
}

/// How many innermost frames of one function calling itself count as
/// unbounded recursion (wasmtime captures 20 frames by default).
const RECURSION_FRAMES: usize = 16;

/// The address and memory size of wasmtime's `memory fault at wasm address
/// 0x{addr} in linear memory of size 0x{size}`.
fn fault_address(text: &str) -> Option<(u64, u64)> {
    let rest = text.strip_prefix("memory fault at wasm address 0x")?;
    let (addr, rest) = rest.split_once(' ')?;
    let size = rest.strip_prefix("in linear memory of size 0x")?;
    Some((
        u64::from_str_radix(addr, 16).ok()?,
        u64::from_str_radix(size.trim(), 16).ok()?,
    ))
}

/// The innermost frame of a backtrace that is not panic, abort or allocator
/// machinery: where the guest's own code went wrong.
fn culprit_frame(bt: &WasmBacktrace) -> Option<String> {
    const MACHINERY: &[&str] = &[
        "std::",
        "core::",
        "alloc::",
        "__rust",
        "rust_panic",
        "rust_begin_unwind",
        "abort",
        "__",
        "<std::",
        "<core::",
        "<alloc::",
        "wit_bindgen::",
        "dlmalloc",
        "malloc",
        "sbrk",
        "cabi_realloc",
        "memcpy",
        "memmove",
        "memset",
    ];
    let names: Vec<String> = bt
        .frames()
        .iter()
        .filter_map(|frame| {
            let symbol = frame.symbols().first().and_then(|s| s.name());
            let name = symbol.or(frame.func_name())?;
            Some(demangle(name))
        })
        .collect();
    names
        .iter()
        .find(|name| !MACHINERY.iter().any(|m| name.starts_with(m)))
        .or(names.first())
        .cloned()
}

/// A function name as a person reads it: demangled, without the hash.
fn demangle(name: &str) -> String {
    let name = format!("{:#}", rustc_demangle::demangle(name));
    // wasm-ld may already have demangled it, leaving the `::h<16 hex>` hash.
    match name.rsplit_once("::h") {
        Some((path, hash)) if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
            path.to_owned()
        }
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demangles_rust_names() {
        assert_eq!(demangle("_ZN3foo3bar17h0123456789abcdefE"), "foo::bar");
        assert_eq!(demangle("foo::bar::h0123456789abcdef"), "foo::bar");
        assert_eq!(demangle("plain_name"), "plain_name");
    }

    #[test]
    fn guest_chosen_endings() {
        let ended = |r| classify_ending(Ended::Returned(r), LimitsHit::default());
        assert!(matches!(ended(Ok(Ok(()))), Status::Exited(0)));
        assert!(matches!(ended(Ok(Err(()))), Status::Exited(1)));
        let exit = wasmtime::Error::new(I32Exit(42)).context("while running");
        assert!(matches!(ended(Err(exit)), Status::Exited(42)));
    }

    #[test]
    fn failures_get_their_kind() {
        let kind = |ended, hit| match classify_ending(ended, hit) {
            Status::Failed(err) => err.kind(),
            Status::Exited(code) => panic!("exited with {code}"),
        };
        let trap = |t: Trap| Ended::Returned(Err(wasmtime::Error::new(t)));
        let none = LimitsHit::default;
        assert_eq!(
            kind(trap(Trap::UnreachableCodeReached), none()),
            ErrorKind::Panic
        );
        assert_eq!(kind(trap(Trap::MemoryOutOfBounds), none()), ErrorKind::Trap);
        assert_eq!(
            kind(trap(Trap::StackOverflow), none()),
            ErrorKind::StackOverflow
        );
        // The context wasmtime 48 adds to an out-of-bounds access.
        let fault = |addr: u64| {
            Ended::Returned(Err(wasmtime::Error::new(Trap::MemoryOutOfBounds).context(
                format!(
                    "memory fault at wasm address 0x{addr:x} in linear memory of size 0x110000"
                ),
            )))
        };
        assert_eq!(kind(fault(0xffff_fff0), none()), ErrorKind::StackOverflow);
        assert_eq!(kind(fault(0x0020_0000), none()), ErrorKind::Trap);
        assert_eq!(kind(fault(0x8000_0000), none()), ErrorKind::Trap);
        let full = Ended::Returned(Err(wasmtime::Error::msg(
            "cannot allocate another handle: store handle limit exceeded",
        )));
        assert_eq!(kind(full, none()), ErrorKind::HandleLimit);
        let table = Ended::Returned(Err(wasmtime::Error::new(ResourceTableError::Full)));
        assert_eq!(kind(table, none()), ErrorKind::HandleLimit);
        let cpu = LimitsHit {
            memory: None,
            cpu: Some(Duration::from_secs(1)),
            ..LimitsHit::default()
        };
        assert_eq!(kind(trap(Trap::Interrupt), cpu), ErrorKind::CpuLimit);
        let memory = LimitsHit {
            memory: Some(MemoryRefusal {
                requested_total: 2,
                limit: 1,
            }),
            ..LimitsHit::default()
        };
        assert_eq!(
            kind(trap(Trap::UnreachableCodeReached), memory),
            ErrorKind::MemoryLimit
        );
        assert_eq!(
            kind(Ended::TimedOut(Duration::from_secs(1)), none()),
            ErrorKind::Timeout
        );
        let other = Ended::Returned(Err(wasmtime::Error::msg("boom")));
        assert_eq!(kind(other, none()), ErrorKind::Host);
    }
}

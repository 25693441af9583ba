//! How much a guest may consume: memory, CPU, wall-clock time, handles.
//!
//! [`Limits`] is per run. Every limit is off by default except the handle
//! cap; when a limit stops a guest, the run fails with a kind that names it
//! ([`ErrorKind::MemoryLimit`],
//! [`CpuLimit`](crate::ErrorKind::CpuLimit),
//! [`Timeout`](crate::ErrorKind::Timeout)), never with a generic trap.
//!
//! ```
//! use aio_host::Limits;
//! use std::time::Duration;
//!
//! let limits = Limits::new()
//!     .max_memory(64 << 20)
//!     .timeout(Duration::from_secs(10))
//!     .max_cpu(Duration::from_secs(2));
//! # let _ = limits;
//! ```
//!
//! How each is enforced:
//!
//! - **Memory** is the sum of the guest's linear memories. A `memory.grow`
//!   past the cap traps at once (rather than returning -1, which Rust's
//!   allocator would turn into an abort that looks like a panic), and the
//!   refusal is recorded so the failure is reported as a memory limit.
//! - **Time** comes from epochs: the [`Runtime`](crate::Runtime) ticks every
//!   [`EPOCH_TICK`] (10 ms). A guest running when a tick arrives yields to
//!   the async executor, so a busy loop cannot starve other tasks on a
//!   `current_thread` runtime, and the wall-clock timeout still fires.
//! - **CPU** is counted in those ticks: each tick that finds the guest
//!   executing costs one; when the budget is spent the guest is interrupted.
//!   This is coarse (10 ms granularity; a guest that runs briefly in every
//!   tick is charged for every tick) and meant to stop runaway loops, not to
//!   bill CPU time.

use crate::error::{Error, ErrorKind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wasmtime::{Engine, UpdateDeadline};

/// How often the runtime's background thread advances the engine's epoch.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Resource limits for one run of a guest.
///
/// Defaults (what [`Limits::new`] and [`Default`] give):
///
/// - **`max_memory`**: none (linear memory may grow to the 4 GiB a 32-bit
///   guest can address).
/// - **`timeout`**: none (the run may last forever).
/// - **`max_cpu`**: none.
/// - **`max_handles`**: [`DEFAULT_MAX_HANDLES`] (100,000) live
///   component-model handles (resources, streams, futures, subtasks,
///   waitable sets), and as many WASI resource-table entries. Each costs the
///   host on the order of 1 KB, so the cap bounds that memory to about
///   100 MB. Allocating past it traps.
/// - **`max_children`**: [`DEFAULT_MAX_CHILDREN`](crate::process::DEFAULT_MAX_CHILDREN)
///   (128) subprocesses running at once; one more is refused with
///   `resource-limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    max_memory: Option<u64>,
    timeout: Option<Duration>,
    max_cpu: Option<Duration>,
    max_handles: usize,
    max_children: usize,
}

/// The default cap on live handles: wasmtime's own default, made explicit.
/// Enough for ~10,000 open connections with their streams.
pub const DEFAULT_MAX_HANDLES: usize = 100_000;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_memory: None,
            timeout: None,
            max_cpu: None,
            max_handles: DEFAULT_MAX_HANDLES,
            max_children: crate::process::DEFAULT_MAX_CHILDREN,
        }
    }
}

impl Limits {
    /// No limits except the handle cap; see the type's docs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Caps the guest's linear memory, all memories together, in bytes.
    pub fn max_memory(mut self, bytes: u64) -> Self {
        self.max_memory = Some(bytes);
        self
    }

    /// Fails the run with [`ErrorKind::Timeout`]
    /// if it has not finished after `duration` of wall-clock time
    /// (instantiation included).
    pub fn timeout(mut self, duration: Duration) -> Self {
        self.timeout = Some(duration);
        self
    }

    /// Interrupts the guest with
    /// [`ErrorKind::CpuLimit`] once it has been
    /// found executing for `duration` worth of epoch ticks (rounded up to a
    /// whole tick, at least one).
    pub fn max_cpu(mut self, duration: Duration) -> Self {
        self.max_cpu = Some(duration);
        self
    }

    /// Caps live component-model handles and WASI resource-table entries.
    pub fn max_handles(mut self, handles: usize) -> Self {
        self.max_handles = handles;
        self
    }

    /// Caps the subprocesses running at once.
    pub fn max_children(mut self, children: usize) -> Self {
        self.max_children = children;
        self
    }

    /// The cap on subprocesses running at once.
    pub fn children_limit(&self) -> usize {
        self.max_children
    }

    /// The memory cap in bytes, if any.
    pub fn memory_limit(&self) -> Option<u64> {
        self.max_memory
    }

    /// The wall-clock timeout, if any.
    pub fn timeout_limit(&self) -> Option<Duration> {
        self.timeout
    }

    /// The CPU budget, if any.
    pub fn cpu_limit(&self) -> Option<Duration> {
        self.max_cpu
    }

    /// The handle cap.
    pub fn handle_limit(&self) -> usize {
        self.max_handles
    }
}

/// Why a memory growth was refused: what was asked for and the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MemoryRefusal {
    pub(crate) requested_total: u64,
    pub(crate) limit: u64,
}

/// The store's [`wasmtime::ResourceLimiter`]: enforces [`Limits::max_memory`]
/// over the sum of all linear memories and remembers a refusal.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    limit: Option<u64>,
    /// Bytes of linear memory granted so far, all memories together.
    total: u64,
    /// The growth most recently granted, taken back if it then fails.
    last_grant: u64,
    refused: Option<MemoryRefusal>,
}

impl MemoryLimiter {
    pub(crate) fn new(limit: Option<u64>) -> Self {
        MemoryLimiter {
            limit,
            total: 0,
            last_grant: 0,
            refused: None,
        }
    }

    /// The refusal that stopped the guest, if one did.
    pub(crate) fn refused(&self) -> Option<MemoryRefusal> {
        self.refused
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // The memory's own declared maximum: the spec's -1, not a trap.
        if maximum.is_some_and(|max| desired > max) {
            return Ok(false);
        }
        let delta = desired.saturating_sub(current) as u64;
        let requested_total = self.total.saturating_add(delta);
        if let Some(limit) = self.limit
            && requested_total > limit
        {
            self.refused = Some(MemoryRefusal {
                requested_total,
                limit,
            });
            wasmtime::bail!(
                "memory limit: growing linear memory to {requested_total} bytes in total exceeds the limit of {limit} bytes"
            );
        }
        self.total = requested_total;
        self.last_grant = delta;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        // The host could not provide memory it had allowed: take the grant
        // back and stop the guest, reported as a memory limit.
        self.total = self.total.saturating_sub(self.last_grant);
        self.refused = Some(MemoryRefusal {
            requested_total: self.total.saturating_add(self.last_grant),
            limit: self.limit.unwrap_or(self.total),
        });
        Err(error.context("the host could not allocate the guest's linear memory"))
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(maximum.is_none_or(|max| desired <= max))
    }
}

/// Counts epoch ticks that find the guest executing, against an optional
/// budget. Its [`on_tick`](Self::on_tick) is the store's epoch-deadline
/// callback.
#[derive(Debug)]
pub(crate) struct CpuMeter {
    budget_ticks: Option<u64>,
    used_ticks: u64,
    exhausted: bool,
}

impl CpuMeter {
    pub(crate) fn new(budget: Option<Duration>) -> Self {
        CpuMeter {
            budget_ticks: budget.map(ticks_for),
            used_ticks: 0,
            exhausted: false,
        }
    }

    /// Called when the guest is found executing past its epoch deadline:
    /// yield to the executor and run one more tick, or stop the guest when
    /// the budget is spent.
    pub(crate) fn on_tick(&mut self) -> UpdateDeadline {
        self.used_ticks += 1;
        match self.budget_ticks {
            Some(budget) if self.used_ticks >= budget => {
                self.exhausted = true;
                UpdateDeadline::Interrupt
            }
            _ => UpdateDeadline::Yield(1),
        }
    }

    /// Whether the budget ran out (and so the guest was interrupted).
    pub(crate) fn exhausted(&self) -> bool {
        self.exhausted
    }
}

/// A CPU budget in whole epoch ticks, rounded up, at least one.
fn ticks_for(budget: Duration) -> u64 {
    let tick = EPOCH_TICK.as_nanos();
    let ticks = budget.as_nanos().div_ceil(tick);
    u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
}

/// The background thread advancing the engine's epoch every [`EPOCH_TICK`].
/// It stops when the last holder (the runtime and its programs) drops it.
#[derive(Debug)]
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    /// Starts the thread for `engine`.
    pub(crate) fn start(engine: &Engine) -> Result<Arc<Self>, Error> {
        let stop = Arc::new(AtomicBool::new(false));
        let engine = engine.weak();
        let stopped = stop.clone();
        std::thread::Builder::new()
            .name("aio-epoch".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match engine.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .map_err(|e| {
                Error::new(
                    ErrorKind::Host,
                    format!("cannot start the epoch thread: {e}"),
                )
            })?;
        Ok(Arc::new(EpochTicker { stop }))
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::ResourceLimiter;

    #[test]
    fn cpu_budget_rounds_up_to_ticks() {
        assert_eq!(ticks_for(Duration::ZERO), 1);
        assert_eq!(ticks_for(Duration::from_millis(10)), 1);
        assert_eq!(ticks_for(Duration::from_millis(11)), 2);
        assert_eq!(ticks_for(Duration::from_secs(1)), 100);
    }

    #[test]
    fn cpu_meter_yields_until_spent() {
        let mut meter = CpuMeter::new(Some(Duration::from_millis(30)));
        assert!(matches!(meter.on_tick(), UpdateDeadline::Yield(1)));
        assert!(matches!(meter.on_tick(), UpdateDeadline::Yield(1)));
        assert!(!meter.exhausted());
        assert!(matches!(meter.on_tick(), UpdateDeadline::Interrupt));
        assert!(meter.exhausted());
    }

    #[test]
    fn cpu_meter_without_budget_always_yields() {
        let mut meter = CpuMeter::new(None);
        for _ in 0..1000 {
            assert!(matches!(meter.on_tick(), UpdateDeadline::Yield(1)));
        }
        assert!(!meter.exhausted());
    }

    #[test]
    fn memory_limit_counts_all_memories() {
        let page = 64 << 10;
        let mut limiter = MemoryLimiter::new(Some(3 * page as u64));
        assert!(limiter.memory_growing(0, 2 * page, None).unwrap());
        assert!(limiter.memory_growing(0, page, None).unwrap()); // a second memory
        assert!(limiter.refused().is_none());
        assert!(limiter.memory_growing(page, 2 * page, None).is_err());
        assert_eq!(
            limiter.refused(),
            Some(MemoryRefusal {
                requested_total: 4 * page as u64,
                limit: 3 * page as u64
            })
        );
    }

    #[test]
    fn declared_maximum_is_not_a_limit_hit() {
        let mut limiter = MemoryLimiter::new(None);
        assert!(!limiter.memory_growing(0, 10, Some(5)).unwrap());
        assert!(limiter.refused().is_none());
    }
}

//! The pooling instance allocator, as an option of
//! [`RuntimeBuilder::pooling`](crate::RuntimeBuilder::pooling).
//!
//! By default every instantiation maps its memories and tables afresh
//! (~30 µs per guest on this machine, measured in the embedding spike). The
//! pooling allocator reserves slots for a fixed number of instances when
//! the runtime is built and reuses them (~8 µs): the choice for a host that
//! creates many short-lived instances. Its cost is the reservation itself,
//! virtual address space for every slot (each memory slot reserves wasmtime's
//! 4 GiB plus guard pages, nothing of it resident until used), and a hard
//! cap: past it, instantiation fails with [`ErrorKind::PoolExhausted`]
//! (try again when a run has ended).
//!
//! ```
//! use aio_host::{Pooling, Runtime};
//!
//! // Room for 100 guests at once, each memory capped at 256 MiB.
//! let pooling = Pooling::new().instances(100).max_memory(256 << 20);
//! let runtime = Runtime::builder().pooling(pooling).no_cache().build()?;
//! # let _ = runtime;
//! # Ok::<(), aio_host::Error>(())
//! ```
//!
//! [`ErrorKind::PoolExhausted`]: crate::ErrorKind::PoolExhausted

use wasmtime::PoolingAllocationConfig;

/// How many guests the pool holds at once, and how big each may grow.
///
/// Defaults: [`DEFAULT_INSTANCES`] guests; per guest up to
/// [`CORE_INSTANCES_PER_GUEST`] core instances, [`MEMORIES_PER_GUEST`]
/// memories and [`TABLES_PER_GUEST`] tables (a Rust wasm32-wasip2 guest
/// has one memory and a few small shim modules and tables); memories up to
/// 4 GiB (a 32-bit guest's whole address space). A guest that needs more
/// than its share fails to instantiate with a message naming the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pooling {
    instances: u32,
    max_memory: usize,
}

/// Guests the pool holds at once by default (wasmtime's own default).
pub const DEFAULT_INSTANCES: u32 = 1000;
/// Core instances a guest may have (its module and wit-component's shims).
pub const CORE_INSTANCES_PER_GUEST: u32 = 8;
/// Linear memories a guest may have.
pub const MEMORIES_PER_GUEST: u32 = 2;
/// Tables a guest may have.
pub const TABLES_PER_GUEST: u32 = 4;

impl Default for Pooling {
    fn default() -> Self {
        Pooling::new()
    }
}

impl Pooling {
    /// The defaults (see the type's docs).
    pub fn new() -> Pooling {
        Pooling {
            instances: DEFAULT_INSTANCES,
            max_memory: 4 << 30,
        }
    }

    /// Room for `count` guests running at once (at least 1).
    pub fn instances(mut self, count: u32) -> Pooling {
        self.instances = count.max(1);
        self
    }

    /// The most a guest's linear memory may grow to in this pool (a slot's
    /// size; [`Limits::max_memory`](crate::Limits::max_memory) can cap a run
    /// lower). At most 4 GiB.
    pub fn max_memory(mut self, bytes: usize) -> Pooling {
        self.max_memory = bytes.min(4 << 30);
        self
    }

    /// How many guests the pool holds.
    pub fn instance_count(&self) -> u32 {
        self.instances
    }

    pub(crate) fn config(&self) -> PoolingAllocationConfig {
        let n = self.instances;
        let mut config = PoolingAllocationConfig::new();
        config
            .total_component_instances(n)
            .total_core_instances(n.saturating_mul(CORE_INSTANCES_PER_GUEST))
            .max_core_instances_per_component(CORE_INSTANCES_PER_GUEST)
            .total_memories(n.saturating_mul(MEMORIES_PER_GUEST))
            .max_memories_per_component(MEMORIES_PER_GUEST)
            .total_tables(n.saturating_mul(TABLES_PER_GUEST))
            .max_tables_per_component(TABLES_PER_GUEST)
            // One fiber stack per running store, and one spare per guest for
            // the component model's concurrent calls.
            .total_stacks(n.saturating_mul(2))
            .total_gc_heaps(n)
            .max_memory_size(self.max_memory);
        config
    }
}

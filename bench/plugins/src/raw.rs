//! The floor: raw wasmtime, no SDK and no WASI. A hand-written component
//! (WAT below) whose `noop` export lifts an empty core function, run from an
//! `InstancePre` with the pooling allocator, in two configurations:
//!
//! - `raw wasmtime (sync)`: an engine without concurrency support, a store
//!   of `()`, `TypedFunc::call`: the cheapest call wasmtime 48 has;
//! - `raw wasmtime (async)`: component-model async on (as aio-host's
//!   engine), `instantiate_async`, `call_async` (which, in such a store,
//!   runs its own `run_concurrent` per call) and `call_concurrent` inside
//!   one `run_concurrent` (how aio-host's `Instance` calls).
//!
//! Each measures instantiate (store + instance), the create-call-drop
//! cycle, sequential trivial calls/s, and idle instances per GiB of RSS.

use crate::stats::{Row, per_gib, per_s, rss_bytes, sample};
use crate::{Counts, POOL_INSTANCES, WARM_UP};
use std::time::Instant;
use wasmtime::component::{Component, InstancePre, Linker, TypedFunc};
use wasmtime::{Config, Engine, PoolingAllocationConfig, Store};

/// One core module with one page of memory (as most guests have one) and
/// an empty `noop`, lifted as the component's `noop: func()`.
pub const COMPONENT_WAT: &str = r#"
(component
  (core module $m
    (memory (export "memory") 1)
    (func (export "noop")))
  (core instance $i (instantiate $m))
  (func (export "noop") (canon lift (core func $i "noop"))))
"#;

type Noop = TypedFunc<(), ()>;
type Error = Box<dyn std::error::Error>;

/// Room for `POOL_INSTANCES` instances of the component, memories up to
/// wasmtime's default slot size.
fn pooling() -> PoolingAllocationConfig {
    let n = POOL_INSTANCES;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(n)
        .total_core_instances(n)
        .total_memories(n)
        .total_tables(n)
        .total_stacks(n)
        .total_gc_heaps(n);
    pool
}

/// Compiles the component on `config` (plus pooling) and pre-instantiates it.
fn prepare(mut config: Config) -> Result<InstancePre<()>, Error> {
    config.allocation_strategy(pooling());
    let engine = Engine::new(&config)?;
    let bytes = wat::parse_str(COMPONENT_WAT)?;
    let component = Component::new(&engine, &bytes)?;
    Ok(Linker::new(&engine).instantiate_pre(&component)?)
}

/// The sync floor's row.
pub fn sync_row(counts: &Counts) -> Result<Row, Error> {
    let mut config = Config::new();
    config.concurrency_support(false);
    let pre = prepare(config)?;
    let engine = pre.engine().clone();
    let noop_index = pre
        .component()
        .get_export_index(None, "noop")
        .ok_or("the component has no `noop` export")?;
    let instantiate = |store: &mut Store<()>| -> Result<Noop, Error> {
        let instance = pre.instantiate(&mut *store)?;
        Ok(instance.get_typed_func::<(), ()>(&mut *store, &noop_index)?)
    };

    let mut row = Row::new("raw wasmtime (sync)");
    // Warm-up: first use of each pool slot and of the code pages.
    for _ in 0..WARM_UP {
        let mut store = Store::new(&engine, ());
        instantiate(&mut store)?.call(&mut store, ())?;
    }
    let mut samples = sample(counts.instantiate, || -> Result<(), Error> {
        let mut store = Store::new(&engine, ());
        instantiate(&mut store).map(drop)
    })?;
    row.latency("instantiate", &mut samples);
    let mut samples = sample(counts.cycle, || -> Result<(), Error> {
        let mut store = Store::new(&engine, ());
        let noop = instantiate(&mut store)?;
        noop.call(&mut store, ())?;
        Ok(())
    })?;
    row.latency("cycle", &mut samples);

    let mut store = Store::new(&engine, ());
    let noop = instantiate(&mut store)?;
    let t = Instant::now();
    for _ in 0..counts.calls {
        noop.call(&mut store, ())?;
    }
    row.set("trivial_calls_per_s", per_s(counts.calls, t.elapsed()));
    drop(store);

    let before = rss_bytes()?;
    let mut idle = Vec::with_capacity(counts.idle);
    for _ in 0..counts.idle {
        let mut store = Store::new(&engine, ());
        instantiate(&mut store)?.call(&mut store, ())?;
        idle.push(store);
    }
    let grown = rss_bytes()?.saturating_sub(before);
    row.set("idle_instances", counts.idle as f64)
        .set("idle_bytes_each", grown as f64 / counts.idle.max(1) as f64)
        .set("idle_per_gib", per_gib(counts.idle, grown));
    Ok(row)
}

/// The async floor's row (futures polled on `runtime`).
pub fn async_row(counts: &Counts, runtime: &tokio::runtime::Runtime) -> Result<Row, Error> {
    let mut config = Config::new();
    config.wasm_component_model_async(true);
    let pre = prepare(config)?;
    let engine = pre.engine().clone();
    let noop_index = pre
        .component()
        .get_export_index(None, "noop")
        .ok_or("the component has no `noop` export")?;
    let instantiate = async |store: &mut Store<()>| -> Result<Noop, Error> {
        let instance = pre.instantiate_async(&mut *store).await?;
        Ok(instance.get_typed_func::<(), ()>(&mut *store, &noop_index)?)
    };

    runtime.block_on(async {
        let mut row = Row::new("raw wasmtime (async)");
        for _ in 0..WARM_UP {
            let mut store = Store::new(&engine, ());
            instantiate(&mut store)
                .await?
                .call_async(&mut store, ())
                .await?;
        }
        let mut samples = Vec::with_capacity(counts.instantiate);
        for _ in 0..counts.instantiate {
            let t = Instant::now();
            let mut store = Store::new(&engine, ());
            instantiate(&mut store).await?;
            samples.push(t.elapsed());
        }
        row.latency("instantiate", &mut samples);
        samples.clear();
        for _ in 0..counts.cycle {
            let t = Instant::now();
            let mut store = Store::new(&engine, ());
            let noop = instantiate(&mut store).await?;
            noop.call_async(&mut store, ()).await?;
            drop(store);
            samples.push(t.elapsed());
        }
        row.latency("cycle", &mut samples);

        let mut store = Store::new(&engine, ());
        let noop = instantiate(&mut store).await?;
        let t = Instant::now();
        for _ in 0..counts.calls {
            noop.call_async(&mut store, ()).await?;
        }
        row.set("call_async_per_s", per_s(counts.calls, t.elapsed()));
        let calls = counts.calls;
        let t = Instant::now();
        store
            .run_concurrent(async move |acc| -> wasmtime::Result<()> {
                for _ in 0..calls {
                    noop.call_concurrent(acc, ()).await?;
                }
                Ok(())
            })
            .await??;
        row.set("trivial_calls_per_s", per_s(counts.calls, t.elapsed()));
        drop(store);

        let before = rss_bytes()?;
        let mut idle = Vec::with_capacity(counts.idle);
        for _ in 0..counts.idle {
            let mut store = Store::new(&engine, ());
            instantiate(&mut store)
                .await?
                .call_async(&mut store, ())
                .await?;
            idle.push(store);
        }
        let grown = rss_bytes()?.saturating_sub(before);
        row.set("idle_instances", counts.idle as f64)
            .set("idle_bytes_each", grown as f64 / counts.idle.max(1) as f64)
            .set("idle_per_gib", per_gib(counts.idle, grown));
        Ok(row)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Counts {
        Counts {
            instantiate: 3,
            cycle: 3,
            calls: 10,
            sleeps: 10,
            in_flight: 2,
            idle: 3,
        }
    }

    fn figure(row: &Row, key: &str) -> f64 {
        let json = row.json();
        let at = json.find(&format!("\"{key}\":")).expect("figure present") + key.len() + 3;
        json[at..]
            .split([',', '}'])
            .next()
            .and_then(|v| v.parse().ok())
            .expect("a number")
    }

    #[test]
    fn the_sync_floor_instantiates_and_calls() {
        let row = sync_row(&tiny()).unwrap();
        assert!(figure(&row, "trivial_calls_per_s") > 0.0);
        assert!(figure(&row, "instantiate_p50_us") > 0.0);
    }

    #[test]
    fn the_async_floor_calls_through_run_concurrent() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let row = async_row(&tiny(), &runtime).unwrap();
        assert!(figure(&row, "trivial_calls_per_s") > 0.0);
        assert!(figure(&row, "call_async_per_s") > 0.0);
    }
}

//! aio-host's plugin runtime: bench/plugin (built with the SDK) through
//! [`aio_host::plugin::Instance`], the pooling allocator on, every
//! instance's actor on one `current_thread` tokio runtime (as `aio` runs).
//!
//! - instantiate: `Plugin::instantiate` (store with WASI, grants and limits,
//!   the instance, its actor task, and the SDK loop's `control.start`);
//! - cycle: instantiate, one `noop` call, `close()` (which waits until the
//!   store is dropped and its pool slot is free);
//! - trivial calls/s: `noop` one call at a time, through `call_typed` (a
//!   `TypedFunc` bound once) and through `call` (by name, with `Val`s), and
//!   1,000 in flight;
//! - sleeping calls/s: `sleep-ms(1)`, 1,000 calls in flight on one instance
//!   (a new call starts as soon as one returns);
//! - idle instances per GiB of RSS, each called once.

use crate::stats::{Row, per_gib, per_s, rss_bytes};
use crate::{Counts, POOL_INSTANCES, WARM_UP};
use aio_host::plugin::{Instance, InstanceOptions, Plugin};
use aio_host::{Pooling, Runtime};
use std::future::Future;
use std::path::Path;
use std::time::Instant;
use tokio::task::JoinSet;
use wasmtime::component::TypedFunc;

type Error = Box<dyn std::error::Error>;

/// The interface bench/plugin exports (bench/plugin/wit/bench.wit).
const API: &str = "aio-bench:plugin/api@0.1.0";

/// The aio row, for the plugin at `path` (futures polled on `runtime`).
pub fn row(counts: &Counts, runtime: &tokio::runtime::Runtime, path: &Path) -> Result<Row, Error> {
    let aio = Runtime::builder()
        .pooling(Pooling::new().instances(POOL_INSTANCES))
        .build()?;
    let plugin = aio.load_plugin(path)?;
    runtime.block_on(measure(counts, &plugin))
}

async fn measure(counts: &Counts, plugin: &Plugin) -> Result<Row, Error> {
    let options = InstanceOptions::new;
    let mut row = Row::new("aio-host Instance");
    // Warm-up: first use of each pool slot and of the code pages.
    let warm_up = if counts.cycle == 0 { 1 } else { WARM_UP };
    for _ in 0..warm_up {
        let instance = plugin.instantiate(options()).await?;
        instance.call("noop", &[]).await?;
        instance.close().await;
    }

    let mut samples = Vec::with_capacity(counts.instantiate);
    for _ in 0..counts.instantiate {
        let t = Instant::now();
        let instance = plugin.instantiate(options()).await?;
        samples.push(t.elapsed());
        instance.close().await;
    }
    if !samples.is_empty() {
        row.latency("instantiate", &mut samples);
    }
    samples.clear();
    for _ in 0..counts.cycle {
        let t = Instant::now();
        let instance = plugin.instantiate(options()).await?;
        instance.call("noop", &[]).await?;
        instance.close().await;
        samples.push(t.elapsed());
    }
    if !samples.is_empty() {
        row.latency("cycle", &mut samples);
    }

    let instance = plugin.instantiate(options()).await?;
    let (noop, sleep_ms) = bind(plugin, &instance).await?;
    if counts.calls > 0 {
        let t = Instant::now();
        for _ in 0..counts.calls {
            instance.call_typed(noop, ()).await?;
        }
        row.set("trivial_calls_per_s", per_s(counts.calls, t.elapsed()));
        let t = Instant::now();
        for _ in 0..counts.calls {
            instance.call("noop", &[]).await?;
        }
        row.set("dynamic_calls_per_s", per_s(counts.calls, t.elapsed()));
        let rate = windowed(counts.calls, counts.in_flight, || {
            let instance = instance.clone();
            async move { instance.call_typed(noop, ()).await }
        })
        .await?;
        row.set("trivial_in_flight_calls_per_s", rate);
    }
    if counts.sleeps > 0 {
        let rate = windowed(counts.sleeps, counts.in_flight, || {
            let instance = instance.clone();
            async move { instance.call_typed(sleep_ms, (1,)).await }
        })
        .await?;
        row.set("sleep_calls_per_s", rate)
            .set("sleep_in_flight", counts.in_flight as f64);
    }
    instance.close().await;

    if counts.idle == 0 {
        return Ok(row);
    }
    let before = rss_bytes()?;
    let mut idle = Vec::with_capacity(counts.idle);
    for _ in 0..counts.idle {
        let instance = plugin.instantiate(options()).await?;
        // By name: a `TypedFunc` belongs to the store it was bound in.
        instance.call("noop", &[]).await?;
        idle.push(instance);
    }
    let grown = rss_bytes()?.saturating_sub(before);
    row.set("idle_instances", counts.idle as f64)
        .set("idle_bytes_each", grown as f64 / counts.idle.max(1) as f64)
        .set("idle_per_gib", per_gib(counts.idle, grown));
    for instance in idle {
        instance.close().await;
    }
    Ok(row)
}

type Noop = TypedFunc<(), ()>;
type SleepMs = TypedFunc<(u32,), ()>;

/// The typed `noop` and `sleep-ms` of `instance`.
async fn bind(plugin: &Plugin, instance: &Instance) -> Result<(Noop, SleepMs), Error> {
    let component = plugin.component();
    let api = component
        .get_export_index(None, API)
        .ok_or_else(|| format!("{}: no export {API}", plugin.name()))?;
    let noop = component
        .get_export_index(Some(&api), "noop")
        .ok_or_else(|| format!("{}: no {API}.noop", plugin.name()))?;
    let sleep_ms = component
        .get_export_index(Some(&api), "sleep-ms")
        .ok_or_else(|| format!("{}: no {API}.sleep-ms", plugin.name()))?;
    let funcs = instance
        .bind(move |mut store, instance| {
            let noop = instance.get_typed_func::<(), ()>(&mut store, &noop)?;
            let sleep_ms = instance.get_typed_func::<(u32,), ()>(&mut store, &sleep_ms)?;
            Ok((noop, sleep_ms))
        })
        .await?;
    Ok(funcs)
}

/// Runs `total` calls made by `call`, `in_flight` at a time (a new one
/// starts as soon as one ends); returns calls per second.
async fn windowed<F, T>(total: usize, in_flight: usize, call: impl Fn() -> F) -> Result<f64, Error>
where
    F: Future<Output = Result<T, aio_host::Error>> + Send + 'static,
    T: Send + 'static,
{
    let mut running = JoinSet::new();
    let t = Instant::now();
    let mut started = 0;
    while started < total.min(in_flight.max(1)) {
        running.spawn(call());
        started += 1;
    }
    while let Some(done) = running.join_next().await {
        done.map_err(|e| format!("a call task failed: {e}"))??;
        if started < total {
            running.spawn(call());
            started += 1;
        }
    }
    Ok(per_s(total, t.elapsed()))
}

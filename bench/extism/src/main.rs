//! Extism's side of bench/run's plugin table (docs/PERFORMANCE.md,
//! "Plugins"): the same measurements as bench/plugins, on Extism 1.30.0.
//!
//! Extism runs core modules, so the plugin is written in WAT (below): a
//! `noop` export and a `sleep_ms` export that calls a host function which
//! sleeps 1 ms (a guest cannot sleep in Extism without blocking its thread).
//! Measured, in this order:
//!
//! - instantiate: `Plugin::new_from_compiled` on a `CompiledPlugin` (this
//!   version's precompiled plugin). Extism instantiates lazily, in the first
//!   call, so this row is the store, linker and `InstancePre` it builds per
//!   plugin; the cycle is the figure to compare;
//! - cycle: `new_from_compiled`, one `noop` call, drop;
//! - trivial calls/s: `noop` called over and over on one plugin;
//! - sleeping calls/s: `sleep_ms` (1 ms) on one plugin; `Plugin::call`
//!   takes `&mut self`, so one call is in flight per plugin, never 1,000;
//! - idle plugins per GiB: RSS growth for plugins kept alive after one call.
//!
//! Prints one JSON line. `--quick` divides every count by 10 (a smoke run).

use extism::{CompiledPlugin, Manifest, PTR, Plugin, PluginBuilder, UserData, Wasm};
use std::time::{Duration, Instant};

/// The plugin: `noop` returns at once; `sleep_ms` makes the host sleep 1 ms.
/// One page of memory, as the raw wasmtime component in bench/plugins has.
const PLUGIN_WAT: &str = r#"
(module
  (import "extism:host/user" "sleep_ms" (func $sleep_ms (param i64)))
  (memory (export "memory") 1)
  (func (export "noop") (result i32)
    i32.const 0)
  (func (export "sleep_ms") (result i32)
    i64.const 1
    call $sleep_ms
    i32.const 0))
"#;

/// The input of every call (the exports read none).
const EMPTY: &[u8] = &[];

/// How many times each measurement runs (divided by 10 with `--quick`).
struct Counts {
    instantiate: usize,
    cycle: usize,
    calls: usize,
    sleeps: usize,
    idle: usize,
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let div = if quick { 10 } else { 1 };
    let counts = Counts {
        instantiate: 10_000 / div,
        cycle: 10_000 / div,
        calls: 200_000 / div,
        sleeps: 500 / div,
        idle: 1_000 / div,
    };
    if let Err(e) = run(&counts) {
        eprintln!("bench-extism: {e:#}");
        std::process::exit(1);
    }
}

fn run(counts: &Counts) -> Result<(), extism::Error> {
    let compiled = compile()?;

    // Warm up: the first plugin pays for lazy statics (the timer thread).
    let mut warm = Plugin::new_from_compiled(&compiled)?;
    noop(&mut warm)?;
    drop(warm);

    let mut instantiate = Vec::with_capacity(counts.instantiate);
    for _ in 0..counts.instantiate {
        let t = Instant::now();
        let plugin = Plugin::new_from_compiled(&compiled)?;
        instantiate.push(t.elapsed());
        drop(plugin);
    }

    let mut cycle = Vec::with_capacity(counts.cycle);
    for _ in 0..counts.cycle {
        let t = Instant::now();
        let mut plugin = Plugin::new_from_compiled(&compiled)?;
        noop(&mut plugin)?;
        drop(plugin);
        cycle.push(t.elapsed());
    }

    let mut plugin = Plugin::new_from_compiled(&compiled)?;
    noop(&mut plugin)?;
    let t = Instant::now();
    for _ in 0..counts.calls {
        noop(&mut plugin)?;
    }
    let calls_per_s = counts.calls as f64 / t.elapsed().as_secs_f64();

    let t = Instant::now();
    for _ in 0..counts.sleeps {
        let _: &[u8] = plugin.call("sleep_ms", EMPTY)?;
    }
    let sleeps_per_s = counts.sleeps as f64 / t.elapsed().as_secs_f64();
    drop(plugin);

    let before = rss_bytes()?;
    let mut idle = Vec::with_capacity(counts.idle);
    for _ in 0..counts.idle {
        let mut plugin = Plugin::new_from_compiled(&compiled)?;
        noop(&mut plugin)?;
        idle.push(plugin);
    }
    let grown = rss_bytes()?.saturating_sub(before).max(1);
    let per_gib = counts.idle as f64 * (1u64 << 30) as f64 / grown as f64;
    drop(idle);

    let (i50, i99) = p50_p99(&mut instantiate);
    let (c50, c99) = p50_p99(&mut cycle);
    println!(
        "{{\"runtime\":\"extism\",\"version\":\"1.30.0\",\
         \"instantiate_p50_us\":{i50:.2},\"instantiate_p99_us\":{i99:.2},\
         \"cycle_p50_us\":{c50:.2},\"cycle_p99_us\":{c99:.2},\
         \"trivial_calls_per_s\":{calls_per_s:.0},\
         \"sleep_calls_per_s\":{sleeps_per_s:.0},\"sleep_in_flight\":1,\
         \"idle_instances\":{},\"idle_bytes_each\":{:.0},\"idle_per_gib\":{per_gib:.0}}}",
        counts.idle,
        grown as f64 / counts.idle as f64,
    );
    Ok(())
}

/// Compiles the WAT plugin once, with the host function `sleep_ms`.
fn compile() -> Result<CompiledPlugin, extism::Error> {
    PluginBuilder::new(Manifest::new([Wasm::data(PLUGIN_WAT.as_bytes().to_vec())]))
        .with_wasi(false)
        .with_cache_disabled()
        .with_function(
            "sleep_ms",
            [PTR],
            [],
            UserData::new(()),
            |_plugin, inputs, _outputs, _data| {
                let ms = inputs.first().and_then(|v| v.i64()).unwrap_or(0);
                std::thread::sleep(Duration::from_millis(ms.max(0) as u64));
                Ok(())
            },
        )
        .compile()
}

fn noop(plugin: &mut Plugin) -> Result<(), extism::Error> {
    let _: &[u8] = plugin.call("noop", EMPTY)?;
    Ok(())
}

/// The median and 99th percentile, in microseconds.
fn p50_p99(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort_unstable();
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e6)
    };
    (at(0.50), at(0.99))
}

/// This process's resident set size (`VmRSS` in `/proc/self/status`, Linux).
fn rss_bytes() -> Result<u64, extism::Error> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| extism::Error::msg("no VmRSS line in /proc/self/status"))
}

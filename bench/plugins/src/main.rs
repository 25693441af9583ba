//! bench/run's plugin table (docs/PERFORMANCE.md, "Plugins"): the raw
//! wasmtime floor ([`raw`]) and aio-host's plugin `Instance` ([`aio`]), in
//! one process, printed as one JSON line `{"rows":[...]}` (one object per
//! runtime). bench/extism measures the peer the same way.
//!
//! Usage: `bench-plugins [--quick] [--no-aio] [--only WHAT] [--plugin PATH]`
//! (`--quick` divides every count by 10; `--only instantiate|cycle|calls|sleep`
//! measures only that part of aio's row, for profiling; PATH defaults to
//! bench/plugin's release build,
//! `target/wasm32-wasip2/release/bench_plugin.wasm`).

mod aio;
mod raw;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;

/// Pool slots of every pooling engine here: the idle test's instances plus
/// room for warm-up.
pub const POOL_INSTANCES: u32 = 1_100;

/// Untimed create-call-drop rounds before the timed ones.
pub const WARM_UP: usize = 100;

/// How many times each measurement runs (aio's row skips a measurement
/// whose count is 0).
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    /// Instantiations timed one by one.
    pub instantiate: usize,
    /// Create-call-drop cycles timed one by one.
    pub cycle: usize,
    /// Trivial calls in a row.
    pub calls: usize,
    /// Sleeping calls in all.
    pub sleeps: usize,
    /// Calls in flight at once on one instance.
    pub in_flight: usize,
    /// Idle instances kept alive (at most `POOL_INSTANCES - 100`).
    pub idle: usize,
}

impl Counts {
    fn new(quick: bool) -> Counts {
        let div = if quick { 10 } else { 1 };
        Counts {
            instantiate: 10_000 / div,
            cycle: 10_000 / div,
            calls: 200_000 / div,
            sleeps: 100_000 / div,
            in_flight: 1_000,
            idle: 1_000,
        }
    }
}

fn main() -> ExitCode {
    let mut quick = false;
    let mut with_aio = true;
    let mut only: Option<String> = None;
    let mut plugin = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/wasm32-wasip2/release/bench_plugin.wasm");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--no-aio" => with_aio = false,
            "--only" => match args.next() {
                Some(what) => only = Some(what),
                None => return fail("--only needs instantiate, cycle, calls or sleep"),
            },
            "--plugin" => match args.next() {
                Some(path) => plugin = path.into(),
                None => return fail("--plugin needs a path"),
            },
            other => {
                return fail(&format!(
                    "unknown argument {other:?} (usage: bench-plugins [--quick] [--no-aio] [--only WHAT] [--plugin PATH])"
                ));
            }
        }
    }
    let mut counts = Counts::new(quick);
    if let Some(what) = &only {
        let all = counts;
        counts = Counts::default();
        match what.as_str() {
            "instantiate" => counts.instantiate = all.instantiate,
            "cycle" => counts.cycle = all.cycle,
            "calls" => counts.calls = all.calls,
            "sleep" => {
                counts.sleeps = all.sleeps;
                counts.in_flight = all.in_flight;
            }
            other => {
                return fail(&format!(
                    "--only {other:?}: expected instantiate, cycle, calls or sleep"
                ));
            }
        }
    }
    match run(counts, only.is_none(), with_aio || only.is_some(), &plugin) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.to_string()),
    }
}

fn fail(why: &str) -> ExitCode {
    eprintln!("bench-plugins: {why}");
    ExitCode::FAILURE
}

fn run(
    counts: Counts,
    with_raw: bool,
    with_aio: bool,
    plugin: &std::path::Path,
) -> Result<String, Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Each engine (and its pool) is dropped before the next is made.
    let mut rows = Vec::new();
    if with_raw {
        rows.push(raw::sync_row(&counts)?);
        rows.push(raw::async_row(&counts, &runtime)?);
    }
    if with_aio {
        rows.push(aio::row(&counts, &runtime, plugin)?);
    }
    Ok(stats::json_line(&rows))
}

//! The in-process half of `scripts/soak` (docs/SECURITY.md, "Soak"): does
//! one thing many times in one embedding process and samples the process's
//! resident memory and open descriptors as it goes, so that a leak per run
//! or per instance shows as a slope.
//!
//! ```text
//! bench-soak runs N WASM [--every K] [--allow-run PROG]... [-- ARGS...]
//!     N sequential `Program::run`s of the program WASM (loaded once, stdio
//!     captured, the programs given may be run), each of which must exit 0
//! bench-soak instances N WASM [--every K]
//!     N plugin instances of WASM (bench/plugin, or any plugin exporting
//!     `sleep-ms: async func(ms: u32)`): each instantiated, called once
//!     (`sleep-ms(1)`: an async export, a host timer, a cross-task wake-up)
//!     and dropped
//! ```
//!
//! One `aio_host::Runtime` (engine, compile cache) and one `current_thread`
//! tokio runtime (as `aio` uses) for the whole soak. Every K (500) runs or
//! instances, and before the first, prints a line
//! `COUNT ELAPSED_S RSS_KB FDS` (VmRSS from /proc/self/status, entries of
//! /proc/self/fd); last, one JSON line with every sample, which
//! scripts/soak reads and judges.

use aio_host::plugin::InstanceOptions;
use aio_host::{Grants, RunOptions, Runtime, Status, Stdio};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use wasmtime::component::Val;

type Error = Box<dyn std::error::Error>;

const USAGE: &str =
    "usage: bench-soak (runs|instances) N WASM [--every K] [--allow-run PROG]... [-- ARGS...]";

/// What to repeat, parsed from the command line.
#[derive(Debug)]
struct Soak {
    instances: bool,
    count: usize,
    wasm: PathBuf,
    every: usize,
    allow_run: Vec<String>,
    args: Vec<String>,
}

fn parse() -> Result<Soak, String> {
    let mut argv = std::env::args().skip(1);
    let instances = match argv.next().as_deref() {
        Some("runs") => false,
        Some("instances") => true,
        _ => return Err(USAGE.into()),
    };
    let count = argv.next().and_then(|n| n.parse().ok()).ok_or(USAGE)?;
    let wasm = argv.next().ok_or(USAGE)?.into();
    let mut soak = Soak {
        instances,
        count,
        wasm,
        every: 500,
        allow_run: Vec::new(),
        args: Vec::new(),
    };
    while let Some(arg) = argv.next() {
        match arg.as_str() {
            "--every" => {
                soak.every = argv
                    .next()
                    .and_then(|k| k.parse().ok())
                    .filter(|&k| k > 0)
                    .ok_or("--every needs a positive count")?
            }
            "--allow-run" => soak
                .allow_run
                .push(argv.next().ok_or("--allow-run needs a program")?),
            "--" => soak.args.extend(argv.by_ref()),
            other => return Err(format!("unknown argument {other:?} ({USAGE})")),
        }
    }
    Ok(soak)
}

/// One sample: how many were done, seconds since the start, VmRSS in KiB,
/// open descriptors.
#[derive(Debug, Clone, Copy)]
struct Sample {
    count: usize,
    secs: f64,
    rss_kb: u64,
    fds: usize,
}

/// Takes a sample every `every` counts and prints it.
#[derive(Debug)]
struct Sampler {
    every: usize,
    start: Instant,
    samples: Vec<Sample>,
}

impl Sampler {
    fn new(every: usize) -> Self {
        let mut sampler = Sampler {
            every,
            start: Instant::now(),
            samples: Vec::new(),
        };
        sampler.sample(0);
        sampler
    }

    /// Called after each run or instance, `count` done so far.
    fn done(&mut self, count: usize) {
        if count.is_multiple_of(self.every) {
            self.sample(count);
        }
    }

    fn sample(&mut self, count: usize) {
        let sample = Sample {
            count,
            secs: self.start.elapsed().as_secs_f64(),
            rss_kb: rss_kb(),
            fds: fds(),
        };
        println!(
            "{}\t{:.1}\t{}\t{}",
            sample.count, sample.secs, sample.rss_kb, sample.fds
        );
        self.samples.push(sample);
    }

    /// The closing JSON line, after a last sample of `count` if there is
    /// none yet.
    fn summary(&mut self, what: &str, count: usize) -> String {
        if self.samples.last().is_none_or(|s| s.count != count) {
            self.sample(count);
        }
        let last = self.samples.last().expect("the first sample");
        let samples: Vec<String> = self
            .samples
            .iter()
            .map(|s| format!("[{}, {:.3}, {}, {}]", s.count, s.secs, s.rss_kb, s.fds))
            .collect();
        format!(
            "{{\"soak\": \"{what}\", \"count\": {}, \"seconds\": {:.3}, \"per_s\": {:.1}, \"samples\": [{}]}}",
            last.count,
            last.secs,
            last.count as f64 / last.secs,
            samples.join(", ")
        )
    }
}

/// This process's resident set (VmRSS), in KiB.
fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line")
}

/// This process's open descriptors (not counting the one listing them).
fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
        - 1
}

/// `count` sequential runs of the program, each of which must exit 0.
async fn runs(soak: &Soak, runtime: &Runtime) -> Result<Sampler, Error> {
    let program = runtime.load(&soak.wasm)?;
    let options = RunOptions::new()
        .args(&soak.args)
        .grants(Grants::new().allow_run(&soak.allow_run))
        .stdio(Stdio::Capture);
    let mut sampler = Sampler::new(soak.every);
    for i in 1..=soak.count {
        let outcome = program.run(options.clone()).await;
        match outcome.status() {
            Status::Exited(0) => {}
            Status::Exited(code) => {
                let stderr = String::from_utf8_lossy(outcome.stderr());
                return Err(format!("run {i} exited with {code}: {stderr}").into());
            }
            Status::Failed(e) => return Err(format!("run {i} failed: {e}").into()),
        }
        sampler.done(i);
    }
    Ok(sampler)
}

/// `count` plugin instances, each created, called once and dropped.
async fn instances(soak: &Soak, runtime: &Runtime) -> Result<Sampler, Error> {
    let plugin = runtime.load_plugin(&soak.wasm)?;
    let mut sampler = Sampler::new(soak.every);
    for i in 1..=soak.count {
        let instance = plugin.instantiate(InstanceOptions::new()).await?;
        instance.call("sleep-ms", &[Val::U32(1)]).await?;
        // The last handle: the instance's actor ends and drops its store.
        drop(instance);
        sampler.done(i);
    }
    Ok(sampler)
}

fn main() -> ExitCode {
    let soak = match parse() {
        Ok(soak) => soak,
        Err(why) => {
            eprintln!("bench-soak: {why}");
            return ExitCode::from(2);
        }
    };
    let result = (|| -> Result<String, Error> {
        let tokio = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let runtime = Runtime::new()?;
        let (what, mut sampler) = if soak.instances {
            ("instances", tokio.block_on(instances(&soak, &runtime))?)
        } else {
            ("runs", tokio.block_on(runs(&soak, &runtime))?)
        };
        Ok(sampler.summary(what, soak.count))
    })();
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench-soak: {e}");
            ExitCode::FAILURE
        }
    }
}

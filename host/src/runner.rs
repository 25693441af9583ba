//! Loading and running guests: engine, linker, store, and the run itself.
//!
//! A [`Runtime`] owns one wasmtime engine (component-model async, epoch
//! interruption ticked by a background thread), one linker with WASI 0.2 and
//! 0.3, and the [compile cache](crate::cache). [`Runtime::load`] validates and
//! pre-instantiates a component once, giving a [`Program`]; each
//! [`Program::run`] then gets a fresh store with its own [`Grants`],
//! [`Limits`] and [`Stdio`], and runs `wasi:cli/run@0.3.0` on whatever tokio
//! runtime the caller polls it on (the `aio` command uses a `current_thread`
//! one: 35% less CPU per I/O round trip than handing events between threads).
//!
//! ```no_run
//! use aio_host::{RunOptions, Runtime, Status};
//!
//! # async fn demo() -> Result<(), aio_host::Error> {
//! let runtime = Runtime::new()?;
//! let program = runtime.load("app.wasm")?;
//! let outcome = program.run(RunOptions::new().arg("--verbose")).await;
//! if let Status::Failed(err) = outcome.status() {
//!     eprintln!("{err}");
//! }
//! # Ok(())
//! # }
//! ```

use crate::bindings::GuestPre;
use crate::cache::{self, CacheSetting, CompileCache, LoadedFrom};
use crate::error::{Error, ErrorKind, one_line};
use crate::inspect::Inspection;
use crate::introspect::{TableRequest, TaskProbe, answer_table, control_func};
use crate::limits::{EpochTicker, Limits};
use crate::outcome::{Ended, Outcome, Status, classify_ending};
use crate::policy::Grants;
use crate::pooling::Pooling;
use crate::signals::{RunSignals, Signals};
use crate::stdio::Stdio;
use crate::store::{CHILD_REAP_PATIENCE, GuestStore, RunState, Setup};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wasmtime::component::{Component, ComponentExportIndex, Linker};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::p2::bindings::CommandPre;

/// Loads guest components and runs them. Create one per process (it owns a
/// compiler, a linker and an epoch thread) and share it.
pub struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<RunState>,
    cache: CompileCache,
    pub(crate) ticker: Arc<EpochTicker>,
}

/// Configures a [`Runtime`].
///
/// Defaults: the compile cache lives in `$AIO_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/aio`, else `~/.cache/aio`.
#[derive(Debug, Default)]
pub struct RuntimeBuilder {
    cache: CacheSetting,
    pooling: Option<Pooling>,
}

impl RuntimeBuilder {
    /// Caches compiled components in `dir` (created when first needed).
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache = CacheSetting::Dir(dir.into());
        self
    }

    /// Allocates instances from a pool reserved up front ([`Pooling`]): much
    /// cheaper instantiation for hosts that start many guests, with a hard
    /// cap on how many run at once. Default: no pool.
    pub fn pooling(mut self, pooling: Pooling) -> Self {
        self.pooling = Some(pooling);
        self
    }

    /// Compiles every component afresh and stores nothing.
    pub fn no_cache(mut self) -> Self {
        self.cache = CacheSetting::Disabled;
        self
    }

    /// Creates the engine, the linker and the epoch thread.
    pub fn build(self) -> Result<Runtime, Error> {
        let mut config = Config::new();
        config.wasm_component_model_async(true);
        config.epoch_interruption(true);
        if let Some(pooling) = &self.pooling {
            config.allocation_strategy(pooling.config());
        }
        #[cfg(feature = "profiling")]
        if std::env::var_os("AIO_PROFILE").is_some_and(|p| p == "perfmap") {
            // Names the guest's compiled functions for `perf` (docs/PERFORMANCE.md).
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config)
            .map_err(|e| Error::host("cannot create the wasmtime engine", &e))?;

        let linker = crate::store::linker(&engine)?;

        let ticker = EpochTicker::start(&engine)?;
        Ok(Runtime {
            engine,
            linker,
            cache: CompileCache::new(self.cache),
            ticker,
        })
    }
}

impl Runtime {
    /// A runtime with the default settings ([`RuntimeBuilder`]).
    pub fn new() -> Result<Self, Error> {
        Self::builder().build()
    }

    /// Configures a runtime.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// The wasmtime engine every program of this runtime is compiled for.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The compile cache directory, if caching is on.
    pub fn cache_dir(&self) -> Option<&Path> {
        self.cache.dir()
    }

    /// Loads a guest component (`.wasm`) from a file. The program's name
    /// (its `argv[0]`) is the file name.
    ///
    /// Never runs precompiled machine code: a file that holds an
    /// `aio compile` output (whatever its name) is refused with
    /// [`ErrorKind::Precompiled`]; see [`load_precompiled`](Self::load_precompiled).
    /// Fails with [`ErrorKind::NotFound`], [`ErrorKind::NotAComponent`] or
    /// [`ErrorKind::NoRunExport`] (see each for the cases).
    pub fn load(&self, path: impl AsRef<Path>) -> Result<Program, Error> {
        let path = path.as_ref();
        let bytes = read_program(path)?;
        self.load_bytes(&display_name(path), &bytes)
    }

    /// Loads a guest component from memory; `name` is used in messages and
    /// as `argv[0]`. Never runs precompiled machine code, as [`load`](Self::load).
    pub fn load_bytes(&self, name: &str, bytes: &[u8]) -> Result<Program, Error> {
        let (component, loaded_from) = self.component(name, bytes, Native::Refuse)?;
        self.program(name, component, loaded_from)
    }

    /// Loads a guest from a file that may hold precompiled machine code (a
    /// `.cwasm` written by `aio compile` or [`Program::serialize`]); a plain
    /// component is compiled as by [`load`](Self::load).
    ///
    /// # Safety
    ///
    /// Precompiled code is native machine code that wasmtime runs without
    /// checking it: only its header, wasmtime's version and the engine's
    /// settings are compared. A file edited by anyone else runs whatever they
    /// put in it, outside the sandbox, with this process's rights. Call this
    /// only for files this host (the same aio-host and wasmtime build)
    /// produced, kept where only you can write them: trust them as you would
    /// a native executable.
    pub unsafe fn load_precompiled(&self, path: impl AsRef<Path>) -> Result<Program, Error> {
        let path = path.as_ref();
        let bytes = read_program(path)?;
        // Safety: the caller vouches for the file (this function's contract).
        unsafe { self.load_precompiled_bytes(&display_name(path), &bytes) }
    }

    /// [`load_precompiled`](Self::load_precompiled) from memory.
    ///
    /// # Safety
    ///
    /// As [`load_precompiled`](Self::load_precompiled): `bytes`, if
    /// precompiled, must come from this host and from storage only you can
    /// write.
    pub unsafe fn load_precompiled_bytes(
        &self,
        name: &str,
        bytes: &[u8],
    ) -> Result<Program, Error> {
        let (component, loaded_from) = self.component(name, bytes, Native::Trust)?;
        self.program(name, component, loaded_from)
    }

    /// Checks a compiled component's exports and imports, and
    /// pre-instantiates it.
    pub(crate) fn program(
        &self,
        name: &str,
        component: Component,
        loaded_from: LoadedFrom,
    ) -> Result<Program, Error> {
        let inspection = Inspection::of(&self.engine, &component);
        let p2 = !inspection.has_p3_run() && inspection.has_p2_run();
        if !inspection.has_p3_run() && !p2 {
            let exports: Vec<&str> = inspection.exports.iter().map(|e| e.name.as_str()).collect();
            let message = format!(
                "{name}: the component does not export wasi:cli/run@0.3.0 or @0.2 (it exports: {})",
                if exports.is_empty() {
                    "nothing".to_owned()
                } else {
                    exports.join(", ")
                }
            );
            return Err(Error::new(ErrorKind::NoRunExport, message));
        }
        let instance_pre = self.linker.instantiate_pre(&component).map_err(|e| {
            Error::new(
                ErrorKind::NotAComponent,
                format!(
                    "{name}: imports something aio does not provide: {}",
                    one_line(&e)
                ),
            )
        })?;
        let unusable = |version: &str, e: wasmtime::Error| {
            Error::new(
                ErrorKind::NoRunExport,
                format!(
                    "{name}: unusable wasi:cli/run@{version} export: {}",
                    one_line(&e)
                ),
            )
        };
        let pre = if p2 {
            Entry::P2(CommandPre::new(instance_pre).map_err(|e| unusable("0.2", e))?)
        } else {
            Entry::P3(GuestPre::new(instance_pre).map_err(|e| unusable("0.3.0", e))?)
        };
        Ok(Program {
            name: name.to_owned(),
            engine: self.engine.clone(),
            component,
            pre,
            loaded_from,
            _ticker: self.ticker.clone(),
        })
    }

    /// The imports and exports of a component file, without requiring that
    /// this host can run it.
    pub fn inspect(&self, path: impl AsRef<Path>) -> Result<Inspection, Error> {
        let path = path.as_ref();
        let bytes = read_program(path)?;
        let (component, _) = self.component(&display_name(path), &bytes, Native::Refuse)?;
        Ok(Inspection::of(&self.engine, &component))
    }

    /// Compiles (or fetches from the cache) the component in `bytes`; loads
    /// precompiled machine code only when `native` trusts it.
    pub(crate) fn component(
        &self,
        name: &str,
        bytes: &[u8],
        native: Native,
    ) -> Result<(Component, LoadedFrom), Error> {
        match classify(bytes) {
            Binary::Component => self
                .cache
                .load_or_compile(&self.engine, bytes)
                .map_err(|e| {
                    Error::new(
                        ErrorKind::NotAComponent,
                        format!("{name}: invalid component: {}", one_line(&e)),
                    )
                }),
            Binary::PrecompiledComponent if native == Native::Refuse => Err(Error::new(
                ErrorKind::Precompiled,
                format!(
                    "{name}: this is precompiled machine code (an `aio compile` output), which runs unchecked outside the sandbox: refused (run the .wasm it came from, or pass --allow-precompiled if you made this file yourself)"
                ),
            )),
            // Safety: `native` is `Trust` only from `load_precompiled*`,
            // whose callers vouch for the bytes.
            Binary::PrecompiledComponent => unsafe { cache::deserialize(&self.engine, bytes) }
                .map(|c| (c, LoadedFrom::Precompiled))
                .map_err(|e| {
                    Error::new(
                        ErrorKind::NotAComponent,
                        format!(
                            "{name}: precompiled component not loadable by this aio (compile it again): {}",
                            one_line(&e)
                        ),
                    )
                }),
            other => Err(Error::new(
                ErrorKind::NotAComponent,
                format!("{name}: not a component: {}", other.describe()),
            )),
        }
    }
}

/// Whether precompiled machine code may be loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Native {
    Refuse,
    Trust,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("cache_dir", &self.cache.dir())
            .finish_non_exhaustive()
    }
}

/// Which run export a program has, pre-instantiated.
#[derive(Clone)]
enum Entry {
    /// `wasi:cli/run@0.3.0`: asyncio guests, and any WASI 0.3 command.
    P3(GuestPre<RunState>),
    /// `wasi:cli/run@0.2.x`: any WASI 0.2 command (a plain `fn main` in
    /// Rust, or another language's), under the same grants, limits and
    /// audit. Its sockets are wasmtime-wasi's, checked against the same
    /// grants (`crate::policy`); it has no task table for `aio ps`.
    P2(CommandPre<RunState>),
}

/// A loaded, validated, pre-instantiated guest. Running it again is cheap
/// (a new store and an instantiation, no compilation). Clones share the
/// compiled code.
#[derive(Clone)]
pub struct Program {
    name: String,
    engine: Engine,
    component: Component,
    pre: Entry,
    loaded_from: LoadedFrom,
    // Keeps epochs ticking while the program can run, even if its `Runtime`
    // is dropped first.
    _ticker: Arc<EpochTicker>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("name", &self.name)
            .field("loaded_from", &self.loaded_from)
            .finish_non_exhaustive()
    }
}

/// What one run gets: arguments, grants, limits and stdio. All default to
/// nothing / none / [`Stdio::Inherit`].
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    args: Vec<String>,
    grants: Grants,
    limits: Limits,
    stdio: Stdio,
    signals: Option<Signals>,
    probe: Option<TaskProbe>,
    /// Ends the run when it holds a reason ([`Program::run_instances`]).
    stop: Option<tokio::sync::watch::Receiver<Option<String>>>,
}

impl RunOptions {
    /// No arguments, no grants ([`Grants::new`]), no limits
    /// ([`Limits::new`]), inherited stdio.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one argument (after `argv[0]`, which is the program's name).
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// What the guest may use from the host.
    pub fn grants(mut self, grants: Grants) -> Self {
        self.grants = grants;
        self
    }

    /// What the guest may consume.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Where stdin, stdout and stderr go.
    pub fn stdio(mut self, stdio: Stdio) -> Self {
        self.stdio = stdio;
        self
    }

    /// Signals sent through `signals` reach this run (see
    /// [`signals`](crate::signals)). Without it, nothing can signal the run.
    pub fn signals(mut self, signals: &Signals) -> Self {
        self.signals = Some(signals.clone());
        self
    }

    /// While the run lasts, `probe` asks the guest for its task table
    /// ([`TaskProbe::task_table`], what `aio ps` shows), for a guest built
    /// with the SDK (which exports `aio:host/control`).
    pub fn task_probe(mut self, probe: &TaskProbe) -> Self {
        self.probe = Some(probe.clone());
        self
    }

    /// Joins the run's TCP listeners to `group` (see [`crate::net::SharedPorts`]).
    pub(crate) fn share_ports(&mut self, group: &crate::net::SharedPorts) {
        self.grants = std::mem::take(&mut self.grants).share_ports(group);
    }

    /// No task probe for this run (a probe answers for one run).
    pub(crate) fn drop_task_probe(&mut self) {
        self.probe = None;
    }

    /// Ends the run (as a timeout does, keeping what it wrote) once `stop`
    /// holds a reason.
    pub(crate) fn stop_on(&mut self, stop: tokio::sync::watch::Receiver<Option<String>>) {
        self.stop = Some(stop);
    }
}

impl Program {
    /// The program's name: its file name, and its `argv[0]`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where its machine code came from (the cache, a fresh compilation, a
    /// `.cwasm` file).
    pub fn loaded_from(&self) -> &LoadedFrom {
        &self.loaded_from
    }

    /// The compiled component.
    pub fn component(&self) -> &Component {
        &self.component
    }

    /// The compiled component in the `.cwasm` form `aio compile` writes.
    pub fn serialize(&self) -> Result<Vec<u8>, Error> {
        self.component
            .serialize()
            .map_err(|e| Error::host("cannot serialize the compiled component", &e))
    }

    /// The imports and exports of the component.
    pub fn inspect(&self) -> Inspection {
        Inspection::of(&self.engine, &self.component)
    }

    /// Runs the guest's `wasi:cli/run@0.3.0` export (or a WASI 0.2 command's
    /// `wasi:cli/run@0.2`) in a fresh store.
    ///
    /// Never fails as a `Result`: every ending, including a trap or an
    /// exhausted limit, is a [`Status`](crate::Status) in the [`Outcome`]. Poll it on a
    /// tokio runtime with the time driver enabled (WASI clocks and
    /// [`Limits::timeout`] need it). Dropping the future stops the guest.
    pub async fn run(&self, options: RunOptions) -> Outcome {
        use tracing::Instrument as _;
        static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let span = tracing::info_span!("run", program = %self.name, run);
        self.run_in_span(options).instrument(span).await
    }

    async fn run_in_span(&self, options: RunOptions) -> Outcome {
        let RunOptions {
            args,
            grants,
            limits,
            stdio,
            signals,
            probe,
            stop,
        } = options;
        let run_signals = match &signals {
            Some(signals) => signals.attach(),
            None => Arc::new(RunSignals::new(crate::signals::DEFAULT_GRACE_PERIOD)),
        };

        let guest = GuestStore::new(
            &self.engine,
            Setup {
                argv0: &self.name,
                args: &args,
                grants,
                limits: &limits,
                stdio,
                signals: run_signals.clone(),
            },
        );
        let mut guest = match guest {
            Ok(guest) => guest,
            // A granted directory could not be opened: nothing ran.
            Err(e) => {
                tracing::debug!("not started: {e}");
                return Outcome::new(Status::Failed(e), Vec::new(), Vec::new());
            }
        };
        tracing::debug!(args = args.len(), "starting");
        let probe =
            probe.map(|probe| (control_func(&self.engine, &self.component), probe.attach()));
        let run = run_guest(&self.pre, &mut guest.store, probe);
        // A signal the guest does not handle (or a graceful one it took too
        // long over) ends the run, as the timeout does.
        let run = async {
            tokio::select! {
                result = run => Ended::Returned(result),
                ending = run_signals.until_ended() => Ended::Signalled(ending),
                why = stopped(stop) => Ended::Stopped(why),
            }
        };
        let ended = match limits.timeout_limit() {
            Some(limit) => match tokio::time::timeout(limit, run).await {
                Ok(ended) => ended,
                Err(_) => Ended::TimedOut(limit),
            },
            None => run.await,
        };
        let status = classify_ending(ended, guest.limits_hit());
        match &status {
            Status::Exited(code) => tracing::debug!("exited with {code}"),
            Status::Failed(e) => tracing::debug!("failed ({}): {e}", e.kind()),
        }
        drop(guest.store);
        guest.children.0.shutdown(CHILD_REAP_PATIENCE).await;
        tracing::debug!("ended; its children are reaped");
        let (stdout, stderr) = guest.captured.take();
        Outcome::new(status, stdout, stderr)
    }
}

/// The reason `stop` gives, once it gives one; never without a `stop`.
async fn stopped(stop: Option<tokio::sync::watch::Receiver<Option<String>>>) -> String {
    let Some(mut stop) = stop else {
        return std::future::pending().await;
    };
    let why = stop
        .wait_for(Option::is_some)
        .await
        .map(|why| why.clone().unwrap_or_default());
    match why {
        Ok(why) => why,
        // The sender is gone: nobody can stop this run any more.
        Err(_) => std::future::pending().await,
    }
}

/// A run's task probe: the guest's `task-table` export (if any) and the
/// requests for it.
type Probe = (
    Option<ComponentExportIndex>,
    tokio::sync::mpsc::UnboundedReceiver<TableRequest>,
);

/// Instantiates the guest in `store` and calls its run export; meanwhile
/// answers the probe's requests for the task table.
async fn run_guest(
    pre: &Entry,
    store: &mut Store<RunState>,
    probe: Option<Probe>,
) -> wasmtime::Result<Result<(), ()>> {
    let pre = match pre {
        Entry::P3(pre) => pre,
        Entry::P2(pre) => {
            let command = pre.instantiate_async(&mut *store).await?;
            return command.wasi_cli_run().call_run(&mut *store).await;
        }
    };
    let instance = pre.instance_pre().instantiate_async(&mut *store).await?;
    let guest = crate::bindings::Guest::new(&mut *store, &instance)?;
    let probe =
        probe.map(|(index, rx)| (index.and_then(|i| instance.get_func(&mut *store, i)), rx));
    store
        .run_concurrent(async move |accessor| {
            let run = guest.wasi_cli_run().call_run(accessor);
            let Some((table, mut requests)) = probe else {
                return run.await;
            };
            let mut run = std::pin::pin!(run);
            let mut asks = FuturesUnordered::new();
            loop {
                tokio::select! {
                    result = &mut run => return result,
                    Some(reply) = requests.recv() => asks.push(answer_table(accessor, table, reply)),
                    Some(()) = asks.next(), if !asks.is_empty() => {}
                }
            }
        })
        .await?
}

/// What a file's first bytes say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Binary {
    Component,
    CoreModule,
    PrecompiledComponent,
    PrecompiledModule,
    OtherWasm,
    NotWasm,
}

impl Binary {
    fn describe(self) -> &'static str {
        match self {
            Binary::Component | Binary::PrecompiledComponent => "a component",
            Binary::CoreModule => {
                "it is a core WebAssembly module; build the guest for wasm32-wasip2 to get a component"
            }
            Binary::PrecompiledModule => "it is a precompiled core module, not a component",
            Binary::OtherWasm => "it is WebAssembly of an unknown version or layer",
            Binary::NotWasm => "it is not WebAssembly (no \\0asm header)",
        }
    }
}

fn classify(bytes: &[u8]) -> Binary {
    if let Some(precompiled) = Engine::detect_precompiled(bytes) {
        return match precompiled {
            wasmtime::Precompiled::Component => Binary::PrecompiledComponent,
            wasmtime::Precompiled::Module => Binary::PrecompiledModule,
        };
    }
    match bytes {
        [0, b'a', b's', b'm', 1, 0, 0, 0, ..] => Binary::CoreModule,
        [0, b'a', b's', b'm', _, _, 1, 0, ..] => Binary::Component,
        [0, b'a', b's', b'm', ..] => Binary::OtherWasm,
        _ => Binary::NotWasm,
    }
}

/// Reads a component file with the errors [`Runtime::load`] gives
/// ([`ErrorKind::NotFound`] for a missing file): for a caller that needs
/// the bytes it loads (`aio package` writes the very bytes it checked).
pub fn read_program(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::new(
                ErrorKind::NotFound,
                format!("{}: no such file", path.display()),
            )
        } else {
            Error::new(
                ErrorKind::Host,
                format!("cannot read {}: {e}", path.display()),
            )
        }
    })
}

/// The name [`Runtime::load`] gives a program (its `argv[0]`): the file
/// name, else the whole path.
pub fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_headers() {
        assert_eq!(classify(b"\0asm\x01\0\0\0"), Binary::CoreModule);
        assert_eq!(classify(b"\0asm\x0d\0\x01\0"), Binary::Component);
        assert_eq!(classify(b"\0asm\x02\0\x05\0"), Binary::OtherWasm);
        assert_eq!(classify(b"hello, world"), Binary::NotWasm);
        assert_eq!(classify(b""), Binary::NotWasm);
    }
}

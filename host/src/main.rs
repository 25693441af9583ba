//! The `aio` command: run, precompile and inspect asyncio-wasm guests.
//!
//! ```text
//! aio run APP.wasm [--allow-env[=VAR,...]] [--allow-net=HOST:PORT,...]
//!                  [--allow-listen=ADDR:PORT,...] [--allow-read=DIR,...] [--allow-write=DIR,...]
//!                  [--allow-unix=PATH,...]
//!                  [--tls-cert=NAME=CERT,KEY ...] [--tls-ca=NAME=FILE ...]
//!                  [--timeout D] [--max-memory S] [--max-cpu D]
//!                  [--max-handles N] [--allow-precompiled] [-- ARGS...]
//! aio call APP.wasm 'EXPORT(ARGS...)' [the flags of run] [--call-timeout D]
//! aio repl [APP.wasm] [the flags of run] [--call-timeout D] [--history FILE]
//! aio ps PID [--json]
//! aio pstree PID [--json]
//! aio compile APP.wasm [-o APP.cwasm]
//! aio inspect APP.wasm
//! aio package APP.wasm -o IMAGE.tar [--name REF] [--platform OS/ARCH] [--user UID[:GID]]
//! ```
//!
//! Errors are one line on stderr, prefixed `aio: `; the exit status says
//! which kind (see the crate docs of `aio_host`, or docs/cli.md).

use aio_host::plugin::InstanceOptions;
use aio_host::units::{parse_duration, parse_size};
use aio_host::{Error, Grants, Limits, LoadedFrom, Program, RunOptions, Runtime, Status};
use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

mod diag;
mod new;
mod package;
mod ps;
mod repl;

/// The REPL's playground, built from host/playground by build.rs.
#[cfg(aio_playground)]
const PLAYGROUND: Option<&[u8]> = Some(include_bytes!(env!("AIO_PLAYGROUND_WASM")));
#[cfg(not(aio_playground))]
const PLAYGROUND: Option<&[u8]> = None;

/// Run asyncio-wasm guest programs (WASI 0.3 components) in a sandbox.
#[derive(Debug, Parser)]
#[command(name = "aio", version)]
struct Cli {
    /// Say where compiled code comes from and which uses were refused, and
    /// print wasm backtraces (AIO_LOG=debug says more: docs/cli.md).
    #[arg(short, long, global = true)]
    verbose: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a guest program (.wasm; a .cwasm from `aio compile` only with
    /// --allow-precompiled).
    Run(Box<RunArgs>),
    /// Precompile a guest to a .cwasm file (and fill the compile cache).
    Compile(CompileArgs),
    /// Call one export of a plugin, with arguments and result in WAVE.
    Call(Box<CallArgs>),
    /// Call a live plugin's exports line by line (asyncio's REPL); with no
    /// APP, a built-in playground.
    Repl(Box<ReplArgs>),
    /// List what a component imports and exports.
    Inspect(InspectArgs),
    /// Show the asyncio tasks of a running `aio run` or `aio repl` (as
    /// `python -m asyncio ps PID`).
    Ps(PsArgs),
    /// Show them as a tree of who awaits whom (`python -m asyncio pstree`).
    Pstree(PsArgs),
    /// Create a guest crate that builds and runs at once (a program, or
    /// with --plugin a plugin); never overwrites anything.
    New(NewArgs),
    /// Write an OCI image of a program, for containerd's aio shim and
    /// Kubernetes (docs/kubernetes.md).
    Package(PackageArgs),
}

#[derive(Debug, Args)]
struct PackageArgs {
    /// The program (a component with a wasi:cli/run export).
    app: PathBuf,

    /// Where to write the image (an OCI image layout, as a tar).
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,

    /// The image's name [default: localhost/APP:latest].
    #[arg(long, value_name = "REF")]
    name: Option<String>,

    /// The platform the image says it is for [default: this machine's,
    /// e.g. linux/amd64]: the one containerd on the nodes pulls.
    #[arg(long, value_name = "OS/ARCH", value_parser = package::parse_platform)]
    platform: Option<(String, String)>,

    /// The user the guest runs as (the image's USER) unless the pod sets
    /// one [default: root, with no capabilities but low ports].
    #[arg(long, value_name = "UID[:GID]", value_parser = package::parse_user)]
    user: Option<String>,
}

#[derive(Debug, Args)]
struct NewArgs {
    /// The crate's directory; its last component is the crate's name.
    path: PathBuf,

    /// A plugin (a library exporting a WIT interface) instead of a program.
    #[arg(long)]
    plugin: bool,

    /// Depend on the asyncio crate in DIR (default: the checkout aio was
    /// built from, if it is still there, else the registry's).
    #[arg(long, value_name = "DIR")]
    sdk: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct PsArgs {
    /// The process ID of the `aio run` or `aio repl`.
    pid: u32,

    /// Print the table as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The guest program.
    app: PathBuf,

    #[command(flatten)]
    sandbox: Sandbox,

    /// Also run precompiled machine code (a .cwasm from `aio compile`).
    /// It runs unchecked, outside the sandbox: use it only for files you
    /// compiled yourself and nobody else could change.
    #[arg(long)]
    allow_precompiled: bool,

    /// Run N instances of the guest, each on a thread (a core) of its own,
    /// with the same grants and limits each; their TCP listeners share
    /// ports (SO_REUSEPORT). The first to fail stops the others.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    instances: u16,

    /// Arguments for the guest (after `--`).
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<String>,
}

#[derive(Debug, Args)]
struct CallArgs {
    /// The plugin (a component exporting functions).
    app: PathBuf,

    /// The call, in WAVE syntax: EXPORT(ARG, ...), e.g. 'greet("world", 10)'.
    call: String,

    #[command(flatten)]
    sandbox: Sandbox,

    /// Give up on the call after this long (the guest's task is cancelled).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    call_timeout: Option<Duration>,
}

#[derive(Debug, Args)]
struct ReplArgs {
    /// The plugin [default: the built-in playground].
    app: Option<PathBuf>,

    #[command(flatten)]
    sandbox: Sandbox,

    /// Give up on a call after this long (the guest's task is cancelled).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    call_timeout: Option<Duration>,

    /// Keep the line history in FILE [default:
    /// $XDG_STATE_HOME/aio/repl_history or ~/.local/state/aio/repl_history].
    #[arg(long, value_name = "FILE", conflicts_with = "no_history")]
    history: Option<PathBuf>,

    /// Keep no line history.
    #[arg(long)]
    no_history: bool,
}

/// What a guest may use, and its limits (`aio run` and `aio call`).
#[derive(Debug, Args)]
struct Sandbox {
    /// Pass host environment variables: all of them, or only those listed.
    #[arg(
        long,
        value_name = "VAR,...",
        num_args = 0..,
        require_equals = true,
        value_delimiter = ','
    )]
    allow_env: Option<Vec<String>>,

    /// Let the guest run these programs (paths, or names looked up on PATH now).
    #[arg(
        long,
        value_name = "PROGRAM,...",
        require_equals = true,
        value_delimiter = ','
    )]
    allow_run: Vec<String>,

    /// Let the guest run shell commands (/bin/sh -c): as good as any program.
    #[arg(long)]
    allow_shell: bool,

    /// Let the guest connect to (and send UDP to) these addresses, and look
    /// names up. HOST:PORT, HOST:FIRST-LAST, HOST:*, with HOST an IP,
    /// an IPv6 address in brackets, a name (resolved now) or *.
    #[arg(
        long,
        value_name = "HOST:PORT,...",
        require_equals = true,
        value_delimiter = ',',
        value_parser = parse_net_rule
    )]
    allow_net: Vec<aio_host::net::NetRule>,

    /// Let the guest bind and listen on these addresses (TCP and UDP); port
    /// 0 allows any free port.
    #[arg(
        long,
        value_name = "ADDR:PORT,...",
        require_equals = true,
        value_delimiter = ',',
        value_parser = parse_net_rule
    )]
    allow_listen: Vec<aio_host::net::NetRule>,

    /// Let the guest read files and list directories under these
    /// directories (each must exist; `..` and symlinks that leave one are
    /// refused).
    #[arg(
        long,
        value_name = "DIR,...",
        require_equals = true,
        value_delimiter = ',',
        value_parser = parse_read_dir
    )]
    allow_read: Vec<aio_host::fs::FsRule>,

    /// Let the guest read, create, write, rename and remove files under
    /// these directories.
    #[arg(
        long,
        value_name = "DIR,...",
        require_equals = true,
        value_delimiter = ',',
        value_parser = parse_write_dir
    )]
    allow_write: Vec<aio_host::fs::FsRule>,

    /// Let the guest connect to and listen on Unix sockets at these paths:
    /// a directory (any socket directly in it) or a socket path (its
    /// directory must exist).
    #[arg(
        long,
        value_name = "PATH,...",
        require_equals = true,
        value_delimiter = ',',
        value_parser = parse_unix_path
    )]
    allow_unix: Vec<aio_host::net::unix::UnixRule>,

    /// Give guests a TLS server identity NAME: a certificate chain and its
    /// private key (PEM files). A guest serves TLS under NAME; the key never
    /// enters the sandbox. Repeat the flag for more identities.
    #[cfg(feature = "tls")]
    #[arg(long, value_name = "NAME=CERT,KEY", require_equals = true, value_parser = parse_tls_cert)]
    tls_cert: Vec<(String, PathBuf, PathBuf)>,

    /// Let guests' TLS clients trust the CA certificates in FILE (PEM) when
    /// they name NAME, instead of the webpki roots. Repeatable.
    #[cfg(feature = "tls")]
    #[arg(long, value_name = "NAME=FILE", require_equals = true, value_parser = parse_tls_ca)]
    tls_ca: Vec<(String, PathBuf)>,

    /// Append one JSON line per capability use or refusal to FILE.
    #[arg(long, value_name = "FILE")]
    audit_log: Option<PathBuf>,

    /// Stop the guest after this much wall-clock time (e.g. 500ms, 10s, 2m).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<Duration>,

    /// Cap the guest's linear memory (e.g. 64MiB, 1G, 512k).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_memory: Option<u64>,

    /// Stop the guest after it has executed for this long (10 ms granularity).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    max_cpu: Option<Duration>,

    /// After SIGINT (guest without a SIGINT handler), how long its cleanup
    /// may take before it is stopped; with a SIGTERM/SIGINT handler, a
    /// SIGTERM/SIGINT this long after the first one stops the guest.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "5s")]
    signal_grace: Duration,

    /// Cap the guest's live handles: streams, futures, sockets, subtasks,
    /// resources (default 100000).
    #[arg(long, value_name = "N")]
    max_handles: Option<usize>,
}

#[derive(Debug, Args)]
struct CompileArgs {
    /// The guest component.
    app: PathBuf,

    /// Where to write the compiled code [default: APP with extension .cwasm].
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct InspectArgs {
    /// The component.
    app: PathBuf,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let cli = Cli::parse();
    diag::init(cli.verbose);
    let status = match execute(&cli).await {
        Ok(status) => status,
        Err(err) => {
            report(&err, cli.verbose);
            err.kind().exit_status()
        }
    };
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // Exit here rather than returning: a guest may leave host work behind
    // (a stdin reader thread) that should not delay the exit.
    std::process::exit(i32::from(status));
}

async fn execute(cli: &Cli) -> Result<u8, Error> {
    match &cli.command {
        Command::Ps(args) => return ps::ask(args.pid, ps_form(args, ps::Form::Ps)).await,
        Command::Pstree(args) => return ps::ask(args.pid, ps_form(args, ps::Form::Tree)).await,
        Command::New(args) => return new_crate(args),
        _ => {}
    }
    let runtime = Runtime::new()?;
    match &cli.command {
        Command::Run(args) => run(&runtime, args).await,
        Command::Call(args) => call(&runtime, args).await,
        Command::Repl(args) => repl(&runtime, args).await,
        Command::Compile(args) => compile(&runtime, args),
        Command::Inspect(args) => inspect(&runtime, args, cli.verbose),
        Command::Package(args) => package_image(&runtime, args),
        Command::Ps(_) | Command::Pstree(_) | Command::New(_) => unreachable!("answered above"),
    }
}

/// `aio new`: the crate, and what to do next.
fn new_crate(args: &NewArgs) -> Result<u8, Error> {
    let bad = |why: String| Error::new(aio_host::ErrorKind::BadArguments, why);
    let sdk = new::Sdk::find(args.sdk.as_deref()).map_err(bad)?;
    let files = new::create(&args.path, args.plugin, &sdk).map_err(bad)?;
    let dir = args.path.display();
    println!("created {dir}:");
    for file in files {
        println!("  {}", file.display());
    }
    if let new::Sdk::Path(sdk) = &sdk {
        println!("with the SDK at {}", sdk.display());
    }
    let name = args.path.file_name().unwrap_or_default().to_string_lossy();
    if args.plugin {
        let wasm = name.replace('-', "_");
        println!(
            "next: cd {dir} && cargo build --release && \\\n      aio call target/wasm32-wasip2/release/{wasm}.wasm 'greet(\"world\")'"
        );
    } else {
        println!(
            "next: cd {dir} && cargo build --release && aio run target/wasm32-wasip2/release/{name}.wasm"
        );
    }
    Ok(0)
}

/// `aio package`: checks that the program loads (as the shim will load
/// it), then writes the image.
fn package_image(runtime: &Runtime, args: &PackageArgs) -> Result<u8, Error> {
    // One read: the bytes checked are the bytes packaged.
    let component = aio_host::runner::read_program(&args.app)?;
    let file_name = aio_host::runner::display_name(&args.app);
    runtime.load_bytes(&file_name, &component)?;
    let stem = Path::new(&file_name)
        .file_stem()
        .map(|s| s.to_string_lossy().to_lowercase())
        .unwrap_or_else(|| "app".into());
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("localhost/{stem}:latest"));
    let host = package::host_platform();
    let platform = args
        .platform
        .as_ref()
        .map_or(host, |(os, arch)| (os.as_str(), arch.as_str()));
    let image = package::write(&package::Image {
        file_name: &file_name,
        component: &component,
        name: &name,
        platform,
        user: args.user.as_deref(),
    })?;
    write_file(&args.output, &image)?;
    println!(
        "wrote {} ({name}, {}/{}): ctr image import {}",
        args.output.display(),
        platform.0,
        platform.1,
        args.output.display()
    );
    Ok(0)
}

fn ps_form(args: &PsArgs, form: ps::Form) -> ps::Form {
    if args.json { ps::Form::Json } else { form }
}

async fn run(runtime: &Runtime, args: &RunArgs) -> Result<u8, Error> {
    adopt_orphans()?;
    let program = if args.allow_precompiled {
        // Safety: the user opted in with --allow-precompiled, whose help
        // says the file must be their own compilation; we say below when
        // precompiled code is in fact used.
        unsafe { runtime.load_precompiled(&args.app)? }
    } else {
        runtime.load(&args.app)?
    };
    say_loaded(&program);
    let (grants, limits) = args.sandbox.grants_and_limits()?;
    // SIGINT, SIGTERM, ... go to the guest (docs/signals.md).
    let signals = aio_host::Signals::new().grace_period(args.sandbox.signal_grace);
    let _forwarding = signals.forward_host_signals()?;
    // `aio ps PID` asks each instance for its tasks through its probe.
    let n = usize::from(args.instances);
    let probes: Vec<aio_host::TaskProbe> = (0..n).map(|_| aio_host::TaskProbe::new()).collect();
    let asking = probes.clone();
    let _listening = ps::listen(Arc::new(move || Box::pin(task_tables(asking.clone()))));
    let options = RunOptions::new()
        .args(args.args.iter().cloned())
        .grants(grants)
        .limits(limits)
        .signals(&signals);
    let status = if n == 1 {
        program
            .run(options.task_probe(&probes[0]))
            .await
            .into_status()
    } else {
        let outcomes = program
            .run_instances_with(n, |i| options.clone().task_probe(&probes[i]))
            .await;
        first_failure(outcomes)
    };
    match status {
        Status::Failed(err) => Err(err),
        exited => Ok(exited.exit_status()),
    }
}

/// Every instance's task table, in instance order (an instance that has
/// ended shows no tasks); the first error when none answers.
async fn task_tables(
    probes: Vec<aio_host::TaskProbe>,
) -> Result<Vec<Vec<aio_host::TaskInfo>>, Error> {
    let answers = futures_util::future::join_all(probes.iter().map(|p| p.task_table())).await;
    let mut first_error = None;
    let mut tables = Vec::new();
    for answer in answers {
        match answer {
            Ok(table) => tables.push(table),
            Err(e) => {
                first_error.get_or_insert(e);
                tables.push(Vec::new());
            }
        }
    }
    match first_error {
        Some(e) if tables.iter().all(Vec::is_empty) => Err(e),
        _ => Ok(tables),
    }
}

/// What `aio run --instances N` reports: the failure that stopped the
/// others (a run's only `Cancelled` ending is being stopped so), else the
/// last exit.
fn first_failure(outcomes: Vec<aio_host::Outcome>) -> Status {
    let mut statuses: Vec<Status> = outcomes.into_iter().map(|o| o.into_status()).collect();
    let cause = |s: &Status| match s {
        Status::Exited(code) => *code != 0,
        Status::Failed(e) => e.kind() != aio_host::ErrorKind::Cancelled,
    };
    let pick = statuses.iter().position(cause).or_else(|| {
        statuses
            .iter()
            .position(|s| !matches!(s, Status::Exited(0)))
    });
    match pick {
        Some(i) => statuses.swap_remove(i),
        None => statuses.pop().unwrap_or(Status::Exited(0)),
    }
}

impl Sandbox {
    fn grants_and_limits(&self) -> Result<(Grants, Limits), Error> {
        let (grants, limits, _) = self.grants_limits_and_log()?;
        Ok((grants, limits))
    }

    /// The grants and limits, and the audit log they record to (if any).
    fn grants_limits_and_log(
        &self,
    ) -> Result<(Grants, Limits, Option<aio_host::audit::AuditLog>), Error> {
        let grants = match &self.allow_env {
            None => Grants::new(),
            Some(names) if names.is_empty() => Grants::new().allow_all_env(),
            Some(names) => Grants::new().allow_env_vars(names.iter().filter(|n| !n.is_empty())),
        };
        let mut grants = grants.allow_run(&self.allow_run);
        if self.allow_shell {
            grants = grants.allow_shell();
        }
        grants = grants.allow_net_rules(self.allow_net.clone(), self.allow_listen.clone());
        grants = grants.allow_fs_rules(self.allow_read.iter().chain(&self.allow_write).cloned());
        grants = grants.allow_unix_rules(self.allow_unix.iter().cloned());
        #[cfg(feature = "tls")]
        {
            let bad = |e: aio_host::net::tls::TlsGrantError| {
                Error::from(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    e.to_string(),
                ))
            };
            for (name, cert, key) in &self.tls_cert {
                grants = grants.tls_cert(name, cert, key).map_err(bad)?;
            }
            for (name, file) in &self.tls_ca {
                grants = grants.tls_ca(name, file).map_err(bad)?;
            }
        }
        let mut audit = None;
        if let Some(path) = &self.audit_log {
            let log = aio_host::audit::AuditLog::create(path).map_err(|e| {
                Error::from(std::io::Error::new(
                    e.kind(),
                    format!("cannot open the audit log {}: {e}", path.display()),
                ))
            })?;
            audit = Some(log.clone());
            grants = grants.audit(move |event| log.record(event));
        }
        let mut limits = Limits::new();
        if let Some(timeout) = self.timeout {
            limits = limits.timeout(timeout);
        }
        if let Some(bytes) = self.max_memory {
            limits = limits.max_memory(bytes);
        }
        if let Some(cpu) = self.max_cpu {
            limits = limits.max_cpu(cpu);
        }
        if let Some(handles) = self.max_handles {
            limits = limits.max_handles(handles);
        }
        Ok((grants, limits, audit))
    }
}

async fn call(runtime: &Runtime, args: &CallArgs) -> Result<u8, Error> {
    adopt_orphans()?;
    let plugin = runtime.load_plugin(&args.app)?;
    let (export, params) = plugin.parse_call(&args.call)?;
    let name = export.name();
    let (grants, limits) = args.sandbox.grants_and_limits()?;
    let signals = aio_host::Signals::new().grace_period(args.sandbox.signal_grace);
    let _forwarding = signals.forward_host_signals()?;
    let mut options = InstanceOptions::new()
        .grants(grants)
        .limits(limits)
        .signals(&signals);
    if let Some(timeout) = args.call_timeout {
        options = options.call_timeout(timeout);
    }
    let instance = plugin.instantiate(options).await?;
    let results = instance.call(&name, &params).await?;
    println!("{}", aio_host::plugin::format_results(&results));
    instance.close().await;
    Ok(0)
}

async fn repl(runtime: &Runtime, args: &ReplArgs) -> Result<u8, Error> {
    adopt_orphans()?;
    let plugin = match (&args.app, PLAYGROUND) {
        (Some(app), _) => runtime.load_plugin(app)?,
        (None, Some(bytes)) => runtime.load_plugin_bytes("playground", bytes)?,
        (None, None) => {
            return Err(Error::from(std::io::Error::other(
                "this aio was built without the playground (its build could not compile host/playground to wasm): give a plugin, aio repl APP.wasm",
            )));
        }
    };
    let (grants, limits, audit) = args.sandbox.grants_limits_and_log()?;
    // No signal forwarding: Ctrl-C is the REPL's (it cancels the awaited
    // call), and SIGTERM ends the session.
    let mut options = InstanceOptions::new().grants(grants).limits(limits);
    if let Some(timeout) = args.call_timeout {
        options = options.call_timeout(timeout);
    }
    let history = if args.no_history {
        None
    } else {
        args.history.clone().or_else(repl::default_history)
    };
    repl::run(repl::Setup {
        plugin,
        playground: args.app.is_none(),
        options,
        audit,
        history,
    })
    .await
}

/// Orphans of the guest's subprocesses come back to aio, which kills them
/// when the run ends (docs/subprocess.md).
fn adopt_orphans() -> Result<(), Error> {
    aio_host::process::adopt_orphans().map_err(|e| {
        Error::from(std::io::Error::new(
            e.kind(),
            format!("cannot adopt orphaned subprocesses: {e}"),
        ))
    })
}

fn parse_read_dir(dir: &str) -> Result<aio_host::fs::FsRule, String> {
    aio_host::fs::FsRule::new(dir, aio_host::fs::FsAccess::Read).map_err(|e| e.to_string())
}

fn parse_unix_path(path: &str) -> Result<aio_host::net::unix::UnixRule, String> {
    aio_host::net::unix::UnixRule::new(path).map_err(|e| e.to_string())
}

fn parse_write_dir(dir: &str) -> Result<aio_host::fs::FsRule, String> {
    aio_host::fs::FsRule::new(dir, aio_host::fs::FsAccess::Write).map_err(|e| e.to_string())
}

#[cfg(feature = "tls")]
fn parse_tls_cert(entry: &str) -> Result<(String, PathBuf, PathBuf), String> {
    let (name, files) = entry
        .split_once('=')
        .ok_or("expected NAME=CERT,KEY (e.g. web=cert.pem,key.pem)")?;
    let (cert, key) = files
        .split_once(',')
        .ok_or("expected NAME=CERT,KEY: the certificate and the key, comma-separated")?;
    Ok((name.to_owned(), cert.into(), key.into()))
}

#[cfg(feature = "tls")]
fn parse_tls_ca(entry: &str) -> Result<(String, PathBuf), String> {
    let (name, file) = entry
        .split_once('=')
        .ok_or("expected NAME=FILE (e.g. corp=ca.pem)")?;
    Ok((name.to_owned(), file.into()))
}

fn parse_net_rule(entry: &str) -> Result<aio_host::net::NetRule, String> {
    entry
        .parse()
        .map_err(|e: aio_host::net::NetRuleError| e.to_string())
}

fn compile(runtime: &Runtime, args: &CompileArgs) -> Result<u8, Error> {
    let program = runtime.load(&args.app)?;
    say_loaded(&program);
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| args.app.with_extension("cwasm"));
    let artifact = program.serialize()?;
    write_file(&output, &artifact)?;
    tracing::info!("wrote {}", output.display());
    Ok(0)
}

fn inspect(runtime: &Runtime, args: &InspectArgs, verbose: bool) -> Result<u8, Error> {
    let inspection = runtime.inspect(&args.app)?;
    let text = if verbose {
        inspection.display_functions().to_string()
    } else {
        inspection.to_string()
    };
    print!("{text}");
    Ok(0)
}

/// Where the compiled code came from: `info` (shown with `-v`), but a
/// warning for precompiled code, which runs unchecked.
fn say_loaded(program: &Program) {
    let name = program.name();
    match program.loaded_from() {
        LoadedFrom::Cache(path) => {
            tracing::info!("{name}: compiled code from the cache: {}", path.display())
        }
        LoadedFrom::Compiled {
            cached_at: Some(path),
        } => tracing::info!("{name}: compiled; cached at {}", path.display()),
        LoadedFrom::Compiled { cached_at: None } => {
            tracing::info!("{name}: compiled (not cached)")
        }
        LoadedFrom::Precompiled => tracing::warn!(
            "{name}: running precompiled machine code, unchecked (--allow-precompiled)"
        ),
        other => tracing::info!("{name}: {other:?}"),
    }
}

fn write_file(path: &Path, contents: &[u8]) -> Result<(), Error> {
    std::fs::write(path, contents).map_err(|e| {
        Error::from(std::io::Error::new(
            e.kind(),
            format!("cannot write {}: {e}", path.display()),
        ))
    })
}

fn report(err: &Error, verbose: bool) {
    eprintln!("aio: {err}");
    if verbose && let Some(detail) = err.detail() {
        for line in detail.lines() {
            eprintln!("aio:   {line}");
        }
    }
}

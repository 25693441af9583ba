//! One child process and the registry of a run's children: starting,
//! signalling, reaping. Knows nothing of WIT (see `host.rs` for the glue).
//!
//! Each child is reaped by a small tokio task as soon as it exits, so no
//! zombie outlives it, whether or not the guest ever asks for the status.
//! The `tokio::process::Child` lives behind a mutex shared by that task and
//! [`ChildProcess::signal`]: a signal is sent only while the child is known
//! not to be reaped yet, so a recycled pid can never receive it.
//!
//! Every child of a run starts in the run's process group (`group.rs`).
//! [`Children::kill_all`] (and dropping the last [`ChildrenGuard`]) kills
//! every child still running and the whole group, grandchildren included;
//! [`Children::shutdown`] also waits until each child is reaped and, when
//! this process adopts orphans ([`adopt_orphans`](super::adopt_orphans)),
//! kills those that left the group (`orphans.rs`). The runner calls it
//! when the guest has ended, however it ended.

use super::group::RunGroup;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::AsyncRead;
use tokio::sync::watch;

/// Where one of the child's standard streams goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redirect {
    /// A pipe to the guest.
    Pipe,
    /// `/dev/null`.
    Null,
    /// The host process's own stream.
    Inherit,
    /// stderr only: wherever stdout goes.
    Stdout,
}

/// Everything needed to start a child (the program already granted).
#[derive(Debug, Clone)]
pub struct SpawnRequest {
    /// The program to execute: the grant's path ([`Allowed`](super::Allowed)).
    pub program: PathBuf,
    /// `argv[0]`: the grant as written.
    pub arg0: String,
    /// The arguments after `argv[0]`, passed as they are.
    pub args: Vec<String>,
    /// The child's whole environment.
    pub env: Vec<(String, String)>,
    /// Its working directory (default: the host's).
    pub cwd: Option<String>,
    /// Where stdin comes from.
    pub stdin: Redirect,
    /// Where stdout goes.
    pub stdout: Redirect,
    /// Where stderr goes.
    pub stderr: Redirect,
}

/// Why a child could not be started or signalled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpawnError {
    /// No such program (or working directory).
    NotFound,
    /// Out of children, processes or file descriptors.
    ResourceLimit(String),
    /// An unusable argument.
    InvalidArgument(String),
    /// Anything else.
    Other(String),
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Exited with this code.
    Exited(i32),
    /// Killed by this signal.
    Killed(i32),
}

impl From<std::process::ExitStatus> for ExitStatus {
    fn from(status: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => ExitStatus::Exited(code),
            (None, Some(signal)) => ExitStatus::Killed(signal),
            (None, None) => ExitStatus::Exited(-1),
        }
    }
}

/// A readable pipe from the child (stdout or stderr).
pub type PipeReader = Pin<Box<dyn AsyncRead + Send + Sync>>;

/// The shared part of one child: the process, and its status once reaped.
#[derive(Debug)]
struct Shared {
    pid: u32,
    proc: Mutex<Proc>,
}

#[derive(Debug)]
struct Proc {
    child: tokio::process::Child,
    status: Option<ExitStatus>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Proc> {
        self.proc.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Polls for the child's exit, reaping it; the status is kept.
    fn poll_reap(&self, cx: &mut Context<'_>) -> Poll<ExitStatus> {
        let mut proc = self.lock();
        if let Some(status) = proc.status {
            return Poll::Ready(status);
        }
        let polled = {
            let wait = proc.child.wait();
            let wait = std::pin::pin!(wait);
            wait.poll(cx)
        };
        match polled {
            Poll::Ready(result) => {
                let status = result
                    .map(ExitStatus::from)
                    .unwrap_or(ExitStatus::Exited(-1));
                proc.status = Some(status);
                Poll::Ready(status)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// Sends `signal` unless the child is already reaped.
    fn signal(&self, signal: i32) -> Result<(), SpawnError> {
        let proc = self.lock();
        if proc.status.is_some() {
            return Ok(());
        }
        let Some(pid) = proc.child.id() else {
            return Ok(());
        };
        // Safety: kill(2) has no memory-safety preconditions; the pid is our
        // unreaped child (we hold the lock the reaper needs), so it cannot
        // have been recycled.
        let rc = unsafe { libc::kill(pid as libc::pid_t, signal) };
        if rc == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINVAL) => Err(SpawnError::InvalidArgument(format!(
                "{signal} is not a signal number"
            ))),
            Some(libc::ESRCH) => Ok(()),
            _ => Err(SpawnError::Other(format!("kill({pid}, {signal}): {err}"))),
        }
    }

    fn kill(&self) {
        let mut proc = self.lock();
        if proc.status.is_none() {
            let _ = proc.child.start_kill();
        }
    }
}

use std::future::Future as _;

/// A started child: its pid, pipes not yet taken, and its exit status.
pub struct ChildProcess {
    shared: Arc<Shared>,
    stdin: Option<tokio::process::ChildStdin>,
    stdout: Option<PipeReader>,
    stderr: Option<PipeReader>,
    status: watch::Receiver<Option<ExitStatus>>,
}

impl std::fmt::Debug for ChildProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildProcess")
            .field("pid", &self.shared.pid)
            .field("status", &*self.status.borrow())
            .finish_non_exhaustive()
    }
}

impl ChildProcess {
    /// The operating system's process id.
    pub fn pid(&self) -> u32 {
        self.shared.pid
    }

    /// The child's stdin pipe, once (if it was piped).
    pub fn take_stdin(&mut self) -> Option<tokio::process::ChildStdin> {
        self.stdin.take()
    }

    /// The child's stdout pipe, once (if it was piped).
    pub fn take_stdout(&mut self) -> Option<PipeReader> {
        self.stdout.take()
    }

    /// The child's stderr pipe, once (if it was piped on its own).
    pub fn take_stderr(&mut self) -> Option<PipeReader> {
        self.stderr.take()
    }

    /// Resolves to the exit status once the child has ended and been
    /// reaped. Any number of these may wait.
    pub fn exit_status(&self) -> impl Future<Output = ExitStatus> + Send + 'static {
        let mut rx = self.status.clone();
        async move {
            match rx.wait_for(Option::is_some).await {
                Ok(status) => status.unwrap_or(ExitStatus::Exited(-1)),
                // The reaper is gone without a status: only if the runtime
                // shut down; report a kill.
                Err(_) => ExitStatus::Killed(libc::SIGKILL),
            }
        }
    }

    /// The status, if the child has been reaped.
    pub fn try_status(&self) -> Option<ExitStatus> {
        *self.status.borrow()
    }

    /// Sends a signal, unless the child has already ended.
    pub fn signal(&self, signal: i32) -> Result<(), SpawnError> {
        self.shared.signal(signal)
    }
}

/// The children of one run, and the cap on how many may run at once.
#[derive(Debug, Clone)]
pub struct Children {
    inner: Arc<Mutex<Registry>>,
}

#[derive(Debug)]
struct Registry {
    live: Vec<Arc<Shared>>,
    /// The run's process group, from the first spawn on.
    group: Option<RunGroup>,
    max: usize,
    /// Once set, no new child may start (the guest has ended).
    closed: bool,
}

impl Children {
    /// An empty registry allowing `max` children at once.
    pub fn new(max: usize) -> Self {
        Children {
            inner: Arc::new(Mutex::new(Registry {
                live: Vec::new(),
                group: None,
                max,
                closed: false,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many children are running (started and not yet reaped).
    pub fn running(&self) -> usize {
        self.lock().live.len()
    }

    /// Starts a child. Must be called inside a tokio runtime (the child's
    /// reaper is a tokio task).
    pub fn spawn(&self, request: SpawnRequest) -> Result<ChildProcess, SpawnError> {
        let mut registry = self.lock();
        if registry.closed {
            return Err(SpawnError::Other("the guest is shutting down".into()));
        }
        if registry.live.len() >= registry.max {
            return Err(SpawnError::ResourceLimit(format!(
                "{} children are running, the limit is {}",
                registry.live.len(),
                registry.max
            )));
        }
        let spawning = super::orphans::spawning();
        let group = match &mut registry.group {
            Some(group) => group.id(),
            group @ None => group.insert(RunGroup::start().map_err(keeper_error)?).id(),
        };
        let (child, stdout_merged) = start(&request, group)?;
        let mut child = child;
        let pid = child.id().unwrap_or(0);
        super::orphans::track(pid as libc::pid_t);
        drop(spawning);
        let stdin = child.stdin.take();
        let stdout: Option<PipeReader> = match stdout_merged {
            Some(merged) => Some(Box::pin(merged)),
            None => child.stdout.take().map(|s| Box::pin(s) as PipeReader),
        };
        let stderr = child.stderr.take().map(|s| Box::pin(s) as PipeReader);
        let shared = Arc::new(Shared {
            pid,
            proc: Mutex::new(Proc {
                child,
                status: None,
            }),
        });
        registry.live.push(shared.clone());
        drop(registry);

        let (tx, rx) = watch::channel(None);
        let reaper_shared = shared.clone();
        let registry = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let status = std::future::poll_fn(|cx| reaper_shared.poll_reap(cx)).await;
            super::orphans::untrack(reaper_shared.pid as libc::pid_t);
            if let Some(registry) = registry.upgrade() {
                let mut registry = registry.lock().unwrap_or_else(|e| e.into_inner());
                registry.live.retain(|s| !Arc::ptr_eq(s, &reaper_shared));
            }
            let _ = tx.send(Some(status));
        });
        Ok(ChildProcess {
            shared,
            stdin,
            stdout,
            stderr,
            status: rx,
        })
    }

    /// Refuses new children and sends SIGKILL to every running one and to
    /// every process in the run's group.
    pub fn kill_all(&self) {
        let live = {
            let mut registry = self.lock();
            registry.closed = true;
            if let Some(group) = &mut registry.group {
                group.kill();
            }
            registry.live.clone()
        };
        for child in live {
            child.kill();
        }
    }

    /// [`kill_all`](Self::kill_all), then waits (up to `patience`) until
    /// every child has been reaped and, if this process adopts orphans
    /// ([`adopt_orphans`](super::adopt_orphans)), until the group is empty
    /// and every orphan is killed and reaped. Returns how many children
    /// were still unreaped.
    pub async fn shutdown(&self, patience: Duration) -> usize {
        self.kill_all();
        let group = self.lock().group.as_ref().map(RunGroup::id);
        let mut orphans = super::orphans::Sweep::default();
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let left = self.running();
            let busy = group.is_some_and(|group| orphans.round(group));
            let late = tokio::time::Instant::now() >= deadline;
            // The keeper is reaped last: until then the group's id is ours.
            if (left == 0 && !busy) || late {
                let reaped = self.lock().group.as_mut().is_none_or(RunGroup::try_reap);
                if reaped || late {
                    return left;
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// Kills every child of the run when dropped (a run future dropped midway).
#[derive(Debug)]
pub struct ChildrenGuard(pub Children);

impl Drop for ChildrenGuard {
    fn drop(&mut self) {
        self.0.kill_all();
    }
}

type Merged = tokio::net::unix::pipe::Receiver;

/// Starts the process in process group `group`; also gives the read end of
/// a merged stdout+stderr pipe when stderr goes to a piped stdout.
fn start(
    request: &SpawnRequest,
    group: libc::pid_t,
) -> Result<(tokio::process::Child, Option<Merged>), SpawnError> {
    let (mut command, merged) = command(request, group)?;
    let child = command.spawn().map_err(io_error)?;
    // The command holds our copies of the merged pipe's write end: drop it
    // now, or the reader never sees EOF.
    drop(command);
    let merged = match merged {
        Some(reader) => {
            Some(Merged::from_owned_fd(std::os::fd::OwnedFd::from(reader)).map_err(io_error)?)
        }
        None => None,
    };
    Ok((child, merged))
}

/// The command [`start`] runs, checked and set up but not started (the
/// process fuzz target stops here); and the merged pipe's read end.
pub(crate) fn command(
    request: &SpawnRequest,
    group: libc::pid_t,
) -> Result<(tokio::process::Command, Option<std::io::PipeReader>), SpawnError> {
    use std::process::Stdio;
    check_strings(request)?;
    let mut command = tokio::process::Command::new(&request.program);
    command
        .arg0(&request.arg0)
        .args(&request.args)
        .env_clear()
        .envs(request.env.iter().map(|(k, v)| (k, v)))
        .process_group(group)
        .kill_on_drop(true);
    if let Some(cwd) = &request.cwd {
        command.current_dir(cwd);
    }
    let simple = |r: Redirect, what: &str| -> Result<Stdio, SpawnError> {
        Ok(match r {
            Redirect::Pipe => Stdio::piped(),
            Redirect::Null => Stdio::null(),
            Redirect::Inherit => Stdio::inherit(),
            Redirect::Stdout => {
                return Err(SpawnError::InvalidArgument(format!(
                    "{what} cannot be redirected to stdout"
                )));
            }
        })
    };
    command.stdin(simple(request.stdin, "stdin")?);
    let mut merged = None;
    match (request.stdout, request.stderr) {
        (Redirect::Pipe, Redirect::Stdout) => {
            let (reader, writer) = std::io::pipe().map_err(io_error)?;
            let writer2 = writer.try_clone().map_err(io_error)?;
            command.stdout(writer).stderr(writer2);
            merged = Some(reader);
        }
        (stdout, Redirect::Stdout) => {
            command.stdout(simple(stdout, "stdout")?);
            command.stderr(simple(stdout, "stdout")?);
        }
        (stdout, stderr) => {
            command.stdout(simple(stdout, "stdout")?);
            command.stderr(simple(stderr, "stderr")?);
        }
    }
    Ok((command, merged))
}

fn check_strings(request: &SpawnRequest) -> Result<(), SpawnError> {
    let nul = |s: &str, what: &str| {
        if s.contains('\0') {
            Err(SpawnError::InvalidArgument(format!(
                "{what} contains a NUL byte"
            )))
        } else {
            Ok(())
        }
    };
    nul(&request.arg0, "the program name")?;
    for arg in &request.args {
        nul(arg, "an argument")?;
    }
    for (key, value) in &request.env {
        nul(key, "an environment variable name")?;
        nul(value, "an environment variable value")?;
        if key.is_empty() || key.contains('=') {
            return Err(SpawnError::InvalidArgument(format!(
                "{key:?} is not a valid environment variable name"
            )));
        }
    }
    if let Some(cwd) = &request.cwd {
        nul(cwd, "the working directory")?;
    }
    Ok(())
}

fn keeper_error(err: std::io::Error) -> SpawnError {
    let message = format!("cannot start the keeper of the run's process group: {err}");
    match io_error(err) {
        SpawnError::ResourceLimit(_) => SpawnError::ResourceLimit(message),
        _ => SpawnError::Other(message),
    }
}

fn io_error(err: std::io::Error) -> SpawnError {
    use std::io::ErrorKind;
    match err.kind() {
        ErrorKind::NotFound => SpawnError::NotFound,
        ErrorKind::PermissionDenied => SpawnError::Other(format!("cannot execute: {err}")),
        ErrorKind::InvalidInput => SpawnError::InvalidArgument(err.to_string()),
        _ => match err.raw_os_error() {
            Some(libc::EMFILE | libc::ENFILE | libc::EAGAIN | libc::ENOMEM) => {
                SpawnError::ResourceLimit(err.to_string())
            }
            _ => SpawnError::Other(err.to_string()),
        },
    }
}

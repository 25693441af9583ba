//! [`Process`] and the functions that start one.

use std::pin::Pin;
use std::task::Poll;

use crate::bindings::aio::host::process as wit;
use crate::errors::{Error, ErrorKind, Result};
use crate::runtime::{self, task::Awaiting};
use crate::streams::{StreamReader, StreamWriter};

/// Where one of the child's standard streams goes (asyncio's `PIPE`,
/// `DEVNULL`, `STDOUT`, and `None` for inherit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Stdio {
    /// The host's own stream (what `aio` has). The default, as in asyncio.
    #[default]
    Inherit,
    /// A pipe: [`Process::stdin`] / [`stdout`](Process::stdout) /
    /// [`stderr`](Process::stderr).
    Pipe,
    /// `/dev/null` (`asyncio.subprocess.DEVNULL`).
    Null,
    /// For stderr only: wherever stdout goes (`asyncio.subprocess.STDOUT`).
    Stdout,
}

/// How to start a child: environment, working directory, standard streams.
#[derive(Debug, Clone, Default)]
pub struct Options {
    env: Vec<(String, String)>,
    cwd: Option<String>,
    stdin: Stdio,
    stdout: Stdio,
    stderr: Stdio,
}

impl Options {
    /// No environment at all, the host's working directory, inherited
    /// stdin/stdout/stderr.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an environment variable (the child gets only those set here).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Adds environment variables.
    pub fn envs<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.env
            .extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// The working directory (a host path).
    pub fn cwd(mut self, dir: impl Into<String>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Where stdin comes from.
    pub fn stdin(mut self, how: Stdio) -> Self {
        self.stdin = how;
        self
    }

    /// Where stdout goes.
    pub fn stdout(mut self, how: Stdio) -> Self {
        self.stdout = how;
        self
    }

    /// Where stderr goes.
    pub fn stderr(mut self, how: Stdio) -> Self {
        self.stderr = how;
        self
    }

    fn to_wit(&self) -> wit::Options {
        let r = |s: Stdio| match s {
            Stdio::Inherit => wit::Redirect::Inherit,
            Stdio::Pipe => wit::Redirect::Pipe,
            Stdio::Null => wit::Redirect::Null,
            Stdio::Stdout => wit::Redirect::Stdout,
        };
        wit::Options {
            env: self.env.clone(),
            cwd: self.cwd.clone(),
            stdin: r(self.stdin),
            stdout: r(self.stdout),
            stderr: r(self.stderr),
        }
    }
}

/// Starts `program` with `args` (asyncio's `create_subprocess_exec`).
pub async fn create_subprocess_exec<I, S>(
    program: &str,
    args: I,
    options: Options,
) -> Result<Process>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    if let Some(e) = runtime::take_cancel() {
        return Err(e);
    }
    let args: Vec<String> = args.into_iter().map(Into::into).collect();
    let child =
        wit::spawn(program, &args, &options.to_wit()).map_err(|e| spawn_error(program, e))?;
    Ok(Process::new(child, &options))
}

/// Runs `command` with the host's shell, `/bin/sh -c` (asyncio's
/// `create_subprocess_shell`); the host must grant `--allow-shell`.
pub async fn create_subprocess_shell(command: &str, options: Options) -> Result<Process> {
    if let Some(e) = runtime::take_cancel() {
        return Err(e);
    }
    let child =
        wit::spawn_shell(command, &options.to_wit()).map_err(|e| spawn_error("/bin/sh", e))?;
    Ok(Process::new(child, &options))
}

fn spawn_error(program: &str, e: wit::Error) -> Error {
    use std::io::{Error as IoError, ErrorKind as Io};
    match e {
        wit::Error::NotPermitted(what) => Error::new(ErrorKind::PermissionDenied(what)),
        wit::Error::NotFound => Error::from(IoError::new(
            Io::NotFound,
            format!("{program}: no such program"),
        )),
        wit::Error::ResourceLimit(m) => Error::from(IoError::new(
            Io::ResourceBusy,
            format!("{program}: cannot start: {m}"),
        )),
        wit::Error::InvalidArgument(m) => {
            Error::from(IoError::new(Io::InvalidInput, format!("{program}: {m}")))
        }
        wit::Error::Other(m) => Error::from(IoError::other(format!("{program}: {m}"))),
    }
}

type ExitFuture = Pin<Box<dyn std::future::Future<Output = wit::ExitStatus>>>;

/// A running (or finished) child: asyncio's `asyncio.subprocess.Process`.
/// Dropping it closes its pipes (the child's stdin sees EOF); the child
/// keeps running.
#[must_use = "dropping a Process closes its pipes (the child keeps running, and can no longer be waited for)"]
pub struct Process {
    child: wit::Child,
    pid: u32,
    /// Its stdin, when it was started with [`Stdio::Pipe`] for stdin.
    pub stdin: Option<StreamWriter>,
    /// Its stdout, when piped.
    pub stdout: Option<StreamReader>,
    /// Its stderr, when piped on its own.
    pub stderr: Option<StreamReader>,
    exit: Option<ExitFuture>,
    returncode: Option<i32>,
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process")
            .field("pid", &self.pid)
            .field("returncode", &self.returncode)
            .finish_non_exhaustive()
    }
}

impl Process {
    fn new(child: wit::Child, options: &Options) -> Process {
        let stdin = (options.stdin == Stdio::Pipe).then(|| {
            let (writer, reader) = crate::bindings::wit_stream::new::<u8>();
            // The host refuses only when stdin is not a pipe, which it is.
            let _ = child.set_stdin(reader);
            StreamWriter::from_stream(writer)
        });
        let stdout = child.take_stdout().map(StreamReader::from_stream);
        let stderr = child.take_stderr().map(StreamReader::from_stream);
        let exit = child.exit_status();
        Process {
            pid: child.pid(),
            child,
            stdin,
            stdout,
            stderr,
            exit: Some(Box::pin(exit.into_future())),
            returncode: None,
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The exit code once known (after [`wait`](Self::wait)): `-N` when
    /// signal N killed it, as in asyncio.
    pub fn returncode(&self) -> Option<i32> {
        self.returncode
    }

    /// Waits until the child exits; gives [`returncode`](Self::returncode).
    /// Cancelled or dropped, the child keeps running and a later `wait`
    /// still gets its status. Does not read its pipes: a child writing
    /// more than a pipe holds blocks until they are read (use
    /// [`communicate`](Self::communicate)).
    pub async fn wait(&mut self) -> Result<i32> {
        std::future::poll_fn(|cx| {
            if let Some(e) = runtime::take_cancel() {
                return Poll::Ready(Err(e));
            }
            match self.poll_exit(cx) {
                Poll::Ready(code) => Poll::Ready(Ok(code)),
                Poll::Pending => {
                    runtime::set_awaiting(Awaiting::Io {
                        what: "a subprocess to exit",
                    });
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// The exit code, once the host reports it (sets `returncode`).
    pub(super) fn poll_exit(&mut self, cx: &mut std::task::Context<'_>) -> Poll<i32> {
        if let Some(code) = self.returncode {
            return Poll::Ready(code);
        }
        let exit = self.exit.as_mut().expect("exit status pending");
        let Poll::Ready(status) = exit.as_mut().poll(cx) else {
            return Poll::Pending;
        };
        self.exit = None;
        let code = match status {
            wit::ExitStatus::Exited(code) => code,
            wit::ExitStatus::Killed(signal) => -signal,
        };
        self.returncode = Some(code);
        Poll::Ready(code)
    }

    /// Writes `input` to stdin (then closes it), reads stdout and stderr to
    /// their ends, all at once (so a child that writes a lot before reading
    /// everything never deadlocks), then waits for the child to exit.
    /// Gives `(stdout, stderr)`; each is empty when not piped.
    ///
    /// A child that exits without reading all its input is not an error
    /// (asyncio ignores `BrokenPipeError` here too). Cancelled, it stops
    /// reading and writing (what was read is lost) and the child runs on.
    pub async fn communicate(&mut self, input: Option<&[u8]>) -> Result<(Vec<u8>, Vec<u8>)> {
        let mut stdin = self.stdin.take();
        if input.is_some() && stdin.is_none() {
            return Err(Error::runtime(
                "communicate: input given but stdin is not a pipe (Stdio::Pipe)",
            ));
        }
        let mut stdout = self.stdout.take();
        let mut stderr = self.stderr.take();
        let write = async {
            if let Some(w) = stdin.as_mut() {
                if let Some(input) = input {
                    w.write(input)?;
                }
                w.close();
                match w.wait_closed().await {
                    Err(e) if matches!(e.kind(), ErrorKind::Io(std::io::ErrorKind::BrokenPipe)) => {
                    }
                    other => other?,
                }
            }
            Ok::<(), Error>(())
        };
        let read_out = async {
            match stdout.as_mut() {
                Some(r) => r.read_to_end().await,
                None => Ok(Vec::new()),
            }
        };
        let read_err = async {
            match stderr.as_mut() {
                Some(r) => r.read_to_end().await,
                None => Ok(Vec::new()),
            }
        };
        let (written, out, err) = join3(write, read_out, read_err).await;
        written?;
        let (out, err) = (out?, err?);
        self.wait().await?;
        Ok((out, err))
    }

    /// Sends signal `signal` (nothing happens if the child has exited).
    pub fn send_signal(&self, signal: i32) -> Result<()> {
        self.child
            .send_signal(signal)
            .map_err(|e| spawn_error("send_signal", e))
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) -> Result<()> {
        self.send_signal(super::SIGTERM)
    }

    /// Sends SIGKILL.
    pub fn kill(&self) -> Result<()> {
        self.send_signal(super::SIGKILL)
    }
}

/// Polls three futures together until all are done; the first error does
/// not stop the others early (each ends on its own).
async fn join3<A, B, C>(
    a: impl std::future::Future<Output = A>,
    b: impl std::future::Future<Output = B>,
    c: impl std::future::Future<Output = C>,
) -> (A, B, C) {
    let (mut a, mut b, mut c) = (std::pin::pin!(a), std::pin::pin!(b), std::pin::pin!(c));
    let (mut ra, mut rb, mut rc) = (None, None, None);
    std::future::poll_fn(|cx| {
        if ra.is_none()
            && let Poll::Ready(v) = a.as_mut().poll(cx)
        {
            ra = Some(v);
        }
        if rb.is_none()
            && let Poll::Ready(v) = b.as_mut().poll(cx)
        {
            rb = Some(v);
        }
        if rc.is_none()
            && let Poll::Ready(v) = c.as_mut().poll(cx)
        {
            rc = Some(v);
        }
        if ra.is_some() && rb.is_some() && rc.is_some() {
            Poll::Ready((ra.take().unwrap(), rb.take().unwrap(), rc.take().unwrap()))
        } else {
            Poll::Pending
        }
    })
    .await
}

//! `aio ps PID` and `aio pstree PID`: the task table of a running
//! `aio run` or `aio repl`, asked over a local, owner-only Unix socket.
//!
//! Every `aio run` and `aio repl` listens on `DIR/PID.sock`, where DIR is
//! `$XDG_RUNTIME_DIR/aio`, else `$XDG_CACHE_HOME/aio/run` or
//! `~/.cache/aio/run`. DIR is made with mode 0700 and must be owned by the
//! user with no access for others (else nothing listens); the socket is
//! mode 0600, a connection from another user is refused (its peer
//! credentials are checked), and the file is removed when aio exits. The
//! request is one line (`ps`, `pstree` or `json`); the answer is `ok` and
//! the table in that form, or `error: MESSAGE`. docs/introspection.md is
//! the user's guide.

use aio_host::introspect::{format_json, format_ps, format_pstree};
use aio_host::{Error, ErrorKind, TaskInfo};
use std::future::Future;
use std::io::ErrorKind as IoKind;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

/// Where the tables come from: a program's probe (one per instance of
/// `aio run --instances N`), or the REPL's instance.
pub(crate) type Source = Arc<
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<Vec<Vec<TaskInfo>>, Error>> + Send>>
        + Send
        + Sync,
>;

/// How long a client may take to send its request, and `aio ps` to wait.
const PATIENCE: Duration = Duration::from_secs(10);

/// The forms the table is asked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    Ps,
    Tree,
    Json,
}

impl Form {
    fn request(self) -> &'static str {
        match self {
            Form::Ps => "ps",
            Form::Tree => "pstree",
            Form::Json => "json",
        }
    }

    fn format_one(self, tasks: &[TaskInfo]) -> String {
        match self {
            Form::Ps => format_ps(tasks),
            Form::Tree => format_pstree(tasks),
            Form::Json => format_json(tasks),
        }
    }

    /// One table as it always was; several (instances of one run) each
    /// under `instance K of N:`, or in JSON as
    /// `{"instances":[{"instance":K,"tasks":[...]},...]}`.
    fn format(self, tables: &[Vec<TaskInfo>]) -> String {
        if let [tasks] = tables {
            let one = self.format_one(tasks);
            return if self == Form::Json { one + "\n" } else { one };
        }
        if self == Form::Json {
            #[derive(serde::Serialize)]
            struct Instance<'a> {
                instance: usize,
                tasks: &'a [TaskInfo],
            }
            #[derive(serde::Serialize)]
            struct Instances<'a> {
                instances: Vec<Instance<'a>>,
            }
            let instances = tables
                .iter()
                .enumerate()
                .map(|(i, tasks)| Instance {
                    instance: i + 1,
                    tasks,
                })
                .collect();
            // Strings and integers into a String: cannot fail.
            let json = serde_json::to_string(&Instances { instances });
            return json.expect("task tables serialize") + "\n";
        }
        let n = tables.len();
        let parts: Vec<String> = tables
            .iter()
            .enumerate()
            .map(|(i, tasks)| format!("instance {} of {n}:\n{}", i + 1, self.format_one(tasks)))
            .collect();
        parts.join("\n")
    }
}

/// The listening socket; its file is removed when this is dropped.
#[derive(Debug)]
pub(crate) struct Listening {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Listens for `aio ps` on this process's socket. `None` (and an `info`
/// event, which `aio -v` shows) when the socket cannot be made: the run
/// goes on without it.
pub(crate) fn listen(source: Source) -> Option<Listening> {
    match bind() {
        Ok((listener, path)) => {
            let task = tokio::spawn(serve(listener, source));
            Some(Listening { path, task })
        }
        Err(why) => {
            tracing::info!("aio ps will not see this process: {why}");
            None
        }
    }
}

fn bind() -> Result<(UnixListener, PathBuf), String> {
    let dir = socket_dir().ok_or("no XDG_RUNTIME_DIR, XDG_CACHE_HOME or HOME")?;
    make_private_dir(&dir)?;
    let path = dir.join(format!("{}.sock", std::process::id()));
    // A file left by an earlier process with this PID (killed by SIGKILL).
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == IoKind::NotFound => {}
        Err(e) => return Err(format!("cannot remove the stale {}: {e}", path.display())),
    }
    let listener = UnixListener::bind(&path)
        .map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("cannot make {} owner-only: {e}", path.display()))?;
    Ok((listener, path))
}

async fn serve(listener: UnixListener, source: Source) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors, say: try again shortly rather than spin.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        tokio::spawn(answer(stream, source.clone()));
    }
}

/// Answers one client (errors only end this connection).
async fn answer(stream: UnixStream, source: Source) {
    let (read, mut write) = stream.into_split();
    let same_user = write
        .as_ref()
        .peer_cred()
        .is_ok_and(|cred| cred.uid() == rustix::process::geteuid().as_raw());
    if !same_user {
        let _ = write.write_all(b"error: refused: another user\n").await;
        return;
    }
    let mut line = String::new();
    let mut reader = BufReader::new(read.take(64));
    let read = tokio::time::timeout(PATIENCE, reader.read_line(&mut line)).await;
    let form = match (read, line.trim()) {
        (Ok(Ok(_)), "ps") => Form::Ps,
        (Ok(Ok(_)), "pstree") => Form::Tree,
        (Ok(Ok(_)), "json") => Form::Json,
        _ => {
            let _ = write.write_all(b"error: unknown request\n").await;
            return;
        }
    };
    let reply = match source().await {
        Ok(tables) => format!("ok\n{}", form.format(&tables)),
        Err(e) => format!("error: {e}\n"),
    };
    let _ = write.write_all(reply.as_bytes()).await;
    let _ = write.shutdown().await;
}

/// `aio ps PID` / `aio pstree PID`: prints the table, or fails with one
/// line naming why (no such process, not an aio process, no answer).
pub(crate) async fn ask(pid: u32, form: Form) -> Result<u8, Error> {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    if !proc_dir.exists() {
        return Err(Error::new(
            ErrorKind::NotFound,
            format!("no process with PID {pid}"),
        ));
    }
    let command = std::fs::read_to_string(proc_dir.join("comm"))
        .map(|c| c.trim().to_owned())
        .unwrap_or_else(|_| "?".into());
    let not_aio = |path: &Path| {
        Error::new(
            ErrorKind::NotFound,
            format!(
                "process {pid} ({command}) is not an aio run or aio repl of this user (no task socket {})",
                path.display()
            ),
        )
    };
    let Some(dir) = socket_dir() else {
        return Err(not_aio(Path::new("(no socket directory)")));
    };
    let path = dir.join(format!("{pid}.sock"));
    let mut stream = match UnixStream::connect(&path).await {
        Ok(stream) => stream,
        Err(e) if e.kind() == IoKind::NotFound => return Err(not_aio(&path)),
        Err(e) => {
            return Err(Error::new(
                ErrorKind::Host,
                format!(
                    "process {pid} ({command}) does not answer on {}: {e}",
                    path.display()
                ),
            ));
        }
    };
    let exchange = async {
        stream
            .write_all(format!("{}\n", form.request()).as_bytes())
            .await?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await?;
        std::io::Result::Ok(reply)
    };
    let reply = match tokio::time::timeout(PATIENCE, exchange).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) => return Err(Error::new(ErrorKind::Host, format!("process {pid}: {e}"))),
        Err(_) => {
            return Err(Error::new(
                ErrorKind::Host,
                format!("process {pid} did not answer within {PATIENCE:?}"),
            ));
        }
    };
    match reply.strip_prefix("ok\n") {
        Some(table) => {
            print!("{table}");
            Ok(0)
        }
        None => {
            let why = reply.trim().strip_prefix("error: ").unwrap_or(reply.trim());
            let kind = if why.contains("not export") {
                ErrorKind::NoSuchExport
            } else {
                ErrorKind::Host
            };
            Err(Error::new(kind, format!("process {pid}: {why}")))
        }
    }
}

/// `$XDG_RUNTIME_DIR/aio`, else `$XDG_CACHE_HOME/aio/run`, else
/// `~/.cache/aio/run`.
fn socket_dir() -> Option<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(runtime) = var("XDG_RUNTIME_DIR").filter(|d| d.is_dir()) {
        return Some(runtime.join("aio"));
    }
    let cache = var("XDG_CACHE_HOME").or_else(|| var("HOME").map(|h| h.join(".cache")))?;
    Some(cache.join("aio").join("run"))
}

/// Makes `dir` (mode 0700) and checks that only this user can use it.
fn make_private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let meta = std::fs::symlink_metadata(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let uid = rustix::process::geteuid().as_raw();
    if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o077 != 0 {
        return Err(format!(
            "{} is not a directory of this user's alone (mode 0700)",
            dir.display()
        ));
    }
    Ok(())
}

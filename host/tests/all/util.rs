//! Shared helpers: one `Runtime` for the whole binary, running a program in
//! process, and running the real `aio` command.

use aio_host::{Limits, Outcome, RunOptions, Runtime, Status, Stdio};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Grants for a loopback test: listen on any free port, connect to any.
pub const LOOPBACK: [&str; 2] = ["--allow-listen=127.0.0.1:0", "--allow-net=127.0.0.1:*"];

/// A guest server run by the real `aio` command with [`LOOPBACK`] grants;
/// its first line is `listening on ADDR`. The process is killed and reaped
/// when this is dropped, even by a failing test.
pub struct GuestServer {
    pub child: std::process::Child,
    /// The rest of its stdout.
    pub out: std::io::BufReader<std::process::ChildStdout>,
    /// The address it said it listens on.
    pub addr: String,
}

/// Starts `program` under `aio run --timeout=<timeout>` with [`LOOPBACK`]
/// grants and waits for its `listening on ADDR` line.
pub fn start_guest_server(timeout: &str, program: &str) -> GuestServer {
    start_guest_server_with(timeout, &[], program)
}

/// As [`start_guest_server`], with more `aio run` flags (limits, say).
pub fn start_guest_server_with(timeout: &str, flags: &[&str], program: &str) -> GuestServer {
    start_guest_server_under(&[], timeout, flags, program)
}

/// As [`start_guest_server_with`], with `aio` started by `wrapper` (a
/// command that ends by running its arguments, e.g.
/// `sh -c 'ulimit -n 64 && exec "$@"' sh`).
pub fn start_guest_server_under(
    wrapper: &[&str],
    timeout: &str,
    flags: &[&str],
    program: &str,
) -> GuestServer {
    use std::io::BufRead;
    let aio = env!("CARGO_BIN_EXE_aio");
    let mut cmd = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(aio);
            c
        }
        None => Command::new(aio),
    };
    let mut child = cmd
        .args([
            "run",
            &format!("--timeout={timeout}"),
            LOOPBACK[0],
            LOOPBACK[1],
        ])
        .args(flags)
        .arg(program)
        .env("AIO_CACHE_DIR", cache_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn aio");
    let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    out.read_line(&mut first).expect("read the first line");
    let addr = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();
    GuestServer { child, out, addr }
}

impl Drop for GuestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Everything a finished child wrote to its (piped) stderr.
pub fn stderr_of(child: &mut std::process::Child) -> String {
    use std::io::Read;
    let mut err = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        pipe.read_to_string(&mut err).expect("read stderr");
    }
    err
}

/// How long any single test run may take before it counts as hung.
pub const HANG: Duration = Duration::from_secs(60);

/// The compile cache every test shares (under target/, so it survives
/// between `cargo test` runs).
pub fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("aio-cache")
}

/// A fresh, empty directory under target/tmp for one test.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("scratch")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// The one runtime of this test binary.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
        Runtime::builder()
            .cache_dir(cache_dir())
            .build()
            .expect("create the runtime")
    });
    &RUNTIME
}

/// Runs a program in process with captured stdio (and a hang guard).
pub async fn run(path: &str, options: RunOptions) -> Outcome {
    let program = runtime()
        .load(path)
        .unwrap_or_else(|e| panic!("cannot load {path}: {e}"));
    program.run(options.stdio(Stdio::Capture)).await
}

/// Runs a program in process and requires exit status 0.
pub async fn expect_success(path: &str) -> Outcome {
    let outcome = run(path, RunOptions::new().limits(Limits::new().timeout(HANG))).await;
    assert!(
        matches!(outcome.status(), Status::Exited(0)),
        "{path}: expected exit status 0, got {}",
        describe(&outcome)
    );
    outcome
}

/// An outcome with its captured output, for assertion messages.
pub fn describe(outcome: &Outcome) -> String {
    format!(
        "{:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        outcome.status(),
        String::from_utf8_lossy(outcome.stdout()),
        String::from_utf8_lossy(outcome.stderr())
    )
}

/// The finished `aio` command, to assert on.
#[derive(Debug)]
pub struct Aio {
    command: String,
    status: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

/// Runs the real `aio` binary with these arguments, the shared cache, and
/// `env` added to the environment.
pub fn aio(args: &[&str]) -> Aio {
    aio_with(args, &[])
}

/// Like [`aio`], with extra environment variables (`AIO_CACHE_DIR` among
/// them overrides the shared cache).
pub fn aio_with(args: &[&str], env: &[(&str, &str)]) -> Aio {
    aio_at(args, env, None)
}

/// Like [`aio_with`], run in directory `cwd` (when given).
pub fn aio_at(args: &[&str], env: &[(&str, &str)], cwd: Option<&Path>) -> Aio {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("aio-output");
    std::fs::create_dir_all(&out_dir).expect("create output dir");
    let stdout_path = out_dir.join(format!("{}-{n}.stdout", std::process::id()));
    let stderr_path = out_dir.join(format!("{}-{n}.stderr", std::process::id()));

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aio"));
    if let Some(cwd) = cwd {
        cmd.current_dir(cwd);
    }
    cmd.args(args)
        .env("AIO_CACHE_DIR", cache_dir())
        // Diagnostics as a user without a filter sees them, unless a test
        // sets one.
        .env_remove("AIO_LOG")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"));
    let command = format!("aio {}", args.join(" "));
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn aio");
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for aio") {
            break status;
        }
        if start.elapsed() > HANG {
            let _ = child.kill();
            panic!("`{command}` hung for {HANG:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    let read = |path: &Path| {
        let text = std::fs::read_to_string(path).expect("read output");
        let _ = std::fs::remove_file(path);
        text
    };
    Aio {
        command,
        status: status.code(),
        stdout: read(&stdout_path),
        stderr: read(&stderr_path),
        elapsed,
    }
}

impl Aio {
    fn fail(&self, what: &str) -> ! {
        panic!(
            "`{}`: {what}\nstatus: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.status, self.stdout, self.stderr
        )
    }

    /// Requires this exit status.
    pub fn status(self, expected: i32) -> Self {
        if self.status != Some(expected) {
            self.fail(&format!("expected exit status {expected}"));
        }
        self
    }

    /// Requires stdout to be exactly `expected`.
    pub fn stdout_is(self, expected: &str) -> Self {
        if self.stdout != expected {
            self.fail(&format!("expected stdout {expected:?}"));
        }
        self
    }

    /// Requires stdout to contain `needle`.
    pub fn stdout_has(self, needle: &str) -> Self {
        if !self.stdout.contains(needle) {
            self.fail(&format!("expected {needle:?} in stdout"));
        }
        self
    }

    /// Requires stdout not to contain `needle`.
    pub fn stdout_lacks(self, needle: &str) -> Self {
        if self.stdout.contains(needle) {
            self.fail(&format!("expected no {needle:?} in stdout"));
        }
        self
    }

    /// Requires stderr to contain `needle`.
    pub fn stderr_has(self, needle: &str) -> Self {
        if !self.stderr.contains(needle) {
            self.fail(&format!("expected {needle:?} in stderr"));
        }
        self
    }

    /// Requires stderr not to contain `needle`.
    pub fn stderr_lacks(self, needle: &str) -> Self {
        if self.stderr.contains(needle) {
            self.fail(&format!("expected no {needle:?} in stderr"));
        }
        self
    }

    /// Requires the first line of stderr to be `aio: ` + something with
    /// `needle`, and to be the only `aio: ` line (one-line errors).
    pub fn error_line_has(self, needle: &str) -> Self {
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.starts_with("aio: "))
            .collect();
        if lines.len() != 1 || !lines[0].contains(needle) {
            self.fail(&format!("expected one `aio: ` line containing {needle:?}"));
        }
        self
    }

    /// Requires the command to have finished within `limit`.
    pub fn within(self, limit: Duration) -> Self {
        if self.elapsed > limit {
            self.fail(&format!(
                "took {:?}, expected at most {limit:?}",
                self.elapsed
            ));
        }
        self
    }

    /// What the command wrote to stdout.
    pub fn stdout(&self) -> &str {
        &self.stdout
    }

    /// What the command wrote to stderr.
    pub fn stderr(&self) -> &str {
        &self.stderr
    }
}

/// A child killed and reaped when dropped (a failing assertion included).
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A target directory for building guest crates outside the workspace
/// (`aio new`'s, the packaged SDK's): shared by those tests, and kept from
/// one run to the next like the workspace's own target directory (one
/// fixed place, so it never piles up), so their dependencies build once.
pub fn outside_target_dir() -> PathBuf {
    std::env::temp_dir().join("aio-outside-target")
}

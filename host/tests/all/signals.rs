//! Signals (`aio:host/signals`): real signals to the real `aio` binary, and
//! `Signals::send` through the embedding API. Every wait is bounded.

use crate::util::{HANG, cache_dir, describe, run};
use aio_host::{ErrorKind, Limits, RunOptions, Signal, Signals, Status};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};
use test_artifacts::*;

check_suite!(signals);

/// How long to wait for a line the guest is about to print.
const LINE: Duration = Duration::from_secs(30);

/// A running `aio run`, its stdout read line by line.
struct Running {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    started: Instant,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_aio"))
            .args(args)
            .env("AIO_CACHE_DIR", cache_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn aio");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
            started: Instant::now(),
        }
    }

    /// Waits for the guest to print `expected` as its next line.
    fn expect_line(&mut self, expected: &str) {
        match self.lines.recv_timeout(LINE) {
            Ok(line) => {
                self.seen.push(line.clone());
                if line != expected {
                    self.fail(&format!("expected the line {expected:?}, got {line:?}"));
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                self.fail(&format!("no line {expected:?} within {LINE:?}"))
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.fail(&format!("stdout closed before {expected:?}"))
            }
        }
    }

    fn send(&self, signal: i32) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits");
        // SAFETY: kill(2) with a pid we spawned and still own (not reaped).
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill({pid}, {signal})");
    }

    /// Waits for `aio` to exit; gives its status, the rest of stdout, and
    /// stderr.
    fn finish(mut self) -> Finished {
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for aio") {
                break status;
            }
            if self.started.elapsed() > HANG {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("aio hung for {HANG:?}; stdout so far: {:?}", self.seen);
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let mut rest: Vec<String> = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            rest.push(line);
        }
        let mut stderr = String::new();
        use std::io::Read;
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut stderr);
        }
        Finished {
            status: status.code(),
            rest,
            stderr,
            elapsed: self.started.elapsed(),
        }
    }

    fn fail(&mut self, what: &str) -> ! {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut stderr = String::new();
        use std::io::Read;
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut stderr);
        }
        panic!("{what}\nstdout so far: {:?}\nstderr: {stderr}", self.seen);
    }
}

#[derive(Debug)]
struct Finished {
    status: Option<i32>,
    /// Lines printed after the last `expect_line`.
    rest: Vec<String>,
    stderr: String,
    elapsed: Duration,
}

impl Finished {
    fn aio_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with("aio: "))
            .collect()
    }
}

#[test]
fn signals_handler() {
    let mut aio = Running::start(&["run", SIGNALS_HANDLER]);
    aio.expect_line("ready");
    for (signal, name) in [
        (libc::SIGINT, "SIGINT"),
        (libc::SIGINT, "SIGINT"),
        (libc::SIGUSR1, "SIGUSR1"),
        (libc::SIGHUP, "SIGHUP"),
    ] {
        aio.send(signal);
        aio.expect_line(&format!("{name} handler runs as a callback"));
        aio.expect_line(&format!("handled {name}"));
    }
    aio.expect_line("done");
    let end = aio.finish();
    assert_eq!(end.status, Some(0), "{end:?}");
    assert!(end.rest.is_empty() && end.aio_lines().is_empty(), "{end:?}");
}

#[test]
fn signals_stubborn() {
    // A guest that handles SIGTERM and SIGINT and ignores them: the first
    // ones reach its handlers (asyncio's behaviour); one after the grace
    // period stops it, and its child dies with it.
    let mut aio = Running::start(&[
        "run",
        "--signal-grace=300ms",
        "--allow-run=sleep",
        "--timeout=50s",
        SIGNALS_STUBBORN,
    ]);
    let pid_line = match aio.lines.recv_timeout(LINE) {
        Ok(line) => line,
        Err(e) => aio.fail(&format!("no child line: {e:?}")),
    };
    let child: libc::pid_t = pid_line
        .strip_prefix("child ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| aio.fail(&format!("unexpected line {pid_line:?}")));
    aio.expect_line("ready");
    aio.send(libc::SIGTERM);
    aio.expect_line("ignoring SIGTERM");
    aio.send(libc::SIGINT);
    aio.expect_line("ignoring SIGINT");
    std::thread::sleep(Duration::from_millis(400));
    aio.send(libc::SIGTERM);
    let end = aio.finish();
    assert_eq!(end.status, Some(143), "{end:?}");
    assert!(end.rest.is_empty(), "{end:?}");
    let lines = end.aio_lines();
    assert_eq!(lines.len(), 1, "{end:?}");
    assert!(
        lines[0].starts_with(
            "aio: stopped by SIGTERM: the guest handles SIGTERM but was still running"
        ),
        "{end:?}"
    );
    // The child was killed and reaped: its pid is gone.
    // Safety: signal 0 only checks that the pid exists.
    let alive = unsafe { libc::kill(child, 0) } == 0;
    assert!(!alive, "the guest's child {child} outlived the run");
    assert!(end.elapsed < Duration::from_secs(30), "{end:?}");
}

#[test]
fn signals_default_interrupt() {
    // SIGINT with no handler: main is cancelled, cleans up (awaiting), the
    // leftover task is cancelled, then status 130 with no `aio:` line.
    let mut aio = Running::start(&["run", SIGNALS_DEFAULT_INTERRUPT]);
    aio.expect_line("ready");
    aio.send(libc::SIGINT);
    aio.expect_line("main: cancelled, cleaning up");
    aio.expect_line("main: cleanup done");
    aio.expect_line("leftover: cancelled");
    let end = aio.finish();
    assert_eq!(end.status, Some(130), "{end:?}");
    assert!(end.rest.is_empty() && end.aio_lines().is_empty(), "{end:?}");
}

#[test]
fn signals_default_interrupt_second_sigint_kills() {
    let mut aio = Running::start(&["run", SIGNALS_DEFAULT_INTERRUPT, "--", "stubborn"]);
    aio.expect_line("ready");
    aio.send(libc::SIGINT);
    aio.expect_line("main: cancelled, cleaning up");
    aio.expect_line("main: ignoring it");
    aio.send(libc::SIGINT);
    let end = aio.finish();
    assert_eq!(end.status, Some(130), "{end:?}");
    assert!(end.rest.is_empty(), "the cleanup went on: {end:?}");
    assert_eq!(
        end.aio_lines(),
        ["aio: SIGINT again while the guest was shutting down"],
        "{end:?}"
    );
}

#[test]
fn signals_default_interrupt_grace_period() {
    let mut aio = Running::start(&[
        "run",
        "--signal-grace=300ms",
        SIGNALS_DEFAULT_INTERRUPT,
        "--",
        "stubborn",
    ]);
    aio.expect_line("ready");
    let sent = Instant::now();
    aio.send(libc::SIGINT);
    aio.expect_line("main: cancelled, cleaning up");
    aio.expect_line("main: ignoring it");
    let end = aio.finish();
    let waited = sent.elapsed();
    assert_eq!(end.status, Some(130), "{end:?}");
    assert_eq!(
        end.aio_lines(),
        ["aio: the guest was still running 300ms after SIGINT"],
        "{end:?}"
    );
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(10),
        "stopped after {waited:?}"
    );
}

#[test]
fn signals_terminate() {
    // No handler: ended at once, no cleanup; SIGWINCH before is ignored.
    let mut aio = Running::start(&["run", SIGNALS_TERMINATE, "--", "default"]);
    aio.expect_line("ready");
    aio.send(libc::SIGWINCH);
    std::thread::sleep(Duration::from_millis(100));
    aio.send(libc::SIGTERM);
    let end = aio.finish();
    assert_eq!(end.status, Some(143), "{end:?}");
    assert!(end.rest.is_empty(), "cleanup ran: {end:?}");
    assert_eq!(
        end.aio_lines(),
        ["aio: terminated by SIGTERM (the guest does not handle it)"],
        "{end:?}"
    );
    assert!(end.elapsed < Duration::from_secs(20), "{end:?}");
}

#[test]
fn signals_terminate_with_handler() {
    let mut aio = Running::start(&["run", SIGNALS_TERMINATE, "--", "handler"]);
    aio.expect_line("ready");
    aio.send(libc::SIGTERM);
    aio.expect_line("SIGTERM: cancelling main");
    aio.expect_line("main: stopped cleanly");
    let end = aio.finish();
    assert_eq!(end.status, Some(0), "{end:?}");
    assert!(end.aio_lines().is_empty(), "{end:?}");
}

#[test]
fn signals_remove_handler() {
    let mut aio = Running::start(&["run", SIGNALS_REMOVE_HANDLER]);
    aio.expect_line("removed: true, again: false, never added: false");
    aio.expect_line("ready");
    aio.send(libc::SIGINT);
    aio.expect_line("main: cancelled");
    let end = aio.finish();
    assert_eq!(end.status, Some(130), "{end:?}");
    assert!(end.rest.is_empty() && end.aio_lines().is_empty(), "{end:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn signals_embedded() {
    // An embedder delivers signals with `Signals::send`; SIGWINCH is
    // ignored until the guest's handler is installed, so sending early is
    // harmless.
    let signals = Signals::new();
    let options = RunOptions::new()
        .signals(&signals)
        .limits(Limits::new().timeout(HANG));
    let run = run(SIGNALS_EMBEDDED, options);
    let sender = async {
        loop {
            signals.send(Signal::WindowChange);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let outcome = tokio::select! {
        outcome = run => outcome,
        () = sender => unreachable!(),
    };
    assert!(
        matches!(outcome.status(), Status::Exited(0)),
        "{}",
        describe(&outcome)
    );
    assert_eq!(
        String::from_utf8_lossy(outcome.stdout()),
        "resized 3 times\n"
    );
    assert_eq!(signals.live_runs(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn signals_embedded_unhandled_terminate() {
    // SIGTERM to a guest without a handler ends the run as a failure with
    // the signal's kind (status 143).
    let signals = Signals::new();
    let options = RunOptions::new()
        .signals(&signals)
        .limits(Limits::new().timeout(HANG));
    let run = run(CLI_SLEEP_FOREVER, options);
    let sender = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(signals.send(Signal::Terminate), 1);
        std::future::pending::<()>().await
    };
    let outcome = tokio::select! {
        outcome = run => outcome,
        () = sender => unreachable!(),
    };
    let Status::Failed(err) = outcome.status() else {
        panic!("{}", describe(&outcome));
    };
    assert_eq!(err.kind(), ErrorKind::Signal(15));
    assert_eq!(outcome.status().exit_status(), 143);
}

#[test]
fn signals_busy_guest_is_stopped_after_the_grace_period() {
    // A guest that never awaits cannot even see SIGINT: the host stops it
    // once the grace period is over.
    let mut aio = Running::start(&["run", "--signal-grace=200ms", CLI_BUSY_LOOP]);
    aio.expect_line("spinning");
    let sent = Instant::now();
    aio.send(libc::SIGINT);
    let end = aio.finish();
    assert_eq!(end.status, Some(130), "{end:?}");
    assert_eq!(
        end.aio_lines(),
        ["aio: the guest was still running 200ms after SIGINT"],
        "{end:?}"
    );
    assert!(sent.elapsed() < Duration::from_secs(10), "{end:?}");
}

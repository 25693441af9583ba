//! The examples under examples/, run as a user would.

use crate::util::cache_dir;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use test_artifacts::*;

/// `aio run` of the hello example prints its two lines about a second
/// apart (read as they arrive, from the real command).
#[test]
fn hello() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aio"))
        .args(["run", "--timeout", "60s", HELLO])
        .env("AIO_CACHE_DIR", cache_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn aio");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a first line").expect("utf-8");
    let first_at = Instant::now();
    let second = lines.next().expect("a second line").expect("utf-8");
    let gap = first_at.elapsed();
    assert!(lines.next().is_none(), "only two lines");
    let status = child.wait().expect("wait for aio");
    assert_eq!(
        (first.as_str(), second.as_str()),
        ("Hello ...", "... World!")
    );
    assert!(status.success(), "{status}");
    assert!(
        gap >= Duration::from_millis(950) && gap < Duration::from_secs(10),
        "the second line came {gap:?} after the first"
    );
}

/// The pipeline example runs `seq | grep | wc` with the grants it needs,
/// reporting progress, and fails clearly without them.
#[test]
fn pipeline_procs() {
    use crate::util::aio;
    let out = aio(&[
        "run",
        "--allow-run=seq,grep,wc",
        PIPELINE_PROCS,
        "--",
        "200000",
    ])
    .status(0)
    .stdout_has(" bytes so far")
    .stdout_has("numbers from 1 to 200000 containing a 7: 81902 (exit codes (0, 0, 0))");
    assert!(
        out.stdout().contains("grep -> wc: done"),
        "{}",
        out.stdout()
    );
    aio(&["run", "--allow-run=seq", PIPELINE_PROCS])
        .status(1)
        .stderr_has("grep is not granted (allow it with --allow-run=/");
}

/// The sync/queues pipeline example: every job goes through the bounded
/// queue and the semaphore-limited workers, and it prints its throughput.
#[test]
fn pipeline() {
    use crate::util::aio;
    let out = aio(&["run", PIPELINE, "--", "500"])
        .status(0)
        .stdout_has("500 jobs through 8 workers (peak 8 busy)")
        .stdout_has("sum of squares 41791750");
    assert!(out.stdout().contains(" jobs/s"), "{}", out.stdout());
}

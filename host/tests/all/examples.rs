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

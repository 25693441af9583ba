//! `aio run --instances N` and `Program::run_instances`: N instances of a
//! server on N threads, one port.

use crate::util::{LOOPBACK, cache_dir, runtime};
use aio_host::{ErrorKind, Grants, Limits, RunOptions, Status, Stdio};
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio as Pipe};
use std::time::{Duration, Instant};
use test_artifacts::*;

check_suite!(instances);

/// Sends one line, reads the answer.
fn ask(port: u16, line: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(format!("{line}\n").as_bytes()).unwrap();
    let mut answer = String::new();
    BufReader::new(s).read_line(&mut answer).expect("an answer");
    answer
}

fn port_of(line: &str) -> u16 {
    line.trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"))
}

/// Three instances listen on one port (each says so), clients reach more
/// than one of them; one failing stops all, with its status.
#[test]
fn instances_shared_port() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aio"))
        .args(["run", "--timeout=60s", "--instances=3", LOOPBACK[0]])
        .arg(INSTANCES_SHARED_PORT)
        .env("AIO_CACHE_DIR", cache_dir())
        .stdout(Pipe::piped())
        .stderr(Pipe::piped())
        .spawn()
        .expect("spawn aio");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let ports: Vec<u16> = (0..3)
        .map(|_| {
            let mut line = String::new();
            out.read_line(&mut line).expect("a line");
            port_of(&line)
        })
        .collect();
    assert!(ports.iter().all(|p| *p == ports[0]), "{ports:?}");
    // The kernel spreads connections by their addresses: 60 clients all
    // going to one of three listeners would be a 1-in-3^59 chance.
    let ids: HashSet<String> = (0..60).map(|_| ask(ports[0], "id")).collect();
    assert!(
        ids.len() >= 2,
        "every client reached the same instance: {ids:?}"
    );
    assert!(ids.len() <= 3, "{ids:?}");
    // One instance exits 7: the others are stopped, and aio says 7.
    let started = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", ports[0])).unwrap();
    s.write_all(b"exit 7\n").unwrap();
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(7), "{status}");
    assert!(started.elapsed() < Duration::from_secs(20));
    let err = crate::util::stderr_of(&mut child);
    assert!(!err.contains("panicked"), "{err}");
    // Nothing listens there any more.
    assert!(TcpStream::connect(("127.0.0.1", ports[0])).is_err());
}

/// Out of range instance counts are refused by the command line.
#[test]
fn instances_bad_count() {
    crate::util::aio(&["run", "--instances=0", INSTANCES_SHARED_PORT])
        .status(2)
        .stderr_has("--instances");
}

/// The embedding API: every instance's outcome, the failing one's first
/// cause and the others stopped because of it.
#[tokio::test(flavor = "current_thread")]
async fn run_instances_outcomes() {
    let program = runtime().load(INSTANCES_SHARED_PORT).expect("load");
    let grants = Grants::new().allow_listen(["127.0.0.1:0"]).unwrap();
    let options = RunOptions::new()
        .grants(grants)
        .limits(Limits::new().timeout(Duration::from_secs(60)))
        .stdio(Stdio::Capture);
    let run = tokio::spawn(async move { program.run_instances(2, options).await });
    // Captured stdout is not readable while the instances run: find their
    // port as the one this process has two listeners on (only a shared
    // port can have two).
    let port = loop {
        if let Some(p) = listening_port() {
            break p;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(b"exit 3\n").unwrap();
    })
    .await
    .unwrap();
    let outcomes = run.await.unwrap();
    assert_eq!(outcomes.len(), 2);
    let codes: Vec<Option<i32>> = outcomes.iter().map(|o| o.exit_code()).collect();
    assert!(codes.contains(&Some(3)), "{codes:?}");
    let stopped: Vec<_> = outcomes
        .iter()
        .filter_map(|o| match o.status() {
            Status::Failed(e) => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!(stopped.len(), 1, "{outcomes:?}");
    assert_eq!(stopped[0].kind(), ErrorKind::Cancelled);
    assert!(stopped[0].to_string().contains("failed"), "{}", stopped[0]);
    for o in &outcomes {
        let out = String::from_utf8_lossy(o.stdout());
        assert!(
            out.starts_with(&format!("listening on 127.0.0.1:{port}\n")),
            "{out}"
        );
    }
}

/// The port this test process listens on with two sockets (both
/// instances' listeners), from /proc/self/net/tcp and our descriptors.
fn listening_port() -> Option<u16> {
    let mine: HashSet<u64> = std::fs::read_dir("/proc/self/fd")
        .ok()?
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            l.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
        })
        .collect();
    let table = std::fs::read_to_string("/proc/self/net/tcp").ok()?;
    let mut count = std::collections::HashMap::new();
    for line in table.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        // local address, state 0A = LISTEN, inode
        if f.len() > 9 && f[3] == "0A" && mine.contains(&f[9].parse().ok()?) {
            let port = u16::from_str_radix(f[1].rsplit(':').next()?, 16).ok()?;
            *count.entry(port).or_insert(0) += 1;
        }
    }
    count.into_iter().find(|(_, n)| *n == 2).map(|(p, _)| p)
}

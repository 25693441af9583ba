//! Guests that attack the host's interfaces directly (raw bindings): each
//! attack is refused or ignored, the host stays up, and the run ends
//! normally.

use crate::util::{LOOPBACK, aio};
use std::time::Duration;
use test_artifacts::*;

check_suite!(hostile);

#[test]
fn hostile_mux_frames() {
    aio(&[
        "run",
        "--timeout=30s",
        LOOPBACK[0],
        LOOPBACK[1],
        HOSTILE_MUX_FRAMES,
    ])
    .within(Duration::from_secs(30))
    .status(0)
    .stdout_is(
        "attach twice: Some(ErrorCode::InvalidState)\n\
             a second incoming: 0 bytes\n\
             stale and unknown tokens ignored: true\n\
             an unknown kind closes outgoing: true\n\
             the server got \"real\"\n\
             a 2 MiB frame closes outgoing: true\n\
             the server got \"\"\n\
             afterwards: got 4\n",
    );
}

/// Every address next to a granted one is refused, and audited; the
/// granted one works.
#[test]
fn hostile_net_reach() {
    use std::io::BufRead;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(conn).read_line(&mut line).unwrap();
        line
    });
    let log = crate::util::scratch_dir("hostile_net_reach").join("audit.jsonl");
    let run = aio(&[
        "run",
        "--timeout=30s",
        &format!("--allow-net=127.0.0.1:{port}"),
        "--allow-listen=127.0.0.1:0",
        "--audit-log",
        log.to_str().unwrap(),
        HOSTILE_NET_REACH,
        "--",
        &port.to_string(),
    ])
    .within(Duration::from_secs(30))
    .status(0);
    let out = run.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 18, "{out}");
    for line in &lines[..17] {
        assert!(line.contains(": refused ("), "{out}");
    }
    assert_eq!(lines[17], "connect to the granted address: ok");
    assert_eq!(server.join().unwrap(), "granted\n");
    // Every refusal is audited: those no grant could allow too.
    let audit = std::fs::read_to_string(&log).unwrap();
    let denied = audit.lines().filter(|l| l.contains("\"denied\"")).count();
    assert_eq!(denied, 17, "{audit}");
}

/// A field of /proc/PID/status, in kB (`VmHWM`, `VmRSS`).
fn status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in {status}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// `aio run ARGS` with stdout and stderr read by threads: the child, the
/// stderr lines as they come, and the stdout byte count at the end.
fn spawn_aio(
    args: &[&str],
) -> (
    crate::util::Killed,
    std::sync::mpsc::Receiver<String>,
    std::thread::JoinHandle<usize>,
) {
    use std::io::{BufRead, Read};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_aio"))
        .args(args)
        .env("AIO_CACHE_DIR", crate::util::cache_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start aio");
    let mut out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(err).split(b'\n') {
            let Ok(line) = line else { return };
            // Flooded lines are long runs of one byte: keep their length.
            let text = if line.len() > 200 {
                format!("<{} bytes>", line.len())
            } else {
                String::from_utf8_lossy(&line).into_owned()
            };
            if tx.send(text).is_err() {
                return;
            }
        }
    });
    let counted = std::thread::spawn(move || {
        let mut buf = vec![0; 1 << 16];
        let mut n = 0;
        while let Ok(got) = out.read(&mut buf) {
            if got == 0 {
                break;
            }
            n += got;
        }
        n
    });
    (crate::util::Killed(child), rx, counted)
}

/// Waits (at most 60 s) for the stderr line `want`.
fn wait_for_line(lines: &std::sync::mpsc::Receiver<String>, want: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line == want => return,
            Ok(_) => {}
            Err(e) => panic!("no {want:?} line: {e}"),
        }
    }
}

/// A million tasks under a memory cap: stopped with the memory error; two
/// million timers cost the host nothing (one wait at a time).
#[test]
fn hostile_exhaust() {
    aio(&[
        "run",
        "--max-memory=64MiB",
        "--timeout=60s",
        HOSTILE_EXHAUST,
        "--",
        "tasks",
    ])
    .within(Duration::from_secs(60))
    .status(137)
    .error_line_has("memory limit exceeded")
    .stderr_lacks("panicked");
    aio(&["run", "--timeout=60s", HOSTILE_EXHAUST, "--", "timers"])
        .within(Duration::from_secs(60))
        .status(0)
        .stdout_is("two million timers\n");
}

/// 100,000 refused connects, 64 at a time: every one answered, and no
/// descriptor left behind on the host.
#[test]
fn hostile_exhaust_sockets() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port().to_string();
    drop(closed);
    let start = std::time::Instant::now();
    let (aio, lines, _) = spawn_aio(&[
        "run",
        "--timeout=120s",
        &format!("--allow-net=127.0.0.1:{port}"),
        HOSTILE_EXHAUST,
        "--",
        "sockets",
        &port,
        "100000",
    ]);
    wait_for_line(&lines, "idle");
    let fds = std::fs::read_dir(format!("/proc/{}/fd", aio.0.id()))
        .unwrap()
        .count();
    println!(
        "100000 refused connects in {:?}; {fds} descriptors",
        start.elapsed()
    );
    assert!(fds < 64, "{fds} descriptors open after the attempts");
}

/// A fork bomb stops at the host's cap (128 children), and every child dies
/// with the run.
#[test]
fn hostile_exhaust_children() {
    let run = aio(&[
        "run",
        "--timeout=60s",
        "--allow-run=sleep",
        HOSTILE_EXHAUST,
        "--",
        "children",
    ])
    .within(Duration::from_secs(60))
    .status(0)
    .stdout_has("refused after 128 children: ")
    .stdout_has("the limit is 128");
    let pids: Vec<u32> = run
        .stdout()
        .lines()
        .find_map(|l| l.strip_prefix("pids "))
        .unwrap()
        .split(' ')
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 128);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let alive = |pid: &u32| {
        std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.starts_with(b"sleep\0"))
    };
    while pids.iter().any(alive) {
        assert!(
            std::time::Instant::now() < deadline,
            "children outlived the run: {:?}",
            pids.iter().filter(|p| alive(p)).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// 256 MiB to stdout and to stderr as fast as the guest can: all of it
/// arrives, and the host's memory does not grow with it (it never holds
/// more than a stream's worth).
#[test]
fn hostile_exhaust_flood() {
    let (aio, lines, counted) = spawn_aio(&[
        "run",
        "--timeout=120s",
        HOSTILE_EXHAUST,
        "--",
        "flood",
        "256",
    ]);
    wait_for_line(&lines, "idle");
    let peak_kb = status_kb(aio.0.id(), "VmHWM");
    drop(aio);
    let out = counted.join().unwrap();
    assert_eq!(out, 256 << 20);
    println!("peak RSS {peak_kb} kB after 512 MiB of output");
    assert!(peak_kb < 128 * 1024, "peak RSS {peak_kb} kB");
}

/// Malformed components: each is refused with one line and its status,
/// and the host does not panic.
#[test]
fn hostile_malformed_components() {
    let dir = crate::util::scratch_dir("hostile_malformed_components");
    let good = std::fs::read(HOSTILE_NET_REACH).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let check = |path: &str, status: i32, line: &str| {
        let run = aio(&["run", "--timeout=60s", path])
            .within(Duration::from_secs(60))
            .status(status)
            .error_line_has(line)
            .stderr_lacks("panicked");
        let errors = run
            .stderr()
            .lines()
            .filter(|l| l.starts_with("aio: "))
            .count();
        assert_eq!(errors, 1, "{}", run.stderr());
    };
    // Truncated anywhere.
    for percent in [1, 10, 50, 90, 99] {
        let cut = &good[..good.len() * percent / 100];
        check(
            &write(&format!("cut{percent}.wasm"), cut),
            126,
            "invalid component",
        );
    }
    // Corrupted section headers.
    let mut bad = good.clone();
    for b in &mut bad[8..72] {
        *b = 0xff;
    }
    check(&write("corrupt.wasm", &bad), 126, "invalid component");
    // Huge: a valid component holding a 64 MiB custom section and nothing
    // else.
    let mut huge = b"\0asm\x0d\0\x01\0".to_vec();
    let name = b"padding";
    let size = (64usize << 20) + 1 + name.len();
    huge.push(0); // custom section
    let mut n = size;
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        huge.push(if n == 0 { byte } else { byte | 0x80 });
        if n == 0 {
            break;
        }
    }
    huge.push(name.len() as u8);
    huge.extend_from_slice(name);
    huge.resize(huge.len() + (64 << 20), 0);
    check(&write("huge.wasm", &huge), 125, "does not export");
    // Importing an interface no host provides (with an entry point).
    let unknown = wat::parse_str(
        r#"(component
            (import "acme:unknown/thing@1.0.0" (instance (export "f" (func))))
            (core module $m (func (export "run") (result i32) i32.const 0))
            (core instance $i (instantiate $m))
            (func $run (result (result)) (canon lift (core func $i "run")))
            (instance $inst (export "run" (func $run)))
            (export "wasi:cli/run@0.3.0" (instance $inst)))"#,
    )
    .unwrap();
    check(&write("unknown.wasm", &unknown), 126, "acme:unknown/thing");
    // Exporting the entry point with the wrong type: a function, not an
    // instance with `run`.
    let wrong = wat::parse_str(
        r#"(component
            (core module $m (func (export "f")))
            (core instance $i (instantiate $m))
            (func $f (canon lift (core func $i "f")))
            (export "wasi:cli/run@0.3.0" (func $f)))"#,
    )
    .unwrap();
    check(&write("wrong.wasm", &wrong), 125, "wasi:cli/run");
    // The entry point's instance with `run` lifted synchronously: a valid
    // component (the WIT's `async` allows either), which returns `ok`.
    let sync = wat::parse_str(
        r#"(component
            (core module $m (func (export "run") (result i32) i32.const 0))
            (core instance $i (instantiate $m))
            (func $run (result (result)) (canon lift (core func $i "run")))
            (instance $inst (export "run" (func $run)))
            (export "wasi:cli/run@0.3.0" (instance $inst)))"#,
    )
    .unwrap();
    aio(&["run", &write("sync.wasm", &sync)])
        .status(0)
        .stdout_is("");
}

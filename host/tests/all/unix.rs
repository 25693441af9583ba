//! Unix domain sockets (`--allow-unix`) through the real `aio` command,
//! against Python asyncio's own `start_unix_server` and
//! `open_unix_connection`, in scratch directories.

use crate::util::{Killed, aio, scratch_dir};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use test_artifacts::*;

check_suite!(unix);

fn peer_script() -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/peers/unix_peer.py");
    p.to_str().unwrap().to_owned()
}

/// A scratch directory for sockets. Socket paths are short (108 bytes on
/// Linux), so it lives under /tmp, not the target directory.
fn socket_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aio-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Python's asyncio server at `path`, ready when this returns.
fn python_server(path: &str) -> Killed {
    let mut child = Killed(
        Command::new("python3")
            .args([&peer_script(), "server", path])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start python3"),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");
    child
}

fn audit_lines(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The guest as a client of Python's server: streams, then a protocol.
#[test]
fn unix_echo() {
    let dir = socket_dir("unix_echo");
    let path = dir.join("py.sock").to_str().unwrap().to_owned();
    let _server = python_server(&path);
    let log = scratch_dir("unix_echo").join("audit.jsonl");
    let grant = format!("--allow-unix={}", dir.display());
    aio(&[
        "run",
        &grant,
        "--audit-log",
        log.to_str().unwrap(),
        "--timeout=20s",
        UNIX_ECHO,
        "--",
        "client",
        &path,
    ])
    .status(0)
    .stdout_is("HELLO\nUNIX\nbulk 262144 bytes\nclosed\n");
    aio(&[
        "run",
        &grant,
        "--timeout=20s",
        UNIX_ECHO,
        "--",
        "protocol",
        &path,
    ])
    .status(0)
    .stdout_is("PROTOCOL\n");
    let lines = audit_lines(&log);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"unix.connect\"") && l.contains("py.sock")),
        "{lines:?}"
    );

    // The guest as a server for Python's clients, with streams and with a
    // protocol; its socket file is gone once it closed.
    for mode in ["server", "protocol-server"] {
        let path = dir
            .join(format!("{mode}.sock"))
            .to_str()
            .unwrap()
            .to_owned();
        let log = scratch_dir(&format!("unix_echo_{mode}")).join("audit.jsonl");
        let mut guest = Killed(
            Command::new(env!("CARGO_BIN_EXE_aio"))
                .args(["run", &grant, "--timeout=30s", "--audit-log"])
                .arg(&log)
                .args([UNIX_ECHO, "--", mode, &path, "2"])
                .env("AIO_CACHE_DIR", crate::util::cache_dir())
                .stdout(Stdio::piped())
                .spawn()
                .expect("start aio"),
        );
        let mut out = BufReader::new(guest.0.stdout.take().unwrap());
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        assert_eq!(first, format!("listening on {path}\n"));
        let py = Command::new("python3")
            .args([&peer_script(), "client", &path, "2"])
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&py.stdout);
        assert!(
            py.status.success(),
            "{said} {}",
            String::from_utf8_lossy(&py.stderr)
        );
        assert_eq!(said, "PYTHON 0\nBYE\nPYTHON 1\nBYE\n");
        let mut rest = String::new();
        out.read_to_string(&mut rest).unwrap();
        assert!(guest.0.wait().unwrap().success(), "{mode}: {rest}");
        assert_eq!(rest, "served 2\n", "{mode}");
        assert!(
            std::fs::symlink_metadata(&path).is_err(),
            "{mode}: the socket file is removed"
        );
        let lines = audit_lines(&log);
        for cap in ["unix.listen", "unix.accept"] {
            assert!(
                lines.iter().any(|l| l.contains(&format!("\"{cap}\""))),
                "{cap}: {lines:?}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Paths outside the grant, or with no grant at all, are refused with the
/// flag named, and audited; inside the grant the system's errors show.
#[test]
fn unix_not_granted() {
    let dir = socket_dir("unix_not_granted");
    let granted = dir.join("granted");
    let other = dir.join("other");
    std::fs::create_dir_all(&granted).unwrap();
    std::fs::create_dir_all(&other).unwrap();
    // A live server outside the grant, and a link to it inside.
    let outside = other.join("srv.sock");
    let _server = std::os::unix::net::UnixListener::bind(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, granted.join("link.sock")).unwrap();
    std::fs::write(granted.join("plain"), "not a socket").unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let log = scratch_dir("unix_not_granted").join("audit.jsonl");
    aio(&[
        "run",
        &format!("--allow-unix={}", granted.display()),
        "--audit-log",
        log.to_str().unwrap(),
        UNIX_NOT_GRANTED,
        "--",
        &s(&outside),
        &format!("{}/../other/srv.sock", granted.display()),
        &s(&granted.join("link.sock")),
        &s(&granted.join("missing.sock")),
        &s(&granted.join("plain")),
    ])
    .status(0)
    .stdout_is(&format!(
        "connect {o}: PermissionDenied (names --allow-unix)\n\
         listen {o}: PermissionDenied (names --allow-unix)\n\
         connect {g}/../other/srv.sock: PermissionDenied (names --allow-unix)\n\
         listen {g}/../other/srv.sock: PermissionDenied (names --allow-unix)\n\
         connect {g}/link.sock: PermissionDenied (names --allow-unix)\n\
         listen {g}/link.sock: AddrInUse\n\
         connect {g}/missing.sock: NotFound\n\
         listen {g}/missing.sock: ok\n\
         connect {g}/plain: ConnectionRefused\n\
         listen {g}/plain: AddrInUse\n",
        o = outside.display(),
        g = granted.display(),
    ));
    let lines = audit_lines(&log);
    let denied = lines
        .iter()
        .filter(|l| l.contains("\"unix.") && l.contains("--allow-unix"))
        .count();
    assert_eq!(denied, 5, "{lines:#?}");
    assert!(outside.exists(), "the outside server's socket is untouched");
    assert!(
        !granted.join("missing.sock").exists(),
        "the server still open when the program ended removed its file"
    );

    // No grant at all: refused the same way.
    let x = s(&granted.join("x.sock"));
    aio(&["run", UNIX_NOT_GRANTED, "--", &x])
        .status(0)
        .stdout_is(&format!(
            "connect {x}: PermissionDenied (names --allow-unix)\n\
         listen {x}: PermissionDenied (names --allow-unix)\n"
        ));
    let _ = std::fs::remove_dir_all(&dir);
}

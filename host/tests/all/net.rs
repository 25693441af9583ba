//! Streams over TCP (`wasi:sockets` with `--allow-net` / `--allow-listen`),
//! through the real `aio` command, on loopback only.

use crate::util::{aio, scratch_dir};
use std::time::Duration;
use test_artifacts::*;

check_suite!(net);

/// What a loopback test needs: listen on any free port, connect to any.
const LOOPBACK: [&str; 2] = ["--allow-listen=127.0.0.1:0", "--allow-net=127.0.0.1:*"];

fn run_loopback(program: &str) -> crate::util::Aio {
    aio(&["run", LOOPBACK[0], LOOPBACK[1], program]).within(Duration::from_secs(30))
}

#[test]
fn net_echo() {
    run_loopback(NET_ECHO)
        .status(0)
        .stdout_is("echoed 100 lines and 1000000 bytes\n");
}

#[test]
fn net_readexactly_eof() {
    run_loopback(NET_READEXACTLY_EOF).status(0).stdout_is(
        "IncompleteRead: partial \"abc\", expected Some(5)\nserver got \"still open\\n\" after its EOF\n",
    );
}

#[test]
fn net_readuntil_limit() {
    run_loopback(NET_READUNTIL_LIMIT)
        .status(0)
        .stdout_has("readuntil: ")
        .stdout_has("still readable: 112 bytes, ending \"xxxxx|tail\\nshort\\n\"\n");
}

#[test]
fn net_drain_blocks() {
    run_loopback(NET_DRAIN_BLOCKS).status(0).stdout_is(
        "drain blocked while the peer did not read\ndrain resumed once it read\nserver read 16777216 bytes\n",
    );
}

#[test]
fn net_refused() {
    run_loopback(NET_REFUSED).status(0).stdout_is("refused\n");
}

#[test]
fn net_server_close() {
    run_loopback(NET_SERVER_CLOSE).status(0).stdout_is(
        "new client after close: Io(ConnectionRefused)\nexisting client still served\nhandler: EOF\nclosed\n",
    );
}

/// With some grant (so TCP is on) and with none at all, the refusal names
/// the address and the flag; the audit log has one line per decision.
#[test]
fn net_not_granted() {
    let dir = scratch_dir("net_not_granted");
    let log = dir.join("audit.jsonl");
    aio(&[
        "run",
        "--allow-net=127.0.0.1:1",
        "--audit-log",
        log.to_str().unwrap(),
        NET_NOT_GRANTED,
    ])
    .status(0)
    .stdout_has("connect: permission denied: connect to 127.0.0.1:9 refused: run with --allow-net=127.0.0.1:9\n")
    .stdout_has("listen: permission denied: listen on 127.0.0.1:0 refused: run with --allow-listen=127.0.0.1:0\n")
    // A net grant allows name lookup.
    .stdout_has("lookup: allowed");
    let audit = std::fs::read_to_string(&log).expect("audit log");
    let lines: Vec<&str> = audit.lines().collect();
    assert_eq!(lines.len(), 2, "{audit}");
    assert!(
        lines[0].contains(r#""capability":"net.connect","target":"127.0.0.1:9","decision":"denied","grant":"--allow-net=127.0.0.1:9""#),
        "{audit}"
    );
    assert!(
        lines[1].contains(r#""capability":"net.bind","target":"127.0.0.1:0","decision":"denied","grant":"--allow-listen=127.0.0.1:0""#),
        "{audit}"
    );

    aio(&["run", NET_NOT_GRANTED])
        .status(0)
        .stdout_has("connect: permission denied: connect to 127.0.0.1:9 refused: run with --allow-net=127.0.0.1:9\n")
        .stdout_has("listen: permission denied: listen on 127.0.0.1:0 refused: run with --allow-listen=127.0.0.1:0\n")
        .stdout_has("lookup: permission denied: looking up localhost refused");
}

#[test]
fn bad_net_grants_are_usage_errors() {
    for (flag, says) in [
        ("--allow-net=127.0.0.1:99999", "the port must be"),
        ("--allow-listen=::1", "brackets"),
        (
            "--allow-net=no-such-host.invalid:80",
            "cannot resolve no-such-host.invalid",
        ),
    ] {
        aio(&["run", flag, NET_REFUSED]).status(2).stderr_has(says);
    }
}

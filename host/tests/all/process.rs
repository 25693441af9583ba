//! Subprocesses (`aio:host/process`), with real programs through the real
//! `aio` command: grants, pipes, exit statuses, signals, cleanup, audit.

use crate::util::{aio, scratch_dir};
use std::time::Duration;
use test_artifacts::*;

check_suite!(process);

#[test]
fn process_communicate_cat() {
    aio(&["run", "--allow-run=cat", PROCESS_COMMUNICATE_CAT])
        .status(0)
        .stdout_is("round-tripped 10485760 bytes, returncode Some(0)\n");
}

#[test]
fn process_read_large() {
    aio(&["run", "--allow-run=head", PROCESS_READ_LARGE])
        .status(0)
        .stdout_is("read 104857600 bytes, returncode 0\n");
}

#[test]
fn process_exit_codes() {
    aio(&["run", "--allow-run=true,false,sh", PROCESS_EXIT_CODES])
        .status(0)
        .stdout_is("true: 0\nfalse: 1\nexit 7: 7\nkill -TERM self: -15\n");
}

#[test]
fn process_args() {
    aio(&["run", "--allow-run=printf", PROCESS_ARGS])
        .status(0)
        .stdout_is("[two words]\n[it's \"quoted\"]\n[$HOME]\n[*]\n[]\n[back\\slash]\n");
}

#[test]
fn process_env() {
    aio(&["run", "--allow-env", "--allow-run=env", PROCESS_ENV])
        .status(0)
        .stdout_is("GIVEN_A=1\nGIVEN_B=two words\n");
}

#[test]
fn process_not_granted() {
    let dir = scratch_dir("process_not_granted");
    let marker = dir.join("must-not-exist");
    let log = dir.join("audit.jsonl");
    let marker_s = marker.to_str().unwrap();
    aio(&[
        "run",
        "--allow-run=cat",
        "--audit-log",
        log.to_str().unwrap(),
        PROCESS_NOT_GRANTED,
        "--",
        "touch",
        marker_s,
    ])
    .status(0)
    .stdout_has("refused: permission denied: running /")
    .stdout_has("touch is not granted (allow it with --allow-run=/")
    .stdout_has("shell: permission denied: running a shell command is not granted (allow it with --allow-shell)");
    assert!(!marker.exists(), "the refused program ran");
    let audit = std::fs::read_to_string(&log).expect("audit log");
    let lines: Vec<&str> = audit.lines().collect();
    assert_eq!(lines.len(), 2, "{audit}");
    assert!(
        lines[0].contains(r#""capability":"process.spawn""#)
            && lines[0].contains(r#""decision":"denied""#)
            && lines[0].contains("touch\",\"decision\":\"denied\",\"grant\":\"--allow-run=/"),
        "{audit}"
    );
    assert!(
        lines[1].contains(r#""capability":"process.shell","target":"true","decision":"denied","grant":"--allow-shell""#),
        "{audit}"
    );
}

#[test]
fn process_not_found() {
    aio(&[
        "run",
        "--allow-run=/nonexistent/aio-test-prog",
        PROCESS_NOT_FOUND,
    ])
    .status(0)
    .stdout_is("not found: /nonexistent/aio-test-prog: no such program\n");
}

#[test]
fn process_terminate_kill() {
    aio(&["run", "--allow-run=sleep", PROCESS_TERMINATE_KILL])
        .status(0)
        .stdout_is("terminated: -15\nkilled: -9\nreturncode still Some(-15)\n")
        .within(Duration::from_secs(30));
}

/// A guest that panics while its child runs: `aio` kills and reaps the
/// child before it exits (no orphan left running, no zombie).
#[test]
fn process_trap_with_child() {
    let out = aio(&["run", "--allow-run=sleep", PROCESS_TRAP_WITH_CHILD]).status(134);
    let pid: u32 = out.stdout().trim().parse().expect("a pid");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let state = status
        .lines()
        .find(|l| l.starts_with("State:"))
        .unwrap_or("gone");
    assert!(
        status.is_empty() || !status.contains("sleep"),
        "the child {pid} is still there: {state}"
    );
}

#[test]
fn process_concurrent() {
    aio(&["run", "--allow-run=cat", PROCESS_CONCURRENT])
        .status(0)
        .stdout_is("50 of 50 children echoed their data\n");
}

#[test]
fn process_shell() {
    aio(&["run", "--allow-shell", PROCESS_SHELL])
        .status(0)
        .stdout_is("out\nerr\nreturncode Some(3)\n");
}

#[test]
fn process_protocol_cat() {
    aio(&["run", "--allow-run=cat", PROCESS_PROTOCOL_CAT])
        .status(0)
        .stdout_is(concat!(
            "fd 0: no data, None\n",
            "fd 1: some data, None\n",
            "fd 2: no data, None\n",
            "exited Some(0)\n",
            "connection_lost None, last\n",
            "echoed \"hello, protocol\\n\", returncode Some(0), stdin transport after close: None\n",
        ));
}

#[test]
fn process_protocol_exit() {
    aio(&["run", "--allow-run=sh,sleep", PROCESS_PROTOCOL_EXIT])
        .status(0)
        .stdout_is(concat!(
            "exit 3: exited [Some(3)], stdout \"out\\n\", stderr \"err\\n\", lost [\"1 None\", \"2 None\"], returncode Some(3)\n",
            "kill -TERM self: exited [Some(-15)], stdout \"\", stderr \"\", lost [\"1 None\", \"2 None\"], returncode Some(-15)\n",
            "send_signal(SIGTERM): exited [Some(-15)], stdout \"\", stderr \"\", lost [\"1 None\", \"2 None\"], returncode Some(-15)\n",
            "kill(): exited [Some(-9)], stdout \"\", stderr \"\", lost [\"1 None\", \"2 None\"], returncode Some(-9)\n",
            "close(): exited [Some(-9)], stdout \"\", stderr \"\", lost [\"1 None\", \"2 None\"], returncode Some(-9)\n",
        ))
        .within(Duration::from_secs(30));
}

#[test]
fn process_protocol_refused() {
    let dir = scratch_dir("process_protocol_refused");
    let marker = dir.join("must-not-exist");
    aio(&[
        "run",
        "--allow-run=cat",
        PROCESS_PROTOCOL_REFUSED,
        "--",
        "touch",
        marker.to_str().unwrap(),
    ])
    .status(0)
    .stdout_has("exec refused: permission denied: running /")
    .stdout_has("touch is not granted (allow it with --allow-run=/")
    .stdout_has("shell refused: permission denied: running a shell command is not granted")
    .stdout_has("factory called 0 times\n");
    assert!(!marker.exists(), "the refused program ran");
}

#[test]
fn process_protocol_shutdown() {
    aio(&["run", "--allow-run=sleep", PROCESS_PROTOCOL_SHUTDOWN])
        .status(0)
        .stdout_is(concat!(
            "cancelled subprocess_exec: true\n",
            "returning with the child running: None\n",
            "pipe_connection_lost(1), cancelled: true\n",
            "connection_lost, cancelled: true\n",
        ))
        .within(Duration::from_secs(20));
}

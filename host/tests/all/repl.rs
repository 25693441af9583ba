//! `aio repl` driven through a real pseudo-terminal (rexpect), on the
//! built-in playground: prompt and results, background calls, Ctrl-C
//! cancelling with the guest's cleanup visible, bad lines, a trap and
//! `.restart`, history across two sessions, the audit lines.

use crate::util::scratch_dir;
use rexpect::process::WaitStatus;
use rexpect::session::{PtySession, spawn_command};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

check_suite!(repl);

/// Every expectation fails after this long rather than hanging.
const EXPECT_MS: u64 = 30_000;

/// `aio repl ARGS` on a terminal, with its history in `dir`.
fn repl(dir: &Path, args: &[&str]) -> PtySession {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aio"));
    cmd.arg("repl")
        .args(args)
        .arg(format!("--history={}", dir.join("history").display()))
        .env("HOME", dir)
        .env("TERM", "xterm")
        .env_remove("XDG_STATE_HOME");
    let mut session = spawn_command(cmd, Some(EXPECT_MS)).expect("cannot start aio repl on a pty");
    session.exp_string(">>> ").expect("no prompt");
    session
}

/// Sends `line` and waits for `expected` on a line of its own (so the
/// terminal's echo of the input does not count), then for the prompt.
fn call(session: &mut PtySession, line: &str, expected: &str) {
    session.send_line(line).unwrap();
    if let Err(e) = session.exp_string(&format!("{expected}\r\n")) {
        panic!("`{line}` did not print `{expected}`: {e}");
    }
    session.exp_string(">>> ").unwrap();
}

/// Ends the session with `.exit` and checks it exits with status 0.
fn exit(mut session: PtySession) {
    session.send_line(".exit").unwrap();
    session.exp_eof().unwrap();
    let status = session.process().wait().unwrap();
    assert!(
        matches!(status, WaitStatus::Exited(_, 0)),
        "aio repl did not exit with status 0: {status:?}"
    );
}

#[test]
fn a_session_awaits_calls_runs_them_in_the_background_and_cancels_with_ctrl_c() {
    let dir = scratch_dir("repl-session");
    let mut s = repl(&dir, &[]);
    call(&mut s, r#"await sleep(10, "hello")"#, r#""hello""#);
    call(&mut s, r#"sleep(1, "no await")"#, r#""no await""#);
    call(&mut s, "gather([30, 10, 20])", "[30, 10, 20]");

    // A background call: its number now, its result when it comes, and
    // .tasks shows it meanwhile (with the guest's tasks).
    s.send_line(r#"sleep(1500, "later") &"#).unwrap();
    s.exp_string(r#"[1] started sleep(1500, "later")"#).unwrap();
    s.exp_string(">>> ").unwrap();
    s.send_line(".tasks").unwrap();
    s.exp_string(r#"  [1] sleep(1500, "later")"#).unwrap();
    s.exp_string("the guest's tasks (").unwrap();
    s.exp_string("(T) play.sleep").unwrap();
    s.exp_string(r#"[1] sleep(1500, "later") -> "later""#)
        .unwrap();

    // A task started by one call outlives it: later calls see it tick.
    call(&mut s, "start-ticker(5)", "1");
    std::thread::sleep(Duration::from_millis(200));
    s.send_line("ticks()").unwrap();
    s.exp_regex(r"\[\(1, [1-9][0-9]*\)\]").unwrap();
    s.exp_string(">>> ").unwrap();

    // Bad lines: one line each, and the REPL goes on.
    s.send_line("sleep(1)").unwrap();
    s.exp_regex(r"error: [^\r\n]*expected [^\r\n]*sleep@0.1.0: async func\(ms: u32, result: string\) -> string")
        .unwrap();
    s.send_line("nosuch()").unwrap();
    s.exp_regex(r"error: [^\r\n]*nosuch").unwrap();
    s.send_line(r#"sleep(1, "unclosed)"#).unwrap();
    s.exp_regex(r"error: not a call in WAVE syntax").unwrap();
    s.send_line(".bogus").unwrap();
    s.exp_string("error: unknown command .bogus").unwrap();
    call(&mut s, r#"sleep(1, "still here")"#, r#""still here""#);

    // Ctrl-C cancels the awaited call; the guest's cleanup runs and is
    // waited for, then the prompt comes back.
    s.send_line(r#"await sleep(60000, "never")"#).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    s.send_control('c').unwrap();
    s.exp_string("^C: cancelling sleep(60000, \"never\")")
        .unwrap();
    s.exp_string("sleep(60000): ").unwrap();
    s.exp_string("cleaned up").unwrap();
    s.exp_regex(r"error: [^\r\n]*was cancelled").unwrap();
    s.exp_string(">>> ").unwrap();
    call(&mut s, r#"sleep(1, "after ctrl-c")"#, r#""after ctrl-c""#);
    exit(s);
}

#[test]
fn a_trap_kills_the_instance_and_restart_makes_a_new_one_all_audited() {
    let dir = scratch_dir("repl-trap");
    let audit = dir.join("audit.jsonl");
    let audit_flag = format!("--audit-log={}", audit.display());
    let mut s = repl(&dir, &[&audit_flag]);
    call(&mut s, "start-ticker(1000)", "1");
    s.send_line("crash()").unwrap();
    s.exp_string("the instance died (panic); .restart starts a new one")
        .unwrap();
    s.send_line(r#"sleep(1, "x")"#).unwrap();
    s.exp_string("the instance is dead").unwrap();
    s.send_line(".restart").unwrap();
    s.exp_string("a new instance of playground is running")
        .unwrap();
    // A new instance: its state starts afresh.
    call(&mut s, "ticks()", "[]");
    call(&mut s, r#"await sleep(1, "back")"#, r#""back""#);
    s.send_control('d').unwrap();
    s.exp_eof().unwrap();

    let log = std::fs::read_to_string(&audit).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert!(
        lines[0].contains(r#""capability":"repl.start","target":"playground""#),
        "{log}"
    );
    let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
    assert!(
        has(
            r#""capability":"repl.call","target":"crash()","decision":"allowed","outcome":"failed (panic): "#
        ),
        "{log}"
    );
    assert!(
        has(r#""target":"sleep(1, \"back\")","decision":"allowed","outcome":"returned \"back\"""#),
        "{log}"
    );
}

#[test]
fn history_is_kept_across_sessions() {
    let dir = scratch_dir("repl-history");
    let mut first = repl(&dir, &[]);
    call(
        &mut first,
        r#"await sleep(1, "remembered")"#,
        r#""remembered""#,
    );
    first.send_control('d').unwrap();
    first.exp_eof().unwrap();
    let history = std::fs::read_to_string(dir.join("history")).unwrap();
    assert!(
        history.contains(r#"await sleep(1, "remembered")"#),
        "{history}"
    );

    // Up arrow recalls the line; Enter runs it again.
    let mut second = repl(&dir, &[]);
    second.send("\x1b[A").unwrap();
    second.flush().unwrap();
    second
        .exp_string(r#">>> await sleep(1, "remembered")"#)
        .unwrap();
    second.send("\r").unwrap();
    second.flush().unwrap();
    second.exp_string("\"remembered\"\r\n").unwrap();
    second.exp_string(">>> ").unwrap();
    exit(second);
}

#[test]
fn lines_from_a_pipe_run_without_a_terminal() {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_aio"))
        .args(["repl", "--no-history"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"await sleep(1, \"piped\")\nnosuch()\ngather([2, 1])\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("\"piped\"\n"), "{stdout}");
    assert!(stdout.contains("[2, 1]\n"), "{stdout}");
    assert!(stderr.contains("nosuch"), "{stderr}");
}

#[test]
fn the_playground_echoes_through_its_own_server_and_runs_a_granted_program() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_aio"))
        .args([
            "repl",
            "--no-history",
            "--allow-listen=127.0.0.1:0",
            "--allow-net=127.0.0.1:*",
            "--allow-run=echo",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut next_line = || {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        line
    };
    // The banner's two lines.
    next_line();
    next_line();
    writeln!(stdin, "serve-echo(0)").unwrap();
    let port = next_line();
    let port = port
        .trim()
        .strip_prefix("ok(")
        .and_then(|p| p.strip_suffix(')'))
        .unwrap_or_else(|| panic!("serve-echo printed {port:?}"));
    writeln!(stdin, r#"echo("127.0.0.1", {port}, "round trip")"#).unwrap();
    assert_eq!(next_line(), "ok(\"round trip\")\n");
    writeln!(stdin, r#"run("echo", ["from", "a child"])"#).unwrap();
    assert_eq!(next_line(), "ok(\"from a child\\n\")\n");
    // Not granted: a clear error value, and the REPL goes on.
    writeln!(stdin, r#"run("ls", [])"#).unwrap();
    let refused = next_line();
    assert!(
        refused.starts_with("err(\"") && refused.contains("--allow-run"),
        "{refused}"
    );
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success());
}

#[test]
fn sigterm_while_a_line_is_edited_ends_with_143_and_restores_the_terminal() {
    use std::os::fd::AsRawFd;
    let dir = scratch_dir("repl-sigterm");
    let mut s = repl(&dir, &[]);
    s.send("sleep(1, ").unwrap();
    s.flush().unwrap();
    s.exp_string("sleep(1, ").unwrap();
    let terminal = s.process().get_file_handle().unwrap();
    let lflag = || {
        let mut t = std::mem::MaybeUninit::<libc::termios>::uninit();
        // SAFETY: a valid pointer to a termios for tcgetattr to fill; the
        // result is read only when it succeeded.
        let got = unsafe { libc::tcgetattr(terminal.as_raw_fd(), t.as_mut_ptr()) };
        assert_eq!(got, 0);
        // SAFETY: filled by the successful call.
        unsafe { t.assume_init() }.c_lflag
    };
    // The editor holds the terminal in raw mode while it reads.
    assert_eq!(lflag() & libc::ICANON, 0);
    s.process_mut()
        .signal(rexpect::process::Signal::SIGTERM)
        .unwrap();
    let status = s.process().wait().unwrap();
    assert!(
        matches!(status, WaitStatus::Exited(_, 143)),
        "aio repl did not exit with 143 on SIGTERM: {status:?}"
    );
    assert_ne!(
        lflag() & libc::ICANON,
        0,
        "the terminal was left in raw mode"
    );
    // (rexpect starts the terminal without echo: only ICANON tells.)
}

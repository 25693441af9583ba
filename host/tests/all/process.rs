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

/// Where `name` is on this process's `PATH` (which `aio` inherits), and
/// the file it resolves to.
fn on_path(name: &str) -> String {
    let path = std::env::var_os("PATH").expect("PATH");
    let found = std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} is not on PATH"));
    let file = std::fs::canonicalize(found).expect("canonicalize");
    file.to_str().unwrap().to_owned()
}

/// A refusal names the program as the guest asked for it, the file that
/// resolves to, and the flag with the name as asked (issue 9 item 2).
#[test]
fn process_not_granted() {
    let dir = scratch_dir("process_not_granted");
    let marker = dir.join("must-not-exist");
    let log = dir.join("audit.jsonl");
    let marker_s = marker.to_str().unwrap();
    let touch = on_path("touch");
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
    .stdout_has(&format!(
        "refused: permission denied: running touch ({touch}) is not granted (allow it with --allow-run=touch)\n"
    ))
    .stdout_has("shell: permission denied: running a shell command is not granted (allow it with --allow-shell)");
    assert!(!marker.exists(), "the refused program ran");
    let audit = std::fs::read_to_string(&log).expect("audit log");
    let lines: Vec<&str> = audit.lines().collect();
    assert_eq!(lines.len(), 2, "{audit}");
    assert!(
        lines[0].contains(&format!(
            r#""capability":"process.spawn","target":"touch","resolved":"{touch}","decision":"denied","grant":"--allow-run=touch"}}"#
        )),
        "{audit}"
    );
    assert!(
        lines[1].contains(r#""capability":"process.shell","target":"true","decision":"denied","grant":"--allow-shell""#),
        "{audit}"
    );
}

/// A multi-call program laid out as busybox is: the file `mc-touch`
/// creates the file named by its argument when run by that name, and
/// `mc-true` (a link to it) does nothing. It decides by `$0`, which for a
/// script is the path executed.
fn multicall(dir: &std::path::Path) -> (String, String) {
    use std::os::unix::fs::PermissionsExt;
    let real = dir.join("mc-touch");
    std::fs::write(
        &real,
        "#!/bin/sh\ncase \"${0##*/}\" in\n  mc-touch) : > \"$1\"; echo \"touched as $0\" ;;\n  *) echo \"true as $0\" ;;\nesac\n",
    )
    .expect("write the script");
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::os::unix::fs::symlink("mc-touch", dir.join("mc-true")).expect("symlink");
    let s = |p: std::path::PathBuf| p.to_str().unwrap().to_owned();
    (s(dir.join("mc-true")), s(real))
}

/// A grant of one name of a multi-call program runs it as that name and
/// never as another name of the same file; argv[0] is the grant as written
/// (issue 10 item 4). The audit log records what was asked and what ran.
#[test]
fn process_multicall() {
    let dir = scratch_dir("process_multicall");
    let (mc_true, mc_touch) = multicall(&dir);
    let marker = dir.join("touched");
    let marker_s = marker.to_str().unwrap();
    let grant = format!("--allow-run={mc_true}");
    // Asked by the granted name, it runs as that name (the link is
    // executed, not the file it leads to).
    aio(&["run", &grant, PROCESS_MULTICALL, "--", &mc_true, marker_s])
        .status(0)
        .stdout_is(&format!("ran: true as {mc_true}, returncode 0\n"));
    assert!(!marker.exists(), "{mc_true} behaved as mc-touch");
    // Another name of the granted file is refused, and says why.
    aio(&["run", &grant, PROCESS_MULTICALL, "--", &mc_touch, marker_s])
        .status(0)
        .stdout_is(&format!(
            "refused: permission denied: running {mc_touch} is not granted; that file is granted only as {mc_true} (allow it with --allow-run={mc_touch})\n"
        ));
    assert!(!marker.exists(), "the other name ran");
    // argv[0] is the grant as written, not the guest's spelling: dash
    // reading commands from stdin says `$0` is its argv[0].
    let log = dir.join("audit.jsonl");
    aio(&[
        "run",
        "--allow-run=sh",
        "--audit-log",
        log.to_str().unwrap(),
        PROCESS_MULTICALL,
        "--",
        "/bin/sh",
        "-s",
    ])
    .status(0)
    .stdout_is("ran: argv0=sh, returncode 0\n");
    let audit = std::fs::read_to_string(&log).expect("audit log");
    let sh = std::fs::canonicalize("/bin/sh").unwrap();
    assert!(
        audit.contains(&format!(
            r#""capability":"process.spawn","target":"/bin/sh","resolved":"{}","ran":"sh","decision":"allowed"}}"#,
            sh.display()
        )),
        "{audit}"
    );
    let _ = std::fs::remove_dir_all(&dir);
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
    .stdout_has(&format!(
        "exec refused: permission denied: running touch ({}) is not granted (allow it with --allow-run=touch)\n",
        on_path("touch")
    ))
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

/// The `sleep N.<token>` processes `process_background_job` leaves
/// behind (N: 1000 the shell's background job, 1001 a daemon that left the
/// process group, 1002 a direct child, 1003 a direct child that left the
/// process group), found in /proc by their unique
/// argument. Whatever is still running when this drops is killed.
struct Leftovers {
    token: String,
}

impl Leftovers {
    fn new() -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let n = N.fetch_add(1, Ordering::Relaxed);
        Leftovers {
            token: format!("{}{n}{nanos}", std::process::id()),
        }
    }

    /// The pids of live `sleep N.<token>` processes.
    fn running(&self, n: u32) -> Vec<i32> {
        let wanted = format!("{n}.{}", self.token);
        let mut pids = Vec::new();
        for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            // A zombie's cmdline is empty: only live processes match.
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let mut args = cmdline.split(|&b| b == 0);
            if args.next().is_some_and(|a| a.ends_with(b"sleep"))
                && args.next() == Some(wanted.as_bytes())
            {
                pids.push(pid);
            }
        }
        pids
    }

    /// Waits (up to 5 s) until each of `which` runs; whether they do.
    fn all_running(&self, which: &[u32]) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while which.iter().any(|&n| self.running(n).is_empty()) {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }

    /// Waits (up to 5 s) until none of `which` runs; says which still do.
    fn survivors(&self, which: &[u32]) -> Vec<String> {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let left: Vec<String> = which
                .iter()
                .flat_map(|&n| {
                    self.running(n)
                        .into_iter()
                        .map(move |pid| format!("sleep {n} (pid {pid})"))
                })
                .collect();
            if left.is_empty() || std::time::Instant::now() >= deadline {
                return left;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        for n in [1000, 1001, 1002, 1003] {
            for pid in self.running(n) {
                // Safety: kill(2) has no memory-safety preconditions.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

const BACKGROUND_JOB_GRANTS: [&str; 2] = ["--allow-shell", "--allow-run=sleep,setsid"];

/// A guest that returns while its shell's background job, a setsid'd
/// daemon and its own child run: `aio` kills them all before it exits.
#[test]
fn process_background_job() {
    let left = Leftovers::new();
    let [shell, sleep] = BACKGROUND_JOB_GRANTS;
    aio(&[
        "run",
        shell,
        sleep,
        PROCESS_BACKGROUND_JOB,
        "--",
        "exit",
        &left.token,
    ])
    .status(0)
    .stdout_is("started\n");
    let survivors = left.survivors(&[1000, 1001, 1002, 1003]);
    assert!(survivors.is_empty(), "outlived the run: {survivors:?}");
}

/// The same when `--timeout` ends the run.
#[test]
fn process_background_job_timeout() {
    let left = Leftovers::new();
    let [shell, sleep] = BACKGROUND_JOB_GRANTS;
    aio(&[
        "run",
        "--timeout=2s",
        shell,
        sleep,
        PROCESS_BACKGROUND_JOB,
        "--",
        "hang",
        &left.token,
    ])
    .status(124)
    .stdout_is("started\n");
    let survivors = left.survivors(&[1000, 1001, 1002, 1003]);
    assert!(survivors.is_empty(), "outlived the run: {survivors:?}");
}

/// `aio` itself SIGKILLed mid-run: the keeper of the run's process group
/// kills the group, so its direct child (1002) and the shell's background
/// job (1000) die with it. What left the group (1001, 1003) outlives it:
/// only a cgroup would catch that (docs/subprocess.md).
#[test]
fn process_background_job_sigkill() {
    use std::io::BufRead;
    let left = Leftovers::new();
    let [shell, sleep] = BACKGROUND_JOB_GRANTS;
    let mut aio = std::process::Command::new(env!("CARGO_BIN_EXE_aio"))
        .args(["run", "--timeout=60s", shell, sleep, PROCESS_BACKGROUND_JOB])
        .args(["--", "hang", &left.token])
        .env("AIO_CACHE_DIR", crate::util::cache_dir())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn aio");
    let mut line = String::new();
    std::io::BufReader::new(aio.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read stdout");
    let started = line == "started\n" && left.all_running(&[1000, 1001, 1002, 1003]);
    let _ = aio.kill();
    let _ = aio.wait();
    assert!(
        started,
        "the guest said {line:?}; the sleeps did not all start"
    );
    let survivors = left.survivors(&[1000, 1002]);
    assert!(survivors.is_empty(), "outlived aio: {survivors:?}");
}

/// Embedded (the library, which does not adopt orphans unless asked): the
/// end of the run kills the run's whole process group, so the shell's
/// background job dies with the direct children; the setsid'd daemon
/// (1001) left the group and outlives the run, as docs/subprocess.md says.
#[tokio::test]
async fn process_background_job_embedded() {
    use aio_host::{Grants, RunOptions, Status};
    let left = Leftovers::new();
    let grants = Grants::new().allow_shell().allow_run(["sleep", "setsid"]);
    let options = RunOptions::new()
        .args(["exit", left.token.as_str()])
        .grants(grants);
    let outcome = crate::util::run(PROCESS_BACKGROUND_JOB, options).await;
    assert!(
        matches!(outcome.status(), Status::Exited(0)) && outcome.stdout() == b"started\n",
        "{}",
        crate::util::describe(&outcome)
    );
    let survivors = left.survivors(&[1000, 1002, 1003]);
    assert!(survivors.is_empty(), "outlived the run: {survivors:?}");
}

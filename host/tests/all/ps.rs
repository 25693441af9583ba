//! `aio ps` / `aio pstree` against a real second process: a running `aio
//! run` with nested TaskGroups, a running `aio repl`, a PID that is gone,
//! and a PID that is not aio.

use crate::util::scratch_dir;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use test_artifacts::PS_ALBUMS;

check_suite!(ps);

/// A child process killed and reaped on drop, even by a failing test.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `aio ARGS` with its sockets under `runtime_dir`.
fn aio(runtime_dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aio"));
    cmd.args(args).env("XDG_RUNTIME_DIR", runtime_dir);
    cmd
}

fn ask(runtime_dir: &Path, args: &[&str]) -> Output {
    aio(runtime_dir, args).output().expect("run aio ps")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `awaiting sleep (59.912s left)` varies run to run: cut at the number.
fn normalized(tree: &str) -> String {
    tree.lines()
        .map(|l| match l.find("awaiting sleep (") {
            Some(i) => format!("{}awaiting sleep", &l[..i]),
            None => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn ps_albums() {
    let dir = scratch_dir("ps-albums");
    let mut child = aio(&dir, &["run", "--timeout=60s", PS_ALBUMS])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let child = Running(child);
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    let pid = child.0.id().to_string();
    let socket = dir.join("aio").join(format!("{pid}.sock"));
    assert!(socket.exists(), "no socket at {}", socket.display());

    let tree = ask(&dir, &["pstree", &pid]);
    assert!(tree.status.success(), "{}", text(&tree.stderr));
    assert_eq!(
        normalized(&text(&tree.stdout)),
        "\
└── (T) main
    └──  awaiting its TaskGroup (2 pending)
        ├── (T) Sundowning
        │   └──  awaiting its TaskGroup (2 pending)
        │       ├── (T) TMBTE
        │       │   └──  awaiting sleep
        │       └── (T) TNDNBTG
        │           └──  awaiting sleep
        └── (T) TMBTE
            └──  awaiting its TaskGroup (2 pending)
                ├── (T) DYWTYLM
                │   └──  awaiting sleep
                └── (T) Aqua Regia
                    └──  awaiting sleep"
    );

    let table = ask(&dir, &["ps", &pid]);
    assert!(table.status.success(), "{}", text(&table.stderr));
    let table = text(&table.stdout);
    let rows: Vec<&str> = table.lines().collect();
    assert!(rows[0].starts_with("task id  task name"), "{table}");
    // main, two albums, four tracks: one row each (each has one awaiter).
    assert_eq!(rows.len(), 2 + 7, "{table}");
    // A row's name: from the header's `task name` column to the next gap.
    let column = rows[0].find("task name").unwrap();
    let row = |name: &str| {
        rows.iter()
            .find(|r| r.get(column..).and_then(|c| c.split("  ").next()) == Some(name))
            .copied()
            .unwrap_or_else(|| panic!("no row for {name}:\n{table}"))
    };
    assert!(row("Aqua Regia").contains("awaiting sleep"), "{table}");
    assert!(row("TNDNBTG").contains("Sundowning"), "{table}");
    assert!(row("Sundowning").contains("main"), "{table}");
    assert!(row("main").ends_with(" 0"), "{table}");

    let json = ask(&dir, &["ps", &pid, "--json"]);
    assert!(json.status.success(), "{}", text(&json.stderr));
    let json = text(&json.stdout);
    assert!(json.starts_with("{\"tasks\":[{\"id\":"), "{json}");
    assert!(json.contains("\"name\":\"Aqua Regia\""), "{json}");

    // The socket goes with the process.
    let mut child = child;
    // Safety: signalling our own child, still unreaped.
    unsafe { libc::kill(child.0.id() as i32, libc::SIGTERM) };
    child.0.wait().unwrap();
    assert!(!socket.exists(), "{} left behind", socket.display());
}

#[test]
fn ps_answers_for_a_repl_and_refuses_gone_and_foreign_pids() {
    let dir = scratch_dir("ps-repl");
    let mut repl = aio(&dir, &["repl", "--no-history"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = repl.stdin.take().unwrap();
    let mut out = BufReader::new(repl.stdout.take().unwrap());
    let repl = Running(repl);
    writeln!(stdin, "start-ticker(1000)").unwrap();
    // The banner's two lines, then the ticker's number.
    let mut line = String::new();
    for _ in 0..3 {
        line.clear();
        out.read_line(&mut line).unwrap();
    }
    assert_eq!(line, "1\n");
    let pid = repl.0.id().to_string();
    let tree = ask(&dir, &["pstree", &pid]);
    assert!(tree.status.success(), "{}", text(&tree.stderr));
    let tree = text(&tree.stdout);
    assert!(tree.contains("(T) ticker 1\n"), "{tree}");
    drop(stdin);
    drop(repl);

    // A PID that is gone.
    let mut gone = Command::new("true").spawn().unwrap();
    let gone_pid = gone.id().to_string();
    gone.wait().unwrap();
    let out = ask(&dir, &["ps", &gone_pid]);
    assert_eq!(out.status.code(), Some(127), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        format!("aio: no process with PID {gone_pid}\n")
    );

    // A live process that is not aio.
    let sleeper = Running(Command::new("sleep").arg("30").spawn().unwrap());
    let out = ask(&dir, &["pstree", &sleeper.0.id().to_string()]);
    assert_eq!(out.status.code(), Some(127), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("(sleep) is not an aio run or aio repl of this user"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

/// `aio ps` of `aio run --instances 2`: one table per instance, each under
/// its heading; in JSON, a list of instances.
#[test]
fn ps_instances() {
    let dir = scratch_dir("ps-instances");
    let mut child = aio(
        &dir,
        &[
            "run",
            "--timeout=60s",
            "--instances=2",
            "--allow-listen=127.0.0.1:0",
            test_artifacts::INSTANCES_SHARED_PORT,
        ],
    )
    .env("AIO_CACHE_DIR", crate::util::cache_dir())
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let child = Running(child);
    for _ in 0..2 {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert!(line.starts_with("listening on "), "{line:?}");
    }
    let pid = child.0.id().to_string();
    let ps = ask(&dir, &["ps", &pid]);
    let table = text(&ps.stdout);
    assert!(ps.status.success(), "{table}{}", text(&ps.stderr));
    let first = table.find("instance 1 of 2:\n").expect(&table);
    let second = table.find("instance 2 of 2:\n").expect(&table);
    assert!(first < second, "{table}");
    assert_eq!(table.matches("task id").count(), 2, "{table}");
    // Both instances serve the one shared port.
    let servers: Vec<&str> = table
        .lines()
        .filter_map(|l| {
            l.split_whitespace()
                .nth(2)
                .filter(|_| l.contains(" server "))
        })
        .collect();
    assert_eq!(servers.len(), 2, "{table}");
    assert_eq!(servers[0], servers[1], "{table}");
    let json = text(&ask(&dir, &["ps", &pid, "--json"]).stdout);
    assert!(
        json.starts_with(r#"{"instances":[{"instance":1,"tasks":[{"id":"#),
        "{json}"
    );
    assert!(json.contains(r#"{"instance":2,"tasks":["#), "{json}");
    assert!(json.trim_end().ends_with("]}]}"), "{json}");
}

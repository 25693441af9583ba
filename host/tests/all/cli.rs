//! The `aio` command, run as a real process: every exit status, flags, the
//! compile cache, and `aio inspect`. Tests of `cli_*` programs live here.

use crate::util::{aio, aio_with, cache_dir, scratch_dir};
use std::time::Duration;
use test_artifacts::*;

check_suite!(cli);

// ---- one test per cli_* program ----

#[test]
fn cli_args() {
    aio(&["run", CLI_ARGS, "--", "one", "two words", "--flag", ""])
        .status(0)
        .stdout_is("cli_args.wasm\none\ntwo words\n--flag\n\n");
}

#[test]
fn cli_env() {
    let env = [("AIO_TEST_FOO", "foo"), ("AIO_TEST_BAR", "bar")];
    aio_with(&["run", "--allow-env=AIO_TEST_FOO", CLI_ENV], &env)
        .status(0)
        .stdout_is("AIO_TEST_FOO=foo\n");
}

#[test]
fn cli_exit_code() {
    aio(&["run", CLI_EXIT_CODE, "--", "42"])
        .status(42)
        .stdout_is("exiting with 42")
        .stderr_lacks("aio: ");
}

#[test]
fn cli_main_error() {
    aio(&["run", CLI_MAIN_ERROR])
        .status(1)
        .stdout_is("about to fail\n")
        .stderr_has("deliberate failure from main")
        .stderr_lacks("aio: ");
}

#[test]
fn cli_net_denied() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let run = aio(&["run", CLI_NET_DENIED, "--", &port])
        .status(0)
        .stdout_has("tcp connect: refused (PermissionDenied)\n")
        .stdout_has("udp bind: refused (PermissionDenied)\n")
        .stdout_has("name lookup: refused");
    assert_eq!(run.stdout().lines().count(), 3, "{}", run.stdout());
    let accepted = listener.accept();
    assert!(
        accepted.is_err(),
        "the guest reached the listener: {accepted:?}"
    );
}

#[test]
fn cli_panic() {
    aio(&["run", CLI_PANIC])
        .status(134)
        .stdout_is("before the panic\n")
        .stderr_has("deliberate panic: the answer is 42")
        .error_line_has("the guest panicked");
}

#[test]
fn cli_print_no_newline() {
    aio(&["run", CLI_PRINT_NO_NEWLINE])
        .status(0)
        .stdout_is("no newline at the end")
        .stderr_has("nor here");
}

#[test]
fn cli_sleep_forever() {
    aio(&["run", "--timeout", "300ms", CLI_SLEEP_FOREVER])
        .status(124)
        .stdout_is("going to sleep\n")
        .error_line_has("timed out after 300ms")
        .within(Duration::from_secs(20));
}

#[test]
fn cli_busy_loop() {
    aio(&["run", "--timeout=300ms", CLI_BUSY_LOOP])
        .status(124)
        .stdout_is("spinning\n")
        .error_line_has("timed out after 300ms")
        .within(Duration::from_secs(20));
}

#[test]
fn cli_memory_hog() {
    aio(&["run", "--max-memory", "32MiB", CLI_MEMORY_HOG])
        .status(137)
        .error_line_has("memory limit exceeded")
        .stderr_has("the limit is 32 MiB");
}

#[test]
fn cli_trap() {
    aio(&["run", CLI_TRAP])
        .status(134)
        .stdout_is("about to read out of bounds\n")
        .error_line_has("the guest trapped: wasm trap: out of bounds memory access")
        .stderr_lacks("panicked");
}

#[test]
fn cli_stack_overflow() {
    aio(&["run", CLI_STACK_OVERFLOW])
        .status(134)
        .stdout_is("recursing\n")
        .error_line_has("the guest overflowed its stack")
        .stderr_lacks("out of bounds");
}

#[test]
fn cli_handle_limit() {
    let run = aio(&[
        "run",
        "--max-handles=200",
        "--timeout=30s",
        crate::util::LOOPBACK[0],
        crate::util::LOOPBACK[1],
        CLI_HANDLE_LIMIT,
    ])
    .status(153)
    .stdout_has("10 connections\n")
    .stdout_lacks("no limit hit")
    .error_line_has("handle limit exceeded: the guest wanted more than 200 live handles")
    .stderr_has("raise it with --max-handles")
    .within(Duration::from_secs(30));
    // Each connection holds several handles: it died well before 200.
    assert!(
        !run.stdout().contains("200 connections"),
        "{}",
        run.stdout()
    );
}

#[test]
fn cli_wasi_p2_command() {
    aio(&["run", CLI_WASI_P2_COMMAND, "--", "hello"])
        .status(0)
        .stdout_is("a WASI 0.2 command [\"hello\"]\n");
    // WASI 0.2's exit has no code: a failure is 1 (std's exit(7) too).
    aio(&["run", CLI_WASI_P2_COMMAND, "--", "7"])
        .status(1)
        .stdout_is("a WASI 0.2 command [\"7\"]\n");
    // The same limits as any guest.
    aio(&["run", "--max-memory=1MiB", CLI_WASI_P2_COMMAND])
        .status(137)
        .error_line_has("memory limit exceeded");
}

/// A WASI 0.2 command's sockets (wasmtime-wasi's) are under the same
/// grants: refused and audited without `--allow-net`, allowed with it.
#[test]
fn cli_wasi_p2_connect() {
    use std::io::{BufRead, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let log = scratch_dir("cli_wasi_p2_connect").join("audit.jsonl");
    aio(&[
        "run",
        "--audit-log",
        log.to_str().unwrap(),
        "--allow-net=127.0.0.1:9",
        CLI_WASI_P2_CONNECT,
        "--",
        &addr,
    ])
    .status(0)
    .stdout_is("refused: PermissionDenied\n");
    let audit = std::fs::read_to_string(&log).unwrap();
    assert!(
        audit.contains(&format!("\"target\":\"{addr}\",\"decision\":\"denied\"")),
        "{audit}"
    );
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(&conn).read_line(&mut line).unwrap();
        conn.write_all(b"pong\n").unwrap();
        line
    });
    aio(&[
        "run",
        &format!("--allow-net={addr}"),
        CLI_WASI_P2_CONNECT,
        "--",
        &addr,
    ])
    .status(0)
    .stdout_is("connected: pong\n");
    assert_eq!(server.join().unwrap(), "ping\n");
}

// ---- limits, grants and failures without a program of their own ----

#[test]
fn busy_loop_stopped_by_cpu_limit() {
    aio(&["run", "--max-cpu", "200ms", CLI_BUSY_LOOP])
        .status(152)
        .error_line_has("CPU limit exceeded: the guest used its 200ms of CPU time")
        .within(Duration::from_secs(20));
}

#[test]
fn idle_guest_uses_no_cpu() {
    aio(&[
        "run",
        "--max-cpu",
        "50ms",
        "--timeout",
        "500ms",
        CLI_SLEEP_FOREVER,
    ])
    .status(124)
    .error_line_has("timed out after 500ms");
}

#[test]
fn memory_within_limit_is_fine() {
    aio(&["run", "--max-memory", "64MiB", CLI_ARGS]).status(0);
}

#[test]
fn no_env_without_the_flag() {
    aio_with(&["run", CLI_ENV], &[("AIO_TEST_FOO", "foo")])
        .status(0)
        .stdout_is("");
}

#[test]
fn allow_env_without_names_passes_everything() {
    let env = [("AIO_TEST_FOO", "foo"), ("AIO_TEST_BAR", "bar")];
    aio_with(&["run", "--allow-env", CLI_ENV], &env)
        .status(0)
        .stdout_has("AIO_TEST_FOO=foo\n")
        .stdout_has("AIO_TEST_BAR=bar\n");
}

#[test]
fn allow_env_list_skips_unset_names() {
    let env = [("AIO_TEST_FOO", "foo"), ("AIO_TEST_BAR", "bar")];
    aio_with(
        &["run", "--allow-env=AIO_TEST_BAR,AIO_TEST_UNSET", CLI_ENV],
        &env,
    )
    .status(0)
    .stdout_is("AIO_TEST_BAR=bar\n");
}

#[test]
fn missing_file() {
    let dir = scratch_dir("missing_file");
    let path = dir.join("nope.wasm");
    aio(&["run", path.to_str().unwrap()])
        .status(127)
        .error_line_has("nope.wasm: no such file");
}

#[test]
fn garbage_is_not_a_component() {
    let dir = scratch_dir("garbage");
    let path = dir.join("garbage.wasm");
    std::fs::write(&path, b"#!/bin/sh\necho not wasm\n").unwrap();
    aio(&["run", path.to_str().unwrap()])
        .status(126)
        .error_line_has("garbage.wasm: not a component: it is not WebAssembly");
}

#[test]
fn core_module_is_not_a_component() {
    let dir = scratch_dir("core_module");
    let path = dir.join("core.wasm");
    // The smallest valid core module: magic and version 1.
    std::fs::write(&path, b"\0asm\x01\0\0\0").unwrap();
    aio(&["run", path.to_str().unwrap()])
        .status(126)
        .error_line_has("core.wasm: not a component: it is a core WebAssembly module");
}

#[test]
fn broken_component_is_not_a_component() {
    let dir = scratch_dir("broken_component");
    let path = dir.join("broken.wasm");
    let mut bytes = std::fs::read(CLI_ARGS).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&path, bytes).unwrap();
    aio(&["run", path.to_str().unwrap()])
        .status(126)
        .error_line_has("broken.wasm: invalid component");
}

#[test]
fn usage_errors_exit_2() {
    aio(&["run", "--timeout", "10x", CLI_ARGS])
        .status(2)
        .stderr_has("unknown duration unit `x`");
    aio(&["run", "--max-memory", "lots", CLI_ARGS])
        .status(2)
        .stderr_has("does not start with a number");
    aio(&["frobnicate"]).status(2);
}

#[test]
fn compile_fills_the_cache_and_run_uses_it() {
    let dir = scratch_dir("compile_cache");
    let cache = dir.join("cache");
    let cwasm = dir.join("args.cwasm");
    let env = [("AIO_CACHE_DIR", cache.to_str().unwrap())];

    aio_with(
        &["-v", "compile", CLI_ARGS, "-o", cwasm.to_str().unwrap()],
        &env,
    )
    .status(0)
    .stderr_has("cli_args.wasm: compiled; cached at");
    let cached: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(cached.len(), 1, "one artifact in the cache: {cached:?}");
    let modified = std::fs::metadata(&cached[0]).unwrap().modified().unwrap();

    aio_with(&["-v", "run", CLI_ARGS, "--", "again"], &env)
        .status(0)
        .stdout_is("cli_args.wasm\nagain\n")
        .stderr_has("cli_args.wasm: compiled code from the cache")
        .stderr_lacks("compiled;");
    assert_eq!(
        std::fs::metadata(&cached[0]).unwrap().modified().unwrap(),
        modified
    );

    // The .cwasm itself runs only when asked for, named after its own
    // file, and says that it runs precompiled code.
    aio_with(
        &[
            "run",
            "--allow-precompiled",
            cwasm.to_str().unwrap(),
            "--",
            "x",
        ],
        &env,
    )
    .status(0)
    .stdout_is("args.cwasm\nx\n")
    .stderr_has("args.cwasm: running precompiled machine code, unchecked (--allow-precompiled)");
}

#[test]
fn precompiled_code_runs_only_when_allowed() {
    let dir = scratch_dir("precompiled_refused");
    // An `aio compile` output posing as a component.
    let disguised = dir.join("app.wasm");
    aio(&["compile", CLI_ARGS, "-o", disguised.to_str().unwrap()]).status(0);
    let disguised = disguised.to_str().unwrap();
    for command in ["run", "inspect", "compile"] {
        aio(&[command, disguised])
            .status(126)
            .stdout_is("")
            .error_line_has("app.wasm: this is precompiled machine code")
            .stderr_has("pass --allow-precompiled if you made this file yourself");
    }
    // A real component runs as ever with the flag, with no notice.
    aio(&["run", "--allow-precompiled", CLI_ARGS])
        .status(0)
        .stdout_is("cli_args.wasm\n")
        .stderr_lacks("precompiled");
    aio(&["run", "--allow-precompiled", disguised])
        .status(0)
        .stdout_is("app.wasm\n")
        .stderr_has("running precompiled machine code");
}

#[test]
fn diagnostics_follow_aio_log() {
    let dir = scratch_dir("diagnostics");
    let cache = dir.join("cache");
    let cache_env = ("AIO_CACHE_DIR", cache.to_str().unwrap());
    // The compile cache's decisions: a miss and a store, then a hit.
    let debug = [cache_env, ("AIO_LOG", "aio_host::cache=debug")];
    aio_with(&["run", CLI_ARGS], &debug)
        .status(0)
        .stdout_is("cli_args.wasm\n")
        .stderr_has("aio: debug aio_host::cache: miss: ")
        .stderr_has("aio: debug aio_host::cache: stored: ")
        .stderr_lacks("aio_host::runner");
    aio_with(&["run", CLI_ARGS], &debug)
        .status(0)
        .stderr_has("aio: debug aio_host::cache: hit: ")
        .stderr_lacks("miss");
    // A run's life, in its span.
    aio_with(
        &["run", CLI_EXIT_CODE, "--", "7"],
        &[cache_env, ("AIO_LOG", "aio_host::runner=debug")],
    )
    .status(7)
    .stderr_has("run{program=cli_exit_code.wasm run=1}: starting")
    .stderr_has("run{program=cli_exit_code.wasm run=1}: exited with 7")
    .stderr_has("ended; its children are reaped");
    // Refusals show with -v, in their run's span (allowed uses only at
    // debug); without -v, nothing but the guest's own output.
    let refusal = "aio: run{program=net_not_granted.wasm run=1}: net.connect: denied 127.0.0.1:9 (allow it with --allow-net=127.0.0.1:9)";
    let args = ["run", "--allow-net=127.0.0.1:1", NET_NOT_GRANTED];
    aio_with(&[&["-v"], &args[..]].concat(), &[cache_env])
        .status(0)
        .stderr_has(refusal)
        .stderr_has("net.bind: denied 127.0.0.1:0");
    aio_with(&args, &[cache_env])
        .status(0)
        .stderr_lacks("aio: ");
    aio_with(
        &["run", "--allow-env=HOME", CLI_ENV],
        &[cache_env, ("AIO_LOG", "info,aio_host::audit=debug")],
    )
    .status(0)
    .stderr_has("aio: debug aio_host::audit: run{program=cli_env.wasm run=1}: env: passed HOME");
    // A filter that does not parse is reported, and the default used.
    aio_with(&["run", CLI_ARGS], &[cache_env, ("AIO_LOG", "aio_host=[")])
        .status(0)
        .stdout_is("cli_args.wasm\n")
        .stderr_has("aio: warning: AIO_LOG ignored: ")
        .stderr_lacks("aio: debug");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn package_writes_an_image_of_a_program_only() {
    let dir = scratch_dir("package");
    let image = dir.join("args.tar");
    let image_arg = image.to_str().unwrap();
    aio(&[
        "package",
        CLI_ARGS,
        "-o",
        image_arg,
        "--platform",
        "linux/arm64",
    ])
    .status(0)
    .stdout_has("(localhost/cli_args:latest, linux/arm64)");
    let tar = std::fs::read(&image).unwrap();
    // An OCI image layout: its marker file, its index naming the image.
    let has = |needle: &[u8]| tar.windows(needle.len()).any(|w| w == needle);
    assert!(has(b"oci-layout"));
    assert!(has(
        br#""io.containerd.image.name":"localhost/cli_args:latest""#
    ));
    // Not a program: refused as `aio run` refuses it, nothing written.
    let refused = dir.join("refused.tar");
    aio(&["package", PLUGIN_GREETER, "-o", refused.to_str().unwrap()])
        .status(125)
        .error_line_has("does not export wasi:cli/run");
    assert!(!refused.exists());
    aio(&["package", CLI_ARGS, "-o", image_arg, "--platform", "amd64"])
        .status(2)
        .stderr_has("is not OS/ARCH");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_cache_others_can_write_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch_dir("open_cache");
    let cache = dir.join("cache");
    std::fs::create_dir(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let env = [("AIO_CACHE_DIR", cache.to_str().unwrap())];
    for _ in 0..2 {
        let run = aio_with(&["-v", "run", CLI_ARGS], &env)
            .status(0)
            .stdout_is("cli_args.wasm\n")
            .stderr_has("compile cache disabled")
            .stderr_has("others can write to it (mode 777)")
            .stderr_has("compiled (not cached)");
        assert_eq!(run.stderr().matches("warning").count(), 1);
    }
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unusable_cache_warns_once_and_still_runs() {
    let dir = scratch_dir("unusable_cache");
    let file = dir.join("a-file");
    std::fs::write(&file, b"").unwrap();
    let not_a_dir = file.join("cache");
    let run = aio_with(
        &["run", CLI_ARGS],
        &[("AIO_CACHE_DIR", not_a_dir.to_str().unwrap())],
    )
    .status(0)
    .stdout_is("cli_args.wasm\n")
    .stderr_has("aio: warning: compile cache disabled");
    assert_eq!(run.stderr().matches("warning").count(), 1);
}

#[test]
fn shared_cache_dir_is_used() {
    // The other tests run with the shared cache: it must hold artifacts.
    aio(&["run", CLI_ARGS]).status(0);
    assert!(std::fs::read_dir(cache_dir()).unwrap().count() > 0);
}

#[test]
fn inspect_lists_imports_and_exports() {
    aio(&["inspect", CLI_ENV])
        .status(0)
        .stdout_has("imports:\n")
        .stdout_has("wasi:cli/environment@0.2")
        .stdout_has("environment: none unless --allow-env")
        .stdout_has("exports:\n")
        .stdout_has("wasi:cli/run@0.3.0");
    aio(&["-v", "inspect", CLI_ENV])
        .status(0)
        .stdout_has("      get-environment: func() -> list<tuple<string, string>>\n")
        .stdout_has("      run: async func() -> result\n");
    // Named types are written out (a compiled component keeps no names).
    aio(&["-v", "inspect", NET_ECHO])
        .status(0)
        .stdout_has(
            "      [method]tcp-socket.bind: func(self: borrow<resource>, local-address: variant { ipv4(record { port: u16, address: tuple<u8, u8, u8, u8> }), ipv6(",
        )
        .stdout_has(
            "      [static]tcp-socket.create: func(address-family: enum { ipv4, ipv6 }) -> result<own<resource>, variant { access-denied, ",
        )
        .stdout_has("other(option<string>) }>\n")
        .stdout_has("resolve-addresses: async func(name: string) -> result<list<variant {");
}

#[test]
fn inspect_works_on_what_run_refuses() {
    aio(&["inspect", CLI_WASI_P2_COMMAND])
        .status(0)
        .stdout_has("wasi:cli/run@0.2")
        .stdout_lacks("wasi:cli/run@0.3.0");
}

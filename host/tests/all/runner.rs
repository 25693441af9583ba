//! The embedding API in process: captured output, statuses, limits on a
//! shared `current_thread` runtime, repeated runs, load errors.

use crate::util::{describe, run, runtime};
use aio_host::{ErrorKind, Grants, Limits, RunOptions, Status, Stdio};
use std::time::{Duration, Instant};
use test_artifacts::*;

#[tokio::test]
async fn capture_keeps_output_of_a_failed_run() {
    let outcome = run(CLI_PANIC, RunOptions::new()).await;
    let err = outcome
        .error()
        .unwrap_or_else(|| panic!("{}", describe(&outcome)));
    assert_eq!(err.kind(), ErrorKind::Panic, "{}", describe(&outcome));
    assert_eq!(outcome.stdout(), b"before the panic\n");
    let stderr = String::from_utf8_lossy(outcome.stderr());
    assert!(
        stderr.contains("deliberate panic: the answer is 42"),
        "{stderr}"
    );
    assert!(err.detail().is_some_and(|bt| bt.contains("wasm backtrace")));
}

#[tokio::test]
async fn exit_codes() {
    let outcome = run(CLI_EXIT_CODE, RunOptions::new().arg("7")).await;
    assert!(
        matches!(outcome.status(), Status::Exited(7)),
        "{}",
        describe(&outcome)
    );
    assert_eq!(outcome.status().exit_status(), 7);
    let outcome = run(CLI_MAIN_ERROR, RunOptions::new()).await;
    assert_eq!(outcome.exit_code(), Some(1), "{}", describe(&outcome));
}

#[tokio::test]
async fn a_program_runs_many_times() {
    let program = runtime().load(CLI_ARGS).unwrap();
    for round in 0..5 {
        let outcome = program
            .run(
                RunOptions::new()
                    .arg(round.to_string())
                    .stdio(aio_host::Stdio::Capture),
            )
            .await;
        assert_eq!(outcome.exit_code(), Some(0), "{}", describe(&outcome));
        assert_eq!(
            outcome.stdout(),
            format!("cli_args.wasm\n{round}\n").as_bytes()
        );
    }
}

/// A busy guest yields every epoch tick, so on one `current_thread` runtime
/// another guest still finishes and the busy one's timeout still fires.
#[tokio::test(flavor = "current_thread")]
async fn busy_guest_does_not_starve_another() {
    let start = Instant::now();
    let busy = run(
        CLI_BUSY_LOOP,
        RunOptions::new().limits(Limits::new().timeout(Duration::from_millis(1500))),
    );
    let quick = async {
        let outcome = run(CLI_ARGS, RunOptions::new()).await;
        (outcome, start.elapsed())
    };
    let (busy, (quick, quick_done)) = tokio::join!(busy, quick);
    assert_eq!(
        busy.error().map(|e| e.kind()),
        Some(ErrorKind::Timeout),
        "{}",
        describe(&busy)
    );
    assert_eq!(quick.exit_code(), Some(0), "{}", describe(&quick));
    assert!(
        quick_done < Duration::from_millis(1500),
        "quick run took {quick_done:?}"
    );
}

#[tokio::test]
async fn cpu_limit_in_process() {
    let limits = Limits::new().max_cpu(Duration::from_millis(50));
    let outcome = run(CLI_BUSY_LOOP, RunOptions::new().limits(limits)).await;
    assert_eq!(
        outcome.error().map(|e| e.kind()),
        Some(ErrorKind::CpuLimit),
        "{}",
        describe(&outcome)
    );
    assert_eq!(outcome.status().exit_status(), 152);
}

#[tokio::test]
async fn memory_limit_in_process() {
    let limits = Limits::new().max_memory(16 << 20);
    let outcome = run(CLI_MEMORY_HOG, RunOptions::new().limits(limits)).await;
    assert_eq!(
        outcome.error().map(|e| e.kind()),
        Some(ErrorKind::MemoryLimit),
        "{}",
        describe(&outcome)
    );
}

#[tokio::test]
async fn handle_limit_too_small_to_start() {
    let limits = Limits::new().max_handles(0);
    let outcome = run(CLI_ARGS, RunOptions::new().limits(limits)).await;
    let message = outcome
        .error()
        .map(|e| e.message().to_owned())
        .unwrap_or_default();
    assert!(
        message.contains("handle limit exceeded"),
        "{}",
        describe(&outcome)
    );
}

#[tokio::test]
async fn env_grant_and_audit() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    // PATH is set in any test environment; the other name is not.
    let grants = Grants::new()
        .allow_env_vars(["PATH", "AIO_TEST_SURELY_UNSET"])
        .audit(move |event| log.lock().unwrap().push(event.to_string()));
    let outcome = run(CLI_ENV, RunOptions::new().grants(grants)).await;
    assert_eq!(outcome.exit_code(), Some(0), "{}", describe(&outcome));
    let stdout = String::from_utf8_lossy(outcome.stdout());
    assert!(
        stdout.starts_with("PATH=") && stdout.lines().count() == 1,
        "{stdout}"
    );
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "env: AIO_TEST_SURELY_UNSET is granted but not set on the host",
            "env: passed PATH"
        ]
    );
}

#[test]
fn load_errors_have_kinds() {
    let err = runtime().load("/definitely/not/here.wasm").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = runtime().load_bytes("junk", b"junk").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotAComponent);
    // A plugin has no run export; a WASI 0.2 command has one, and loads.
    let err = runtime().load(TEST_PLUGIN).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoRunExport);
    assert!(runtime().load(CLI_WASI_P2_COMMAND).is_ok());
}

#[test]
fn inspection_of_a_guest() {
    let inspection = runtime().inspect(CLI_ARGS).unwrap();
    assert!(inspection.has_p3_run());
    assert!(
        inspection
            .imports
            .iter()
            .any(|i| i.name.starts_with("wasi:cli/environment@"))
    );
}

/// Embedders may spawn runs on a multi-thread runtime.
#[expect(dead_code, reason = "a compile-time check")]
fn run_future_is_send(
    program: &aio_host::Program,
) -> impl Future<Output = aio_host::Outcome> + Send + '_ {
    program.run(RunOptions::new())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_on_a_multi_thread_runtime() {
    let program = runtime().load(CLI_ARGS).unwrap();
    let outcome = tokio::spawn(async move {
        program
            .run(
                RunOptions::new()
                    .arg("spawned")
                    .stdio(aio_host::Stdio::Capture),
            )
            .await
    })
    .await
    .unwrap();
    assert_eq!(
        outcome.stdout(),
        b"cli_args.wasm\nspawned\n",
        "{}",
        describe(&outcome)
    );
}

#[tokio::test]
async fn load_never_runs_precompiled_code() {
    let compiled = runtime().load(CLI_ARGS).unwrap().serialize().unwrap();
    let err = runtime()
        .load_bytes("app.wasm", &compiled)
        .expect_err("precompiled bytes are refused");
    assert_eq!(err.kind(), ErrorKind::Precompiled);
    assert!(
        err.message()
            .starts_with("app.wasm: this is precompiled machine code"),
        "{err}"
    );
    assert!(runtime().inspect(CLI_ARGS).is_ok());

    // Safety: these bytes are this runtime's own compilation, just made.
    let program = unsafe { runtime().load_precompiled_bytes("app.cwasm", &compiled) }.unwrap();
    assert_eq!(*program.loaded_from(), aio_host::LoadedFrom::Precompiled);
    let outcome = program.run(RunOptions::new().stdio(Stdio::Capture)).await;
    assert_eq!(outcome.exit_code(), Some(0), "{}", describe(&outcome));
    assert_eq!(outcome.stdout(), b"app.cwasm\n");
}

#[tokio::test]
async fn a_full_pool_refuses_clearly_and_frees_its_slot() {
    // A runtime of its own (the pool is the engine's): room for one guest.
    let runtime = aio_host::Runtime::builder()
        .pooling(aio_host::Pooling::new().instances(1).max_memory(64 << 20))
        .cache_dir(crate::util::cache_dir())
        .build()
        .expect("a pooled runtime");
    let sleeper = runtime.load(CLI_SLEEP_FOREVER).unwrap();
    let quick = runtime.load(CLI_ARGS).unwrap();
    let first = sleeper.run(
        RunOptions::new()
            .stdio(Stdio::Capture)
            .limits(Limits::new().timeout(Duration::from_millis(1500))),
    );
    let second = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        quick.run(RunOptions::new().stdio(Stdio::Capture)).await
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!(
        first.error().map(|e| e.kind()),
        Some(ErrorKind::Timeout),
        "{}",
        describe(&first)
    );
    let err = second
        .error()
        .unwrap_or_else(|| panic!("{}", describe(&second)));
    assert_eq!(
        err.kind(),
        ErrorKind::PoolExhausted,
        "{}",
        describe(&second)
    );
    assert!(err.message().contains("the instance pool is full"), "{err}");
    // The slot comes back when the run ends.
    let third = quick.run(RunOptions::new().stdio(Stdio::Capture)).await;
    assert_eq!(third.exit_code(), Some(0), "{}", describe(&third));
}

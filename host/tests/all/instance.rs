//! Plugins: real instances of tests/plugin on the real host (issue 11).

use crate::util::runtime;
use aio_host::plugin::{CallOptions, Instance, InstanceOptions, Plugin};
use aio_host::{AuditEvent, ErrorKind, Grants, Limits, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use test_artifacts::TEST_PLUGIN;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use wasmtime::component::Val;

fn plugin() -> Plugin {
    runtime()
        .load_plugin(TEST_PLUGIN)
        .expect("load the test plugin")
}

fn s(v: &str) -> Val {
    Val::String(v.into())
}

async fn instance(options: InstanceOptions) -> Instance {
    plugin().instantiate(options).await.expect("instantiate")
}

/// The one string a call returned.
fn string(vals: Vec<Val>) -> String {
    match vals.as_slice() {
        [Val::String(s)] => s.clone(),
        other => panic!("expected one string, got {other:?}"),
    }
}

fn u64_of(vals: Vec<Val>) -> u64 {
    match vals.as_slice() {
        [Val::U64(n)] => *n,
        other => panic!("expected one u64, got {other:?}"),
    }
}

async fn cleanups(i: &Instance) -> Vec<String> {
    match i.call("cleanups", &[]).await.unwrap().as_slice() {
        [Val::List(items)] => items
            .iter()
            .map(|v| match v {
                Val::String(s) => s.clone(),
                other => panic!("{other:?}"),
            })
            .collect(),
        other => panic!("{other:?}"),
    }
}

/// Polls `check` every 10 ms for up to `limit`.
async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[test]
fn an_instance_handle_is_send_sync_and_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<Instance>();
    check::<Plugin>();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_are_listed_and_found_by_short_and_full_names() {
    let p = plugin();
    let names: Vec<String> = p.exports().iter().map(|e| e.name()).collect();
    assert!(
        names.iter().any(|n| n == "aio-test:plugin/api.greet@0.1.0"),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.contains("aio:host/control")),
        "the SDK's control export is not the plugin's: {names:?}"
    );
    let i = p.instantiate(InstanceOptions::new()).await.unwrap();
    for name in ["greet", "api.greet", "aio-test:plugin/api.greet@0.1.0"] {
        let out = string(i.call(name, &[s("x")]).await.unwrap());
        assert_eq!(out, "hello, x! (task api.greet)", "{name}");
    }
    let e = i.call("nope", &[]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSuchExport, "{e}");
    let e = i.call("greet", &[Val::U32(1)]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadArguments, "{e}");
    assert!(e.to_string().contains("name: string"), "{e}");
    let e = i.call("greet", &[]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadArguments, "{e}");
    // Refused calls did not hurt the instance.
    assert_eq!(u64_of(i.call("calls", &[]).await.unwrap()), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_calls_in_flight_on_one_instance_all_get_their_own_result() {
    let i = instance(InstanceOptions::new()).await;
    let t0 = Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for n in 0..1000u32 {
        let i = i.clone();
        calls.spawn(async move {
            let v = format!("v{n}");
            let out = i.call("sleep", &[Val::U32(50 + n % 50), s(&v)]).await;
            (v, out)
        });
    }
    let mut done = 0;
    while let Some(joined) = calls.join_next().await {
        let (want, got) = joined.unwrap();
        assert_eq!(string(got.unwrap()), want);
        done += 1;
    }
    assert_eq!(done, 1000);
    // Concurrent: 1000 sleeps of 50-100 ms take nowhere near 1000 x 50 ms.
    assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
    assert_eq!(u64_of(i.call("calls", &[]).await.unwrap()), 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_background_task_started_by_one_call_is_seen_by_later_calls() {
    let i = instance(InstanceOptions::new()).await;
    i.call("start-ticker", &[Val::U32(5)]).await.unwrap();
    let i2 = i.clone();
    let ticked = eventually(Duration::from_secs(10), || {
        let i = i2.clone();
        async move { u64_of(i.call("ticks", &[]).await.unwrap()) >= 5 }
    })
    .await;
    assert!(ticked, "the ticker did not run on after its call returned");
    let dump = i.task_dump().await.unwrap();
    assert!(dump.contains("'ticker'"), "{dump}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_dropped_by_the_host_runs_its_cleanup_and_the_instance_serves_on() {
    let i = instance(InstanceOptions::new()).await;
    let i2 = i.clone();
    let call =
        tokio::spawn(async move { i2.call("sleep", &[Val::U32(60_000), s("dropped")]).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    call.abort();
    let i3 = i.clone();
    let cleaned = eventually(Duration::from_secs(10), || {
        let i = i3.clone();
        async move { cleanups(&i).await.contains(&"dropped cancelled".to_owned()) }
    })
    .await;
    assert!(cleaned, "the guest's cleanup did not run");
    assert_eq!(
        string(i.call("greet", &[s("after")]).await.unwrap()),
        "hello, after! (task api.greet)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_call_timeout_cancels_the_guest_and_fails_after_its_cleanup() {
    let i = instance(InstanceOptions::new()).await;
    let t0 = Instant::now();
    let e = i
        .call_with(
            "sleep",
            &[Val::U32(60_000), s("late")],
            CallOptions::new().timeout(Duration::from_millis(100)),
        )
        .await
        .unwrap_err();
    let took = t0.elapsed();
    assert_eq!(e.kind(), ErrorKind::CallTimeout, "{e}");
    assert!(e.to_string().contains("timed out after"), "{e}");
    // The cleanup (a 20 ms sleep) finished before the caller got the error.
    assert!(took >= Duration::from_millis(120), "{took:?}");
    assert_eq!(cleanups(&i).await, ["late cancelled"]);
    // The instance-wide default applies to calls that set none.
    let j = instance(InstanceOptions::new().call_timeout(Duration::from_millis(50))).await;
    let e = j
        .call("sleep", &[Val::U32(60_000), s("x")])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CallTimeout, "{e}");
    assert_eq!(
        string(j.call("sleep", &[Val::U32(1), s("quick")]).await.unwrap()),
        "quick"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_ends_only_its_instance_and_every_call_of_it_gets_the_same_error() {
    let a = instance(InstanceOptions::new().stdio(Stdio::Capture)).await;
    let b = instance(InstanceOptions::new()).await;
    let a2 = a.clone();
    let in_flight =
        tokio::spawn(async move { a2.call("sleep", &[Val::U32(60_000), s("x")]).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let e = a.call("panic", &[]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Panic, "{e}");
    assert!(e.to_string().contains("the guest panicked"), "{e}");
    let stderr = String::from_utf8_lossy(&a.stderr()).into_owned();
    assert!(stderr.contains("the plugin was asked to panic"), "{stderr}");
    let e2 = in_flight.await.unwrap().unwrap_err();
    assert_eq!(e2.to_string(), e.to_string());
    let e3 = a.call("calls", &[]).await.unwrap_err();
    assert_eq!(e3.to_string(), e.to_string());
    assert_eq!(a.error().map(|e| e.to_string()), Some(e.to_string()));
    // The other instance does not notice.
    assert_eq!(
        string(b.call("greet", &[s("b")]).await.unwrap()),
        "hello, b! (task api.greet)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_are_per_instance_and_a_refusal_is_audited() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        for _ in 0..4 {
            let Ok((conn, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let (r, mut w) = conn.into_split();
                let mut line = String::new();
                let _ = BufReader::new(r).read_line(&mut line).await;
                let _ = w.write_all(format!("echo {line}").as_bytes()).await;
            });
        }
    });
    let addr = format!("127.0.0.1:{port}");
    let granted =
        instance(InstanceOptions::new().grants(Grants::new().allow_net([addr.clone()]).unwrap()))
            .await;
    let log: Arc<Mutex<Vec<AuditEvent>>> = Arc::default();
    let log2 = log.clone();
    // (Granted another port: a refusal next to a grant.)
    let refused = instance(
        InstanceOptions::new().grants(
            Grants::new()
                .allow_net(["127.0.0.1:1"])
                .unwrap()
                .audit(move |e| log2.lock().unwrap().push(e.clone())),
        ),
    )
    .await;
    let args = [s(&addr), s("hi")];
    let ok = granted.call("echo", &args).await.unwrap();
    assert!(
        matches!(ok.as_slice(), [Val::Result(Ok(Some(v)))] if **v == s("echo hi")),
        "{ok:?}"
    );
    let denied = refused.call("echo", &args).await.unwrap();
    let [Val::Result(Err(Some(why)))] = denied.as_slice() else {
        panic!("expected a refusal, got {denied:?}");
    };
    let Val::String(why) = &**why else {
        panic!("{why:?}")
    };
    assert!(
        why.contains("not granted") || why.contains("denied"),
        "{why}"
    );
    let events = log.lock().unwrap().clone();
    let refusal = events
        .iter()
        .map(|e| e.capability_use())
        .find(|u| u.target.contains(&port.to_string()))
        .unwrap_or_else(|| panic!("no audit line for the refusal: {events:?}"));
    assert!(
        !matches!(refusal.decision, aio_host::audit::Decision::Allowed),
        "{refusal:?}"
    );
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_and_cpu_limits_are_per_instance() {
    let small = instance(InstanceOptions::new().limits(Limits::new().max_memory(24 << 20))).await;
    let other = instance(InstanceOptions::new()).await;
    let e = small.call("grow", &[Val::U32(64)]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MemoryLimit, "{e}");
    assert!(matches!(
        other
            .call("grow", &[Val::U32(64)])
            .await
            .unwrap()
            .as_slice(),
        [Val::U32(64)]
    ));

    let busy =
        instance(InstanceOptions::new().limits(Limits::new().max_cpu(Duration::from_millis(300))))
            .await;
    let t0 = Instant::now();
    let e = tokio::time::timeout(Duration::from_secs(30), busy.call("spin", &[]))
        .await
        .expect("the CPU limit ends a spinning instance")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CpuLimit, "{e}");
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    assert_eq!(
        string(other.call("greet", &[s("o")]).await.unwrap()),
        "hello, o! (task api.greet)"
    );
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Set in the child process that runs the leak check alone.
const LEAK_CHECK_CHILD: &str = "AIO_TEST_LEAK_CHECK_CHILD";

/// 10,000 instances made, called once and dropped, one after another: no
/// descriptor is left behind, and RSS grows by less than 64 MiB after the
/// first 500 (what allocators and caches settle at).
///
/// Descriptors and RSS are per process, and the other tests of this binary
/// run in parallel (sockets, pipes), so the check runs in a child process
/// of this test binary that runs this one test only.
#[test]
fn ten_thousand_create_call_drop_cycles_leak_neither_descriptors_nor_memory() {
    if std::env::var_os(LEAK_CHECK_CHILD).is_some() {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(leak_check());
        return;
    }
    let name = "instance::ten_thousand_create_call_drop_cycles_leak_neither_descriptors_nor_memory";
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(LEAK_CHECK_CHILD, "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("start the leak check's process");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(300) {
            let _ = child.kill();
            panic!("the leak check ran for more than 300 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    // The child ran exactly this test, and it passed.
    assert!(
        status.success() && out.contains("1 passed"),
        "{status}\n{out}"
    );
}

async fn leak_check() {
    let p = plugin();
    let cycle = || async {
        let i = p.instantiate(InstanceOptions::new()).await.unwrap();
        let out = i.call("calls", &[]).await.unwrap();
        assert_eq!(u64_of(out), 0);
        i.close().await;
    };
    for _ in 0..500 {
        cycle().await;
    }
    let (fds, rss) = (open_fds(), rss_kib());
    let t0 = Instant::now();
    for _ in 500..10_000 {
        cycle().await;
    }
    let (fds_after, rss_after) = (open_fds(), rss_kib());
    assert!(fds_after <= fds + 2, "descriptors: {fds} -> {fds_after}");
    assert!(
        rss_after < rss + 64 * 1024,
        "RSS {rss} KiB -> {rss_after} KiB over 9,500 cycles ({:?})",
        t0.elapsed()
    );
}

/// `aio call`: one export, arguments and result in WAVE, statuses as `aio run`.
#[test]
fn aio_call_with_good_and_bad_input() {
    use crate::util::aio;
    aio(&["call", TEST_PLUGIN, r#"greet("world")"#])
        .status(0)
        .stdout_is("\"hello, world! (task api.greet)\"\n");
    aio(&["call", TEST_PLUGIN, r#"await api.sleep(5, "done")"#])
        .status(0)
        .stdout_is("\"done\"\n");
    aio(&["call", TEST_PLUGIN, "greet(1)"])
        .status(2)
        .stderr_has("expected aio-test:plugin/api.greet@0.1.0: async func(name: string) -> string");
    aio(&["call", TEST_PLUGIN, r#"greet("a"#])
        .status(2)
        .stderr_has("not a call in WAVE syntax");
    aio(&["call", TEST_PLUGIN, "nope()"])
        .status(125)
        .stderr_has("no export function `nope`");
    aio(&[
        "call",
        TEST_PLUGIN,
        r#"sleep(60000, "x")"#,
        "--call-timeout",
        "100ms",
    ])
    .status(124)
    .stderr_has("the call timed out after 100ms");
    aio(&["call", TEST_PLUGIN, r#"echo("127.0.0.1:9", "x")"#])
        .status(0)
        .stdout_has("err(\"permission denied: connect to 127.0.0.1:9 refused: run with --allow-net=127.0.0.1:9\")");
    aio(&["call", TEST_PLUGIN, "spin()", "--max-cpu", "200ms"])
        .status(152)
        .stderr_has("CPU limit exceeded");
}

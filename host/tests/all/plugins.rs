//! Spikes for plugins (docs/design-plugins.md §6; results in §7): the
//! plugin crates under spike/ are built by a nested `cargo build` (so these
//! tests are `#[ignore]`d: run them with `--ignored plugins::`) and driven
//! here with plain wasmtime, not through aio-host's API, which has no
//! plugins yet.
//!
//! - S3: a plugin linking today's asyncio (whose bindings' world exports
//!   `wasi:cli/run`) links, exporting only its own interface.
//! - S1: an export call wakes another (a different component-model task)
//!   with wit-bindgen's `inter-task-wakeup`; without it the waiter traps. A
//!   driver spawned by `start` lives on after it returned and serves later
//!   calls, across `run_concurrent`s.
//! - S2: a sync import with store access finds the export call that made
//!   it with `async_call_stack().last()`, and hands it a future the host
//!   resolves later (the design's `calls.enter`).
//! - Dropping a `call_concurrent` future cancels nothing (§0.2).
//! - S6: the §4 actor (store moved into a `tokio::spawn`ed task, one
//!   `run_concurrent`, an `Accessor::spawn` per call) compiles and serves.
//! - S4: a plugin crate generates its bindings through asyncio's re-export
//!   of wit-bindgen, mapping WASI onto asyncio's bindings.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use wasmtime::component::{
    Access, Accessor, AccessorTask, Component, FutureReader, GuestTaskId, HasData, Linker,
    ResourceTable, TypedFunc,
};
use wasmtime::{AsContextMut, Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

mod wake {
    wasmtime::component::bindgen!({
        path: "../spike/plugin-wake/wit",
        world: "spike:wake/plugin",
        with: { "wasi": wasmtime_wasi::p3::bindings },
        imports: {
            "spike:wake/calls.whoami": store | trappable,
            "spike:wake/calls.enter": store | trappable,
            default: trappable,
        },
        exports: { default: async | store },
    });
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ is in the workspace")
        .to_path_buf()
}

/// One nested build at a time: variants of one package share an output file.
static BUILD: Mutex<()> = Mutex::new(());

/// Builds spike package `package` (with `cargo_args`) for wasm32-wasip2 and
/// returns a copy of its component at `copy_as`, or cargo's stderr.
fn build_spike(package: &str, cargo_args: &[&str], copy_as: &str) -> Result<PathBuf, String> {
    let _one = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let target_dir = workspace().join("target/wasm");
    let out = Command::new(env!("CARGO"))
        .current_dir(workspace())
        .args(["build", "--target", "wasm32-wasip2", "--profile", "guest"])
        .arg("--target-dir")
        .arg(&target_dir)
        .args(["--package", package])
        .args(cargo_args)
        .output()
        .expect("run cargo");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let built = target_dir
        .join("wasm32-wasip2/guest")
        .join(format!("{}.wasm", package.replace('-', "_")));
    let copy = target_dir.join(format!("{copy_as}.wasm"));
    std::fs::copy(&built, &copy).unwrap_or_else(|e| panic!("copy {}: {e}", built.display()));
    Ok(copy)
}

#[test]
#[ignore = "spike: nested cargo build"]
fn s3_a_plugin_linking_todays_asyncio_exports_only_its_interface() {
    // asyncio's bindings use `pub_export_macro`, so the component-type
    // section they link into every guest describes imports only; the
    // `wasi:cli/run` export is described by the section `export!` emits,
    // which only `#[asyncio::main]` expands.
    let wasm = build_spike("spike-plugin-run", &[], "spike-plugin-run").unwrap();
    let engine = Engine::default();
    let component = Component::from_file(&engine, &wasm).unwrap();
    let ty = component.component_type();
    let exports: Vec<&str> = ty.exports(&engine).map(|(name, _)| name).collect();
    assert_eq!(exports, ["acme:greeter/greeter@0.1.0"]);
    // It really links asyncio's bindings: it imports their monotonic clock.
    assert!(
        ty.imports(&engine)
            .any(|(name, _)| name == "wasi:clocks/monotonic-clock@0.3.0")
    );
}

#[test]
#[ignore = "spike: nested cargo build"]
fn s4_a_plugin_generates_through_asyncio_reusing_its_wasi_bindings() {
    // The crate has no wit-bindgen dependency: if any generated path ignored
    // `runtime_path`, or a `with` path or type did not match asyncio's
    // bindings, it would not compile.
    let wasm = build_spike("spike-plugin-with", &[], "spike-plugin-with").unwrap();
    let engine = Engine::default();
    let component = Component::from_file(&engine, &wasm).unwrap();
    let ty = component.component_type();
    let exports: Vec<&str> = ty.exports(&engine).map(|(name, _)| name).collect();
    assert_eq!(exports, ["acme:hello/greeter@0.1.0"]);
    assert!(
        ty.imports(&engine)
            .any(|(name, _)| name == "acme:hello/host-api@0.1.0")
    );
}

/// Store data: WASI, and the labels of the export calls the test made.
struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    labels: HashMap<GuestTaskId, u64>,
    /// The label `whoami` answered, call after call.
    seen: Vec<u64>,
    /// What `enter` resolves to, by export call.
    enters: HashMap<GuestTaskId, tokio::sync::oneshot::Receiver<u32>>,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The `spike:wake/calls` import.
struct Calls;

impl HasData for Calls {
    type Data<'a> = &'a mut State;
}

impl wake::spike::wake::calls::Host for &mut State {}

impl<T> wake::spike::wake::calls::HostWithStore<T> for Calls {
    fn whoami(mut store: Access<'_, T, Self>) -> wasmtime::Result<u64> {
        let root = store.as_context_mut().async_call_stack()?.last();
        let state = store.get();
        let label = root
            .and_then(|task| state.labels.get(&task).copied())
            .unwrap_or(u64::MAX);
        state.seen.push(label);
        Ok(label)
    }

    fn enter(mut store: Access<'_, T, Self>) -> wasmtime::Result<FutureReader<u32>> {
        let root = store.as_context_mut().async_call_stack()?.last();
        let rx = root.and_then(|task| store.get().enters.remove(&task));
        FutureReader::new(&mut store, async move {
            match rx {
                Some(rx) => wasmtime::error::Ok(rx.await.unwrap_or(u32::MAX)),
                None => Ok(u32::MAX),
            }
        })
    }
}

/// What `wait` and `set` returned, or the error of the run.
type Waited = wasmtime::Result<((u64, u64), u64)>;

/// A store and an instance of the `spike:wake/plugin` component `wasm`.
async fn instantiate(wasm: &Path) -> wasmtime::Result<(Store<State>, wake::Plugin)> {
    let mut config = Config::new();
    config.wasm_component_model_async(true);
    let engine = Engine::new(&config)?;
    let component = Component::from_file(&engine, wasm)?;
    let mut linker = Linker::<State>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi::p3::add_to_linker(&mut linker)?;
    wake::spike::wake::calls::add_to_linker::<_, Calls>(&mut linker, |s| s)?;
    let state = State {
        wasi: WasiCtx::builder().inherit_stderr().build(),
        table: ResourceTable::new(),
        labels: HashMap::new(),
        enters: HashMap::new(),
        seen: Vec::new(),
    };
    let mut store = Store::new(&engine, state);
    let pre = wake::PluginPre::new(linker.instantiate_pre(&component)?)?;
    let plugin = pre.instantiate_async(&mut store).await?;
    Ok((store, plugin))
}

/// Instantiates the plugin, starts `wait` (label 1), checks it is still
/// pending after 100 ms, then calls `set` (label 2) and awaits both.
async fn wait_then_set(wasm: &Path) -> Waited {
    let (mut store, plugin) = instantiate(wasm).await?;
    let wait: TypedFunc<(), ((u64, u64),)> = plugin.spike_wake_flag().func_wait();
    let set: TypedFunc<(), (u64,)> = plugin.spike_wake_flag().func_set();
    store
        .run_concurrent(async move |acc| {
            let wait_call = acc.with(|mut s| {
                let call = wait.start_call_concurrent(&mut s, ())?;
                s.data_mut().labels.insert(call.task(), 1);
                wasmtime::error::Ok(call)
            })?;
            let mut waiting = std::pin::pin!(wait.finish_call_concurrent(acc, wait_call));
            tokio::select! {
                r = &mut waiting => {
                    r?;
                    panic!("wait returned before set was called");
                }
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
            let set_call = acc.with(|mut s| {
                let call = set.start_call_concurrent(&mut s, ())?;
                s.data_mut().labels.insert(call.task(), 2);
                wasmtime::error::Ok(call)
            })?;
            let (set_me,) = set.finish_call_concurrent(acc, set_call).await?;
            let ((before, after),) = tokio::time::timeout(Duration::from_secs(5), waiting)
                .await
                .expect("wait did not return within 5 s of set")?;
            wasmtime::error::Ok(((before, after), set_me))
        })
        .await?
}

#[tokio::test]
#[ignore = "spike: nested cargo build"]
async fn s1_s2_an_export_call_wakes_another() {
    let wasm = build_spike("spike-plugin-wake", &[], "spike-plugin-wake").unwrap();
    let ((before, after), set_me) = wait_then_set(&wasm).await.unwrap();
    // S1: `wait` returned after `set`. S2: each import call was traced to
    // the export call that made it, before and after the cross-task wake.
    assert_eq!((before, after, set_me), (1, 1, 2));
}

#[tokio::test]
#[ignore = "spike: nested cargo build"]
async fn s1_without_inter_task_wakeup_the_waiter_traps() {
    let wasm = build_spike(
        "spike-plugin-wake",
        &["--no-default-features"],
        "spike-plugin-wake-no-itw",
    )
    .unwrap();
    let err = wait_then_set(&wasm)
        .await
        .expect_err("wait slept without inter-task-wakeup");
    let chain = format!("{err:?}");
    assert!(
        chain.contains("wasm `unreachable` instruction executed")
            && chain.contains("[callback][async-lift]spike:wake/flag@0.1.0#wait"),
        "{chain}"
    );
}

#[tokio::test]
#[ignore = "spike: nested cargo build"]
async fn s1_a_driver_spawned_by_one_call_serves_later_calls() {
    let wasm = build_spike("spike-plugin-wake", &[], "spike-plugin-wake").unwrap();
    let (mut store, plugin) = instantiate(&wasm).await.unwrap();
    let driver = plugin.spike_wake_driver();
    // `start` returns while the driver it spawned lives on in its task, and
    // `run_concurrent` returns with its closure, the driver still pending.
    store
        .run_concurrent(async |acc| {
            let start = driver.func_start();
            let call = acc.with(|mut s| {
                let call = start.start_call_concurrent(&mut s, ())?;
                s.data_mut().labels.insert(call.task(), 3);
                wasmtime::error::Ok(call)
            })?;
            let started = tokio::time::timeout(
                Duration::from_secs(5),
                start.finish_call_concurrent(acc, call),
            );
            started.await.expect("start did not return within 5 s")?;
            let asked = tokio::time::timeout(Duration::from_secs(5), async {
                tokio::try_join!(driver.call_ask(acc, 20), driver.call_ask(acc, 1))
            });
            let answers = asked.await.expect("ask did not return within 5 s")?;
            // The driver's import calls are `start`'s (label 3), whichever
            // call's work it does.
            assert_eq!(answers, ((40, 3), (2, 3)));
            wasmtime::error::Ok(())
        })
        .await
        .unwrap()
        .unwrap();
    // A later `run_concurrent` resumes the same driver.
    let answer = store
        .run_concurrent(async |acc| {
            let asked = tokio::time::timeout(Duration::from_secs(5), driver.call_ask(acc, 7));
            asked
                .await
                .expect("the later ask did not return within 5 s")
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer, (14, 3));
}

#[tokio::test]
#[ignore = "spike: nested cargo build"]
async fn s2_a_sync_import_gives_its_export_call_a_future_resolved_later() {
    let wasm = build_spike("spike-plugin-wake", &[], "spike-plugin-wake").unwrap();
    let (mut store, plugin) = instantiate(&wasm).await.unwrap();
    let entered = plugin.spike_wake_flag().func_entered();
    let result = store
        .run_concurrent(async |acc| {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let call = acc.with(|mut s| {
                let call = entered.start_call_concurrent(&mut s, ())?;
                s.data_mut().labels.insert(call.task(), 6);
                s.data_mut().enters.insert(call.task(), rx);
                wasmtime::error::Ok(call)
            })?;
            let mut call = std::pin::pin!(entered.finish_call_concurrent(acc, call));
            tokio::select! {
                r = &mut call => {
                    r?;
                    panic!("entered returned before its future was resolved");
                }
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
            assert!(
                acc.with(|mut s| s.data_mut().enters.is_empty()),
                "enter did not find its call"
            );
            tx.send(7).unwrap();
            let (r,) = tokio::time::timeout(Duration::from_secs(5), call)
                .await
                .expect("entered did not return within 5 s of the resolution")?;
            wasmtime::error::Ok(r)
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(result, (6, 7));
}

#[tokio::test]
#[ignore = "spike: nested cargo build"]
async fn dropping_a_call_future_cancels_nothing() {
    // design-plugins.md §0.2: the guest task of a dropped `call_concurrent`
    // runs on, and its late return does not fail the store.
    let wasm = build_spike("spike-plugin-wake", &[], "spike-plugin-wake").unwrap();
    let (mut store, plugin) = instantiate(&wasm).await.unwrap();
    let wait = plugin.spike_wake_flag().func_wait();
    let set = plugin.spike_wake_flag().func_set();
    store
        .run_concurrent(async |acc| {
            let call = acc.with(|mut s| {
                let call = wait.start_call_concurrent(&mut s, ())?;
                s.data_mut().labels.insert(call.task(), 1);
                wasmtime::error::Ok(call)
            })?;
            let waiting = wait.finish_call_concurrent(acc, call);
            let r = tokio::time::timeout(Duration::from_millis(100), waiting).await;
            assert!(r.is_err(), "wait returned before set: {r:?}");
            let call = acc.with(|mut s| {
                let call = set.start_call_concurrent(&mut s, ())?;
                s.data_mut().labels.insert(call.task(), 2);
                wasmtime::error::Ok(call)
            })?;
            set.finish_call_concurrent(acc, call).await?;
            tokio::time::sleep(Duration::from_millis(100)).await;
            wasmtime::error::Ok(())
        })
        .await
        .unwrap()
        .unwrap();
    // `wait` asked whoami once more after `set` woke it: it was not cancelled.
    assert_eq!(store.data().seen, [1, 2, 1]);
    // And the instance still serves calls. The new call's task id is the
    // finished `wait`'s (ids are table slots, reused once a task is gone),
    // so its stale label 1 answers: host maps keyed by task must drop an
    // entry when its task ends.
    let again = store
        .run_concurrent(async |acc| set.call_concurrent(acc, ()).await)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again, (1,));
}

/// One `ask` call, spawned on the actor's `run_concurrent`.
struct AskTask {
    ask: TypedFunc<(u32,), ((u32, u64),)>,
    n: u32,
    reply: tokio::sync::oneshot::Sender<wasmtime::Result<u32>>,
}

impl AccessorTask<State> for AskTask {
    async fn run(self, acc: &Accessor<State>) -> wasmtime::Result<()> {
        let answer = self.ask.call_concurrent(acc, (self.n,)).await;
        let _ = self.reply.send(answer.map(|((doubled, _),)| doubled));
        Ok(())
    }
}

type Ask = (u32, tokio::sync::oneshot::Sender<wasmtime::Result<u32>>);

/// The design's actor (§4) in miniature: owns the store, keeps one
/// `run_concurrent` for the instance's life, spawns a task per call.
async fn actor(
    mut store: Store<State>,
    plugin: wake::Plugin,
    mut calls: tokio::sync::mpsc::UnboundedReceiver<Ask>,
) -> wasmtime::Result<()> {
    let start = plugin.spike_wake_driver().func_start();
    let ask = plugin.spike_wake_driver().func_ask();
    store
        .run_concurrent(async move |acc| {
            start.call_concurrent(acc, ()).await?;
            while let Some((n, reply)) = calls.recv().await {
                acc.spawn(AskTask { ask, n, reply })?;
            }
            wasmtime::error::Ok(())
        })
        .await?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "spike: nested cargo build"]
async fn s6_an_actor_on_a_tokio_task_serves_concurrent_calls() {
    let wasm = build_spike("spike-plugin-wake", &[], "spike-plugin-wake").unwrap();
    let (store, plugin) = instantiate(&wasm).await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    // The point of S6: this compiles (the store and the actor are Send).
    let actor = tokio::spawn(actor(store, plugin, rx));
    let began = std::time::Instant::now();
    let replies: Vec<_> = (0..1000)
        .map(|n| {
            let (reply, answer) = tokio::sync::oneshot::channel();
            tx.send((n, reply)).unwrap();
            answer
        })
        .collect();
    for (n, answer) in (0..).zip(replies) {
        let answer = tokio::time::timeout(Duration::from_secs(10), answer)
            .await
            .expect("no answer within 10 s")
            .expect("the actor dropped the call");
        assert_eq!(answer.unwrap(), 2 * n);
    }
    eprintln!(
        "1000 concurrent asks through the driver: {:?}",
        began.elapsed()
    );
    drop(tx);
    actor.await.unwrap().unwrap();
}

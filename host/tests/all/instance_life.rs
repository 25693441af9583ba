//! Plugins: how an instance ends (close, wall-clock limit, its tokio
//! runtime), typed calls through `bind`, and repeated cancellations on one
//! instance (its call slots are removed, so task-id reuse is harmless).

use crate::util::runtime;
use aio_host::plugin::{CallOptions, CancelToken, Instance, InstanceOptions};
use aio_host::{ErrorKind, Limits};
use std::time::{Duration, Instant};
use test_artifacts::TEST_PLUGIN;
use wasmtime::component::{TypedFunc, Val};

async fn instance(options: InstanceOptions) -> Instance {
    runtime()
        .load_plugin(TEST_PLUGIN)
        .expect("load the test plugin")
        .instantiate(options)
        .await
        .expect("instantiate")
}

fn sleep_args(ms: u32, value: &str) -> [Val; 2] {
    [Val::U32(ms), Val::String(value.into())]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_fails_calls_in_flight_and_later_for_every_handle() {
    let i = instance(InstanceOptions::new()).await;
    let other = i.clone();
    let in_flight =
        tokio::spawn(async move { other.call("sleep", &sleep_args(60_000, "x")).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    tokio::time::timeout(Duration::from_secs(10), i.close())
        .await
        .expect("close did not finish within 10 s");
    let e = in_flight.await.unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed, "{e}");
    assert!(e.to_string().contains("the instance was closed"), "{e}");
    let later = i.call("calls", &[]).await.unwrap_err();
    assert_eq!(later.to_string(), e.to_string());
    // Closing again only waits.
    tokio::time::timeout(Duration::from_secs(5), i.close())
        .await
        .expect("a second close hung");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wall_clock_limit_ends_the_instance_with_a_timeout() {
    let i =
        instance(InstanceOptions::new().limits(Limits::new().timeout(Duration::from_millis(300))))
            .await;
    // Calls work while it lives.
    assert_eq!(i.call("calls", &[]).await.unwrap().len(), 1);
    let t0 = Instant::now();
    let e = tokio::time::timeout(
        Duration::from_secs(10),
        i.call("sleep", &sleep_args(60_000, "x")),
    )
    .await
    .expect("the instance outlived its wall-clock limit by 10 s")
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert_eq!(e.to_string(), "timed out after 300ms");
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert_eq!(
        i.call("calls", &[]).await.unwrap_err().to_string(),
        e.to_string()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_calls_through_bind_return_and_time_out() {
    let i = instance(InstanceOptions::new()).await;
    let (greet, sleep) = i
        .bind(|mut store, instance| {
            let api = instance
                .get_export_index(&mut store, None, "aio-test:plugin/api@0.1.0")
                .ok_or_else(|| wasmtime::format_err!("no api"))?;
            let func = |store: &mut wasmtime::StoreContextMut<'_, _>, name| {
                instance
                    .get_export_index(&mut *store, Some(&api), name)
                    .ok_or_else(|| wasmtime::format_err!("no {name}"))
            };
            let greet = func(&mut store, "greet")?;
            let sleep = func(&mut store, "sleep")?;
            let greet: TypedFunc<(String,), (String,)> =
                instance.get_typed_func(&mut store, greet)?;
            let sleep: TypedFunc<(u32, String), (String,)> =
                instance.get_typed_func(&mut store, sleep)?;
            Ok((greet, sleep))
        })
        .await
        .expect("bind");
    let (out,) = i.call_typed(greet, ("typed".to_string(),)).await.unwrap();
    assert_eq!(out, "hello, typed! (task api.greet)");
    let e = i
        .call_typed_with(
            sleep,
            (60_000, "typed-late".to_string()),
            CallOptions::new().timeout(Duration::from_millis(50)),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CallTimeout, "{e}");
    // A function bound on another instance is refused; both serve on.
    let other = instance(InstanceOptions::new()).await;
    let e = other
        .call_typed(greet, ("wrong".to_string(),))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadArguments, "{e}");
    assert!(e.to_string().contains("bound on another instance"), "{e}");
    assert!(other.call("calls", &[]).await.is_ok());
    assert!(i.call_typed(greet, ("again".to_string(),)).await.is_ok());
    // A binding that does not fit the plugin fails with NoSuchExport.
    let e = i
        .bind(|mut store, instance| {
            instance
                .get_export_index(&mut store, None, "acme:nope/api")
                .ok_or_else(|| wasmtime::format_err!("no exported instance `acme:nope/api`"))
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSuchExport, "{e}");
    assert!(e.to_string().contains("cannot bind"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cancellation_on_one_instance_reaches_its_own_call() {
    // Guest task ids are reused once a task is gone; a stale call slot
    // would hand a later call the wrong (or no) cancellation future.
    let i = instance(InstanceOptions::new()).await;
    for n in 0..5 {
        let e = i
            .call_with(
                "sleep",
                &sleep_args(60_000, &format!("t{n}")),
                CallOptions::new().timeout(Duration::from_millis(30)),
            )
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::CallTimeout, "{e}");
        assert!(!e.to_string().contains("detached"), "{e}");
        let out = i
            .call("sleep", &sleep_args(1, &format!("ok{n}")))
            .await
            .unwrap();
        assert_eq!(out, [Val::String(format!("ok{n}"))]);
    }
    let cleanups = i.call("cleanups", &[]).await.unwrap();
    let expected: Vec<Val> = (0..5)
        .map(|n| Val::String(format!("t{n} cancelled")))
        .collect();
    assert_eq!(cleanups, [Val::List(expected)]);
}

#[test]
fn an_instance_ends_with_the_tokio_runtime_it_runs_on() {
    let guests = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let caller = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The actor runs only while `guests` is driven: drive it on a thread.
    let handle = guests.handle().clone();
    let stop = std::sync::Arc::new(tokio::sync::Notify::new());
    let stopped = stop.clone();
    let driver = std::thread::spawn(move || {
        guests.block_on(stopped.notified());
        guests
    });
    let i = caller.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(10),
            instance(InstanceOptions::new().runtime(handle)),
        )
        .await
        .expect("instantiate hung")
    });
    let out = caller.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(10),
            i.call("greet", &[Val::String("rt".into())]),
        )
        .await
        .expect("no answer within 10 s")
    });
    assert_eq!(
        out.unwrap(),
        [Val::String("hello, rt! (task api.greet)".into())]
    );
    stop.notify_one();
    drop(driver.join().unwrap());
    let e = caller.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), i.call("calls", &[]))
            .await
            .expect("a call to an instance whose runtime is gone hung")
    });
    let e = e.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed, "{e}");
    assert!(
        e.to_string().contains("ended with its tokio runtime"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cleanup_longer_than_the_cancel_grace_runs_on_detached() {
    // `sleep`'s cleanup awaits 20 ms; a 1 ms grace does not wait for it.
    let i = instance(InstanceOptions::new().cancel_grace(Duration::from_millis(1))).await;
    let e = i
        .call_with(
            "sleep",
            &sleep_args(60_000, "slow"),
            CallOptions::new().timeout(Duration::from_millis(30)),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CallTimeout, "{e}");
    assert!(
        e.to_string()
            .contains("its cleanup did not finish within the 1ms cancel grace"),
        "{e}"
    );
    // The cleanup finishes later, unobserved, and the instance serves on.
    let start = Instant::now();
    let recorded = loop {
        let cleanups = i.call("cleanups", &[]).await.unwrap();
        if cleanups == [Val::List(vec![Val::String("slow cancelled".into())])] {
            break true;
        }
        if start.elapsed() > Duration::from_secs(5) {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(recorded, "the detached cleanup never recorded itself");
    let out = i.call("sleep", &sleep_args(1, "after")).await.unwrap();
    assert_eq!(out, [Val::String("after".into())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_token_cancels_a_call_whose_caller_waits_for_the_cleanup() {
    let i = instance(InstanceOptions::new()).await;
    let token = CancelToken::new();
    let call = {
        let i = i.clone();
        let options = CallOptions::new().cancel_token(&token);
        tokio::spawn(async move {
            i.call_with("sleep", &sleep_args(60_000, "waited"), options)
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !call.is_finished(),
        "the call ended before it was cancelled"
    );
    token.cancel();
    let e = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("the cancelled call never ended")
        .unwrap()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Cancelled, "{e}");
    assert!(!e.to_string().contains("runs on detached"), "{e}");
    // The caller got the error after the guest's cleanup (it awaits 20 ms
    // and then records itself), so the record is already there.
    let cleanups = i.call("cleanups", &[]).await.unwrap();
    assert_eq!(
        cleanups,
        [Val::List(vec![Val::String("waited cancelled".into())])]
    );
    // A token cancelled before the call starts cancels it at once: the
    // cancellation waits for the guest to enter the call, so the guest
    // still sees it and cleans up (nothing runs on detached).
    let early = i
        .call_with(
            "sleep",
            &sleep_args(60_000, "early"),
            CallOptions::new().cancel_token(&token),
        )
        .await
        .unwrap_err();
    assert_eq!(early.kind(), ErrorKind::Cancelled, "{early}");
    assert!(!early.to_string().contains("runs on detached"), "{early}");
    let cleanups = i.call("cleanups", &[]).await.unwrap();
    assert_eq!(
        cleanups,
        [Val::List(vec![
            Val::String("waited cancelled".into()),
            Val::String("early cancelled".into())
        ])]
    );
}

//! The one `bindgen!` over `wit` (a link to the workspace's `wit/`, so the
//! packaged crate carries it): the `aio:host/guest` world.
//!
//! WASI interfaces map onto wasmtime-wasi's own p3 bindings (`with`), so the
//! code generated here is the world itself ([`Guest`], [`GuestPre`], the
//! `wasi:cli/run@0.3.0` export they call) and the `aio:host` interfaces,
//! whose glue lives in `host.rs` files next to the behaviour they expose
//! (`process/host.rs`, `signals/host.rs`, `calls.rs`). Functions that create or take streams and futures
//! need the store (`store` below).
//!
//! ```ignore
//! let pre = GuestPre::new(linker.instantiate_pre(&component)?)?;
//! let guest = pre.instantiate_async(&mut store).await?;
//! store.run_concurrent(async move |s| guest.wasi_cli_run().call_run(s).await).await??;
//! ```

wasmtime::component::bindgen!({
    path: "wit",
    world: "aio:host/guest",
    with: {
        "wasi": wasmtime_wasi::p3::bindings,
        "aio:host/process.child": crate::process::child::ChildProcess,
        "aio:host/mux.mux": crate::net::mux::Mux,
        "aio:host/unix.unix-stream": crate::net::unix::UnixConn,
        "aio:host/unix.unix-listener": crate::net::unix::UnixListener,
    },
    imports: {
        "aio:host/process.[method]child.set-stdin": store | trappable,
        "aio:host/process.[method]child.take-stdout": store | trappable,
        "aio:host/process.[method]child.take-stderr": store | trappable,
        "aio:host/process.[method]child.exit-status": store | trappable,
        "aio:host/calls.enter": store | trappable,
        "aio:host/calls.cancellations": store | trappable,
        "aio:host/mux.[method]mux.incoming": store | trappable,
        "aio:host/mux.[method]mux.outgoing": store | trappable,
        default: trappable,
    },
    exports: { default: async | store },
    require_store_data_send: true,
});

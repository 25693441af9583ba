//! The one `bindgen!` over `../wit`: the `aio:host/guest` world.
//!
//! WASI interfaces map onto wasmtime-wasi's own p3 bindings (`with`), so the
//! only code generated here is the world itself: [`Guest`], [`GuestPre`] and
//! the `wasi:cli/run@0.3.0` export they call. The `aio:host` interfaces
//! (processes, signals) will be generated here too, with their glue in
//! `host.rs` files next to the behaviour they expose.
//!
//! ```ignore
//! let pre = GuestPre::new(linker.instantiate_pre(&component)?)?;
//! let guest = pre.instantiate_async(&mut store).await?;
//! store.run_concurrent(async move |s| guest.wasi_cli_run().call_run(s).await).await??;
//! ```

wasmtime::component::bindgen!({
    path: "../wit",
    world: "aio:host/guest",
    with: {
        "wasi": wasmtime_wasi::p3::bindings,
    },
    exports: { default: async | store },
    require_store_data_send: true,
});

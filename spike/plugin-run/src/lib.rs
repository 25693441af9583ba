//! Spike S3: a plugin linking today's `asyncio` while exporting only
//! `acme:greeter/greeter`. `wasm-component-ld` accepts it although asyncio's
//! bindings are generated for world `aio:host/guest`, which exports
//! `wasi:cli/run`: with `pub_export_macro` their linked section describes
//! only the world's imports (docs/design-plugins.md §7).

wit_bindgen::generate!({ path: "wit", world: "acme:greeter/plugin" });

struct Greeter;

impl exports::acme::greeter::greeter::Guest for Greeter {
    async fn greet(name: String) -> String {
        // What a plugin does with asyncio: awaits its futures, whose code
        // calls the WASI imports of asyncio's bindings.
        let slept = asyncio::sleep(std::time::Duration::from_millis(1)).await;
        format!("hello {name} ({})", slept.is_ok())
    }
}

export!(Greeter);

//! The plugin of the plugin benchmarks (bench/plugins, docs/PERFORMANCE.md
//! "Plugins"): `noop` measures what a call costs, `sleep-ms` how many
//! calls one instance keeps in flight on its loop.

use std::time::Duration;

asyncio::generate!({ world: "aio-bench:plugin/plugin" });

struct Plugin;

#[asyncio::plugin]
impl exports::aio_bench::plugin::api::Guest for Plugin {
    fn noop() {}

    async fn sleep_ms(ms: u32) {
        // A cancelled sleep (the host gave up on the call) just returns.
        let _ = asyncio::sleep(Duration::from_millis(ms.into())).await;
    }
}

export!(Plugin);

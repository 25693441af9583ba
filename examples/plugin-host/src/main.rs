//! Embeds asyncio-wasm guests as plugins: see [`demo`].
//!
//! `plugin-host [PLUGIN.wasm]` (default: the release build of
//! examples/plugin-greeter; `scripts/run-example plugin-host` builds it).

mod demo;

use std::path::PathBuf;

#[tokio::main]
async fn main() {
    let plugin = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/wasm32-wasip2/release/plugin_greeter.wasm")
        });
    if let Err(e) = demo::run(&plugin, &mut std::io::stdout()).await {
        eprintln!("plugin-host: {e}");
        std::process::exit(1);
    }
}

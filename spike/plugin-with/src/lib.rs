//! Spike S4: this crate's bindings come from `asyncio::__private::wit_bindgen`
//! (no wit-bindgen dependency of its own). `path` lists asyncio's WIT first,
//! so the plugin's package resolves `wasi:*` and `aio:host` from it without
//! a `deps/` copy; every interface the world imports from them is mapped
//! onto asyncio's generated modules (`with`), and only the plugin's own
//! `host-api` is generated (`generate_all`).

asyncio::__private::wit_bindgen::generate!({
    path: ["../../wit", "wit"],
    world: "acme:hello/plugin",
    runtime_path: "::asyncio::__private::wit_bindgen::rt",
    with: {
        "wasi:cli/environment@0.3.0": ::asyncio::bindings::wasi::cli::environment,
        "wasi:cli/exit@0.3.0": ::asyncio::bindings::wasi::cli::exit,
        "wasi:cli/types@0.3.0": ::asyncio::bindings::wasi::cli::types,
        "wasi:cli/stdin@0.3.0": ::asyncio::bindings::wasi::cli::stdin,
        "wasi:cli/stdout@0.3.0": ::asyncio::bindings::wasi::cli::stdout,
        "wasi:cli/stderr@0.3.0": ::asyncio::bindings::wasi::cli::stderr,
        "wasi:cli/terminal-input@0.3.0": ::asyncio::bindings::wasi::cli::terminal_input,
        "wasi:cli/terminal-output@0.3.0": ::asyncio::bindings::wasi::cli::terminal_output,
        "wasi:cli/terminal-stdin@0.3.0": ::asyncio::bindings::wasi::cli::terminal_stdin,
        "wasi:cli/terminal-stdout@0.3.0": ::asyncio::bindings::wasi::cli::terminal_stdout,
        "wasi:cli/terminal-stderr@0.3.0": ::asyncio::bindings::wasi::cli::terminal_stderr,
        "wasi:clocks/types@0.3.0": ::asyncio::bindings::wasi::clocks::types,
        "wasi:clocks/monotonic-clock@0.3.0": ::asyncio::bindings::wasi::clocks::monotonic_clock,
        "wasi:clocks/system-clock@0.3.0": ::asyncio::bindings::wasi::clocks::system_clock,
        "wasi:filesystem/types@0.3.0": ::asyncio::bindings::wasi::filesystem::types,
        "wasi:filesystem/preopens@0.3.0": ::asyncio::bindings::wasi::filesystem::preopens,
        "wasi:sockets/types@0.3.0": ::asyncio::bindings::wasi::sockets::types,
        "wasi:sockets/ip-name-lookup@0.3.0": ::asyncio::bindings::wasi::sockets::ip_name_lookup,
        "wasi:random/random@0.3.0": ::asyncio::bindings::wasi::random::random,
        "wasi:random/insecure@0.3.0": ::asyncio::bindings::wasi::random::insecure,
        "wasi:random/insecure-seed@0.3.0": ::asyncio::bindings::wasi::random::insecure_seed,
        "aio:host/process@0.1.0": ::asyncio::bindings::aio::host::process,
    },
    generate_all,
});

use acme::hello::host_api;

// The generated import uses asyncio's WASI types, not copies of them.
const _: fn() -> Option<asyncio::bindings::wasi::filesystem::types::Descriptor> =
    host_api::config_dir;
const _: fn(&str, asyncio::bindings::wasi::clocks::types::Duration) = host_api::log;

struct Greeter;

impl exports::acme::hello::greeter::Guest for Greeter {
    async fn greet(name: String) -> String {
        host_api::log("greeting", 0);
        format!("hello {name}")
    }
}

export!(Greeter);

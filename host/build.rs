//! Builds the REPL's playground (host/playground) to a wasm component and
//! hands its path to the `aio` binary, which carries it
//! (`include_bytes!`): `aio repl` with no APP starts it.
//!
//! Where the playground cannot be built (no wasm32-wasip2 target and no
//! way to add it, or a packaged crate without host/playground), `aio` is
//! built without it and `aio repl` then asks for an APP; the build says so
//! in a warning. `AIO_NO_PLAYGROUND=1` skips it on purpose.

use std::env;
use std::path::PathBuf;

#[path = "build/nested_cargo.rs"]
mod nested_cargo;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(aio_playground)");
    println!("cargo:rerun-if-env-changed=AIO_NO_PLAYGROUND");
    println!("cargo:rerun-if-changed=build/nested_cargo.rs");
    let host = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let playground = host.join("playground");
    let Some(workspace) = host.parent().map(PathBuf::from) else {
        return;
    };
    if env::var_os("AIO_NO_PLAYGROUND").is_some_and(|v| !v.is_empty() && v != "0") {
        return;
    }
    if !playground.join("Cargo.toml").is_file() || !workspace.join("guest").is_dir() {
        // A packaged aio-host: the playground's sources are not there.
        return;
    }
    for watched in ["host/playground", "guest", "wit", "Cargo.lock"] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    let target_dir = workspace.join("target").join("wasm");
    let built = nested_cargo::ensure_wasm_target(&workspace).and_then(|()| {
        nested_cargo::build(&workspace, &target_dir, &["aio-playground".to_owned()])
    });
    if let Err(why) = built {
        // cargo's first error says what broke; else the first line.
        let first = why
            .lines()
            .find(|l| l.starts_with("error"))
            .or_else(|| why.lines().next())
            .unwrap_or("")
            .to_owned();
        println!("cargo::warning=aio is built without the REPL's playground: {first}");
        return;
    }
    let wasm = target_dir
        .join(nested_cargo::TARGET)
        .join(nested_cargo::PROFILE)
        .join("aio_playground.wasm");
    if !wasm.is_file() {
        println!(
            "cargo::warning=aio is built without the REPL's playground: {} is missing",
            wasm.display()
        );
        return;
    }
    println!("cargo::rustc-env=AIO_PLAYGROUND_WASM={}", wasm.display());
    println!("cargo::rustc-cfg=aio_playground");
}

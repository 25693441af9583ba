//! `aio new`: a program and a plugin made outside the workspace build for
//! wasm32-wasip2 and run at once (the SDK from this checkout), and nothing
//! is ever overwritten.

use crate::util::{aio, outside_target_dir};
use std::path::Path;
use std::process::Command;

/// `cargo build --offline` of the crate at `dir`, with the
/// workspace's versions of every dependency (no network needed).
fn build(dir: &Path) {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    std::fs::copy(workspace.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let out = Command::new(env!("CARGO"))
        .args(["build", "--offline", "--target-dir"])
        .arg(outside_target_dir())
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn aio_new_program_and_plugin() {
    let scratch = std::env::temp_dir().join(format!("aio-new-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();
    let app = scratch.join("hello-app");
    let app_arg = app.to_str().unwrap();
    aio(&["new", app_arg])
        .status(0)
        .stdout_has("src/main.rs")
        .stdout_has("rust-toolchain.toml");
    build(&app);
    let wasm = outside_target_dir().join("wasm32-wasip2/debug/hello-app.wasm");
    aio(&["run", wasm.to_str().unwrap()])
        .status(0)
        .stdout_is("fast, then slow\n");

    // Nothing is overwritten, and the refusal says why.
    let main = std::fs::read(app.join("src/main.rs")).unwrap();
    aio(&["new", app_arg])
        .status(2)
        .error_line_has("already exists: aio new never overwrites anything");
    assert_eq!(std::fs::read(app.join("src/main.rs")).unwrap(), main);
    aio(&["new", scratch.join("Bad Name").to_str().unwrap()])
        .status(2)
        .error_line_has("is not a crate name");

    let plugin = scratch.join("my-plugin");
    aio(&["new", "--plugin", plugin.to_str().unwrap()])
        .status(0)
        .stdout_has("wit/my-plugin.wit");
    build(&plugin);
    let wasm = outside_target_dir().join("wasm32-wasip2/debug/my_plugin.wasm");
    aio(&["call", wasm.to_str().unwrap(), r#"greet("world")"#])
        .status(0)
        .stdout_is("\"Hello, world!\"\n");
    let _ = std::fs::remove_dir_all(&scratch);
}

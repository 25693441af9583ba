//! Building guests from a build script: a nested `cargo build` for
//! wasm32-wasip2 with its own target dir (so it never waits on the lock the
//! outer build holds), after making sure the toolchain has the target.
//! host/build.rs (the REPL's playground) and tests/artifacts/build.rs (the
//! test programs and examples) share this file.

use std::env;
use std::path::Path;
use std::process::Command;

pub const TARGET: &str = "wasm32-wasip2";
/// The workspace's profile for guests (quick to build, small wasm).
pub const PROFILE: &str = "guest";

/// Installs the wasm32-wasip2 target when the toolchain lacks it
/// (scripts/ensure-wasm-target, shared by every entry point that builds
/// guests); the error is its one-line explanation of what to run.
pub fn ensure_wasm_target(workspace: &Path) -> Result<(), String> {
    let script = workspace.join("scripts/ensure-wasm-target");
    println!("cargo:rerun-if-changed={}", script.display());
    let output = Command::new("bash")
        .arg(&script)
        .current_dir(workspace)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(stderr
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or(
            "the wasm32-wasip2 target is not installed: run 'rustup target add wasm32-wasip2'",
        )
        .to_owned())
}

/// Runs one nested `cargo build` of these packages; `Err` carries cargo's
/// stderr.
pub fn build(workspace: &Path, target_dir: &Path, packages: &[String]) -> Result<(), String> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .arg("build")
        .args(["--target", TARGET, "--profile", PROFILE])
        .arg("--target-dir")
        .arg(target_dir);
    for package in packages {
        cmd.args(["--package", package]);
    }
    // What the outer build sets for this build script (or for clippy) must
    // not leak into the guests' build: flags, target, profile, wrappers.
    for (key, _) in env::vars_os() {
        if let Some(key) = key.to_str()
            && leaks_from_outer_build(key)
        {
            cmd.env_remove(key);
        }
    }
    let output = cmd
        .output()
        .map_err(|e| format!("cannot run cargo to build {packages:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "building {packages:?} for {TARGET} failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

fn leaks_from_outer_build(key: &str) -> bool {
    const KEEP: &[&str] = &[
        "CARGO_HOME",
        "CARGO_MAKEFLAGS", // share the outer build's jobserver: no oversubscription
        "CARGO_NET_",
        "CARGO_HTTP_",
        "CARGO_REGISTRIES_",
        "CARGO_REGISTRY_",
        "CARGO_TERM_",
    ];
    const STRIP: &[&str] = &[
        "RUSTFLAGS",
        "RUSTDOCFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CLIPPY_ARGS",
        "CLIPPY_CONF_DIR",
        "TARGET",
        "HOST",
        "OUT_DIR",
        "OPT_LEVEL",
        "PROFILE",
        "DEBUG",
        "NUM_JOBS",
        "RUSTC_LINKER",
    ];
    if key.starts_with("__CARGO") || STRIP.contains(&key) {
        return true;
    }
    key.starts_with("CARGO_") && !KEEP.iter().any(|keep| key.starts_with(keep))
}

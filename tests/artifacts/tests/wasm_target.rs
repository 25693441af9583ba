//! scripts/ensure-wasm-target, which every entry point that builds guests
//! runs first (this crate's build script too): quiet when the wasm32-wasip2
//! target is installed, one line saying what to run when it is missing and
//! cannot be installed.
//!
//! A missing target is simulated with a `rustc` whose sysroot is empty, so
//! the machine's real toolchain is never touched (the fresh-machine case
//! itself is checked by ../shared/tools/fresh-clone-check).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/ensure-wasm-target")
}

fn run(envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(script()).env_remove("RUSTC");
    for (key, value) in envs {
        cmd.env(key, value);
    }
    cmd.output().expect("run scripts/ensure-wasm-target")
}

#[test]
fn an_installed_target_is_quiet() {
    // This test binary's own build ran the script and then built the guests,
    // so the target is there.
    let out = run(&[]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_missing_target_that_cannot_be_installed_says_what_to_run() {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("no-wasm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let real = String::from_utf8(
        Command::new("rustup")
            .args(["which", "rustc"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let fake = dir.join("rustc");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nexec {} --sysroot {} \"$@\"\n",
            real.trim(),
            dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    // No rustup on PATH: nothing can install the target.
    let out = run(&[("RUSTC", fake.to_str().unwrap()), ("PATH", "/usr/bin:/bin")]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains("wasm32-wasip2 target of Rust 1.95.0 is not installed")
            && stderr.contains("run 'rustup target add wasm32-wasip2 --toolchain 1.95.0'"),
        "{stderr}"
    );
}

//! The SDK as a registry user gets it: `cargo package` of asyncio-macros
//! and asyncio (the WIT inside them), unpacked outside the workspace, and
//! the README's guest built against the unpacked crates for wasm32-wasip2
//! and run. Nothing here is published: the unpacked asyncio-macros stands
//! in for the registry's through `[patch.crates-io]`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

#[test]
fn packaged_sdk_builds_a_guest() {
    // Outside the workspace's directory, so cargo does not take the guest
    // for one of its members.
    let scratch = std::env::temp_dir().join(format!("aio-packaged-sdk-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();
    let target = crate::util::outside_target_dir();
    run(Command::new(env!("CARGO"))
        .args([
            "package",
            "-p",
            "asyncio-macros",
            "-p",
            "asyncio",
            "-p",
            "aio-host",
        ])
        .args(["--no-verify", "--allow-dirty", "--offline", "--target-dir"])
        .arg(&target)
        .current_dir(workspace()));
    let crates = scratch.join("crates");
    std::fs::create_dir_all(&crates).unwrap();
    for name in ["asyncio-macros-0.1.0", "asyncio-0.1.0"] {
        let file = target.join("package").join(format!("{name}.crate"));
        run(Command::new("tar")
            .arg("xzf")
            .arg(&file)
            .arg("-C")
            .arg(&crates));
        // What the bindings are made of travels with the crate.
        let wit = crates.join(name).join("wit");
        assert!(wit.join("world.wit").is_file(), "{name} lacks its WIT");
        assert!(!wit.is_symlink(), "{name}'s WIT is a link");
    }
    let app = scratch.join("app");
    std::fs::create_dir_all(app.join("src")).unwrap();
    std::fs::write(
        app.join("Cargo.toml"),
        r#"[package]
name = "app"
version = "0.1.0"
edition = "2024"

[dependencies]
asyncio = { path = "../crates/asyncio-0.1.0" }

[patch.crates-io]
asyncio-macros = { path = "../crates/asyncio-macros-0.1.0" }

[workspace]
"#,
    )
    .unwrap();
    // The README's first guest.
    std::fs::write(
        app.join("src/main.rs"),
        r#"use std::time::Duration;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let slow = asyncio::create_task(async {
        asyncio::sleep(Duration::from_millis(200)).await?;
        Ok("slow")
    });
    let fast = asyncio::wait_for(Duration::from_secs(1), async { Ok("fast") }).await?;
    println!("{fast}, then {}", slow.await?);
    Ok(())
}
"#,
    )
    .unwrap();
    // The workspace's versions of everything else (no network needed).
    std::fs::copy(workspace().join("Cargo.lock"), app.join("Cargo.lock")).unwrap();
    run(Command::new(env!("CARGO"))
        .args([
            "build",
            "--offline",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(&target)
        .current_dir(&app));
    let wasm = target.join("wasm32-wasip2/debug/app.wasm");
    crate::util::aio(&["run", wasm.to_str().unwrap()])
        .status(0)
        .stdout_is("fast, then slow\n");
    let _ = std::fs::remove_dir_all(&scratch);
}

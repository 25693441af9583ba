//! `aio new NAME [--plugin]`: a guest crate that builds and runs at once.
//!
//! A program is the README's first guest: `Cargo.toml`,
//! `rust-toolchain.toml` (the pinned toolchain with the `wasm32-wasip2`
//! target, which rustup adds on the first build), `.cargo/config.toml`
//! (so a plain `cargo build` builds for that target), `src/main.rs` and a
//! `.gitignore`. A plugin (`--plugin`) is a `cdylib` with its world in
//! `wit/NAME.wit` (one `async func` export) and `src/lib.rs`
//! implementing it on the instance's loop.
//!
//! The crate depends on the SDK by path when `aio` knows where it is: the
//! checkout `aio` was built from (`cargo install --path host`), or
//! `--sdk DIR`; otherwise on the registry's `asyncio`. Nothing that exists
//! is ever overwritten: `NAME` must not exist.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The toolchain a new guest pins: this project's (rust-toolchain.toml).
const TOOLCHAIN: &str = "1.95.0";

/// The SDK's version on the registry, for a crate made away from a checkout.
const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Where the new crate takes the SDK from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Sdk {
    /// A directory holding the `asyncio` crate.
    Path(PathBuf),
    /// The registry's `asyncio`.
    Registry,
}

impl Sdk {
    /// `--sdk DIR` if given; else the checkout `aio` was built from, if it
    /// is still there; else the registry.
    pub(crate) fn find(given: Option<&Path>) -> Result<Sdk, String> {
        if let Some(dir) = given {
            let dir =
                std::fs::canonicalize(dir).map_err(|e| format!("--sdk {}: {e}", dir.display()))?;
            if !is_sdk(&dir) {
                return Err(format!(
                    "--sdk {}: no asyncio crate there (a Cargo.toml naming `asyncio`)",
                    dir.display()
                ));
            }
            return Ok(Sdk::Path(dir));
        }
        let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest");
        match std::fs::canonicalize(built_from) {
            Ok(dir) if is_sdk(&dir) => Ok(Sdk::Path(dir)),
            _ => Ok(Sdk::Registry),
        }
    }

    /// The dependency line, with `features`.
    fn dependency(&self, features: &[&str]) -> String {
        let features = if features.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = features.iter().map(|f| format!("{f:?}")).collect();
            format!(", features = [{}]", list.join(", "))
        };
        match self {
            Sdk::Path(dir) => format!(
                "asyncio = {{ path = {:?}{features} }}",
                dir.display().to_string()
            ),
            Sdk::Registry => format!("asyncio = {{ version = \"{SDK_VERSION}\"{features} }}"),
        }
    }
}

fn is_sdk(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml"))
        .is_ok_and(|toml| toml.lines().any(|l| l.trim() == "name = \"asyncio\""))
}

/// Checks that `name` can name a crate (and a WIT package): lowercase
/// ASCII letters, digits, `-` and `_`, starting with a letter.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    let ok = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && !name.ends_with(['-', '_'])
        && !name.contains("--")
        && !name.contains("__");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a crate name aio new can use: lowercase letters, digits, `-` and \
             `_`, starting with a letter"
        ))
    }
}

/// Makes the crate in `dir` (its last component is the name); the files
/// written, relative to `dir`.
pub(crate) fn create(dir: &Path, plugin: bool, sdk: &Sdk) -> Result<Vec<PathBuf>, String> {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("{}: not a directory name", dir.display()))?;
    check_name(name)?;
    if dir.symlink_metadata().is_ok() {
        return Err(format!(
            "{} already exists: aio new never overwrites anything",
            dir.display()
        ));
    }
    let files = if plugin {
        plugin_files(name, sdk)
    } else {
        program_files(name, sdk)
    };
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut written = Vec::new();
    for (path, text) in files {
        let full = dir.join(&path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&full, text).map_err(|e| format!("{}: {e}", full.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// What both kinds share.
fn common(files: &mut Vec<(PathBuf, String)>) {
    files.push((
        "rust-toolchain.toml".into(),
        format!("[toolchain]\nchannel = \"{TOOLCHAIN}\"\ntargets = [\"wasm32-wasip2\"]\n"),
    ));
    files.push((
        ".cargo/config.toml".into(),
        "# Guests are WebAssembly components: `cargo build` builds one.\n\
         [build]\ntarget = \"wasm32-wasip2\"\n"
            .into(),
    ));
    files.push((".gitignore".into(), "/target\n".into()));
}

/// A new crate's `[package]` table, and how to build and run it (`run`).
fn package(name: &str, run: &str) -> String {
    format!(
        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         # cargo build --release\n# {run}\n\n"
    )
}

fn program_files(name: &str, sdk: &Sdk) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    let mut toml = package(
        name,
        &format!("aio run target/wasm32-wasip2/release/{name}.wasm"),
    );
    let _ = writeln!(toml, "[dependencies]\n{}", sdk.dependency(&[]));
    files.push(("Cargo.toml".into(), toml));
    files.push(("src/main.rs".into(), MAIN_RS.into()));
    common(&mut files);
    files
}

fn plugin_files(name: &str, sdk: &Sdk) -> Vec<(PathBuf, String)> {
    let kebab = name.replace('_', "-");
    let snake = name.replace('-', "_");
    let mut files = Vec::new();
    let mut toml = package(
        name,
        &format!("aio call target/wasm32-wasip2/release/{snake}.wasm 'greet(\"world\")'"),
    );
    let _ = writeln!(toml, "[lib]\ncrate-type = [\"cdylib\"]\n");
    let _ = writeln!(toml, "[dependencies]\n{}", sdk.dependency(&["plugin"]));
    files.push(("Cargo.toml".into(), toml));
    files.push((
        format!("wit/{kebab}.wit").into(),
        PLUGIN_WIT.replace("NAME", &kebab),
    ));
    files.push((
        "src/lib.rs".into(),
        PLUGIN_RS.replace("KEBAB", &kebab).replace("SNAKE", &snake),
    ));
    common(&mut files);
    files
}

const MAIN_RS: &str = r#"use std::time::Duration;

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
"#;

const PLUGIN_WIT: &str = r#"package local:NAME@0.1.0;

/// What the plugin offers its host.
interface api {
  /// "Hello, NAME!" (an asyncio task on the instance's loop).
  greet: async func(name: string) -> string;
}

world plugin {
  include aio:host/imports@0.1.0;
  export api;
}
"#;

const PLUGIN_RS: &str = r#"//! A plugin: the host loads it, keeps instances alive and calls `greet`
//! (wit/KEBAB.wit). Each call runs as an asyncio task on the instance's
//! loop.

use std::time::Duration;

asyncio::generate!({ world: "local:KEBAB/plugin" });

struct Plugin;

#[asyncio::plugin]
impl exports::local::SNAKE::api::Guest for Plugin {
    async fn greet(name: String) -> String {
        if let Err(e) = asyncio::sleep(Duration::from_millis(10)).await {
            // Cancelled by the host (the caller gave up, or a timeout).
            return format!("not greeting {name}: {e}");
        }
        format!("Hello, {name}!")
    }
}

export!(Plugin);
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["app", "my-app", "my_app2"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "App", "1app", "my app", "app-", "a--b", "../x", "a/b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dependencies() {
        let path = Sdk::Path("/sdk".into());
        assert_eq!(path.dependency(&[]), "asyncio = { path = \"/sdk\" }");
        assert_eq!(
            Sdk::Registry.dependency(&["plugin"]),
            format!("asyncio = {{ version = \"{SDK_VERSION}\", features = [\"plugin\"] }}")
        );
    }
}

//! Compiles the guest test programs (tests/programs, one bin per case) and
//! the examples (examples/*) to wasm32-wasip2 components, and writes
//! `OUT_DIR/gen.rs`: a path constant per program and example, and the
//! `foreach_program!` macros that list the test programs.
//!
//! The guests are built by a nested `cargo build` with its own target dir
//! (`target/wasm`), so it never waits on the lock the outer build holds.

use std::collections::BTreeMap;
use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

// Shared with host/build.rs (the REPL's playground).
#[path = "../../host/build/nested_cargo.rs"]
mod nested_cargo;
use nested_cargo::{PROFILE, TARGET, ensure_wasm_target};

/// Builds these packages, or fails the build with cargo's own message.
fn build(workspace: &Path, target_dir: &Path, packages: &[String]) {
    if let Err(why) = nested_cargo::build(workspace, target_dir, packages) {
        panic!("{why}");
    }
}

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir
        .parent()
        .and_then(Path::parent)
        .expect("tests/artifacts is two levels below the workspace root")
        .to_path_buf();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let target_dir = workspace.join("target").join("wasm");

    for watched in [
        "guest",
        "tests/programs",
        "tests/plugin",
        "examples",
        "wit",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }

    if let Err(why) = ensure_wasm_target(&workspace) {
        // One line naming the cause and the fix, not a panic's dump.
        println!("cargo::error={why}");
        return;
    }

    let programs = test_programs(&workspace.join("tests/programs/src/bin"));
    let examples = examples(&workspace.join("examples"));
    // Plugins (cdylibs) turn on asyncio's `plugin` feature, so they are
    // built apart from the programs, which must not get it.
    let mut plugins = vec!["test-plugin".to_string()];
    plugins.extend(plugin_examples(&workspace.join("examples")));

    // Cargo unifies features across the packages of one build, so an example
    // that turns asyncio's default features off (to import only standard
    // WASI) is built on its own; the rest share one build.
    let (alone, together): (Vec<String>, Vec<String>) = examples
        .iter()
        .cloned()
        .partition(|name| disables_default_features(&workspace.join("examples").join(name)));
    let mut shared = vec!["test-programs".to_string()];
    shared.extend(together);
    build(&workspace, &target_dir, &shared);
    for example in alone {
        build(&workspace, &target_dir, &[example]);
    }
    build(&workspace, &target_dir, &plugins);

    let wasm_dir = target_dir.join(TARGET).join(PROFILE);
    let mut code = String::new();
    let mut constant = |name: &str, what: &str| {
        // (A cdylib's file is named after its crate: `-` becomes `_`.)
        let file = if what == "plugin" {
            name.replace('-', "_")
        } else {
            name.to_owned()
        };
        let path = wasm_dir.join(format!("{file}.wasm"));
        assert!(
            path.is_file(),
            "the nested build did not produce {}",
            path.display()
        );
        let path = path.to_str().expect("the target dir path is UTF-8");
        writeln!(
            code,
            "/// The {what} `{name}`, compiled to a wasm32-wasip2 component.\npub const {}: &str = {path:?};",
            name.to_uppercase().replace('-', "_")
        )
        .unwrap();
    };
    for name in programs.values().flatten() {
        constant(name, "test program");
    }
    for name in &examples {
        constant(name, "example");
    }
    for name in &plugins {
        constant(name, "plugin");
    }

    code.push_str(
        "\n/// Invokes `$m!(suite_case)` for every test program.\n#[macro_export]\nmacro_rules! foreach_program {\n    ($m:ident) => {\n",
    );
    for name in programs.values().flatten() {
        writeln!(code, "        $m!({name});").unwrap();
    }
    code.push_str("    };\n}\n");

    code.push_str(
        "\n/// Invokes `$m!(suite)` for every suite that has test programs.\n#[macro_export]\nmacro_rules! foreach_suite {\n    ($m:ident) => {\n",
    );
    for suite in programs.keys() {
        writeln!(code, "        $m!({suite});").unwrap();
    }
    code.push_str("    };\n}\n");

    code.push_str(
        "\n/// Invokes `$m!(suite_case)` for every test program of one suite\n/// (nothing for a suite without programs).\n#[macro_export]\nmacro_rules! foreach_program_in_suite {\n",
    );
    for (suite, names) in &programs {
        writeln!(code, "    ({suite}, $m:ident) => {{").unwrap();
        for name in names {
            writeln!(code, "        $m!({name});").unwrap();
        }
        code.push_str("    };\n");
    }
    code.push_str("    ($suite:ident, $m:ident) => {};\n}\n");

    std::fs::write(out_dir.join("gen.rs"), code).expect("cannot write gen.rs");
}

/// The bins of tests/programs by suite: `cli_exit_code` is in suite `cli`.
fn test_programs(bin_dir: &Path) -> BTreeMap<String, Vec<String>> {
    let mut suites: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(bin_dir) else {
        return suites;
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_owned()))
        .collect();
    names.sort();
    for name in names {
        let valid = name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        let suite = name.split_once('_').map(|(suite, _)| suite);
        match suite {
            Some(suite) if valid && !suite.is_empty() => {
                suites.entry(suite.to_owned()).or_default().push(name)
            }
            _ => panic!(
                "test program `{name}` must be named <suite>_<case> in lowercase snake case (e.g. cli_exit_code)"
            ),
        }
    }
    suites
}

/// The package names of the guest programs in examples/: those with a
/// `src/main.rs` (native examples, which depend on `aio-host`, excepted).
fn examples(dir: &Path) -> Vec<String> {
    example_packages(dir, |p| p.join("src/main.rs").is_file() && !is_native(p))
}

/// The package names of the guest plugins in examples/ (a `src/lib.rs`).
fn plugin_examples(dir: &Path) -> Vec<String> {
    example_packages(dir, |p| p.join("src/lib.rs").is_file() && !is_native(p))
}

fn example_packages(dir: &Path, keep: impl Fn(&Path) -> bool) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| keep(p))
        .filter_map(|p| package_name(&p.join("Cargo.toml")))
        .collect();
    names.sort();
    names
}

/// An example that runs natively (it embeds the host).
fn is_native(package_dir: &Path) -> bool {
    std::fs::read_to_string(package_dir.join("Cargo.toml"))
        .map(|manifest| manifest.contains("aio-host"))
        .unwrap_or(false)
}

/// The `name` of a manifest's `[package]` table.
fn package_name(manifest: &Path) -> Option<String> {
    let text = std::fs::read_to_string(manifest).ok()?;
    let mut in_package = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && let Some(value) = line.strip_prefix("name") {
            let value = value.trim_start().strip_prefix('=')?.trim();
            return Some(value.trim_matches('"').to_owned());
        }
    }
    None
}

/// True if the package's manifest turns off a dependency's default features.
fn disables_default_features(package_dir: &Path) -> bool {
    std::fs::read_to_string(package_dir.join("Cargo.toml"))
        .map(|manifest| manifest.contains("default-features = false"))
        .unwrap_or(false)
}

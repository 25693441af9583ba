//! The vendored WIT in wit/deps/ must be the pinned wasmtime-wasi's own
//! (scripts/vendor-wit.sh copies it; this fails when the copy drifts).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `src/p3/wit/deps` directory of the wasmtime-wasi crate the host uses.
fn pinned_wasi_wit() -> PathBuf {
    // Only this platform's packages: a fresh machine has downloaded no
    // others, and `--offline` cannot fetch them.
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline"])
        .args(["--filter-platform", &host_triple()])
        .current_dir(workspace())
        .output()
        .expect("run cargo metadata");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json = String::from_utf8(output.stdout).expect("UTF-8 metadata");
    // Find the manifest of wasmtime-wasi at the exact pinned version, without
    // a JSON parser: "manifest_path":"…/wasmtime-wasi-<version>/Cargo.toml".
    let version = pinned_version();
    let needle = format!("wasmtime-wasi-{version}/Cargo.toml\"");
    let end = json.find(&needle).expect("wasmtime-wasi in cargo metadata") + needle.len() - 1;
    let start = json[..end].rfind('"').expect("start of manifest_path") + 1;
    let manifest = PathBuf::from(&json[start..end]);
    manifest.parent().unwrap().join("src/p3/wit/deps")
}

/// The triple of the machine the tests run on, from `rustc -vV`.
fn host_triple() -> String {
    let out = Command::new("rustc")
        .arg("-vV")
        .current_dir(workspace())
        .output()
        .expect("run rustc -vV");
    let text = String::from_utf8(out.stdout).expect("UTF-8 rustc -vV");
    text.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("a host line in rustc -vV")
        .to_owned()
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The `=x.y.z` pin of wasmtime-wasi in the workspace Cargo.toml.
fn pinned_version() -> String {
    let manifest = std::fs::read_to_string(workspace().join("Cargo.toml")).unwrap();
    let line = manifest
        .lines()
        .find(|l| l.starts_with("wasmtime-wasi ="))
        .expect("wasmtime-wasi in [workspace.dependencies]");
    let start = line.find("\"=").expect("an exact pin") + 2;
    let end = start + line[start..].find('"').unwrap();
    line[start..end].to_owned()
}

fn wit_files(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wit"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn wit_deps_match_pinned_wasmtime_wasi() {
    let ours = wit_files(&workspace().join("wit/deps"));
    let theirs = wit_files(&pinned_wasi_wit());
    let names =
        |files: &[(String, String)]| files.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&ours),
        names(&theirs),
        "wit/deps files differ: run scripts/vendor-wit.sh"
    );
    for ((name, a), (_, b)) in ours.iter().zip(&theirs) {
        assert!(
            a == b,
            "wit/deps/{name} differs from wasmtime-wasi's: run scripts/vendor-wit.sh"
        );
    }
}

/// The crates that carry the WIT (for `cargo package`) do so through links
/// to `wit/`, so no copy can drift from it.
#[test]
fn every_crate_links_the_one_wit() {
    let root = workspace().join("wit").canonicalize().unwrap();
    for copy in ["guest/wit", "guest/macros/wit", "host/wit"] {
        let path = workspace().join(copy);
        assert!(path.is_symlink(), "{copy} is not a link to wit/");
        assert_eq!(path.canonicalize().unwrap(), root, "{copy}");
    }
}

//! The fuzz corpora (fuzz/corpus/TARGET/, and the hand-made seeds in
//! fuzz/seeds/TARGET/) and the crashes the fuzzers found
//! (fuzz/regressions/TARGET/), replayed through the targets' own bodies
//! (`aio_host::fuzzing`) on the pinned stable toolchain: a fixed crash
//! stays fixed, and the corpus keeps covering what it covered.
//! `scripts/fuzz` grows both; docs/SECURITY.md ("Fuzzing") has the story.
//!
//! component_smith's inputs need wasm-smith, which the host does not
//! depend on: its crashes are kept as the components they made, in
//! fuzz/regressions/component/.

use std::path::Path;
use std::time::{Duration, Instant};

/// Runs every file of the target's corpus and regressions; fails naming
/// the file that panics.
fn replay(target: &str, body: fn(&[u8])) {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let started = Instant::now();
    let mut files = Vec::new();
    for dir in ["seeds", "corpus", "regressions"] {
        if let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) {
            files.extend(entries.map(|entry| entry.expect("a corpus entry").path()));
        }
    }
    files.sort();
    assert!(
        !files.is_empty(),
        "no corpus for {target} in {}",
        fuzz.display()
    );
    for file in &files {
        let data = std::fs::read(file).expect("read a corpus file");
        if std::panic::catch_unwind(|| body(&data)).is_err() {
            panic!("{target}: {} fails", file.display());
        }
    }
    // The corpora are kept small (scripts/fuzz minimizes them): a slow
    // replay means one grew or a slow input slipped in.
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(60),
        "{target}: {} files took {took:?}",
        files.len()
    );
}

#[test]
fn fuzz_grant_rules() {
    replay("grant_rules", aio_host::fuzzing::grant_rules);
}

#[test]
fn fuzz_units() {
    replay("units", aio_host::fuzzing::units);
}

#[test]
fn fuzz_wave() {
    replay("wave", aio_host::fuzzing::wave);
}

#[test]
fn fuzz_component() {
    replay("component", aio_host::fuzzing::component);
}

#[test]
fn fuzz_process_signals() {
    replay("process_signals", aio_host::fuzzing::process_signals);
}

/// The component seeds reach `aio run`: they hold a minimal guest
/// (fuzz/seeds/component-run.wat) that runs and exits 0, so the replay
/// covers running, not only loading.
#[tokio::test]
async fn fuzz_component_seeds_run_a_guest() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/component");
    let runtime = crate::util::runtime();
    let mut ran = 0;
    for entry in std::fs::read_dir(seeds).expect("the component seeds") {
        let bytes = std::fs::read(entry.expect("a corpus entry").path()).expect("read it");
        let Ok(program) = runtime.load_bytes("fuzz.wasm", &bytes) else {
            continue;
        };
        let outcome = program.run(aio_host::RunOptions::new()).await;
        assert_eq!(
            outcome.exit_code(),
            Some(0),
            "{}",
            crate::util::describe(&outcome)
        );
        ran += 1;
    }
    assert!(ran > 0, "no guest in the component seeds loads");
}

/// The fuzzing module carries the WAVE target's plugin assembled (the host
/// does not depend on `wat`), and the component seeds carry a guest: each
/// must be its source, assembled.
#[test]
fn fuzz_wasm_files_are_their_sources() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (source, binary) in [
        ("src/fuzzing/wave.wat", "src/fuzzing/wave.wasm"),
        (
            "../fuzz/seeds/component-run.wat",
            "../fuzz/seeds/component/run.wasm",
        ),
    ] {
        let assembled = wat::parse_file(root.join(source)).expect("the source assembles");
        let stored = std::fs::read(root.join(binary)).expect("the binary");
        assert!(
            assembled == stored,
            "{binary} is not {source} assembled: write it again with wat::parse_file"
        );
    }
}

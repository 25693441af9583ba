//! WAVE call expressions (`aio call APP 'greet("x")'`, the REPL's lines)
//! parsed against a plugin's export signatures.
//!
//! The plugin is `wave.wat` beside this file, assembled into `wave.wasm`
//! (1.3 kB, carried so that the host needs no `wat`; a test checks that it
//! is its source): exports of every WAVE kind,
//! the named types (record, variant, enum, flags), handles WAVE cannot
//! write (resources, streams, futures, error-context), an async function,
//! and the same names in two interfaces. Its functions are never called.
//!
//! An accepted call, written back with `format_call` under the export's
//! full name, parses to the same values.

use super::{assert_one_line, runtime};
use crate::plugin::{Plugin, format_call, format_results};
use std::sync::LazyLock;

/// The plugin whose exports type the calls.
static PLUGIN: LazyLock<Plugin> = LazyLock::new(|| {
    runtime()
        .load_plugin_bytes("wave.wasm", include_bytes!("wave.wasm"))
        .expect("the WAVE fuzz plugin loads")
});

/// Parses the text as a call; see the module docs.
pub fn wave(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (export, args) = match PLUGIN.parse_call(&text) {
        Ok(call) => call,
        Err(e) => return assert_one_line(e.message()),
    };
    let written = format_call(&export.name(), &args);
    let (again, reparsed) = PLUGIN
        .parse_call(&written)
        .unwrap_or_else(|e| panic!("{text:?} written as {written:?} does not reparse: {e}"));
    assert_eq!(again.name(), export.name());
    // Compared as text: NaN is not equal to itself.
    assert_eq!(format_call(&again.name(), &reparsed), written, "{text:?}");
    let _ = format_results(&args);
}

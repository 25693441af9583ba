//! Bytes loaded as a component, as `aio inspect` and `aio run` load a file:
//! classified (component, core module, precompiled code, other), compiled,
//! inspected and printed; then checked for a `wasi:cli/run@0.3.0` export
//! and imports this host provides, pre-instantiated, and, when that
//! passes, run under tight limits.
//!
//! The fuzz crate's `component_smith` target feeds this wasm-smith's
//! modules wrapped in components, which get past validation far more
//! often than mutated bytes do.

use super::{assert_one_line, runtime, tokio};
use crate::runner::Native;
use crate::{Inspection, Limits, RunOptions, Status, Stdio};
use std::time::Duration;

/// Loads (and maybe runs) the bytes; see the module docs.
pub fn component(data: &[u8]) {
    const NAME: &str = "fuzz.wasm";
    let runtime = runtime();
    // `aio inspect`: one compile serves both commands here.
    let (component, loaded_from) = match runtime.component(NAME, data, Native::Refuse) {
        Ok(loaded) => loaded,
        Err(e) => return assert_one_line(e.message()),
    };
    let inspection = Inspection::of(runtime.engine(), &component);
    let _ = inspection.to_string();
    let _ = inspection.display_functions().to_string();
    // `aio run`: the run export and the imports.
    let program = match runtime.program(NAME, component, loaded_from) {
        Ok(program) => program,
        Err(e) => return assert_one_line(e.message()),
    };
    let limits = Limits::new()
        .timeout(Duration::from_millis(500))
        .max_cpu(Duration::from_millis(200))
        .max_memory(64 << 20)
        .max_handles(1000);
    let options = RunOptions::new().limits(limits).stdio(Stdio::Capture);
    let outcome = tokio().block_on(program.run(options));
    if let Status::Failed(e) = outcome.status() {
        assert_one_line(e.message());
    }
}

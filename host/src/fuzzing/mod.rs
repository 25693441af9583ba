//! The bodies of the fuzz targets (fuzz/, `scripts/fuzz`), here so that
//! the libFuzzer targets and the corpus replay test (host/tests/all/fuzz.rs,
//! on the pinned stable toolchain) run the same code.
//!
//! Each function takes the fuzzer's bytes, drives one piece of the host
//! that takes untrusted or user-written input, and panics only when the
//! host broke a promise: a panic inside the host on bad input (the host
//! must answer with an error), an error message of more than one line (the
//! crate's errors are one line, `crate::error`), or a stated property that
//! does not hold (a grant that reparses differently, a signal state
//! machine that disagrees with its documented rules).
//!
//! - [`grant_rules`]: `--allow-net`/`--allow-listen` entries, `--allow-unix`
//!   paths, `--allow-run` programs, `--allow-read` directories, and
//!   `aio inspect`'s grant notes.
//! - [`units`]: `10s`, `64MiB` (every duration and size flag).
//! - [`wave`]: `aio call`/REPL expressions against a plugin's exports.
//! - [`component`]: bytes loaded as `aio inspect` and `aio run` load them,
//!   and run when they load.
//! - [`process_signals`]: the host side of `aio:host/process` (which
//!   program a guest may run; a spawn request checked and set up up to the
//!   fork) and `aio:host/signals` (the run's signal state machine).
//!
//! Not a stable API: hidden from the docs, and it may change with the
//! targets.
//!
//! ```
//! aio_host::fuzzing::units(b"1.5s");
//! aio_host::fuzzing::grant_rules(b"\x00127.0.0.1:8000-8100");
//! ```

mod component;
mod grants;
mod process;
mod units;
mod wave;

pub use component::component;
pub use grants::grant_rules;
pub use process::process_signals;
pub use units::units;
pub use wave::wave;

use crate::Runtime;
use std::sync::LazyLock;

/// The runtime every target shares: compiles without the cache (fuzzing
/// must not fill the user's cache directory).
fn runtime() -> &'static Runtime {
    static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
        Runtime::builder()
            .no_cache()
            .build()
            .expect("the fuzz targets' runtime")
    });
    &RUNTIME
}

/// A tokio runtime for the targets that poll host futures once.
fn tokio() -> &'static tokio::runtime::Runtime {
    static TOKIO: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("the fuzz targets' tokio runtime")
    });
    &TOKIO
}

/// The crate's promise for error messages: one line.
fn assert_one_line(message: &str) {
    assert!(
        !message.contains('\n'),
        "an error message of more than one line: {message:?}"
    );
}

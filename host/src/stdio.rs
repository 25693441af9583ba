//! Where a guest's stdin, stdout and stderr go.
//!
//! [`Stdio::Inherit`] connects them to the host process's own (what the `aio`
//! command does). [`Stdio::Capture`] gives the guest an empty stdin and
//! collects what it writes, returned in the [`Outcome`](crate::Outcome) even
//! when the run fails, so a test can see a panic message:
//!
//! ```
//! use aio_host::{RunOptions, Stdio};
//!
//! let options = RunOptions::new().stdio(Stdio::Capture);
//! # let _ = options;
//! ```
//!
//! Rust's std in the guest writes through WASI 0.2 and the asyncio SDK
//! through WASI 0.3; both reach the same destination, in the order written.

use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

/// The most bytes kept of each captured stream (16 MiB). Past it, WASI 0.2
/// writes trap and WASI 0.3 writes see the stream closed.
pub const CAPTURE_LIMIT: usize = 16 << 20;

/// Where a guest's standard streams go. The default is [`Stdio::Inherit`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Stdio {
    /// The host process's stdin, stdout and stderr.
    #[default]
    Inherit,
    /// Empty stdin; stdout and stderr collected in memory (up to
    /// [`CAPTURE_LIMIT`] bytes each).
    Capture,
}

/// The capture buffers of one run, when capturing (clones share them).
#[derive(Debug, Default, Clone)]
pub(crate) struct Captured {
    pipes: Option<(MemoryOutputPipe, MemoryOutputPipe)>,
}

impl Captured {
    /// What the guest wrote: (stdout, stderr). Empty when inheriting.
    pub(crate) fn take(self) -> (Vec<u8>, Vec<u8>) {
        match self.pipes {
            Some((out, err)) => (out.contents().to_vec(), err.contents().to_vec()),
            None => (Vec::new(), Vec::new()),
        }
    }

    /// What the guest wrote so far: (stdout, stderr). Empty when inheriting.
    pub(crate) fn contents(&self) -> (Vec<u8>, Vec<u8>) {
        match &self.pipes {
            Some((out, err)) => (out.contents().to_vec(), err.contents().to_vec()),
            None => (Vec::new(), Vec::new()),
        }
    }
}

impl Stdio {
    /// Configures a WASI context builder's stdio (for WASI 0.2 and 0.3
    /// alike: both read the same builder setting).
    pub(crate) fn apply(self, builder: &mut WasiCtxBuilder) -> Captured {
        match self {
            Stdio::Inherit => {
                builder.inherit_stdio();
                Captured::default()
            }
            Stdio::Capture => {
                let out = MemoryOutputPipe::new(CAPTURE_LIMIT);
                let err = MemoryOutputPipe::new(CAPTURE_LIMIT);
                builder.stdout(out.clone()).stderr(err.clone());
                Captured {
                    pipes: Some((out, err)),
                }
            }
        }
    }
}

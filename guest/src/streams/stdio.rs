//! The program's own stdin, stdout and stderr as a [`StreamReader`] and
//! [`StreamWriter`]s: reading a line of stdin waits without holding up
//! the program's other tasks (asyncio has no ready-made ones; the recipe
//! there is `loop.connect_read_pipe` with a `StreamReaderProtocol` over
//! `sys.stdin`).
//!
//! Each is a WASI 0.3 stream of its own (`wasi:cli/stdin`'s
//! `read-via-stream`, `stdout`'s and `stderr`'s `write-via-stream`). Take
//! stdin once: two readers would share its bytes in no defined order. What
//! `println!` writes goes through another path (the WASI 0.2 stream that
//! Rust's `std` uses): mixed with a [`stdout`] writer, the two may
//! interleave in any order, so use one or the other for a given output.

use std::rc::Rc;

use super::reader::CloseSignal;
use super::{StreamReader, StreamWriter};
use crate::bindings::wasi::cli::types::ErrorCode;
use crate::errors::Error;

/// The program's stdin, read as a stream: `readline` and friends wait for
/// input without blocking the loop; at the end of input they see EOF, and
/// a failed read is the error (`stdin: ...`).
pub fn stdin() -> StreamReader {
    let (stream, result) = crate::bindings::wasi::cli::stdin::read_via_stream();
    let end = Box::pin(async move {
        match result.await {
            Ok(()) => None,
            Err(code) => Some(stdio_error("stdin", code)),
        }
    });
    StreamReader::from_stream_with(stream, end, Rc::new(CloseSignal::default()))
}

/// The program's stdout as a writer: `write` never waits, `drain` waits
/// while the reader of stdout (a terminal, a pipe) lags, `close` ends it.
pub fn stdout() -> StreamWriter {
    let (tx, rx) = crate::bindings::wit_stream::new::<u8>();
    // How writing ended shows as the writer's BrokenPipe.
    drop(crate::bindings::wasi::cli::stdout::write_via_stream(rx));
    StreamWriter::from_stream(tx)
}

/// The program's stderr as a writer (as [`stdout`]).
pub fn stderr() -> StreamWriter {
    let (tx, rx) = crate::bindings::wit_stream::new::<u8>();
    drop(crate::bindings::wasi::cli::stderr::write_via_stream(rx));
    StreamWriter::from_stream(tx)
}

fn stdio_error(what: &str, code: ErrorCode) -> Error {
    let why = match code {
        ErrorCode::Io => "an I/O error",
        ErrorCode::IllegalByteSequence => "an illegal byte sequence",
        ErrorCode::Pipe => "a broken pipe",
    };
    Error::from(std::io::Error::other(format!("{what}: {why}")))
}

//! What the host's stream producers and consumers (sockets, a child's
//! pipes) have in common.

use std::task::Poll;
use wasmtime::component::StreamResult;

/// A producer's or consumer's answer to wasmtime: the result when there is
/// one; when there is none yet, `Cancelled` if wasmtime asks the operation
/// to finish (the guest cancelled its read or write), else `Pending`.
pub(crate) fn answer(
    poll: Poll<StreamResult>,
    finish: bool,
) -> Poll<wasmtime::Result<StreamResult>> {
    match poll {
        Poll::Ready(result) => Poll::Ready(Ok(result)),
        Poll::Pending if finish => Poll::Ready(Ok(StreamResult::Cancelled)),
        Poll::Pending => Poll::Pending,
    }
}

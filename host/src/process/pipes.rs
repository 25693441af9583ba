//! The host ends of a child's pipes as component-model streams: a
//! [`PipeProducer`] turns the child's stdout/stderr into a `stream<u8>` the
//! guest reads; a [`PipeConsumer`] copies a guest's `stream<u8>` into the
//! child's stdin. The same shape as wasmtime-wasi's stdio streams: data go
//! straight between guest memory and the pipe (no intermediate buffer).

use crate::process::child::PipeReader;
use crate::streams::answer;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncWrite, ReadBuf};
use wasmtime::StoreContextMut;
use wasmtime::component::{
    Destination, Source, StreamConsumer, StreamProducer, StreamResult, VecBuffer,
};

/// How much one read from a child's pipe may deliver when the guest's
/// buffer is bigger (a pipe holds 64 KiB on Linux).
const READ_CHUNK: usize = 64 << 10;

/// A child's stdout or stderr, read by the guest.
pub(crate) struct PipeProducer(pub(crate) PipeReader);

impl<D> StreamProducer<D> for PipeProducer {
    type Item = u8;
    type Buffer = VecBuffer<u8>;

    fn poll_produce<'a>(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut store: StoreContextMut<'a, D>,
        dst: Destination<'a, Self::Item, Self::Buffer>,
        finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        // A zero-length read asks "is there data?"; a pipe cannot tell
        // without reading, so say yes (as wasmtime-wasi's stdin does).
        if dst.remaining(&mut store) == Some(0) {
            return Poll::Ready(Ok(StreamResult::Completed));
        }
        let mut dst = dst.as_direct(store, READ_CHUNK);
        let mut buf = ReadBuf::new(dst.remaining());
        let read = self.0.as_mut().poll_read(cx, &mut buf);
        let n = buf.filled().len();
        let read = read.map(|r| match r {
            Ok(()) if n == 0 => StreamResult::Dropped,
            Ok(()) => {
                dst.mark_written(n);
                StreamResult::Completed
            }
            // A read error on a pipe ends the stream, as EOF would.
            Err(_) => StreamResult::Dropped,
        });
        answer(read, finish)
    }
}

/// A guest's stream copied into a child's stdin. Dropping it (when the guest
/// closes its writer) closes the child's stdin.
pub(crate) struct PipeConsumer(pub(crate) tokio::process::ChildStdin);

impl<D> StreamConsumer<D> for PipeConsumer {
    type Item = u8;

    fn poll_consume(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        store: StoreContextMut<D>,
        src: Source<Self::Item>,
        finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        let mut src = src.as_direct(store);
        let buf = src.remaining();
        if buf.is_empty() {
            return Poll::Ready(Ok(StreamResult::Completed));
        }
        let wrote = Pin::new(&mut self.0).poll_write(cx, buf).map(|r| match r {
            Ok(0) | Err(_) => StreamResult::Dropped,
            Ok(n) => {
                src.mark_read(n);
                StreamResult::Completed
            }
        });
        answer(wrote, finish)
    }
}

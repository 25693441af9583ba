//! The `stream writer` task: moves a [`StreamWriter`](super::StreamWriter)'s
//! buffer into its stream as fast as the other end takes it. Started only
//! when a write is left unfinished or closing must wait for one.

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::shared::{RawWriter, Shared, WriteOp};
use crate::errors::{Error, Result};
use crate::runtime::{self, task::Awaiting};

/// Wakes the pump, starting it the first time (it needs the running
/// loop; without one the write stays in flight, as it would with the
/// loop stopped).
pub(super) fn wake_or_start_pump(shared: &Rc<RefCell<Shared>>) {
    let mut s = shared.borrow_mut();
    if s.pump_started {
        s.wake_pump();
        return;
    }
    let Some(lp) = runtime::try_current_loop() else {
        return;
    };
    s.pump_started = true;
    drop(s);
    let pump = Pump {
        shared: shared.clone(),
    };
    let eager = lp.eager.get();
    drop(crate::tasks::spawn_on(
        &lp,
        pump,
        Some("stream writer".to_owned()),
        eager,
    ));
}

/// A write of `chunk`; it owns the stream until it completes and gives it
/// back with what the other end did not take.
pub(super) fn start_write(raw: RawWriter, chunk: Vec<u8>) -> WriteOp {
    Box::pin(async move {
        let mut raw = raw;
        let left = raw.write_all(chunk).await;
        (raw, left)
    })
}

/// The error of a write the other end no longer reads.
pub(super) fn reader_gone() -> Error {
    Error::from(std::io::Error::new(
        std::io::ErrorKind::BrokenPipe,
        "the stream's reader went away",
    ))
}

/// The background task moving the buffer into the stream.
struct Pump {
    shared: Rc<RefCell<Shared>>,
}

impl Pump {
    fn finish(&mut self, error: Option<Error>) {
        let parts = self.shared.borrow_mut().finish(error);
        drop(parts);
    }
}

impl std::future::Future for Pump {
    type Output = Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if let Some(e) = runtime::take_cancel() {
            // Shutting down (the loop is closing, or someone cancelled the
            // pump): what is left is dropped, as a transport would.
            self.finish(Some(Error::from(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the stream writer was cancelled",
            ))));
            return Poll::Ready(Err(e));
        }
        loop {
            let mut s = self.shared.borrow_mut();
            if s.aborted {
                drop(s);
                self.finish(None);
                return Poll::Ready(Ok(()));
            }
            if let Some(mut op) = s.op.take() {
                drop(s);
                match op.as_mut().poll(cx) {
                    Poll::Pending => {
                        let mut s = self.shared.borrow_mut();
                        s.op = Some(op);
                        // `abort` must reach a pump stuck in a write.
                        runtime::store_waker(&mut s.pump, cx.waker());
                        runtime::set_awaiting(Awaiting::Io {
                            what: "the stream's reader",
                        });
                        return Poll::Pending;
                    }
                    Poll::Ready((_, left)) if !left.is_empty() => {
                        self.finish(Some(reader_gone()));
                        return Poll::Ready(Ok(()));
                    }
                    Poll::Ready((raw, _)) => {
                        self.shared.borrow_mut().completed(raw);
                        continue;
                    }
                }
            }
            if !s.buf.is_empty() {
                let chunk = std::mem::take(&mut s.buf);
                s.in_flight = chunk.len();
                let raw = s.raw.take().expect("no write in flight");
                s.op = Some(start_write(raw, chunk));
                continue;
            }
            if s.closing {
                drop(s);
                self.finish(None);
                return Poll::Ready(Ok(()));
            }
            runtime::store_waker(&mut s.pump, cx.waker());
            runtime::set_awaiting(Awaiting::Io {
                what: "data to write",
            });
            return Poll::Pending;
        }
    }
}

//! The `stream writer` task: moves a [`StreamWriter`](super::StreamWriter)'s
//! buffer into its stream as fast as the other end takes it. Started only
//! when a write is left unfinished or closing must wait for one.

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::shared::{RawWriter, Shared, WriteOp};
use crate::errors::{Error, Result};
use crate::runtime::task::{Awaiting, Service, TaskRun};
use crate::runtime::{self};
use crate::streams::channel::{OutState, Outbox};

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
    let task = lp.spawn(pump, Some("stream writer".to_owned()), eager);
    TaskRun::header(&*task).make_service(Service::WriterPump);
}

/// A write of `chunk`; it owns the stream until it completes and gives it
/// back with what the other end did not take.
pub(super) fn start_write(mut stream: wit_bindgen::StreamWriter<u8>, chunk: Vec<u8>) -> WriteOp {
    Box::pin(async move {
        let left = stream.write_all(chunk).await;
        (stream, left)
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

    /// A multiplexed connection: hands the buffer on as its window opens;
    /// closing ends once the system has taken every byte sent (as a
    /// socket's own stream does when its last write completes).
    fn poll_channel(&mut self, cx: &mut Context<'_>, outbox: &dyn Outbox) -> Poll<Result<()>> {
        let mut s = self.shared.borrow_mut();
        while !s.buf.is_empty() {
            match outbox.state() {
                OutState::Gone => {
                    drop(s);
                    self.finish(Some(reader_gone()));
                    return Poll::Ready(Ok(()));
                }
                OutState::Blocked => break,
                OutState::Ready => {
                    let n = outbox.send(&s.buf);
                    s.buf.drain(..n);
                    s.wake_waiters();
                }
            }
        }
        let sending = !s.buf.is_empty() || (s.closing && outbox.unsent() > 0);
        if s.closing && !sending {
            drop(s);
            self.finish(None);
            return Poll::Ready(Ok(()));
        }
        // Progress wakes the pump (the writer's `on_progress`).
        runtime::store_waker(&mut s.pump, cx.waker());
        drop(s);
        if sending {
            outbox.ask_progress();
        }
        runtime::set_awaiting(Awaiting::Io {
            what: if sending {
                "room on the connection"
            } else {
                "data to write"
            },
        });
        Poll::Pending
    }
}

impl std::future::Future for Pump {
    type Output = Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if let Some(e) = runtime::take_cancel() {
            let mut s = self.shared.borrow_mut();
            if let Some(outbox) = s.outbox().cloned()
                && !s.aborted
                && s.error.is_none()
            {
                // The loop is closing (pumps stop after the program's
                // tasks): a multiplexed connection hands on all it holds,
                // which the multiplexer writes out before it stops.
                let buf = std::mem::take(&mut s.buf);
                drop(s);
                outbox.send_all(&buf);
                self.finish(None);
                return Poll::Ready(Err(e));
            }
            drop(s);
            // A stream of its own (or someone cancelled the pump): what
            // is left is dropped, as a transport would.
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
            if let Some(outbox) = s.outbox().cloned() {
                drop(s);
                return self.poll_channel(cx, &*outbox);
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
                    Poll::Ready((stream, _)) => {
                        self.shared.borrow_mut().completed(stream);
                        continue;
                    }
                }
            }
            if !s.buf.is_empty() {
                let chunk = std::mem::take(&mut s.buf);
                s.in_flight = chunk.len();
                let Some(RawWriter::Stream(stream)) = s.raw.take() else {
                    unreachable!("a stream's writer with no write in flight has its stream");
                };
                s.op = Some(start_write(stream, chunk));
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

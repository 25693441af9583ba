//! The driver task: it keeps a read of the host's `incoming` stream
//! pending and writes the connections' frames to `outgoing`.

use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::{Driver, READ_BUFFER, broken};
use crate::errors::{Error, Result};
use crate::runtime::{self, task::Awaiting};

type RawReader = wit_bindgen::StreamReader<u8>;
type RawWriter = wit_bindgen::StreamWriter<u8>;
type ReadOp = Pin<Box<dyn Future<Output = (RawReader, wit_bindgen::StreamResult, Vec<u8>)>>>;
type WriteOp = Pin<Box<dyn Future<Output = (RawWriter, Vec<u8>)>>>;

/// The driver task: a read of `incoming` always pending, and a write of
/// whatever frames the connections made since the last one.
pub(super) struct DriverTask {
    pub(super) driver: Rc<Driver>,
    pub(super) incoming: Option<RawReader>,
    pub(super) reading: Option<ReadOp>,
    pub(super) outgoing: Option<RawWriter>,
    pub(super) writing: Option<WriteOp>,
    /// The buffer of the last write, kept for the next frames.
    pub(super) spare: Vec<u8>,
    /// Cancelled (the loop is closing): the frames left are written, for
    /// at most this long, and nothing more is read.
    pub(super) flushing: Option<crate::time::Sleep>,
    pub(super) cancelled: Option<Error>,
}

/// How long a closing loop's driver goes on writing what is left (a
/// host that takes nothing because its peers do not read must not hold
/// the program's exit).
const FLUSH_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

impl DriverTask {
    fn start_read(&mut self, mut buf: Vec<u8>) {
        if let Some(mut raw) = self.incoming.take() {
            buf.clear();
            buf.reserve(READ_BUFFER);
            self.reading = Some(Box::pin(async move {
                let (result, buf) = raw.read(buf).await;
                (raw, result, buf)
            }));
        }
    }

    /// Polls the read: `Err` once `incoming` has ended.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Result<()> {
        if self.reading.is_none() {
            self.start_read(Vec::new());
        }
        // A few reads per step at most: the connections' tasks run between.
        for _ in 0..4 {
            let Some(op) = self.reading.as_mut() else {
                return Ok(());
            };
            let Poll::Ready((raw, result, buf)) = op.as_mut().poll(cx) else {
                return Ok(());
            };
            self.reading = None;
            self.driver.dispatch(&buf);
            if matches!(result, wit_bindgen::StreamResult::Dropped) {
                return Err(broken("the host's socket multiplexer ended"));
            }
            self.incoming = Some(raw);
            self.start_read(buf);
        }
        // More may be there: come back after the others had their turn.
        cx.waker().wake_by_ref();
        Ok(())
    }

    /// Writes what the connections sent: `Err` once `outgoing` is gone.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Result<()> {
        loop {
            if let Some(op) = self.writing.as_mut() {
                let Poll::Ready((raw, left)) = op.as_mut().poll(cx) else {
                    return Ok(());
                };
                self.writing = None;
                if !left.is_empty() {
                    return Err(broken("the host's socket multiplexer stopped taking data"));
                }
                self.outgoing = Some(raw);
                self.spare = left;
            }
            let mut out = self.driver.out.borrow_mut();
            if out.is_empty() {
                drop(out);
                runtime::store_waker(&mut self.driver.waker.borrow_mut(), cx.waker());
                return Ok(());
            }
            let Some(mut raw) = self.outgoing.take() else {
                return Ok(());
            };
            let frames = std::mem::replace(&mut *out, std::mem::take(&mut self.spare));
            drop(out);
            self.writing = Some(Box::pin(async move {
                let left = raw.write_all(frames).await;
                (raw, left)
            }));
        }
    }
}

impl Future for DriverTask {
    type Output = Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if let Some(e) = runtime::take_cancel() {
            // The loop is closing: what the connections sent and closed
            // goes out first, then every connection ends.
            self.reading = None;
            self.incoming = None;
            self.flushing = Some(crate::time::internal_timer(FLUSH_LIMIT));
            self.cancelled = Some(e);
        }
        if self.flushing.is_some() {
            let written = self.poll_write(cx).is_err()
                || (self.writing.is_none() && self.driver.out.borrow().is_empty());
            let done = written
                || (self.flushing.as_mut()).is_some_and(|t| Pin::new(t).poll(cx).is_ready());
            if !done {
                runtime::set_awaiting(Awaiting::Io {
                    what: "the socket multiplexer's last writes",
                });
                return Poll::Pending;
            }
            let e =
                (self.cancelled.take()).unwrap_or_else(|| broken("the socket multiplexer stopped"));
            self.driver.end_all(&e);
            return Poll::Ready(Err(e));
        }
        let ended = self.poll_read(cx).and_then(|()| self.poll_write(cx));
        if let Err(e) = ended {
            // Every connection hears of it; the task itself ends quietly.
            self.driver.end_all(&e);
            return Poll::Ready(Ok(()));
        }
        runtime::set_awaiting(Awaiting::Io {
            what: "the socket multiplexer",
        });
        Poll::Pending
    }
}

impl Drop for DriverTask {
    fn drop(&mut self) {
        if !self.driver.ended.get() {
            self.driver
                .end_all(&broken("the socket multiplexer stopped"));
        }
    }
}

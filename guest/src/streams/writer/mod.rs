//! [`StreamWriter`]: asyncio's `StreamWriter` over a `stream<u8>`.
//!
//! `write` never waits. With nothing buffered it hands the bytes to the
//! stream at once (as asyncio's socket transport calls `send` at once);
//! what the other end does not take at once is left to a small pump task
//! (named `stream writer`, started the first time it is needed), which
//! moves the buffer into the stream as fast as the other end takes it.
//! `drain` waits while more than the high-water mark is buffered, until it
//! falls to the low-water mark.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use crate::errors::{Error, Result};
use crate::runtime::{self, task::Awaiting};
use crate::ssl::SslObject;
use crate::streams::channel::{OutState, Outbox};
use crate::streams::reader::CloseSignal;

mod pump;
mod shared;
mod tls;

use pump::{reader_gone, start_write, wake_or_start_pump};
use shared::{RawWriter, Shared};

/// asyncio's write-buffer limits: `drain` waits once more than `high` bytes
/// are buffered, until at most `low` are. Defaults: 64 KiB and 16 KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteBufferLimits {
    /// The high-water mark.
    pub high: usize,
    /// The low-water mark.
    pub low: usize,
}

impl Default for WriteBufferLimits {
    fn default() -> Self {
        WriteBufferLimits {
            high: 64 << 10,
            low: 16 << 10,
        }
    }
}

/// Writes bytes to a stream, buffered: asyncio's `StreamWriter`.
///
/// Dropping it closes the stream once the buffered bytes are written.
#[must_use = "dropping a StreamWriter closes its stream (once the buffered bytes are written)"]
pub struct StreamWriter {
    shared: Rc<RefCell<Shared>>,
    /// The socket's addresses (`get_extra_info("sockname")`/`"peername"`).
    sockname: Option<SocketAddr>,
    peername: Option<SocketAddr>,
    /// A TLS connection's session (`get_extra_info("ssl_object")`).
    ssl: Option<Rc<SslObject>>,
    /// A Unix socket connection's path.
    unix_path: Option<Rc<str>>,
}

impl std::fmt::Debug for StreamWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.shared.borrow();
        f.debug_struct("StreamWriter")
            .field("buffered", &s.size())
            .field("closing", &s.closing)
            .field("closed", &s.closed)
            .finish()
    }
}

impl StreamWriter {
    /// A writer over the writable end of a component-model stream.
    pub fn from_stream(stream: wit_bindgen::StreamWriter<u8>) -> Self {
        StreamWriter::with_raw(RawWriter::Stream(stream))
    }

    fn with_raw(raw: RawWriter) -> Self {
        let shared = Rc::new(RefCell::new(Shared {
            buf: Vec::new(),
            in_flight: 0,
            limits: WriteBufferLimits::default(),
            closing: false,
            closed: false,
            aborted: false,
            error: None,
            pump: None,
            waiters: Vec::new(),
            watcher: None,
            raw: Some(raw),
            op: None,
            socket: None,
            reader: None,
            pump_started: false,
        }));
        StreamWriter {
            shared,
            sockname: None,
            peername: None,
            ssl: None,
            unix_path: None,
        }
    }

    /// A writer over a socket's send stream, knowing its addresses,
    /// keeping `socket` alive until the stream is closed, and ending
    /// `reader` (the connection's) when it is aborted.
    pub(crate) fn from_socket_stream(
        stream: wit_bindgen::StreamWriter<u8>,
        sockname: Option<SocketAddr>,
        peername: Option<SocketAddr>,
        socket: Rc<dyn std::any::Any>,
        reader: Rc<CloseSignal>,
    ) -> Self {
        StreamWriter::of_socket(
            RawWriter::Stream(stream),
            sockname,
            peername,
            socket,
            reader,
        )
    }

    fn of_socket(
        raw: RawWriter,
        sockname: Option<SocketAddr>,
        peername: Option<SocketAddr>,
        socket: Rc<dyn std::any::Any>,
        reader: Rc<CloseSignal>,
    ) -> Self {
        let mut writer = StreamWriter::with_raw(raw);
        writer.sockname = sockname;
        writer.peername = peername;
        let mut s = writer.shared.borrow_mut();
        s.socket = Some(socket);
        s.reader = Some(reader);
        drop(s);
        writer
    }

    /// The remote address of a connection (asyncio's
    /// `get_extra_info("peername")`); `None` for a pipe.
    pub fn peername(&self) -> Option<SocketAddr> {
        self.peername
    }

    /// The local address of a connection (`get_extra_info("sockname")`);
    /// `None` for a pipe.
    pub fn sockname(&self) -> Option<SocketAddr> {
        self.sockname
    }

    /// A Unix socket connection's path: the server's (asyncio's
    /// `get_extra_info("peername")` on the client's side, `"sockname"` on
    /// the server's); `None` for any other stream.
    pub fn unix_path(&self) -> Option<&str> {
        self.unix_path.as_deref()
    }

    #[cfg_attr(not(feature = "host-mux"), allow(dead_code))]
    pub(crate) fn set_unix_path(&mut self, path: Rc<str>) {
        self.unix_path = Some(path);
    }

    /// A TLS connection's session: version, cipher, ALPN protocol and the
    /// peer's certificate (asyncio's `get_extra_info("ssl_object")`,
    /// `"cipher"`, `"peercert"`); `None` without TLS.
    pub fn ssl_object(&self) -> Option<&SslObject> {
        self.ssl.as_deref()
    }

    pub(crate) fn ssl_shared(&self) -> Option<Rc<SslObject>> {
        self.ssl.clone()
    }

    pub(crate) fn set_ssl_object(&mut self, ssl: Rc<SslObject>) {
        self.ssl = Some(ssl);
    }

    /// Closes at once, dropping whatever is buffered (a transport's
    /// `abort`). Over a socket, the connection is reset (the peer sees
    /// `ConnectionReset`, not EOF) and the connection's reader sees EOF;
    /// over a pipe, the other end sees the stream end.
    pub fn abort(&mut self) {
        self.handle().abort();
    }

    /// A handle that closes or aborts this writer from elsewhere.
    pub(crate) fn handle(&self) -> WriterHandle {
        WriterHandle(Rc::downgrade(&self.shared))
    }

    /// A writer over a connection of the socket multiplexer (as
    /// [`from_socket_stream`](Self::from_socket_stream) otherwise).
    #[cfg_attr(not(feature = "host-mux"), allow(dead_code))]
    pub(crate) fn from_outbox(
        outbox: Rc<dyn Outbox>,
        sockname: Option<SocketAddr>,
        peername: Option<SocketAddr>,
        socket: Rc<dyn std::any::Any>,
        reader: Rc<CloseSignal>,
    ) -> Self {
        let raw = RawWriter::Channel(outbox.clone());
        let writer = StreamWriter::of_socket(raw, sockname, peername, socket, reader);
        let shared = Rc::downgrade(&writer.shared);
        outbox.on_progress(Box::new(move || {
            // Drain waiters, the transport's driver and the pump look again.
            if let Some(s) = shared.upgrade()
                && let Ok(mut s) = s.try_borrow_mut()
            {
                s.wake_waiters();
                s.wake_pump();
            }
        }));
        writer
    }

    /// Sends `data`, or buffers what cannot go at once (never waits).
    /// Fails once the writer is closing or the other end has gone away.
    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        {
            let s = self.shared.borrow();
            if let Some(e) = &s.error {
                return Err(e.clone());
            }
            if s.closing {
                return Err(Error::runtime("StreamWriter: write after close"));
            }
        }
        self.push(data);
        Ok(())
    }

    /// Hands `data` to the stream at once when nothing is buffered and no
    /// write is in flight, else appends it to the buffer for the pump.
    fn push(&self, data: &[u8]) {
        let mut s = self.shared.borrow_mut();
        if data.is_empty() {
            return;
        }
        if let Some(outbox) = s.outbox().cloned() {
            // A multiplexed connection takes it at once, up to its window
            // (no write to wait for); the pump sends the rest as it can.
            let n = if s.buf.is_empty() && outbox.state() == OutState::Ready {
                outbox.send(data)
            } else {
                0
            };
            if n < data.len() {
                s.buf.extend_from_slice(&data[n..]);
                drop(s);
                wake_or_start_pump(&self.shared);
            }
            return;
        }
        if s.buf.is_empty()
            && let Some(RawWriter::Stream(stream)) = s.raw.take()
        {
            drop(s);
            self.write_through(stream, data.to_vec());
            return;
        }
        s.buf.extend_from_slice(data);
        s.wake_pump();
    }

    /// Nothing buffered and no write in flight: starts the write now. The
    /// other end usually takes it at once (a socket's send buffer has
    /// room), so no task runs for it; otherwise the pump finishes it.
    fn write_through(&self, stream: wit_bindgen::StreamWriter<u8>, chunk: Vec<u8>) {
        let len = chunk.len();
        let mut op = start_write(stream, chunk);
        // Polled once, here: it starts the write. The pump polls it again
        // with its own waker if it is not done (each poll registers the
        // waker it is given).
        let first = op.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        let mut s = self.shared.borrow_mut();
        match first {
            Poll::Ready((stream, left)) if left.is_empty() => {
                s.raw = Some(RawWriter::Stream(stream));
            }
            Poll::Ready((raw, _)) => {
                // The other end went away (writing again would trap).
                let parts = s.finish(Some(reader_gone()));
                s.wake_pump(); // it ends, seeing `closing`
                drop(s);
                drop((parts, raw));
            }
            Poll::Pending => {
                s.in_flight = len;
                s.op = Some(op);
                drop(s);
                wake_or_start_pump(&self.shared);
            }
        }
    }

    /// Buffers each of `chunks`.
    pub fn writelines<I, B>(&mut self, chunks: I) -> Result<()>
    where
        I: IntoIterator<Item = B>,
        B: AsRef<[u8]>,
    {
        for chunk in chunks {
            self.write(chunk.as_ref())?;
        }
        Ok(())
    }

    /// Bytes written and not yet taken by the other end.
    pub fn get_write_buffer_size(&self) -> usize {
        self.shared.borrow().size()
    }

    /// Sets the high- and low-water marks (`low` is capped at `high`).
    pub fn set_write_buffer_limits(&mut self, high: usize, low: usize) {
        let mut s = self.shared.borrow_mut();
        s.limits = WriteBufferLimits {
            high,
            low: low.min(high),
        };
        s.wake_waiters();
    }

    /// The current write-buffer limits.
    pub fn write_buffer_limits(&self) -> WriteBufferLimits {
        self.shared.borrow().limits
    }

    /// Waits while the buffer is above the high-water mark, until it is at
    /// or below the low-water mark. Fails if the other end went away
    /// (`BrokenPipe`). Cancelled or dropped, it leaves the bytes to be
    /// written.
    pub async fn drain(&mut self) -> Result<()> {
        let mut waiting = false;
        std::future::poll_fn(|cx| poll_drain(&self.shared, &mut waiting, cx)).await
    }

    /// Sends `count` bytes of `file` (all, to its end, if `None`) from
    /// `offset`, waiting as [`drain`](Self::drain) does after each 64 KiB;
    /// the number of bytes sent (asyncio's `loop.sendfile` on a stream's
    /// transport). The file is one opened in a granted directory
    /// (docs/files.md); its reads are synchronous.
    pub async fn sendfile(
        &mut self,
        file: &mut std::fs::File,
        offset: u64,
        count: Option<u64>,
    ) -> Result<u64> {
        let mut chunks = crate::streams::sendfile::FileChunks::new(file, offset, count)?;
        while let Some(chunk) = chunks.next_chunk()? {
            self.write(chunk)?;
            self.drain().await?;
        }
        Ok(chunks.sent())
    }

    /// Closes the stream after the buffered bytes (the other end sees EOF).
    /// A `stream<u8>` has no separate half-close, so this is `close`.
    pub fn write_eof(&mut self) {
        self.close();
    }

    /// Always true: closing the writer is the end-of-file.
    pub fn can_write_eof(&self) -> bool {
        true
    }

    /// Starts closing: the buffered bytes are still written, then the
    /// stream is closed. Idempotent.
    pub fn close(&mut self) {
        close(&self.shared, Ending::Graceful);
    }

    /// Whether [`close`](Self::close) was called (or the other end went
    /// away).
    pub fn is_closing(&self) -> bool {
        let s = self.shared.borrow();
        s.closing || s.closed
    }

    /// Waits until the stream is closed (after [`close`](Self::close)).
    /// Gives the error that stopped writing early, if one did. Cancelled or
    /// dropped, closing goes on.
    pub async fn wait_closed(&mut self) -> Result<()> {
        std::future::poll_fn(|cx| {
            if let Some(e) = runtime::take_cancel() {
                return Poll::Ready(Err(e));
            }
            let mut s = self.shared.borrow_mut();
            if s.closed {
                return Poll::Ready(match &s.error {
                    Some(e) => Err(e.clone()),
                    None => Ok(()),
                });
            }
            s.wait_for_room(cx.waker());
            runtime::set_awaiting(Awaiting::Io {
                what: "StreamWriter.wait_closed",
            });
            Poll::Pending
        })
        .await
    }
}

/// What a transport's driver needs to know of its writer.
pub(crate) struct Flow {
    /// Bytes written and not yet taken by the other end.
    pub(crate) size: usize,
    /// The stream is closed (everything was written, or it was aborted).
    pub(crate) closed: bool,
    /// Why writing stopped early, if it did.
    pub(crate) error: Option<Error>,
    pub(crate) limits: WriteBufferLimits,
}

impl StreamWriter {
    /// The writer's state, for a transport (crate::transports).
    pub(crate) fn flow(&self) -> Flow {
        let s = self.shared.borrow();
        Flow {
            size: s.size(),
            closed: s.closed,
            error: s.error.clone(),
            limits: s.limits,
        }
    }

    /// Wakes `waker` the next time the buffer shrinks, the limits change,
    /// or the stream closes (one waker: a new one replaces the last).
    pub(crate) fn watch(&self, waker: &Waker) {
        let mut s = self.shared.borrow_mut();
        runtime::store_waker(&mut s.watcher, waker);
        if s.size() > s.limits.low
            && let Some(outbox) = s.outbox()
        {
            // Above the low-water mark the watcher waits for it to fall.
            outbox.ask_progress();
        }
    }
}

impl Drop for StreamWriter {
    fn drop(&mut self) {
        self.close();
    }
}

/// Closes or aborts a [`StreamWriter`] from elsewhere (a server closing its
/// clients), and waits until it is closed.
#[derive(Clone)]
pub(crate) struct WriterHandle(Weak<RefCell<Shared>>);

impl WriterHandle {
    pub(crate) fn close(&self) {
        if let Some(s) = self.0.upgrade() {
            close(&s, Ending::Graceful);
        }
    }

    /// Closes at once, dropping the buffer, without a reset: for a
    /// connection that failed or the loop's shutdown.
    pub(crate) fn discard(&self) {
        if let Some(s) = self.0.upgrade() {
            close(&s, Ending::Discard);
        }
    }

    pub(crate) fn abort(&self) {
        if let Some(s) = self.0.upgrade() {
            close(&s, Ending::Reset);
        }
    }

    /// [`StreamWriter::drain`] from elsewhere (a transport's `sendfile`);
    /// at once if the writer is gone.
    pub(crate) async fn drain(&self) -> Result<()> {
        let mut waiting = false;
        std::future::poll_fn(|cx| match self.0.upgrade() {
            Some(s) => poll_drain(&s, &mut waiting, cx),
            None => Poll::Ready(Ok(())),
        })
        .await
    }

    /// Waits until the stream is closed. Not cancellable: used by the SDK's
    /// own bookkeeping tasks.
    pub(crate) async fn closed(&self) {
        std::future::poll_fn(|cx| {
            let Some(s) = self.0.upgrade() else {
                return Poll::Ready(());
            };
            let mut s = s.borrow_mut();
            if s.closed {
                return Poll::Ready(());
            }
            s.wait_for_room(cx.waker());
            runtime::set_awaiting(Awaiting::Io {
                what: "StreamWriter.closed",
            });
            Poll::Pending
        })
        .await
    }
}

/// One poll of a drain: above the high-water mark it waits (`waiting`
/// from then on) until the size is at or below the low one.
fn poll_drain(
    shared: &RefCell<Shared>,
    waiting: &mut bool,
    cx: &mut Context<'_>,
) -> Poll<Result<()>> {
    if let Some(e) = runtime::take_cancel() {
        return Poll::Ready(Err(e));
    }
    let mut s = shared.borrow_mut();
    if let Some(e) = &s.error {
        return Poll::Ready(Err(e.clone()));
    }
    let size = s.size();
    let mark = if *waiting {
        s.limits.low
    } else {
        s.limits.high
    };
    if size <= mark || s.closed {
        return Poll::Ready(Ok(()));
    }
    *waiting = true;
    s.wait_for_room(cx.waker());
    runtime::set_awaiting(Awaiting::Io {
        what: "StreamWriter.drain",
    });
    Poll::Pending
}

/// How a writer is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// After the buffered bytes (a socket's FIN follows them).
    Graceful,
    /// At once, dropping the buffer; a socket still gets its FIN.
    Discard,
    /// At once, dropping the buffer, and a socket's connection is reset:
    /// the socket is dropped while its send stream is still open (what
    /// the host reads as an abort), before the stream.
    Reset,
}

/// Closes a writer: at once when no write is in flight or the buffer is
/// dropped, else through the pump.
fn close(shared: &Rc<RefCell<Shared>>, how: Ending) {
    let mut s = shared.borrow_mut();
    if s.closed {
        return;
    }
    s.closing = true;
    if how != Ending::Graceful {
        s.aborted = true;
        s.buf = Vec::new();
    }
    if how == Ending::Reset {
        let (socket, reader) = (s.socket.take(), s.reader.take());
        drop(s);
        drop(socket);
        if let Some(r) = reader {
            r.close();
        }
        s = shared.borrow_mut();
    }
    let on_way = s.outbox().map_or(0, |c| c.unsent());
    if s.op.is_none() && s.buf.is_empty() && (on_way == 0 || s.aborted) {
        // Idle: nothing to wait for. Dropping the stream closes it.
        let parts = s.finish(None);
        s.wake_pump();
        drop(s);
        drop(parts);
        return;
    }
    drop(s);
    wake_or_start_pump(shared);
}

impl futures_io::AsyncWrite for StreamWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let mut s = self.shared.borrow_mut();
        if let Some(e) = &s.error {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                e.to_string(),
            )));
        }
        if s.closing {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "write after close",
            )));
        }
        if s.size() >= s.limits.high && s.size() > 0 {
            s.wait_for_room(cx.waker());
            return Poll::Pending;
        }
        drop(s);
        self.push(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let mut s = self.shared.borrow_mut();
        if let Some(e) = &s.error {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                e.to_string(),
            )));
        }
        if s.size() == 0 || s.closed {
            return Poll::Ready(Ok(()));
        }
        s.wait_for_room(cx.waker());
        Poll::Pending
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.close();
        let mut s = self.shared.borrow_mut();
        if s.closed {
            return Poll::Ready(match &s.error {
                Some(e) => Err(std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    e.to_string(),
                )),
                None => Ok(()),
            });
        }
        s.wait_for_room(cx.waker());
        Poll::Pending
    }
}

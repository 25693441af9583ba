//! [`Transport`] and the driver task that calls a protocol: one connection
//! over the stream core ([`StreamReader`] / [`StreamWriter`]).

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::{BaseProtocol, BufferedProtocol, Protocol};
use crate::errors::{Error, Result};
use crate::net::tcp::ConnHandle;
use crate::runtime::{self, task::Awaiting};
use crate::streams::{StreamReader, StreamWriter, WriteBufferLimits};

/// How many chunks the driver hands to its protocol before it lets other
/// tasks run.
const BURST: usize = 16;

/// The calls a driver makes, whatever the protocol's kind. Each takes the
/// protocol's `RefCell` for the call only. What every stream protocol has
/// ([`BaseProtocol`]) is done once, here, through [`base`](Self::base);
/// each kind says only how bytes and EOF reach it.
pub(crate) trait Sink {
    /// The protocol, as its [`BaseProtocol`].
    fn base(&self) -> &RefCell<dyn BaseProtocol>;
    /// Hands over one chunk; an error is fatal for the connection.
    fn data(&self, data: &[u8]) -> Result<()>;
    fn eof(&self) -> bool;

    fn made(&self, transport: Transport) {
        self.base().borrow_mut().connection_made(transport);
    }

    fn lost(&self, error: Option<Error>) {
        self.base().borrow_mut().connection_lost(error);
    }

    /// `pause_writing` (true) or `resume_writing` (false); `false` when
    /// the protocol is busy in one of its callbacks (then the driver
    /// delivers it after that callback).
    fn try_flow(&self, pause: bool) -> bool {
        let Ok(mut p) = self.base().try_borrow_mut() else {
            return false;
        };
        if pause {
            p.pause_writing();
        } else {
            p.resume_writing();
        }
        true
    }
}

/// A [`Protocol`] as a [`Sink`].
pub(crate) struct Plain<P>(pub(crate) Rc<RefCell<P>>);

impl<P: Protocol> Sink for Plain<P> {
    fn base(&self) -> &RefCell<dyn BaseProtocol> {
        &*self.0
    }
    fn data(&self, data: &[u8]) -> Result<()> {
        self.0.borrow_mut().data_received(data);
        Ok(())
    }
    fn eof(&self) -> bool {
        self.0.borrow_mut().eof_received()
    }
}

/// A [`BufferedProtocol`] as a [`Sink`]: each chunk is copied into the
/// buffers it gives.
pub(crate) struct Buffered<B>(pub(crate) Rc<RefCell<B>>);

impl<B: BufferedProtocol> Sink for Buffered<B> {
    fn base(&self) -> &RefCell<dyn BaseProtocol> {
        &*self.0
    }
    fn data(&self, data: &[u8]) -> Result<()> {
        let mut p = self.0.borrow_mut();
        let mut rest = data;
        while !rest.is_empty() {
            let buf = p.get_buffer(rest.len());
            if buf.is_empty() {
                return Err(Error::runtime(
                    "BufferedProtocol.get_buffer() returned an empty buffer",
                ));
            }
            let n = buf.len().min(rest.len());
            buf[..n].copy_from_slice(&rest[..n]);
            p.buffer_updated(n);
            rest = &rest[n..];
        }
        Ok(())
    }
    fn eof(&self) -> bool {
        self.0.borrow_mut().eof_received()
    }
}

/// One stream connection driven by a protocol (asyncio's socket
/// transport). A cheap handle: clones are the same transport.
///
/// Writing never waits: [`write`](Self::write) buffers, and a background
/// task (the stream core's pump) sends. Past the high-water mark the
/// protocol's `pause_writing` is called; `resume_writing` once the buffer
/// is back at the low-water mark.
///
/// Dropping every handle leaves the connection open (the driver task keeps
/// it, as asyncio's loop keeps an open transport); if the loop shuts down
/// with it still open, debug mode reports an unclosed transport.
#[derive(Clone)]
pub struct Transport {
    inner: Rc<Inner>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("peername", &self.inner.peername)
            .field("state", &self.inner.state.get())
            .field("buffered", &self.get_write_buffer_size())
            .finish()
    }
}

/// Where a connection is in its life (the state machine of the
/// [module docs](super)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading; `data_received` may come.
    Open,
    /// The peer's EOF was delivered and the protocol kept the connection
    /// open: no more reading, writing still works.
    HalfOpen,
    /// `close` (or `abort`) was asked for: waiting for the writer to finish.
    Closing,
    /// `connection_lost` was called.
    Lost,
}

pub(crate) struct Inner {
    writer: RefCell<StreamWriter>,
    /// A read pipe's transport has no writing side (asyncio's
    /// `ReadTransport`): writes fail, and its input's EOF ends it.
    read_only: bool,
    conn: ConnHandle,
    /// Taken when the connection is lost (breaks the protocol <-> transport
    /// cycle).
    sink: RefCell<Option<Rc<dyn Sink>>>,
    state: Cell<State>,
    reading_paused: Cell<bool>,
    /// `pause_writing` was called and `resume_writing` not yet.
    writing_paused: Cell<bool>,
    /// A flow call the protocol was too busy to take (true: pause).
    pending_flow: Cell<Option<bool>>,
    /// Closed (by the user, the server, the peer's EOF) or broken; not set
    /// when the loop's shutdown ended it: that one was left unclosed.
    settled: Cell<bool>,
    driver: RefCell<Option<Waker>>,
    peername: Option<SocketAddr>,
    sockname: Option<SocketAddr>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // asyncio's "unclosed transport" ResourceWarning (debug mode).
        if !self.settled.get() {
            let peer = self
                .peername
                .map_or_else(|| "?".to_owned(), |a| a.to_string());
            crate::debug::report_unclosed(&format!("transport to {peer}"));
        }
    }
}

impl Inner {
    fn wake_driver(&self) {
        if let Some(w) = self.driver.borrow_mut().take() {
            w.wake();
        }
    }

    fn sink(&self) -> Option<Rc<dyn Sink>> {
        self.sink.borrow().clone()
    }

    /// Calls pause_writing/resume_writing now, or leaves it to the driver
    /// when the protocol is in a callback.
    fn flow(&self, pause: bool) {
        self.writing_paused.set(pause);
        let delivered = self.sink().is_some_and(|s| s.try_flow(pause));
        if delivered {
            self.pending_flow.set(None);
        } else {
            self.pending_flow.set(Some(pause));
            self.wake_driver();
        }
    }

    fn maybe_pause(&self) {
        if self.writing_paused.get() || self.state.get() == State::Lost {
            return;
        }
        let f = self.writer.borrow().flow();
        if f.size > f.limits.high {
            self.flow(true);
        }
    }

    fn lose(&self, error: Option<Error>) {
        if self.state.replace(State::Lost) == State::Lost {
            return;
        }
        if !error.as_ref().is_some_and(Error::is_cancelled) {
            self.settled.set(true);
        }
        if error.is_some() {
            // Broken, or the loop is shutting down: the buffer is dropped
            // but the peer is not reset (only `abort` resets).
            self.conn.discard();
        }
        self.pending_flow.set(None);
        if let Some(sink) = self.sink.borrow_mut().take() {
            sink.lost(error);
        }
    }
}

impl Transport {
    /// A transport over a connected socket's reader and writer (or a
    /// pipe's: `read_only` for a read pipe's); `drive` runs it.
    pub(crate) fn new(
        writer: StreamWriter,
        conn: ConnHandle,
        sink: Rc<dyn Sink>,
        read_only: bool,
    ) -> Transport {
        Transport {
            inner: Rc::new(Inner {
                peername: writer.peername(),
                sockname: writer.sockname(),
                writer: RefCell::new(writer),
                read_only,
                conn,
                sink: RefCell::new(Some(sink)),
                state: Cell::new(State::Open),
                reading_paused: Cell::new(false),
                writing_paused: Cell::new(false),
                pending_flow: Cell::new(None),
                settled: Cell::new(false),
                driver: RefCell::new(None),
            }),
        }
    }

    /// Buffers `data` to send (never waits). Fails once the transport is
    /// closing or the connection broke; calls the protocol's
    /// `pause_writing` when the buffer goes over the high-water mark.
    pub fn write(&self, data: &[u8]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        self.check_writable()?;
        self.inner.writer.borrow_mut().write(data)?;
        self.inner.maybe_pause();
        Ok(())
    }

    /// Sends `count` bytes of `file` (to its end if `None`) from `offset`
    /// (`loop.sendfile(transport, file, offset, count)`; see
    /// [`Loop::sendfile`](crate::events::Loop::sendfile)).
    pub(crate) async fn sendfile(
        &self,
        file: &mut std::fs::File,
        offset: u64,
        count: Option<u64>,
    ) -> Result<u64> {
        let handle = self.inner.writer.borrow().handle();
        let mut chunks = crate::streams::sendfile::FileChunks::new(file, offset, count)?;
        while let Some(chunk) = chunks.next_chunk()? {
            self.write(chunk)?;
            handle.drain().await?;
        }
        Ok(chunks.sent())
    }

    fn check_writable(&self) -> Result<()> {
        if self.inner.read_only {
            return Err(Error::runtime(
                "Transport: a read pipe's transport cannot write",
            ));
        }
        if matches!(self.inner.state.get(), State::Closing | State::Lost) {
            return Err(Error::runtime("Transport: write after close"));
        }
        Ok(())
    }

    /// Buffers each of `chunks`.
    pub fn writelines<I, B>(&self, chunks: I) -> Result<()>
    where
        I: IntoIterator<Item = B>,
        B: AsRef<[u8]>,
    {
        for chunk in chunks {
            self.write(chunk.as_ref())?;
        }
        Ok(())
    }

    /// Closes the writing side after the buffered bytes (a TCP half-close:
    /// the peer sees EOF and may go on sending; `data_received` still
    /// comes).
    pub fn write_eof(&self) {
        self.inner.writer.borrow_mut().write_eof();
    }

    /// Always true for TCP.
    pub fn can_write_eof(&self) -> bool {
        true
    }

    /// Closes the connection: no more `data_received`; the buffered bytes
    /// are sent, then the socket closes and `connection_lost(None)` is
    /// called. Idempotent.
    pub fn close(&self) {
        self.inner.settled.set(true);
        if self.inner.state.get() == State::Lost {
            return;
        }
        self.inner.state.set(State::Closing);
        self.inner.conn.close();
        self.inner.wake_driver();
    }

    /// Closes at once, dropping the buffered bytes, and resets the
    /// connection: the peer sees `ConnectionReset`, not EOF (`SO_LINGER`
    /// 0; asyncio's `abort` closes the socket, which resets only when
    /// received bytes are unread). `connection_lost(None)` follows.
    /// Idempotent.
    pub fn abort(&self) {
        self.inner.settled.set(true);
        if self.inner.state.get() == State::Lost {
            return;
        }
        self.inner.state.set(State::Closing);
        self.inner.conn.abort();
        self.inner.wake_driver();
    }

    /// Whether it is closing or closed.
    pub fn is_closing(&self) -> bool {
        matches!(self.inner.state.get(), State::Closing | State::Lost)
    }

    /// Stops calling `data_received` until
    /// [`resume_reading`](Self::resume_reading); the socket is not read meanwhile, so the
    /// peer is slowed down by TCP itself. Idempotent.
    pub fn pause_reading(&self) {
        self.inner.reading_paused.set(true);
    }

    /// Delivers data again after [`pause_reading`](Self::pause_reading).
    pub fn resume_reading(&self) {
        if self.inner.reading_paused.replace(false) {
            self.inner.wake_driver();
        }
    }

    /// Whether `data_received` may come (not paused, not closing).
    pub fn is_reading(&self) -> bool {
        !self.inner.reading_paused.get() && self.inner.state.get() == State::Open
    }

    /// Sets the write buffer's marks (asyncio's defaults: `high` 64 KiB, or
    /// 4 x `low` when only `low` is given; `low` = `high` / 4), and calls
    /// `pause_writing` at once if the buffer is already above `high`.
    pub fn set_write_buffer_limits(&self, high: Option<usize>, low: Option<usize>) {
        let high = high.unwrap_or_else(|| low.map_or(64 << 10, |l| 4 * l));
        let low = low.unwrap_or(high / 4);
        self.inner
            .writer
            .borrow_mut()
            .set_write_buffer_limits(high, low);
        self.inner.maybe_pause();
    }

    /// The write buffer's marks.
    pub fn get_write_buffer_limits(&self) -> WriteBufferLimits {
        self.inner.writer.borrow().write_buffer_limits()
    }

    /// Bytes written and not yet taken by the peer's side of the socket.
    pub fn get_write_buffer_size(&self) -> usize {
        self.inner.writer.borrow().get_write_buffer_size()
    }

    /// The peer's address (`get_extra_info("peername")`).
    pub fn peername(&self) -> Option<SocketAddr> {
        self.inner.peername
    }

    /// The local address (`get_extra_info("sockname")`).
    pub fn sockname(&self) -> Option<SocketAddr> {
        self.inner.sockname
    }

    /// A Unix socket connection's path (the server's), as
    /// [`StreamWriter::unix_path`](crate::StreamWriter::unix_path).
    pub fn unix_path(&self) -> Option<String> {
        self.inner.writer.borrow().unix_path().map(str::to_owned)
    }

    /// A TLS connection's session (`get_extra_info("ssl_object")`);
    /// `None` without TLS.
    pub fn ssl_object(&self) -> Option<Rc<crate::ssl::SslObject>> {
        self.inner.writer.borrow().ssl_shared()
    }

    /// asyncio's `get_extra_info(name)` for the names a WASI socket has:
    /// `"peername"` and `"sockname"`; `None` for any other name.
    pub fn get_extra_info(&self, name: &str) -> Option<SocketAddr> {
        match name {
            "peername" => self.peername(),
            "sockname" => self.sockname(),
            _ => None,
        }
    }
}

/// Calls the protocol's `connection_made`.
pub(crate) fn made(transport: &Transport) {
    if let Some(sink) = transport.inner.sink() {
        sink.made(transport.clone());
    }
}

/// Runs a connection after [`made`]: delivers what arrives until the
/// connection is lost; ends after `connection_lost`. Cancelled (the loop
/// shutting down), it aborts the connection and calls
/// `connection_lost(Some(Cancelled))`.
pub(crate) async fn drive(transport: Transport, mut reader: StreamReader) -> Result<()> {
    let inner = transport.inner;
    std::future::poll_fn(|cx| {
        if let Some(e) = runtime::take_cancel() {
            inner.conn.discard();
            inner.lose(Some(e.clone()));
            return Poll::Ready(Err(e));
        }
        step(&inner, &mut reader, cx)
    })
    .await
}

fn step(inner: &Inner, reader: &mut StreamReader, cx: &mut Context<'_>) -> Poll<Result<()>> {
    runtime::store_waker(&mut inner.driver.borrow_mut(), cx.waker());
    let mut burst = 0;
    loop {
        if inner.state.get() == State::Lost {
            return Poll::Ready(Ok(()));
        }
        if let Some(pause) = inner.pending_flow.get()
            && let Some(sink) = inner.sink()
            && sink.try_flow(pause)
        {
            inner.pending_flow.set(None);
        }
        // The writer: broken, drained below the mark, or done closing.
        let writer = inner.writer.borrow();
        writer.watch(cx.waker());
        let flow = writer.flow();
        drop(writer);
        if let Some(e) = flow.error {
            inner.lose(Some(e));
            continue;
        }
        if inner.writing_paused.get() && flow.size <= flow.limits.low {
            inner.flow(false);
        }
        if inner.conn.is_closing() && inner.state.get() != State::Lost {
            // Closed from here or by the server (close_clients).
            inner.settled.set(true);
            inner.state.set(State::Closing);
        }
        match inner.state.get() {
            State::Closing if flow.closed => {
                inner.lose(None);
                continue;
            }
            State::Closing | State::HalfOpen => return pending("connection closing"),
            _ => {}
        }
        if inner.reading_paused.get() {
            return pending("reading paused");
        }
        if burst == BURST {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        match reader.poll_fill(cx) {
            Poll::Pending => return pending("data from the peer"),
            Poll::Ready(Ok(true)) => {
                burst += 1;
                let Some(sink) = inner.sink() else {
                    reader.drain_buffered(|_| ());
                    continue;
                };
                if let Err(e) = reader.drain_buffered(|data| sink.data(data)) {
                    inner.lose(Some(e));
                }
            }
            Poll::Ready(Ok(false)) if inner.conn.is_closing() => {}
            Poll::Ready(Ok(false)) => {
                let eof = inner.sink().is_some_and(|s| s.eof());
                // A read pipe ends at its input's end, whatever the
                // protocol answers (asyncio's read pipe transport does).
                let keep_open = eof && !inner.read_only;
                if inner.state.get() == State::Open {
                    inner.state.set(State::HalfOpen);
                }
                if !keep_open {
                    inner.settled.set(true);
                    inner.state.set(State::Closing);
                    inner.conn.close();
                }
            }
            Poll::Ready(Err(e)) => inner.lose(Some(e)),
        }
    }
}

fn pending(what: &'static str) -> Poll<Result<()>> {
    runtime::set_awaiting(Awaiting::Io { what });
    Poll::Pending
}

impl crate::events::Loop {
    /// Sends `count` bytes of `file` (to its end if `None`) from `offset`
    /// over `transport`, waiting while its write buffer is above the
    /// high-water mark; the number of bytes sent (asyncio's
    /// `loop.sendfile`, on its fallback path: the bytes pass through the
    /// guest, read 64 KiB at a time). The file is one opened in a granted
    /// directory (docs/files.md); its reads are synchronous.
    pub async fn sendfile(
        &self,
        transport: &Transport,
        file: &mut std::fs::File,
        offset: u64,
        count: Option<u64>,
    ) -> Result<u64> {
        transport.sendfile(file, offset, count).await
    }
}

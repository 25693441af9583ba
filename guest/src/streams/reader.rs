//! [`StreamReader`]: asyncio's `StreamReader` over a `stream<u8>`.

use std::cell::{Cell, RefCell};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::errors::{Error, ErrorKind, Result};
use crate::runtime::{self, task::Awaiting};
use crate::streams::channel::Inbox;

/// asyncio's default buffer limit (64 KiB): how far `readline` and
/// `readuntil` look for their separator.
pub const DEFAULT_LIMIT: usize = 64 << 10;

/// The most one read from the stream asks for.
const CHUNK: usize = 64 << 10;

/// The least one read asks for. A pending read holds its buffer, so an
/// idle connection holds this much: 10,000 connections waiting with
/// 64 KiB each would be 640 MB of guest memory.
const MIN_CHUNK: usize = 4 << 10;

type RawReader = wit_bindgen::StreamReader<u8>;
type ReadOp =
    Pin<Box<dyn std::future::Future<Output = (RawReader, wit_bindgen::StreamResult, Vec<u8>)>>>;

/// Says, once the stream has ended, whether it ended with an error (a
/// socket's receive result: a reset connection, say).
pub(crate) type EndCheck = Pin<Box<dyn std::future::Future<Output = Option<Error>>>>;

/// Ends a reader from outside (a server closing its clients, a transport
/// closed by its protocol): the reader's pending read is dropped and it
/// sees EOF.
#[derive(Default)]
pub(crate) struct CloseSignal {
    closed: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl CloseSignal {
    pub(crate) fn close(&self) {
        self.closed.set(true);
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.get()
    }
}

enum Source {
    /// No read in progress.
    Idle(RawReader),
    /// A read in progress; it owns the stream end until it completes, so a
    /// cancelled call loses nothing.
    Reading(ReadOp),
    /// End of stream (or a reader made by [`StreamReader::new`], fed by hand).
    Eof,
    /// Fed by hand with [`StreamReader::feed_data`]; no stream behind it.
    Fed,
    /// The stream ended; waiting to learn whether with an error.
    Ending(EndCheck),
    /// A connection of the socket multiplexer.
    #[cfg_attr(not(feature = "host-mux"), allow(dead_code))]
    Channel(Box<dyn Inbox>),
}

/// Reads bytes from a stream, with a buffer: asyncio's `StreamReader`.
///
/// Methods take `&mut self`; use them from one task at a time. `read(n)`
/// gives what is available (at least one byte unless at EOF), the other
/// methods wait for what they need. See the [module docs](super) for
/// cancellation. Dropping it closes the stream it reads (its readable end).
#[must_use = "dropping a StreamReader closes the stream it reads"]
pub struct StreamReader {
    buf: Vec<u8>,
    /// Bytes before this index were consumed.
    start: usize,
    source: Source,
    limit: usize,
    /// Checked when the stream ends (see [`EndCheck`]).
    end: Option<EndCheck>,
    closer: Option<Rc<CloseSignal>>,
    /// What the next read asks for: doubled after a read that filled its
    /// buffer, halved after one that used under a quarter of it, between
    /// [`MIN_CHUNK`] and [`CHUNK`].
    chunk: usize,
}

impl std::fmt::Debug for StreamReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.source {
            Source::Idle(_) => "open",
            Source::Reading(_) => "reading",
            Source::Eof => "eof",
            Source::Fed => "fed",
            Source::Ending(_) => "ending",
            Source::Channel(_) => "open",
        };
        f.debug_struct("StreamReader")
            .field("buffered", &self.buffered())
            .field("state", &state)
            .field("limit", &self.limit)
            .finish()
    }
}

impl Default for StreamReader {
    fn default() -> Self {
        StreamReader::new()
    }
}

impl StreamReader {
    /// A reader with no stream behind it, fed with
    /// [`feed_data`](Self::feed_data) and [`feed_eof`](Self::feed_eof)
    /// (as asyncio's `StreamReader()` is by a protocol).
    pub fn new() -> Self {
        StreamReader {
            buf: Vec::new(),
            start: 0,
            source: Source::Fed,
            limit: DEFAULT_LIMIT,
            end: None,
            closer: None,
            chunk: MIN_CHUNK,
        }
    }

    /// A reader over the readable end of a component-model stream.
    pub fn from_stream(stream: wit_bindgen::StreamReader<u8>) -> Self {
        StreamReader {
            buf: Vec::new(),
            start: 0,
            source: Source::Idle(stream),
            limit: DEFAULT_LIMIT,
            end: None,
            closer: None,
            chunk: MIN_CHUNK,
        }
    }

    /// A reader over a socket's receive stream: `end` says how the stream
    /// ended, `closer` ends it from outside.
    pub(crate) fn from_stream_with(
        stream: wit_bindgen::StreamReader<u8>,
        end: EndCheck,
        closer: Rc<CloseSignal>,
    ) -> Self {
        StreamReader {
            end: Some(end),
            closer: Some(closer),
            ..StreamReader::from_stream(stream)
        }
    }

    /// A reader over a connection of the socket multiplexer; `closer`
    /// ends it from outside.
    #[cfg_attr(not(feature = "host-mux"), allow(dead_code))]
    pub(crate) fn from_inbox(inbox: Box<dyn Inbox>, closer: Rc<CloseSignal>) -> Self {
        StreamReader {
            source: Source::Channel(inbox),
            closer: Some(closer),
            ..StreamReader::new()
        }
    }

    /// What ends this reader from outside (installed if it had none).
    pub(crate) fn closer(&mut self) -> Rc<CloseSignal> {
        self.closer.get_or_insert_with(Rc::default).clone()
    }

    /// Sets the buffer limit (default [`DEFAULT_LIMIT`]).
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit.max(1);
        self
    }

    /// The buffer limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Adds bytes to the buffer (for a reader made with [`new`](Self::new)).
    pub fn feed_data(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Marks the end of the data (for a reader made with [`new`](Self::new)).
    pub fn feed_eof(&mut self) {
        self.source = Source::Eof;
    }

    /// True when the buffer is empty and the stream has ended.
    pub fn at_eof(&self) -> bool {
        self.buffered() == 0 && matches!(self.source, Source::Eof)
    }

    /// How many bytes are buffered (readable without waiting).
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    fn data(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Takes `n` buffered bytes (`n <= buffered`).
    fn consume(&mut self, n: usize) -> Vec<u8> {
        // Hand over the buffer itself only when the bytes fill most of it:
        // a short message is copied out, and the buffer (sized for a 64 KiB
        // read) is kept for the next read instead of allocated again.
        if self.start == 0 && n == self.buf.len() && n * 2 >= self.buf.capacity() {
            return std::mem::take(&mut self.buf);
        }
        let out = self.buf[self.start..self.start + n].to_vec();
        self.start += n;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        out
    }

    /// Hands everything buffered to `f` (a transport's protocol), then
    /// drops it; the buffer is kept for the next read.
    pub(crate) fn drain_buffered<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> R {
        let r = f(self.data());
        self.buf.clear();
        self.start = 0;
        r
    }

    /// Reads more into the buffer: `Ok(true)` when bytes arrived,
    /// `Ok(false)` at EOF. Starts a read if none is in progress.
    pub(crate) fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<Result<bool>> {
        if let Some(closer) = &self.closer {
            if closer.is_closed() {
                // Dropping the source cancels a read in progress.
                self.source = Source::Eof;
                self.end = None;
                return Poll::Ready(Ok(false));
            }
            runtime::store_waker(&mut closer.waker.borrow_mut(), cx.waker());
        }
        loop {
            match std::mem::replace(&mut self.source, Source::Eof) {
                Source::Ending(mut check) => match check.as_mut().poll(cx) {
                    Poll::Pending => {
                        self.source = Source::Ending(check);
                        return Poll::Pending;
                    }
                    Poll::Ready(None) => return Poll::Ready(Ok(false)),
                    Poll::Ready(Some(e)) => return Poll::Ready(Err(e)),
                },
                Source::Eof => return Poll::Ready(Ok(false)),
                Source::Channel(inbox) => {
                    if self.buffered() == 0 {
                        self.buf.clear();
                        self.start = 0;
                    }
                    let polled = inbox.poll_take(cx, &mut self.buf);
                    if let Poll::Pending | Poll::Ready(Ok(true)) = polled {
                        self.source = Source::Channel(inbox);
                    }
                    return polled;
                }
                Source::Fed => {
                    self.source = Source::Fed;
                    return Poll::Ready(Err(Error::runtime(
                        "StreamReader: waiting for data on a reader that is fed by hand \
                         (call feed_data/feed_eof from another task)",
                    )));
                }
                Source::Idle(mut raw) => {
                    // Read straight into the buffer when it holds nothing.
                    let mut target = if self.buffered() == 0 {
                        self.start = 0;
                        let mut v = std::mem::take(&mut self.buf);
                        v.clear();
                        v
                    } else {
                        Vec::new()
                    };
                    if target.capacity() > 2 * self.chunk {
                        // Give memory back after a burst.
                        target.shrink_to(self.chunk);
                    }
                    target.reserve(self.chunk);
                    self.source = Source::Reading(Box::pin(async move {
                        let (result, buf) = raw.read(target).await;
                        (raw, result, buf)
                    }));
                }
                Source::Reading(mut op) => match op.as_mut().poll(cx) {
                    Poll::Pending => {
                        self.source = Source::Reading(op);
                        return Poll::Pending;
                    }
                    Poll::Ready((raw, result, data)) => {
                        // What the read asked for: it reads into the spare
                        // capacity of an empty buffer.
                        let asked = data.capacity();
                        if self.buf.is_empty() {
                            self.buf = data;
                            self.start = 0;
                        } else {
                            self.buf.extend_from_slice(&data);
                        }
                        match result {
                            wit_bindgen::StreamResult::Complete(n) if n > 0 => {
                                if n >= asked {
                                    self.chunk = (self.chunk * 2).min(CHUNK);
                                } else if n * 4 < self.chunk {
                                    self.chunk = (self.chunk / 2).max(MIN_CHUNK);
                                }
                                self.source = Source::Idle(raw);
                                return Poll::Ready(Ok(true));
                            }
                            wit_bindgen::StreamResult::Dropped => match self.end.take() {
                                Some(check) => self.source = Source::Ending(check),
                                None => {
                                    self.source = Source::Eof;
                                    return Poll::Ready(Ok(false));
                                }
                            },
                            // Nothing read (a zero-length or cancelled
                            // read): ask again.
                            _ => self.source = Source::Idle(raw),
                        }
                    }
                },
            }
        }
    }

    /// One more chunk, for an awaiting method: the cancellation contract.
    async fn fill(&mut self, what: &'static str) -> Result<bool> {
        std::future::poll_fn(|cx| {
            if let Some(e) = runtime::take_cancel() {
                return Poll::Ready(Err(e));
            }
            let polled = self.poll_fill(cx);
            if polled.is_pending() {
                runtime::set_awaiting(Awaiting::Io { what });
            }
            polled
        })
        .await
    }

    /// Up to `n` bytes: what is buffered, or else what the next read brings;
    /// empty only at EOF (or when `n` is 0).
    pub async fn read(&mut self, n: usize) -> Result<Vec<u8>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        if self.buffered() == 0 {
            self.fill("StreamReader.read").await?;
        }
        let take = n.min(self.buffered());
        Ok(self.consume(take))
    }

    /// Everything until EOF (asyncio's `read()` / `read(-1)`).
    pub async fn read_to_end(&mut self) -> Result<Vec<u8>> {
        while self.fill("StreamReader.read_to_end").await? {}
        let n = self.buffered();
        Ok(self.consume(n))
    }

    /// Exactly `n` bytes; at EOF before that, `IncompleteRead` with the
    /// bytes that did arrive (they are consumed).
    pub async fn readexactly(&mut self, n: usize) -> Result<Vec<u8>> {
        while self.buffered() < n {
            if !self.fill("StreamReader.readexactly").await? {
                let partial = self.consume(self.buffered());
                return Err(Error::new(ErrorKind::IncompleteRead {
                    partial,
                    expected: Some(n),
                }));
            }
        }
        Ok(self.consume(n))
    }

    /// Bytes up to and including `separator`.
    ///
    /// - At EOF without it: `IncompleteRead` with what was buffered
    ///   (consumed).
    /// - When it is not within [`limit`](Self::limit) bytes:
    ///   `LimitOverrun`, and the data stay in the buffer.
    pub async fn readuntil(&mut self, separator: &[u8]) -> Result<Vec<u8>> {
        if separator.is_empty() {
            return Err(Error::runtime("readuntil: the separator is empty"));
        }
        let mut searched = 0;
        loop {
            let data = self.data();
            if let Some(at) = find(&data[searched..], separator).map(|i| i + searched) {
                if at > self.limit {
                    return Err(Error::new(ErrorKind::LimitOverrun { consumed: at }));
                }
                return Ok(self.consume(at + separator.len()));
            }
            searched = (data.len() + 1).saturating_sub(separator.len());
            if data.len() > self.limit {
                return Err(Error::new(ErrorKind::LimitOverrun { consumed: searched }));
            }
            if !self.fill("StreamReader.readuntil").await? {
                let partial = self.consume(self.buffered());
                return Err(Error::new(ErrorKind::IncompleteRead {
                    partial,
                    expected: None,
                }));
            }
        }
    }

    /// One line, `\n` included; at EOF, what is left (maybe without `\n`,
    /// empty at the very end). Past the limit it fails with `LimitOverrun`
    /// and, as asyncio does, discards the over-long line (through its `\n`
    /// if it arrived, else everything buffered).
    pub async fn readline(&mut self) -> Result<Vec<u8>> {
        match self.readuntil(b"\n").await {
            Ok(line) => Ok(line),
            Err(e) => match e.kind() {
                ErrorKind::IncompleteRead { partial, .. } => Ok(partial.clone()),
                ErrorKind::LimitOverrun { .. } => {
                    match find(self.data(), b"\n") {
                        Some(at) => drop(self.consume(at + 1)),
                        None => drop(self.consume(self.buffered())),
                    }
                    Err(e)
                }
                _ => Err(e),
            },
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() == 1 {
        return haystack.iter().position(|b| *b == needle[0]);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl futures_io::AsyncRead for StreamReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if out.is_empty() {
            return Poll::Ready(Ok(0));
        }
        while this.buffered() == 0 {
            match this.poll_fill(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(true)) => {}
                Poll::Ready(Ok(false)) => return Poll::Ready(Ok(0)),
                Poll::Ready(Err(e)) => {
                    return Poll::Ready(Err(std::io::Error::other(e.to_string())));
                }
            }
        }
        let n = out.len().min(this.buffered());
        out[..n].copy_from_slice(&this.data()[..n]);
        this.start += n;
        if this.start == this.buf.len() {
            this.buf.clear();
            this.start = 0;
        }
        Poll::Ready(Ok(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fed(data: &[u8]) -> StreamReader {
        let mut r = StreamReader::new();
        r.feed_data(data);
        r.feed_eof();
        r
    }

    fn now<T>(f: impl std::future::Future<Output = T>) -> T {
        crate::testing::block_on(f).expect("ready")
    }

    #[test]
    fn lines_and_exact_reads() {
        let mut r = fed(b"one\ntwo\nrest");
        assert_eq!(now(r.readline()).unwrap(), b"one\n");
        assert_eq!(now(r.readexactly(3)).unwrap(), b"two");
        assert_eq!(now(r.readline()).unwrap(), b"\n");
        let e = now(r.readexactly(10)).unwrap_err();
        assert_eq!(
            e.kind(),
            &ErrorKind::IncompleteRead {
                partial: b"rest".to_vec(),
                expected: Some(10)
            }
        );
        assert!(r.at_eof());
        assert_eq!(now(r.readline()).unwrap(), b"");
    }

    #[test]
    fn readuntil_over_the_limit_keeps_the_data() {
        let mut r = fed(b"aaaaaaaaaa|b").with_limit(4);
        let e = now(r.readuntil(b"|")).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::LimitOverrun { .. }), "{e:?}");
        assert_eq!(r.buffered(), 12);
        assert_eq!(now(r.read(100)).unwrap(), b"aaaaaaaaaa|b");
    }

    #[test]
    fn multi_byte_separator() {
        let mut r = fed(b"ab\r\ncd");
        assert_eq!(now(r.readuntil(b"\r\n")).unwrap(), b"ab\r\n");
        assert_eq!(now(r.read_to_end()).unwrap(), b"cd");
    }
}

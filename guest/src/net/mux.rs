//! The instance's socket multiplexer (`aio:host/mux`, wit/mux.wit): every
//! TCP connection's bytes over one incoming and one outgoing stream, in
//! frames, so the loop pays for one stream read and one stream write per
//! turn instead of one of each per message (docs/design-batched-io.md).
//!
//! One [`Driver`] per loop, started by the first connection: a task
//! (`socket multiplexer`) that keeps a read of `incoming` pending and hands
//! each frame to its connection ([`Conn`]: an inbox its reader takes from,
//! and its send state), and that writes whatever the connections sent
//! since its last write in one go. A connection's reader and writer see
//! it through the stream core's [`Inbox`] and [`Outbox`]; the socket
//! handle's place is taken by [`Guard`], so the ends behave as a socket's
//! own streams do: closing the writer sends a FIN after the bytes written,
//! dropping the socket while the writer is open resets the connection, and
//! the connection is given back once every part is gone.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use super::{Action, socket_error};
use crate::bindings::aio::host::mux::{Mux, TlsRefused, TlsRole};
use crate::bindings::wasi::sockets::types as wit;
use crate::errors::{Error, Result};
use crate::runtime::{self, task::Awaiting};
use crate::ssl::{SslErrorKind, SslObject};
use crate::streams::channel::{Inbox, OutState, Outbox};

const HEADER: usize = 9;

/// Frame kinds from the host.
const DATA: u8 = 0;
const EOF: u8 = 1;
const ERROR: u8 = 2;
const QUEUED: u8 = 3;
const SYNC: u8 = 4;
const SECURED: u8 = 5;
const TLS_ERROR: u8 = 6;

/// Frame kinds from the guest (DATA is 0 both ways).
const CLOSE: u8 = 1;
const ABORT: u8 = 2;
const SHUTDOWN: u8 = 3;
const PAUSE: u8 = 4;
const RESUME: u8 = 5;
/// Token 0: send `sync` even with nothing else to say.
const SYNC_PLEASE: u8 = 6;

/// What one read of `incoming` asks for.
const READ_BUFFER: usize = 256 << 10;
/// A connection whose reader has not taken this much is paused (the host
/// stops receiving for it) until it does.
const INBOX_HIGH: usize = 64 << 10;
/// The most a connection has on its way (sent to the host, not yet taken
/// by the system): the rest waits in its writer's buffer, so one peer that
/// does not read cannot fill the host's share for all.
const WINDOW: usize = 256 << 10;

type RawReader = wit_bindgen::StreamReader<u8>;
type RawWriter = wit_bindgen::StreamWriter<u8>;
type ReadOp = Pin<Box<dyn Future<Output = (RawReader, wit_bindgen::StreamResult, Vec<u8>)>>>;
type WriteOp = Pin<Box<dyn Future<Output = (RawWriter, Vec<u8>)>>>;

thread_local! {
    /// The running loop's driver (each plugin instance and each program
    /// has its own thread-local state).
    static DRIVER: RefCell<Option<Rc<Driver>>> = const { RefCell::new(None) };
}

/// The instance's multiplexer and the frames waiting to be written.
struct Driver {
    /// Dropped when the driver ends: the host closes what is left.
    mux: RefCell<Option<Mux>>,
    conns: RefCell<HashMap<u32, Weak<Conn>>>,
    /// Frames to write at the driver's next step.
    out: RefCell<Vec<u8>>,
    /// The driver task, waiting for frames to write.
    waker: RefCell<Option<Waker>>,
    /// Bytes of frames made so far, and where each connection's data
    /// frames end in that count, until the host says (`sync`) it has read
    /// that far.
    written: Cell<u64>,
    unconfirmed: RefCell<VecDeque<(u64, Weak<Conn>, usize)>>,
    /// A `sync?` went since the last `sync`: the host answers it at
    /// once, instead of with its next data (a writer waits for room).
    sync_asked: Cell<bool>,
    /// The driver task ended (the loop closed, or the host's streams
    /// did): connections attached now would never hear from it.
    ended: Cell<bool>,
}

impl Driver {
    fn frame(&self, token: u32, kind: u8, body: &[u8]) {
        self.written
            .set(self.written.get() + (HEADER + body.len()) as u64);
        let mut out = self.out.borrow_mut();
        out.extend_from_slice(&token.to_le_bytes());
        out.push(kind);
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(body);
        drop(out);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// Hands each frame of `data` to its connection.
    fn dispatch(&self, mut data: &[u8]) {
        while data.len() >= HEADER {
            let token = u32::from_le_bytes(data[..4].try_into().unwrap());
            let kind = data[4];
            let len = u32::from_le_bytes(data[5..HEADER].try_into().unwrap()) as usize;
            let Some(body) = data.get(HEADER..HEADER + len) else {
                break;
            };
            data = &data[HEADER + len..];
            if kind == SYNC {
                if let Ok(upto) = body.try_into() {
                    self.confirm(u64::from_le_bytes(upto));
                }
                continue;
            }
            let conn = self.conns.borrow().get(&token).and_then(Weak::upgrade);
            if let Some(conn) = conn {
                conn.on_frame(self, kind, body);
            }
        }
    }

    /// The host has read `upto` bytes of frames: the data in them is no
    /// longer on its way (what the system did not take, it reports as
    /// `queued`).
    fn confirm(&self, upto: u64) {
        self.sync_asked.set(false);
        loop {
            let mut unconfirmed = self.unconfirmed.borrow_mut();
            match unconfirmed.front() {
                Some((end, _, _)) if *end <= upto => {}
                _ => return,
            }
            let (_, conn, n) = unconfirmed.pop_front().unwrap();
            drop(unconfirmed);
            if let Some(conn) = conn.upgrade() {
                conn.unsent.set(conn.unsent.get().saturating_sub(n));
                conn.progress();
            }
        }
    }

    /// Something waits for sent bytes to be confirmed: the host is asked
    /// to say `sync` at once (by default it says it only with data, so
    /// that a loop turn costs one completion of `incoming`).
    fn ask_sync(&self) {
        if !self.sync_asked.get() && !self.unconfirmed.borrow().is_empty() {
            self.sync_asked.set(true);
            self.frame(0, SYNC_PLEASE, &[]);
        }
    }

    /// The driver is gone: every connection ends with `error`.
    fn end_all(&self, error: &Error) {
        self.ended.set(true);
        drop(self.mux.borrow_mut().take());
        let conns: Vec<Rc<Conn>> = self
            .conns
            .borrow_mut()
            .drain()
            .filter_map(|(_, c)| c.upgrade())
            .collect();
        for conn in conns {
            conn.fail_receive(Err(error.clone()));
            conn.send_gone.set(true);
            conn.progress();
        }
    }
}

/// `ASYNCIO_MUX=0` in the guest's environment (`aio run
/// --allow-env=ASYNCIO_MUX`) keeps every connection on its socket's own
/// streams: for comparing the two paths, and for testing the other one.
const MUX_ENV: &str = "ASYNCIO_MUX";

fn mux_wanted() -> bool {
    thread_local! {
        static WANTED: bool = std::env::var(MUX_ENV).map_or(true, |v| v != "0");
    }
    WANTED.with(|w| *w)
}

/// The running loop's driver, started if there is none (`None` without a
/// running loop, or with the multiplexer turned off).
fn driver() -> Option<Rc<Driver>> {
    if let Some(d) = DRIVER.with(|d| d.borrow().clone())
        && !d.ended.get()
    {
        return Some(d);
    }
    if !mux_wanted() {
        return None;
    }
    let lp = runtime::try_current_loop()?;
    let mux = Mux::new();
    let incoming = mux.incoming();
    let (outgoing, data) = crate::bindings::wit_stream::new::<u8>();
    mux.outgoing(data);
    let driver = Rc::new(Driver {
        mux: RefCell::new(Some(mux)),
        conns: RefCell::default(),
        out: RefCell::default(),
        waker: RefCell::default(),
        written: Cell::new(0),
        unconfirmed: RefCell::default(),
        sync_asked: Cell::new(false),
        ended: Cell::new(false),
    });
    let task = DriverTask {
        driver: driver.clone(),
        incoming: Some(incoming),
        reading: None,
        outgoing: Some(outgoing),
        writing: None,
        spare: Vec::new(),
        flushing: None,
        cancelled: None,
    };
    // A service: not the program's task, and cancelled at shutdown after
    // the program's tasks, so it writes out what they sent and closed.
    let cell = lp.spawn(task, Some("socket multiplexer".to_owned()), false);
    runtime::task::TaskRun::header(&*cell).make_service(runtime::task::Service::SocketMux);
    DRIVER.with(|d| *d.borrow_mut() = Some(driver.clone()));
    Some(driver)
}

/// One connection of the multiplexer, as its parts share it.
struct Conn {
    token: u32,
    driver: Rc<Driver>,
    peer: SocketAddr,
    inbox: RefCell<Vec<u8>>,
    /// How receiving ended, once it has.
    ended: RefCell<Option<Result<()>>>,
    reader: RefCell<Option<Waker>>,
    paused: Cell<bool>,
    /// Sending failed, or the driver is gone.
    send_gone: Cell<bool>,
    /// Data sent that the host has not read yet, and data the host holds
    /// because the system did not take it.
    unsent: Cell<usize>,
    host_queued: Cell<usize>,
    /// The writer's, told when `unsent` or `host_queued` shrink or sending
    /// ends: it wakes the writer's pump and waiters.
    notify: RefCell<Option<Box<dyn Fn()>>>,
    /// Which parts are still held: the reader's, the writer's, the socket's.
    receiving: Cell<bool>,
    sending: Cell<bool>,
    held: Cell<bool>,
    /// Reset: the host has let go of the token.
    aborted: Cell<bool>,
    /// A TLS connection's handshake.
    tls: RefCell<Handshake>,
}

/// Where a connection's TLS handshake stands.
enum Handshake {
    /// Not a TLS connection.
    Plain,
    /// Under way; the task waiting for it.
    Running(Option<Waker>),
    Done(Rc<SslObject>),
    Failed(Error),
}

impl Conn {
    fn on_frame(&self, driver: &Driver, kind: u8, body: &[u8]) {
        match kind {
            DATA => {
                if !self.receiving.get() {
                    return;
                }
                let mut inbox = self.inbox.borrow_mut();
                inbox.extend_from_slice(body);
                let full = inbox.len() >= INBOX_HIGH;
                drop(inbox);
                if full && !self.paused.replace(true) {
                    driver.frame(self.token, PAUSE, &[]);
                }
                self.wake_reader();
            }
            EOF => self.fail_receive(Ok(())),
            ERROR => {
                let code = body
                    .get(1)
                    .map_or(wit::ErrorCode::ConnectionBroken, |&i| code(i));
                if body.first() == Some(&1) {
                    self.send_gone.set(true);
                    self.progress();
                } else {
                    let action = Action::Receive;
                    self.fail_receive(Err(socket_error(code, action, self.peer)));
                }
            }
            QUEUED => {
                if let Ok(n) = body.try_into() {
                    self.host_queued.set(u32::from_le_bytes(n) as usize);
                    self.progress();
                }
            }
            SECURED => {
                let done = match SslObject::from_frame(body) {
                    Some(info) => Handshake::Done(Rc::new(info)),
                    None => Handshake::Failed(Error::ssl(
                        SslErrorKind::Protocol,
                        "the host described the TLS session in a malformed frame",
                    )),
                };
                self.finish_handshake(done);
            }
            TLS_ERROR => {
                let kind = match body.first() {
                    Some(0) => SslErrorKind::CertVerification,
                    Some(2) => SslErrorKind::Protocol,
                    _ => SslErrorKind::Handshake,
                };
                let message = String::from_utf8_lossy(body.get(1..).unwrap_or_default());
                let e = Error::ssl(kind, format!("{message} ({})", self.peer));
                self.fail_receive(Err(e.clone()));
                self.send_gone.set(true);
                self.progress();
                self.finish_handshake(Handshake::Failed(e));
            }
            _ => {}
        }
    }

    /// The handshake ended (a failure after it is the reader's and the
    /// writer's to report).
    fn finish_handshake(&self, end: Handshake) {
        let mut tls = self.tls.borrow_mut();
        if let Handshake::Running(waiter) = &mut *tls {
            let waiter = waiter.take();
            *tls = end;
            drop(tls);
            if let Some(w) = waiter {
                w.wake();
            }
        }
    }

    fn fail_receive(&self, end: Result<()>) {
        if matches!(*self.tls.borrow(), Handshake::Running(_)) {
            let e = match &end {
                Err(e) => e.clone(),
                Ok(()) => Error::ssl(
                    SslErrorKind::Handshake,
                    format!("EOF during the TLS handshake ({})", self.peer),
                ),
            };
            self.finish_handshake(Handshake::Failed(e));
        }
        let mut ended = self.ended.borrow_mut();
        if ended.is_none() {
            *ended = Some(end);
        }
        drop(ended);
        self.wake_reader();
    }

    fn wake_reader(&self) {
        if let Some(w) = self.reader.borrow_mut().take() {
            w.wake();
        }
    }

    /// Sending moved on (or ended): the writer's pump and waiters look
    /// again.
    fn progress(&self) {
        if let Some(f) = self.notify.borrow().as_ref() {
            f();
        }
    }

    fn on_way(&self) -> usize {
        self.unsent.get() + self.host_queued.get()
    }

    /// One part let go: once none is held, the connection is given back.
    fn part_gone(&self) {
        if self.receiving.get() || self.sending.get() || self.held.get() {
            return;
        }
        if !self.aborted.get() {
            self.driver.frame(self.token, CLOSE, &[]);
        }
        self.driver.conns.borrow_mut().remove(&self.token);
    }
}

/// The `error-code` case of index `i` in wit/deps/sockets.wit.
fn code(i: u8) -> wit::ErrorCode {
    use wit::ErrorCode as E;
    match i {
        0 => E::AccessDenied,
        1 => E::NotSupported,
        2 => E::InvalidArgument,
        3 => E::OutOfMemory,
        4 => E::Timeout,
        5 => E::InvalidState,
        6 => E::AddressNotBindable,
        7 => E::AddressInUse,
        8 => E::RemoteUnreachable,
        9 => E::ConnectionRefused,
        10 => E::ConnectionBroken,
        11 => E::ConnectionReset,
        12 => E::ConnectionAborted,
        13 => E::DatagramTooLarge,
        _ => E::Other(None),
    }
}

/// A connection's receiving end.
pub(crate) struct Receiver(Rc<Conn>);

impl Inbox for Receiver {
    fn poll_take(&self, cx: &mut Context<'_>, buf: &mut Vec<u8>) -> Poll<Result<bool>> {
        let conn = &self.0;
        let mut inbox = conn.inbox.borrow_mut();
        if !inbox.is_empty() {
            if buf.is_empty() {
                std::mem::swap(buf, &mut inbox);
            } else {
                buf.extend_from_slice(&inbox);
                inbox.clear();
            }
            drop(inbox);
            if conn.paused.replace(false) {
                conn.driver.frame(conn.token, RESUME, &[]);
            }
            return Poll::Ready(Ok(true));
        }
        drop(inbox);
        if let Some(end) = conn.ended.borrow_mut().as_mut() {
            return Poll::Ready(match end {
                Ok(()) => Ok(false),
                Err(e) => Err(e.clone()),
            });
        }
        runtime::store_waker(&mut conn.reader.borrow_mut(), cx.waker());
        Poll::Pending
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let conn = &self.0;
        conn.receiving.set(false);
        conn.inbox.borrow_mut().clear();
        // Nothing more is wanted: the host stops receiving.
        if conn.ended.borrow().is_none() && !conn.paused.replace(true) && !conn.aborted.get() {
            conn.driver.frame(conn.token, PAUSE, &[]);
        }
        conn.part_gone();
    }
}

/// A connection's sending end.
pub(crate) struct Sender(Rc<Conn>);

impl Outbox for Sender {
    fn state(&self) -> OutState {
        if self.0.send_gone.get() || self.0.aborted.get() {
            OutState::Gone
        } else if self.0.on_way() >= WINDOW {
            OutState::Blocked
        } else {
            OutState::Ready
        }
    }

    fn ask_progress(&self) {
        self.0.driver.ask_sync();
    }

    fn send(&self, data: &[u8]) -> usize {
        let conn = &self.0;
        let n = data.len().min(WINDOW.saturating_sub(conn.on_way()).max(1));
        let driver = &conn.driver;
        driver.frame(conn.token, DATA, &data[..n]);
        conn.unsent.set(conn.unsent.get() + n);
        let entry = (driver.written.get(), Rc::downgrade(conn), n);
        driver.unconfirmed.borrow_mut().push_back(entry);
        n
    }

    fn send_all(&self, mut data: &[u8]) {
        let conn = &self.0;
        if conn.send_gone.get() || conn.aborted.get() {
            return;
        }
        while !data.is_empty() {
            let (frame, rest) = data.split_at(data.len().min(WINDOW));
            conn.driver.frame(conn.token, DATA, frame);
            data = rest;
        }
    }

    fn unsent(&self) -> usize {
        if self.0.send_gone.get() || self.0.aborted.get() {
            0
        } else {
            self.0.on_way()
        }
    }

    fn on_progress(&self, f: Box<dyn Fn()>) {
        *self.0.notify.borrow_mut() = Some(f);
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        let conn = &self.0;
        conn.sending.set(false);
        if !conn.aborted.get() && !conn.send_gone.get() {
            conn.driver.frame(conn.token, SHUTDOWN, &[]);
        }
        conn.part_gone();
    }
}

/// Holds the connection in the socket's place: dropped while the sending
/// end is open, it resets the connection (what dropping a socket whose
/// send stream is open does).
pub(crate) struct Guard(Rc<Conn>);

impl Drop for Guard {
    fn drop(&mut self) {
        let conn = &self.0;
        conn.held.set(false);
        if conn.sending.get() && !conn.aborted.get() {
            conn.aborted.set(true);
            conn.driver.frame(conn.token, ABORT, &[]);
            conn.driver.conns.borrow_mut().remove(&conn.token);
        }
        conn.part_gone();
    }
}

/// Moves a connected socket onto the running loop's multiplexer: its
/// receiving end, sending end and guard; `None` (the socket untouched)
/// when there is no running loop or the host refused.
pub(crate) fn attach(
    socket: &wit::TcpSocket,
    peer: SocketAddr,
) -> Option<(Receiver, Sender, Guard)> {
    let driver = driver()?;
    let token = driver.mux.borrow().as_ref()?.attach(socket).ok()?;
    Some(add_conn(driver, token, peer, Handshake::Plain))
}

/// Moves a connected socket onto the multiplexer with a TLS session on
/// the host: its ends as [`attach`]'s, and the handshake to await.
pub(crate) fn attach_tls(
    socket: &wit::TcpSocket,
    peer: SocketAddr,
    role: &TlsRole,
) -> Result<(Receiver, Sender, Guard, HandshakeDone)> {
    let driver = driver().ok_or_else(no_tls)?;
    let attached = match driver.mux.borrow().as_ref() {
        Some(mux) => mux.attach_tls(socket, role),
        None => return Err(no_tls()),
    };
    let token = attached.map_err(|e| tls_refused(e, peer))?;
    let (rx, tx, guard) = add_conn(driver, token, peer, Handshake::Running(None));
    let done = HandshakeDone(guard.0.clone());
    Ok((rx, tx, guard, done))
}

/// Starts TLS on the multiplexed connection whose socket guard is
/// `guard` (a writer's socket): `received` is what its reader had not
/// used, and what waits in its inbox follows it to the host as the start
/// of the handshake. `Err` (nothing changed but the bytes taken, which
/// come back) if the host refused.
pub(crate) fn start_tls(
    guard: &dyn std::any::Any,
    role: &TlsRole,
    mut received: Vec<u8>,
) -> std::result::Result<HandshakeDone, (Error, Vec<u8>)> {
    let Some(Guard(conn)) = guard.downcast_ref::<Guard>() else {
        return Err((no_tls(), received));
    };
    if !matches!(*conn.tls.borrow(), Handshake::Plain) {
        let e = Error::runtime("start_tls: the connection has TLS already");
        return Err((e, received));
    }
    received.append(&mut conn.inbox.borrow_mut());
    let started = match conn.driver.mux.borrow().as_ref() {
        Some(mux) => mux.start_tls(conn.token, role, &received),
        None => return Err((no_tls(), received)),
    };
    if let Err(refused) = started {
        return Err((tls_refused(refused, conn.peer), received));
    }
    // (The host resumed receiving.)
    conn.paused.set(false);
    *conn.tls.borrow_mut() = Handshake::Running(None);
    Ok(HandshakeDone(conn.clone()))
}

/// Whether the host would take `role` (its identity or CA bundle, its
/// server name), before any socket is made for it.
pub(crate) fn check_tls(role: &TlsRole) -> Result<()> {
    let driver = driver().ok_or_else(no_tls)?;
    let checked = match driver.mux.borrow().as_ref() {
        Some(mux) => mux.check_tls(role),
        None => return Err(no_tls()),
    };
    let unknown = SocketAddr::from(([0, 0, 0, 0], 0));
    checked.map_err(|e| tls_refused(e, unknown))
}

fn no_tls() -> Error {
    Error::ssl(
        SslErrorKind::Config,
        "TLS needs the host's socket multiplexer (the SDK's host-mux feature; \
         ASYNCIO_MUX=0 turns it off)",
    )
}

fn tls_refused(refused: TlsRefused, peer: SocketAddr) -> Error {
    match refused {
        TlsRefused::NotGranted(why) => Error::new(crate::errors::ErrorKind::PermissionDenied(why)),
        TlsRefused::Invalid(why) => Error::ssl(SslErrorKind::Config, why),
        TlsRefused::Socket(code) => socket_error(code, Action::Connect, peer),
    }
}

/// A TLS connection's handshake, to await.
pub(crate) struct HandshakeDone(Rc<Conn>);

impl Future for HandshakeDone {
    type Output = Result<Rc<SslObject>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(e) = runtime::take_cancel() {
            return Poll::Ready(Err(e));
        }
        let mut tls = self.0.tls.borrow_mut();
        match &mut *tls {
            Handshake::Plain => Poll::Ready(Err(Error::runtime("not a TLS connection"))),
            Handshake::Running(waiter) => {
                runtime::store_waker(waiter, cx.waker());
                runtime::set_awaiting(Awaiting::Io {
                    what: "a TLS handshake",
                });
                Poll::Pending
            }
            Handshake::Done(info) => Poll::Ready(Ok(info.clone())),
            Handshake::Failed(e) => Poll::Ready(Err(e.clone())),
        }
    }
}

fn add_conn(
    driver: Rc<Driver>,
    token: u32,
    peer: SocketAddr,
    tls: Handshake,
) -> (Receiver, Sender, Guard) {
    let conn = Rc::new(Conn {
        token,
        driver: driver.clone(),
        peer,
        inbox: RefCell::default(),
        ended: RefCell::default(),
        reader: RefCell::default(),
        paused: Cell::new(false),
        send_gone: Cell::new(false),
        unsent: Cell::new(0),
        host_queued: Cell::new(0),
        notify: RefCell::default(),
        receiving: Cell::new(true),
        sending: Cell::new(true),
        held: Cell::new(true),
        aborted: Cell::new(false),
        tls: RefCell::new(tls),
    });
    driver
        .conns
        .borrow_mut()
        .insert(token, Rc::downgrade(&conn));
    (Receiver(conn.clone()), Sender(conn.clone()), Guard(conn))
}

/// The driver task: a read of `incoming` always pending, and a write of
/// whatever frames the connections made since the last one.
struct DriverTask {
    driver: Rc<Driver>,
    incoming: Option<RawReader>,
    reading: Option<ReadOp>,
    outgoing: Option<RawWriter>,
    writing: Option<WriteOp>,
    /// The buffer of the last write, kept for the next frames.
    spare: Vec<u8>,
    /// Cancelled (the loop is closing): the frames left are written, for
    /// at most this long, and nothing more is read.
    flushing: Option<crate::time::Sleep>,
    cancelled: Option<Error>,
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

/// The error of every connection once the multiplexer is gone.
fn broken(why: &str) -> Error {
    Error::from(std::io::Error::new(std::io::ErrorKind::BrokenPipe, why))
}

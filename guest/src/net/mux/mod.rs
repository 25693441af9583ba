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
//! it through the stream core's [`Inbox`](crate::streams::channel::Inbox)
//! and [`Outbox`](crate::streams::channel::Outbox); the socket
//! handle's place is taken by [`Guard`], so the ends behave as a socket's
//! own streams do: closing the writer sends a FIN after the bytes written,
//! dropping the socket while the writer is open resets the connection, and
//! the connection is given back once every part is gone.
//!
//! - this module: the frame kinds, the [`Driver`] and its frames, and
//!   [`attach`] (a plain connection);
//! - [`conn`]: a connection's shared state ([`Conn`]) and its parts
//!   ([`Receiver`], [`Sender`], [`Guard`]);
//! - [`tls`]: connections with a TLS session on the host ([`attach_tls`],
//!   [`start_tls`], [`check_tls`], [`HandshakeDone`]);
//! - [`task`]: the driver task, which reads and writes the host's streams.

mod conn;
mod task;
mod tls;

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::rc::{Rc, Weak};
use std::task::Waker;

use crate::bindings::aio::host::mux::Mux;
use crate::bindings::aio::host::unix::UnixStream;
use crate::bindings::wasi::sockets::types as wit;
use crate::errors::Error;
use crate::runtime;
use conn::{Conn, Guard, Receiver, Sender};
use task::DriverTask;
use tls::Handshake;
pub(crate) use tls::{HandshakeDone, attach_tls, check_tls, start_tls};

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

/// Moves a connected socket onto the running loop's multiplexer: its
/// receiving end, sending end and guard; `None` (the socket untouched)
/// when there is no running loop or the host refused.
pub(crate) fn attach(
    socket: &wit::TcpSocket,
    peer: SocketAddr,
) -> Option<(Receiver, Sender, Guard)> {
    let driver = driver()?;
    let token = driver.mux.borrow().as_ref()?.attach(socket).ok()?;
    Some(add_conn(driver, token, Peer::Inet(peer), Handshake::Plain))
}

/// Moves a connected Unix socket onto the running loop's multiplexer (it
/// is the only way a Unix socket's bytes move): its ends, or why not.
pub(crate) fn attach_unix(
    stream: UnixStream,
    path: Rc<str>,
) -> Result<(Receiver, Sender, Guard), Error> {
    let gone = || broken("Unix sockets need the running loop's socket multiplexer");
    let driver = driver().ok_or_else(gone)?;
    let attached = match driver.mux.borrow().as_ref() {
        Some(mux) => mux.attach_unix(stream),
        None => return Err(gone()),
    };
    let peer = Peer::Unix(path);
    let token =
        attached.map_err(|code| super::socket_error(code, super::Action::Connect, &peer))?;
    Ok(add_conn(driver, token, peer, Handshake::Plain))
}

/// Whom a connection is with, for error messages.
pub(super) enum Peer {
    Inet(SocketAddr),
    /// A Unix socket's path.
    Unix(Rc<str>),
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Inet(addr) => write!(f, "{addr}"),
            Peer::Unix(path) => write!(f, "unix:{path}"),
        }
    }
}

fn add_conn(
    driver: Rc<Driver>,
    token: u32,
    peer: Peer,
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

/// The error of every connection once the multiplexer is gone.
fn broken(why: &str) -> Error {
    Error::from(std::io::Error::new(std::io::ErrorKind::BrokenPipe, why))
}

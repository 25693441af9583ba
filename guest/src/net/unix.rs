//! Unix domain stream sockets over `aio:host/unix` (granted with `aio run
//! --allow-unix=PATH`): connecting, listening, accepting, and wiring a
//! connection to the stream core as [`tcp::wire`](super::tcp::wire) does.
//!
//! WASI has no Unix sockets; the host makes them and the socket
//! multiplexer carries their bytes, so a Unix connection's reader, writer
//! and transport are a TCP connection's. That needs the SDK's `host-mux`
//! feature (the default): without it every call here fails, saying so.

use super::tcp::Wired;
use crate::errors::{Error, Result};

/// What the failed call was doing, and on which path.
#[cfg(feature = "host-mux")]
#[derive(Clone, Copy)]
pub(crate) enum Doing {
    Connect,
    Listen,
    Accept,
}

#[cfg(feature = "host-mux")]
mod imp {
    use std::cell::RefCell;
    use std::future::Future;
    use std::pin::Pin;
    use std::rc::Rc;
    use std::task::Poll;

    use super::{Doing, unix_error};
    use crate::bindings::aio::host::unix as wit;
    use crate::errors::Result;
    use crate::net::host_call;
    use crate::net::tcp::{ConnHandle, ListenerCloser, Wired};
    use crate::runtime::{self, task::Awaiting};
    use crate::streams::reader::CloseSignal;
    use crate::streams::{StreamReader, StreamWriter};

    /// Connects to the server at `path`. Cancelled, it abandons the attempt.
    pub(crate) async fn connect(path: &str, limit: usize) -> Result<Wired> {
        let stream = host_call("connect", wit::connect(path.to_owned()))
            .await?
            .map_err(|e| unix_error(e, Doing::Connect, path))?;
        wire(stream, path.into(), limit)
    }

    /// A connected Unix socket as a reader, a writer, and their handle.
    pub(crate) fn wire(stream: wit::UnixStream, path: Rc<str>, limit: usize) -> Result<Wired> {
        let (inbox, outbox, guard) = crate::net::mux::attach_unix(stream, path.clone())?;
        let closer = Rc::new(CloseSignal::default());
        let reader = StreamReader::from_inbox(Box::new(inbox), closer.clone()).with_limit(limit);
        let mut writer =
            StreamWriter::from_outbox(Rc::new(outbox), None, None, Rc::new(guard), closer.clone());
        writer.set_unix_path(path);
        let handle = ConnHandle::new(closer, writer.handle());
        Ok((reader, writer, handle))
    }

    type AcceptOp =
        Pin<Box<dyn Future<Output = std::result::Result<wit::UnixStream, wit::UnixError>>>>;

    /// A listening Unix socket. Its [`ListenerCloser`] closes it
    /// at once (a pending accept is cancelled) and the host removes its
    /// socket file.
    pub(crate) struct Listener {
        open: Rc<RefCell<Option<Open>>>,
        path: Rc<str>,
    }

    struct Open {
        /// Dropped first (fields drop in order): the accept holds the
        /// listener too.
        op: Option<AcceptOp>,
        listener: Rc<wit::UnixListener>,
        waiter: Option<std::task::Waker>,
    }

    impl Listener {
        pub(crate) fn bind(path: &str, backlog: u32) -> Result<Listener> {
            let listener = wit::UnixListener::listen(path, backlog)
                .map_err(|e| unix_error(e, Doing::Listen, path))?;
            Ok(Listener {
                open: Rc::new(RefCell::new(Some(Open {
                    op: None,
                    listener: Rc::new(listener),
                    waiter: None,
                }))),
                path: path.into(),
            })
        }

        pub(crate) fn path(&self) -> &Rc<str> {
            &self.path
        }

        pub(crate) fn closer(&self) -> ListenerCloser {
            ListenerCloser::new(&self.open, |open| open.waiter.take())
        }

        /// The next client; `None` once the listener is closed. Cancelled,
        /// it returns `Err(Cancelled)` and the accept in progress stays
        /// with the listener, so no client is lost.
        pub(crate) async fn accept(&mut self) -> Result<Option<wit::UnixStream>> {
            let path = self.path.clone();
            std::future::poll_fn(|cx| {
                if let Some(e) = runtime::take_cancel() {
                    return Poll::Ready(Err(e));
                }
                let mut slot = self.open.borrow_mut();
                let Some(open) = slot.as_mut() else {
                    return Poll::Ready(Ok(None));
                };
                let op = open.op.get_or_insert_with(|| {
                    let listener = open.listener.clone();
                    Box::pin(async move { listener.accept().await })
                });
                match op.as_mut().poll(cx) {
                    Poll::Pending => {
                        runtime::store_waker(&mut open.waiter, cx.waker());
                        runtime::set_awaiting(Awaiting::Io { what: "accept" });
                        Poll::Pending
                    }
                    Poll::Ready(got) => {
                        open.op = None;
                        Poll::Ready(
                            got.map(Some)
                                .map_err(|e| unix_error(e, Doing::Accept, &path)),
                        )
                    }
                }
            })
            .await
        }
    }
}

#[cfg(feature = "host-mux")]
pub(crate) use imp::{Listener, connect, wire};

#[cfg(feature = "host-mux")]
fn unix_error(e: crate::bindings::aio::host::unix::UnixError, doing: Doing, path: &str) -> Error {
    use crate::bindings::aio::host::unix::UnixError as E;
    use std::io::ErrorKind as Io;
    let what = match doing {
        Doing::Connect => format!("connect to Unix socket {path:?}"),
        Doing::Listen => format!("listen on Unix socket {path:?}"),
        Doing::Accept => format!("accept on Unix socket {path:?}"),
    };
    let io = |kind: Io, why: &str| Error::from(std::io::Error::new(kind, format!("{what}: {why}")));
    match e {
        E::NotGranted(why) => Error::new(crate::errors::ErrorKind::PermissionDenied(format!(
            "{what} refused: {why}"
        ))),
        E::NotFound => io(Io::NotFound, "no such file or directory"),
        E::ConnectionRefused => io(Io::ConnectionRefused, "connection refused"),
        E::AddressInUse => io(Io::AddrInUse, "address already in use"),
        E::InvalidPath(why) => io(Io::InvalidInput, &why),
        E::Other(why) => io(Io::Other, &why),
    }
}

/// Without the multiplexer there are no Unix sockets.
#[cfg(not(feature = "host-mux"))]
pub(crate) fn without_mux(path: &str) -> Error {
    Error::from(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        format!("Unix socket {path:?}: Unix sockets need the SDK's host-mux feature"),
    ))
}

/// Connects to `path` and wires the connection (`limit`: the reader's).
pub(crate) async fn open(path: &str, limit: usize) -> Result<Wired> {
    #[cfg(feature = "host-mux")]
    {
        connect(path, limit).await
    }
    #[cfg(not(feature = "host-mux"))]
    {
        let _ = limit;
        Err(without_mux(path))
    }
}

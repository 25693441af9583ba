//! [`StreamWriter::start_tls`]: TLS on a connection that began in plain
//! text (the STARTTLS pattern of SMTP, IMAP, XMPP, PostgreSQL).

use super::{Shared, StreamWriter};
use crate::errors::{Error, Result};
use crate::net::tcp;
use crate::runtime::{self, task::Awaiting};
use crate::ssl::{SslContext, SslErrorKind};
use crate::streams::StreamReader;
use std::cell::RefCell;
use std::task::Poll;

impl StreamWriter {
    /// Upgrades the connection to TLS (asyncio's `StreamWriter.start_tls`):
    /// waits until everything written so far is out, then the host runs
    /// the handshake with `ctx` and the connection carries TLS from then
    /// on, through this writer and `reader` (the connection's). A client
    /// context verifies the server for its
    /// [`server_hostname`](SslContext::server_hostname), or the peer's
    /// address without one.
    ///
    /// Nothing the peer sent is lost: what `reader` had not used yet
    /// becomes the start of the handshake, so a server may call this as
    /// soon as it has written its "go ahead". Errors as
    /// [`open_connection_ssl`](crate::open_connection_ssl)'s; a handshake
    /// that outlasts the context's timeout aborts the connection.
    pub async fn start_tls(&mut self, reader: &mut StreamReader, ctx: &SslContext) -> Result<()> {
        if self.ssl.is_some() {
            return Err(Error::runtime("start_tls: the connection has TLS already"));
        }
        let Some(peer) = self.peername else {
            return Err(Error::runtime("start_tls needs a TCP connection"));
        };
        let host = peer.ip().to_string();
        tcp::check_tls(ctx, &host)?;
        self.flushed().await?;
        let Some(socket) = self.shared.borrow().socket.clone() else {
            return Err(Error::runtime("start_tls: the writer is closed"));
        };
        let received = reader.drain_buffered(|data| data.to_vec());
        let handshake = match tcp::start_tls(&*socket, ctx, peer, received) {
            Ok(handshake) => handshake,
            Err((e, received)) => {
                // Back where they were: the connection goes on in plain text.
                reader.feed_data(&received);
                return Err(e);
            }
        };
        match handshake.finish().await {
            Ok(info) => {
                self.ssl = Some(info);
                Ok(())
            }
            Err(e) => {
                let timed_out = matches!(
                    e.kind(),
                    crate::ErrorKind::Ssl {
                        kind: SslErrorKind::HandshakeTimeout,
                        ..
                    }
                );
                if timed_out {
                    self.abort();
                }
                Err(e)
            }
        }
    }

    /// Waits until every byte written is out of the writer and the host
    /// (the system took it).
    async fn flushed(&mut self) -> Result<()> {
        std::future::poll_fn(|cx| poll_flushed(&self.shared, cx)).await
    }
}

fn poll_flushed(shared: &RefCell<Shared>, cx: &mut std::task::Context<'_>) -> Poll<Result<()>> {
    if let Some(e) = runtime::take_cancel() {
        return Poll::Ready(Err(e));
    }
    let mut s = shared.borrow_mut();
    if let Some(e) = &s.error {
        return Poll::Ready(Err(e.clone()));
    }
    if s.closed || s.closing {
        return Poll::Ready(Err(Error::runtime("start_tls: the writer is closed")));
    }
    if s.size() == 0 {
        return Poll::Ready(Ok(()));
    }
    s.wait_for_room(cx.waker());
    runtime::set_awaiting(Awaiting::Io {
        what: "StreamWriter.start_tls (sending what was written)",
    });
    Poll::Pending
}

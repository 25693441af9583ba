//! Glue: the generated `aio:host/unix` traits over [`crate::net::unix`].

use super::{Sockets, SocketsView};
use crate::bindings::aio::host::unix as wit;
use crate::net::unix::{UnixConn, UnixError, UnixListener};
use wasmtime::component::{Accessor, Resource};

fn to_wit(e: UnixError) -> wit::UnixError {
    match e {
        UnixError::NotGranted(why) => wit::UnixError::NotGranted(why),
        UnixError::NotFound => wit::UnixError::NotFound,
        UnixError::ConnectionRefused => wit::UnixError::ConnectionRefused,
        UnixError::AddressInUse => wit::UnixError::AddressInUse,
        UnixError::InvalidPath(why) => wit::UnixError::InvalidPath(why),
        UnixError::Other(why) => wit::UnixError::Other(why),
    }
}

impl SocketsView<'_> {
    /// The run has no `--allow-unix` grant: every path is refused, and the
    /// refusal audited.
    fn no_unix(&self, capability: &'static str, path: &str) -> wit::UnixError {
        if let Some(hook) = self.audit {
            let used = crate::audit::CapabilityUse::denied(capability, path, "--allow-unix");
            hook(&crate::audit::AuditEvent::Capability(used));
        }
        wit::UnixError::NotGranted(format!(
            "Unix socket {path:?} is not granted (add --allow-unix=PATH)"
        ))
    }
}

impl wit::Host for SocketsView<'_> {}

impl wit::HostUnixStream for SocketsView<'_> {
    fn drop(&mut self, stream: Resource<UnixConn>) -> wasmtime::Result<()> {
        self.table.delete(stream)?;
        Ok(())
    }
}

impl wit::HostUnixListener for SocketsView<'_> {
    fn listen(
        &mut self,
        path: String,
        backlog: u32,
    ) -> wasmtime::Result<Result<Resource<UnixListener>, wit::UnixError>> {
        let Some(unix) = self.unix else {
            return Ok(Err(self.no_unix("unix.listen", &path)));
        };
        match unix.listen(&path, backlog) {
            Ok(listener) => Ok(Ok(self.table.push(listener)?)),
            Err(e) => Ok(Err(to_wit(e))),
        }
    }

    fn drop(&mut self, listener: Resource<UnixListener>) -> wasmtime::Result<()> {
        self.table.delete(listener)?;
        Ok(())
    }
}

impl<T> wit::HostWithStore<T> for Sockets {
    async fn connect(
        store: &Accessor<T, Self>,
        path: String,
    ) -> wasmtime::Result<Result<Resource<UnixConn>, wit::UnixError>> {
        let unix = store.with(|mut s| {
            let view = s.get();
            view.unix
                .cloned()
                .ok_or_else(|| view.no_unix("unix.connect", &path))
        });
        let unix = match unix {
            Ok(unix) => unix,
            Err(e) => return Ok(Err(e)),
        };
        match unix.connect(&path).await {
            Ok(conn) => store.with(|mut s| Ok(Ok(s.get().table.push(conn)?))),
            Err(e) => Ok(Err(to_wit(e))),
        }
    }
}

impl<T> wit::HostUnixListenerWithStore<T> for Sockets {
    async fn accept(
        store: &Accessor<T, Self>,
        listener: Resource<UnixListener>,
    ) -> wasmtime::Result<Result<Resource<UnixConn>, wit::UnixError>> {
        let accepted = std::future::poll_fn(|cx| {
            store.with(|mut s| match s.get().table.get(&listener) {
                Ok(l) => l.poll_accept(cx).map(Ok),
                Err(e) => std::task::Poll::Ready(Err(e)),
            })
        })
        .await?;
        match accepted {
            Ok(conn) => store.with(|mut s| Ok(Ok(s.get().table.push(conn)?))),
            Err(e) => Ok(Err(to_wit(e))),
        }
    }
}

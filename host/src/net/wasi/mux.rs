//! Glue: the generated `aio:host/mux` traits over [`crate::net::mux`].

use super::{Sockets, SocketsView, ours};
#[cfg(feature = "tls")]
use crate::audit::CapabilityUse;
use crate::bindings::aio::host::mux as wit;
use crate::net::mux::{Mux, RxEnd, TxEnd};
use crate::net::tcp::TcpSocket;
use crate::net::tcp::{Halves, ResultRx, TcpResult};
use crate::net::unix::UnixConn;
use std::net::SocketAddr;
use wasmtime::component::{Access, Resource, ResourceTable, StreamReader};
use wasmtime_wasi::p3::bindings::sockets::types::ErrorCode;
use wasmtime_wasi::sockets::TcpSocket as WasiTcp;

impl wit::Host for SocketsView<'_> {}

impl wit::HostMux for SocketsView<'_> {
    fn new(&mut self) -> wasmtime::Result<Resource<Mux>> {
        Ok(self.table.push(Mux::new())?)
    }

    fn attach(
        &mut self,
        mux: Resource<Mux>,
        socket: Resource<WasiTcp>,
    ) -> wasmtime::Result<Result<u32, ErrorCode>> {
        self.attach_ends(mux, socket, |((rx, rx_result), (tx, tx_result)), _| {
            ((RxEnd::Tcp(rx), rx_result), (TxEnd::Tcp(tx), tx_result))
        })
    }

    fn attach_unix(
        &mut self,
        mux: Resource<Mux>,
        socket: Resource<UnixConn>,
    ) -> wasmtime::Result<Result<u32, ErrorCode>> {
        let UnixConn(stream) = self.table.delete(socket)?;
        let halves = crate::net::tcp::unix_halves(stream);
        let take = |_: &mut ResourceTable| Ok(halves.map(|h| (h, None)));
        self.attach_halves(mux, take, |((rx, rx_result), (tx, tx_result)), _| {
            ((RxEnd::Tcp(rx), rx_result), (TxEnd::Tcp(tx), tx_result))
        })
    }

    fn attach_tls(
        &mut self,
        mux: Resource<Mux>,
        socket: Resource<WasiTcp>,
        role: wit::TlsRole,
    ) -> wasmtime::Result<Result<u32, wit::TlsRefused>> {
        #[cfg(feature = "tls")]
        {
            self.attach_tls_session(mux, socket, role)
        }
        #[cfg(not(feature = "tls"))]
        {
            let _ = (mux, socket, role);
            Ok(Err(without_tls()))
        }
    }

    fn start_tls(
        &mut self,
        mux: Resource<Mux>,
        token: u32,
        role: wit::TlsRole,
        received: Vec<u8>,
    ) -> wasmtime::Result<Result<(), wit::TlsRefused>> {
        #[cfg(feature = "tls")]
        {
            let (tls, role) = match self.tls_session(role) {
                Ok(made) => made,
                Err(refused) => return Ok(Err(refused)),
            };
            let audit = self.net.map(|net| (net.clone(), &role, None));
            let started = self.table.get(&mux)?.start_tls(token, move |rx, tx| {
                crate::net::tls::Session::over(tls, rx, tx, audit, received)
            });
            Ok(started.map_err(|why| wit::TlsRefused::Invalid(why.into())))
        }
        #[cfg(not(feature = "tls"))]
        {
            let _ = (mux, token, role, received);
            Ok(Err(without_tls()))
        }
    }

    fn check_tls(
        &mut self,
        mux: Resource<Mux>,
        role: wit::TlsRole,
    ) -> wasmtime::Result<Result<(), wit::TlsRefused>> {
        let _ = mux;
        #[cfg(feature = "tls")]
        {
            Ok(self.tls_session(role).map(|_| ()))
        }
        #[cfg(not(feature = "tls"))]
        {
            let _ = role;
            Ok(Err(without_tls()))
        }
    }

    fn drop(&mut self, mux: Resource<Mux>) -> wasmtime::Result<()> {
        let mux = self.table.delete(mux)?;
        for handle in mux.take_all_handles() {
            self.table.delete(Resource::<MuxConn>::new_own(handle))?;
        }
        Ok(())
    }
}

#[cfg(not(feature = "tls"))]
fn without_tls() -> wit::TlsRefused {
    wit::TlsRefused::Invalid("this host was built without TLS (aio-host's `tls` feature)".into())
}

#[cfg(feature = "tls")]
impl SocketsView<'_> {
    /// A new session for `role`, or why not (a refusal is audited).
    fn tls_session(
        &self,
        role: wit::TlsRole,
    ) -> Result<(rustls::Connection, crate::net::tls::Role), wit::TlsRefused> {
        use crate::net::tls::{Refusal, Role};
        let role = match role {
            wit::TlsRole::Client(c) => Role::Client {
                server_name: c.server_name,
                alpn: c.alpn,
                ca: c.ca,
            },
            wit::TlsRole::Server(s) => Role::Server {
                identity: s.identity,
                alpn: s.alpn,
            },
        };
        let Some(net) = self.net else {
            let why = "TLS needs a network grant (--allow-net or --allow-listen)";
            return Err(wit::TlsRefused::NotGranted(why.into()));
        };
        match net.tls().session(&role) {
            Ok(tls) => Ok((tls, role)),
            Err(Refusal::NotGranted {
                capability,
                target,
                flag,
            }) => {
                let message = format!("TLS {capability} {target:?} is not granted (add {flag})");
                net.audit(CapabilityUse::denied(capability, target, flag));
                Err(wit::TlsRefused::NotGranted(message))
            }
            Err(Refusal::Invalid(why)) => Err(wit::TlsRefused::Invalid(why)),
        }
    }

    fn attach_tls_session(
        &mut self,
        mux: Resource<Mux>,
        socket: Resource<WasiTcp>,
        role: wit::TlsRole,
    ) -> wasmtime::Result<Result<u32, wit::TlsRefused>> {
        use crate::net::tls::Session;
        let (tls, role) = match self.tls_session(role) {
            Ok(made) => made,
            Err(refused) => return Ok(Err(refused)),
        };
        // (A session exists only under some network grant.)
        let Some(net) = self.net else {
            return Ok(Err(wit::TlsRefused::Socket(ErrorCode::AccessDenied)));
        };
        let attached = self.attach_ends(mux, socket, |halves, peer| {
            let ((rx, rx_result), (tx, tx_result)) =
                Session::start(tls, halves, Some((net.clone(), &role, peer)));
            ((RxEnd::Tls(rx), rx_result), (TxEnd::Tls(tx), tx_result))
        })?;
        Ok(attached.map_err(wit::TlsRefused::Socket))
    }
}

impl SocketsView<'_> {
    /// Takes a connected socket's halves onto the mux, with the ends
    /// `wrap` makes of them (and of the peer's address): the token, or the
    /// socket's error. Each connection holds a table entry while it is
    /// attached: past the store's handle limit the push fails, and the
    /// guest stops with the handle-limit error, as for any other handle.
    fn attach_ends(
        &mut self,
        mux: Resource<Mux>,
        socket: Resource<WasiTcp>,
        wrap: impl FnOnce(Halves, Option<SocketAddr>) -> ((RxEnd, ResultRx), (TxEnd, ResultRx)),
    ) -> wasmtime::Result<Result<u32, ErrorCode>> {
        let take = |table: &mut ResourceTable| {
            let ours = table.get_mut(&ours::<_, TcpSocket>(&socket))?;
            let peer = ours.remote_address().ok();
            Ok(ours.take_halves().map(|halves| (halves, peer)))
        };
        self.attach_halves(mux, take, wrap)
    }

    /// [`attach_ends`](Self::attach_ends) with the halves (and the peer's
    /// address) from `take`.
    fn attach_halves(
        &mut self,
        mux: Resource<Mux>,
        take: impl FnOnce(
            &mut ResourceTable,
        ) -> wasmtime::Result<TcpResult<(Halves, Option<SocketAddr>)>>,
        wrap: impl FnOnce(Halves, Option<SocketAddr>) -> ((RxEnd, ResultRx), (TxEnd, ResultRx)),
    ) -> wasmtime::Result<Result<u32, ErrorCode>> {
        for handle in self.table.get(&mux)?.take_released() {
            self.table.delete(Resource::<MuxConn>::new_own(handle))?;
        }
        let handle = self.table.push(MuxConn)?;
        let (halves, peer) = match take(self.table)? {
            Ok(halves) => halves,
            Err(e) => {
                self.table.delete(handle)?;
                return Ok(Err(e.into()));
            }
        };
        let (rx, tx) = wrap(halves, peer);
        match self.table.get(&mux)?.attach_ends(rx, tx, handle.rep()) {
            Some(token) => Ok(Ok(token)),
            None => {
                self.table.delete(handle)?;
                Ok(Err(ErrorCode::Other(Some(
                    "too many connections on one mux".into(),
                ))))
            }
        }
    }
}

/// The resource-table entry of one attached connection (never seen by
/// the guest): it makes the connection count against the handle limit.
struct MuxConn;

impl<T> wit::HostMuxWithStore<T> for Sockets {
    fn incoming(
        mut store: Access<'_, T, Self>,
        mux: Resource<Mux>,
    ) -> wasmtime::Result<StreamReader<u8>> {
        match store.get().table.get_mut(&mux)?.take_incoming() {
            Some(incoming) => StreamReader::new(&mut store, incoming),
            None => StreamReader::new(&mut store, std::iter::empty()),
        }
    }

    fn outgoing(
        mut store: Access<'_, T, Self>,
        mux: Resource<Mux>,
        mut data: StreamReader<u8>,
    ) -> wasmtime::Result<()> {
        match store.get().table.get_mut(&mux)?.take_outgoing() {
            Some(outgoing) => data.pipe(&mut store, outgoing),
            None => data.close(&mut store),
        }
    }
}

//! Glue: the generated `aio:host/mux` traits over [`crate::net::mux`].

use super::{Sockets, SocketsView, ours};
use crate::bindings::aio::host::mux as wit;
use crate::net::mux::Mux;
use crate::net::tcp::TcpSocket;
use wasmtime::component::{Access, Resource, StreamReader};
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
        // Each connection holds a table entry while it is attached: past
        // the store's handle limit the push fails, and the guest stops
        // with the handle-limit error, as for any other handle.
        for handle in self.table.get(&mux)?.take_released() {
            self.table.delete(Resource::<MuxConn>::new_own(handle))?;
        }
        let handle = self.table.push(MuxConn)?;
        let halves = self
            .table
            .get_mut(&ours::<_, TcpSocket>(&socket))?
            .take_halves();
        let halves = match halves {
            Ok(halves) => halves,
            Err(e) => {
                self.table.delete(handle)?;
                return Ok(Err(e.into()));
            }
        };
        match self.table.get(&mux)?.attach(halves, handle.rep()) {
            Some(token) => Ok(Ok(token)),
            None => {
                self.table.delete(handle)?;
                Ok(Err(ErrorCode::Other(Some(
                    "too many connections on one mux".into(),
                ))))
            }
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

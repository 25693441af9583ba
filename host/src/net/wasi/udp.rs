//! The `udp-socket` resource: thin glue over [`crate::net::udp`].

use super::{NetView, Sockets, SocketsView, delete, io, missing, ours, push};
use crate::net::udp::{self, MAX_DATAGRAM, UdpSocket};
use std::net::SocketAddr;
use wasmtime::component::{Accessor, Resource, ResourceTable};
use wasmtime_wasi::p3::bindings::sockets::types::{
    HostUdpSocket, HostUdpSocketWithStore, IpAddressFamily, IpSocketAddress,
};
use wasmtime_wasi::p3::sockets::SocketResult;
use wasmtime_wasi::sockets::UdpSocket as WasiUdp;

fn udp<'t>(table: &'t ResourceTable, socket: &Resource<WasiUdp>) -> SocketResult<&'t UdpSocket> {
    table.get(&ours(socket)).map_err(missing)
}

fn udp_mut<'t>(
    table: &'t mut ResourceTable,
    socket: &Resource<WasiUdp>,
) -> SocketResult<&'t mut UdpSocket> {
    table.get_mut(&ours(socket)).map_err(missing)
}

impl SocketsView<'_> {
    fn udp(&mut self, socket: &Resource<WasiUdp>) -> SocketResult<&mut UdpSocket> {
        udp_mut(self.table, socket)
    }
}

impl HostUdpSocket for SocketsView<'_> {
    async fn bind(
        &mut self,
        socket: Resource<WasiUdp>,
        local_address: IpSocketAddress,
    ) -> SocketResult<()> {
        io(self.udp(&socket)?.bind(SocketAddr::from(local_address)))
    }

    async fn connect(
        &mut self,
        socket: Resource<WasiUdp>,
        remote_address: IpSocketAddress,
    ) -> SocketResult<()> {
        io(self.udp(&socket)?.connect(SocketAddr::from(remote_address)))
    }

    async fn create(&mut self, address_family: IpAddressFamily) -> SocketResult<Resource<WasiUdp>> {
        let Some(net) = self.net else {
            return Err(self.refuse_socket("UDP socket", address_family));
        };
        let socket = io(UdpSocket::new(net.clone(), address_family))?;
        push(self.table, socket).map_err(missing)
    }

    fn disconnect(&mut self, socket: Resource<WasiUdp>) -> SocketResult<()> {
        io(self.udp(&socket)?.disconnect())
    }

    fn get_local_address(&mut self, socket: Resource<WasiUdp>) -> SocketResult<IpSocketAddress> {
        io(self.udp(&socket)?.local_address()).map(Into::into)
    }

    fn get_remote_address(&mut self, socket: Resource<WasiUdp>) -> SocketResult<IpSocketAddress> {
        io(self.udp(&socket)?.remote_address()).map(Into::into)
    }

    fn get_address_family(
        &mut self,
        socket: Resource<WasiUdp>,
    ) -> wasmtime::Result<IpAddressFamily> {
        Ok(udp(self.table, &socket)?.family())
    }

    fn get_unicast_hop_limit(&mut self, socket: Resource<WasiUdp>) -> SocketResult<u8> {
        io(self.udp(&socket)?.unicast_hop_limit())
    }

    fn set_unicast_hop_limit(&mut self, socket: Resource<WasiUdp>, value: u8) -> SocketResult<()> {
        io(self.udp(&socket)?.set_unicast_hop_limit(value))
    }

    fn get_receive_buffer_size(&mut self, socket: Resource<WasiUdp>) -> SocketResult<u64> {
        io(self.udp(&socket)?.receive_buffer_size())
    }

    fn set_receive_buffer_size(
        &mut self,
        socket: Resource<WasiUdp>,
        value: u64,
    ) -> SocketResult<()> {
        io(self.udp(&socket)?.set_receive_buffer_size(value))
    }

    fn get_send_buffer_size(&mut self, socket: Resource<WasiUdp>) -> SocketResult<u64> {
        io(self.udp(&socket)?.send_buffer_size())
    }

    fn set_send_buffer_size(&mut self, socket: Resource<WasiUdp>, value: u64) -> SocketResult<()> {
        io(self.udp(&socket)?.set_send_buffer_size(value))
    }

    fn drop(&mut self, socket: Resource<WasiUdp>) -> wasmtime::Result<()> {
        delete::<WasiUdp, UdpSocket>(self.table, socket)?;
        Ok(())
    }
}

impl<T: NetView> HostUdpSocketWithStore<T> for Sockets {
    async fn send(
        store: &Accessor<T, Self>,
        socket: Resource<WasiUdp>,
        data: Vec<u8>,
        remote_address: Option<IpSocketAddress>,
    ) -> SocketResult<()> {
        let remote = remote_address.map(SocketAddr::from);
        let (sock, target) = store
            .with(|mut s| io(udp_mut(s.get().table, &socket)?.prepare_send(data.len(), remote)))?;
        io(std::future::poll_fn(|cx| udp::poll_send(&sock, cx, &data, target)).await)
    }

    async fn receive(
        store: &Accessor<T, Self>,
        socket: Resource<WasiUdp>,
    ) -> SocketResult<(Vec<u8>, IpSocketAddress)> {
        let receiver = store.with(|mut s| io(udp(s.get().table, &socket)?.receiver()))?;
        let mut buf = Vec::with_capacity(MAX_DATAGRAM);
        let from = io(std::future::poll_fn(|cx| receiver.poll_receive(cx, &mut buf)).await)?;
        Ok((buf, from.into()))
    }
}

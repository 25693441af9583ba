//! The `tcp-socket` resource: thin glue over [`crate::net::tcp`].

use super::{NetView, Sockets, SocketsView, delete, io, missing, ours, push};
use crate::net::tcp::{
    ACCEPT_BATCH, ListenProducer, ReceiveProducer, Received, ResultRx, SendConsumer, Sent,
    TcpResult, TcpSocket,
};
use crate::streams::answer;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use wasmtime::StoreContextMut;
use wasmtime::component::{
    Access, Accessor, Destination, FutureReader, Resource, ResourceTable, Source, StreamConsumer,
    StreamProducer, StreamReader, StreamResult, VecBuffer,
};
use wasmtime_wasi::p3::bindings::sockets::types::{
    Duration, ErrorCode, HostTcpSocket, HostTcpSocketWithStore, IpAddressFamily, IpSocketAddress,
};
use wasmtime_wasi::p3::sockets::SocketResult;
use wasmtime_wasi::sockets::TcpSocket as WasiTcp;

/// Read buffer for a host-side reader of a receive stream (the guest's
/// own buffer is used when the guest reads).
const HOST_READ_CAPACITY: usize = 64 << 10;

fn tcp<'t>(table: &'t ResourceTable, socket: &Resource<WasiTcp>) -> SocketResult<&'t TcpSocket> {
    table.get(&ours(socket)).map_err(missing)
}

fn tcp_mut<'t>(
    table: &'t mut ResourceTable,
    socket: &Resource<WasiTcp>,
) -> SocketResult<&'t mut TcpSocket> {
    tcp_entry(table, socket).map_err(missing)
}

/// As [`tcp_mut`], for functions whose only error is a trap.
fn tcp_entry<'t>(
    table: &'t mut ResourceTable,
    socket: &Resource<WasiTcp>,
) -> wasmtime::Result<&'t mut TcpSocket> {
    Ok(table.get_mut(&ours(socket))?)
}

impl SocketsView<'_> {
    fn tcp(&mut self, socket: &Resource<WasiTcp>) -> SocketResult<&mut TcpSocket> {
        tcp_mut(self.table, socket)
    }
}

impl HostTcpSocket for SocketsView<'_> {
    async fn bind(
        &mut self,
        socket: Resource<WasiTcp>,
        local_address: IpSocketAddress,
    ) -> SocketResult<()> {
        io(self.tcp(&socket)?.bind(SocketAddr::from(local_address)))
    }

    fn create(&mut self, address_family: IpAddressFamily) -> SocketResult<Resource<WasiTcp>> {
        let Some(net) = self.net else {
            return Err(self.refuse_socket("TCP socket", address_family));
        };
        let socket = io(TcpSocket::new(net.clone(), address_family))?;
        push(self.table, socket).map_err(missing)
    }

    fn get_local_address(&mut self, socket: Resource<WasiTcp>) -> SocketResult<IpSocketAddress> {
        io(self.tcp(&socket)?.local_address()).map(Into::into)
    }

    fn get_remote_address(&mut self, socket: Resource<WasiTcp>) -> SocketResult<IpSocketAddress> {
        io(self.tcp(&socket)?.remote_address()).map(Into::into)
    }

    fn get_is_listening(&mut self, socket: Resource<WasiTcp>) -> wasmtime::Result<bool> {
        Ok(tcp(self.table, &socket)?.is_listening())
    }

    fn get_address_family(
        &mut self,
        socket: Resource<WasiTcp>,
    ) -> wasmtime::Result<IpAddressFamily> {
        Ok(tcp(self.table, &socket)?.family())
    }

    fn set_listen_backlog_size(
        &mut self,
        socket: Resource<WasiTcp>,
        value: u64,
    ) -> SocketResult<()> {
        io(self.tcp(&socket)?.set_listen_backlog_size(value))
    }

    fn get_keep_alive_enabled(&mut self, socket: Resource<WasiTcp>) -> SocketResult<bool> {
        io(self.tcp(&socket)?.keep_alive_enabled())
    }

    fn set_keep_alive_enabled(
        &mut self,
        socket: Resource<WasiTcp>,
        value: bool,
    ) -> SocketResult<()> {
        io(self.tcp(&socket)?.set_keep_alive_enabled(value))
    }

    fn get_keep_alive_idle_time(&mut self, socket: Resource<WasiTcp>) -> SocketResult<Duration> {
        io(self.tcp(&socket)?.keep_alive_idle_time())
    }

    fn set_keep_alive_idle_time(
        &mut self,
        socket: Resource<WasiTcp>,
        value: Duration,
    ) -> SocketResult<()> {
        io(self.tcp(&socket)?.set_keep_alive_idle_time(value))
    }

    fn get_keep_alive_interval(&mut self, socket: Resource<WasiTcp>) -> SocketResult<Duration> {
        io(self.tcp(&socket)?.keep_alive_interval())
    }

    fn set_keep_alive_interval(
        &mut self,
        socket: Resource<WasiTcp>,
        value: Duration,
    ) -> SocketResult<()> {
        io(self.tcp(&socket)?.set_keep_alive_interval(value))
    }

    fn get_keep_alive_count(&mut self, socket: Resource<WasiTcp>) -> SocketResult<u32> {
        io(self.tcp(&socket)?.keep_alive_count())
    }

    fn set_keep_alive_count(&mut self, socket: Resource<WasiTcp>, value: u32) -> SocketResult<()> {
        io(self.tcp(&socket)?.set_keep_alive_count(value))
    }

    fn get_hop_limit(&mut self, socket: Resource<WasiTcp>) -> SocketResult<u8> {
        io(self.tcp(&socket)?.hop_limit())
    }

    fn set_hop_limit(&mut self, socket: Resource<WasiTcp>, value: u8) -> SocketResult<()> {
        io(self.tcp(&socket)?.set_hop_limit(value))
    }

    fn get_receive_buffer_size(&mut self, socket: Resource<WasiTcp>) -> SocketResult<u64> {
        io(self.tcp(&socket)?.receive_buffer_size())
    }

    fn set_receive_buffer_size(
        &mut self,
        socket: Resource<WasiTcp>,
        value: u64,
    ) -> SocketResult<()> {
        io(self.tcp(&socket)?.set_receive_buffer_size(value))
    }

    fn get_send_buffer_size(&mut self, socket: Resource<WasiTcp>) -> SocketResult<u64> {
        io(self.tcp(&socket)?.send_buffer_size())
    }

    fn set_send_buffer_size(&mut self, socket: Resource<WasiTcp>, value: u64) -> SocketResult<()> {
        io(self.tcp(&socket)?.set_send_buffer_size(value))
    }

    fn drop(&mut self, socket: Resource<WasiTcp>) -> wasmtime::Result<()> {
        delete::<WasiTcp, TcpSocket>(self.table, socket)?.dropped_by_guest();
        Ok(())
    }
}

impl<T: NetView> HostTcpSocketWithStore<T> for Sockets {
    async fn connect(
        store: &Accessor<T, Self>,
        socket: Resource<WasiTcp>,
        remote_address: IpSocketAddress,
    ) -> SocketResult<()> {
        let addr = SocketAddr::from(remote_address);
        store.with(|mut s| io(tcp_mut(s.get().table, &socket)?.start_connect(addr)))?;
        std::future::poll_fn(|cx| {
            store.with(|mut s| match tcp_mut(s.get().table, &socket) {
                Ok(sock) => sock.poll_connect(cx).map(io),
                Err(e) => Poll::Ready(Err(e)),
            })
        })
        .await
    }

    async fn listen(
        mut store: Access<'_, T, Self>,
        socket: Resource<WasiTcp>,
    ) -> SocketResult<StreamReader<Resource<WasiTcp>>> {
        let getter = store.getter();
        let producer = io(tcp_mut(store.get().table, &socket)?.listen())?;
        StreamReader::new(&mut store, Accepts { producer, getter }).map_err(missing)
    }

    fn send(
        mut store: Access<'_, T, Self>,
        socket: Resource<WasiTcp>,
        mut data: StreamReader<u8>,
    ) -> wasmtime::Result<FutureReader<Result<(), ErrorCode>>> {
        match tcp_entry(store.get().table, &socket)?.take_send() {
            Ok((consumer, result)) => {
                data.pipe(&mut store, SendHalf(consumer))?;
                FutureReader::new(&mut store, result)
            }
            Err(e) => {
                data.close(&mut store)?;
                let e = ErrorCode::from(e);
                FutureReader::new(&mut store, async move { wasmtime::error::Ok(Err(e)) })
            }
        }
    }

    fn receive(
        mut store: Access<'_, T, Self>,
        socket: Resource<WasiTcp>,
    ) -> wasmtime::Result<(StreamReader<u8>, FutureReader<Result<(), ErrorCode>>)> {
        let taken: TcpResult<(ReceiveProducer, ResultRx)> =
            tcp_entry(store.get().table, &socket)?.take_receive();
        match taken {
            Ok((producer, result)) => Ok((
                StreamReader::new(&mut store, ReceiveHalf(producer))?,
                FutureReader::new(&mut store, result)?,
            )),
            Err(e) => Ok((
                StreamReader::new(&mut store, std::iter::empty())?,
                FutureReader::new(&mut store, async move {
                    wasmtime::error::Ok(Err(ErrorCode::from(e)))
                })?,
            )),
        }
    }
}

/// A listening socket's clients as a `stream<tcp-socket>`.
struct Accepts<T: 'static> {
    producer: ListenProducer,
    getter: for<'a> fn(&'a mut T) -> SocketsView<'a>,
}

impl<T: 'static> StreamProducer<T> for Accepts<T> {
    type Item = Resource<WasiTcp>;
    type Buffer = VecBuffer<Resource<WasiTcp>>;

    fn poll_produce<'a>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut store: StoreContextMut<'a, T>,
        mut dst: Destination<'a, Self::Item, Self::Buffer>,
        finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        let this = self.get_mut();
        let room = dst.remaining(&mut store);
        if room == Some(0) {
            // A zero-length read asks whether a client is waiting.
            let ready = this.producer.poll_ready(cx);
            return answer(ready.map(|()| StreamResult::Completed), finish);
        }
        let want = room.unwrap_or(1).min(ACCEPT_BATCH);
        let mut clients = Vec::new();
        while clients.len() < want {
            match this.producer.poll_accept(cx) {
                Poll::Ready(client) => {
                    let table = (this.getter)(store.data_mut()).table;
                    clients.push(push(table, client)?);
                }
                Poll::Pending => break,
            }
        }
        if clients.is_empty() {
            return answer(Poll::Pending, finish);
        }
        dst.set_buffer(VecBuffer::from(clients));
        Poll::Ready(Ok(StreamResult::Completed))
    }
}

/// A connection's receive half as a `stream<u8>`.
struct ReceiveHalf(ReceiveProducer);

impl<D> StreamProducer<D> for ReceiveHalf {
    type Item = u8;
    type Buffer = VecBuffer<u8>;

    fn poll_produce<'a>(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut store: StoreContextMut<'a, D>,
        dst: Destination<'a, Self::Item, Self::Buffer>,
        finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        if dst.remaining(&mut store) == Some(0) {
            // A zero-length read asks whether data is there.
            let ready = self.0.poll_ready(cx);
            return answer(ready.map(|()| StreamResult::Completed), finish);
        }
        let mut dst = dst.as_direct(store, HOST_READ_CAPACITY);
        let received = self.0.poll_receive(cx, dst.remaining());
        answer(
            received.map(|r| match r {
                Received::Data(n) => {
                    dst.mark_written(n);
                    StreamResult::Completed
                }
                Received::Eof | Received::Failed => StreamResult::Dropped,
            }),
            finish,
        )
    }
}

/// A connection's send half, fed by a guest's `stream<u8>`.
struct SendHalf(SendConsumer);

impl<D> StreamConsumer<D> for SendHalf {
    type Item = u8;

    fn poll_consume(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        store: StoreContextMut<D>,
        src: Source<Self::Item>,
        finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        let mut src = src.as_direct(store);
        if src.remaining().is_empty() {
            // A zero-length write asks whether there is room.
            let ready = self.0.poll_ready(cx);
            return answer(ready.map(|()| StreamResult::Completed), finish);
        }
        let sent = self.0.poll_send(cx, src.remaining());
        answer(
            sent.map(|r| match r {
                Sent::Wrote(n) => {
                    src.mark_read(n);
                    StreamResult::Completed
                }
                Sent::Failed => StreamResult::Dropped,
            }),
            finish,
        )
    }
}

//! A guest that abuses `aio:host/mux` with raw bindings: attaching a
//! socket twice, a frame naming a token of another generation, a frame of
//! an unknown kind, a data frame claiming 2 MiB, a second `incoming`. Each
//! is refused or ignored without harm to the host: the server (through the
//! SDK, on its own multiplexer) sees exactly the valid bytes, and the SDK's
//! connections work afterwards.
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use asyncio::bindings::aio::host::mux::Mux;
use asyncio::bindings::wasi::sockets::types::{
    IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, TcpSocket,
};
use asyncio::bindings::wit_stream;
use asyncio::{open_connection, start_server, wait_for};
use test_programs::until;

fn frame(token: u32, kind: u8, len: u32, body: &[u8]) -> Vec<u8> {
    let mut f = token.to_le_bytes().to_vec();
    f.push(kind);
    f.extend_from_slice(&len.to_le_bytes());
    f.extend_from_slice(body);
    f
}

async fn raw_connect(port: u16) -> TcpSocket {
    let s = TcpSocket::create(IpAddressFamily::Ipv4).expect("create");
    let addr = IpSocketAddress::Ipv4(Ipv4SocketAddress {
        port,
        address: (127, 0, 0, 1),
    });
    s.connect(addr).await.expect("connect");
    s
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let seen: Rc<RefCell<Vec<String>>> = Rc::default();
    let log = seen.clone();
    let server = start_server(
        move |mut reader, mut writer| {
            let log = log.clone();
            async move {
                let got = reader.read_to_end().await?;
                log.borrow_mut()
                    .push(String::from_utf8_lossy(&got).into_owned());
                writer.write(format!("got {}", got.len()).as_bytes())?;
                writer.close();
                writer.wait_closed().await
            }
        },
        "127.0.0.1",
        0,
    )
    .await?;
    let port = server.sockets()[0].port();

    // A mux of its own: valid frames and ones that are not.
    let mux = Mux::new();
    let socket = raw_connect(port).await;
    let token = mux.attach(&socket).expect("attach");
    println!("attach twice: {:?}", mux.attach(&socket).err());
    let _incoming = mux.incoming();
    let (mut second, _) = (mux.incoming(), ());
    let (_, rest) = second.read(Vec::with_capacity(16)).await;
    println!("a second incoming: {} bytes", rest.len());
    let (mut tx, rx) = wit_stream::new::<u8>();
    mux.outgoing(rx);
    let stale = token ^ (1 << 20);
    let mut frames = frame(stale, 0, 5, b"ghost");
    frames.extend(frame(token, 0, 4, b"real"));
    frames.extend(frame(0x000f_ffff, 0, 4, b"none"));
    let left = tx.write_all(frames).await;
    println!("stale and unknown tokens ignored: {}", left.is_empty());
    let left = tx.write_all(frame(token, 99, 0, b"")).await;
    println!("an unknown kind closes outgoing: {}", !left.is_empty());
    drop(tx);
    drop(socket);
    drop(mux);
    until("the server to see the first connection end", || {
        !seen.borrow().is_empty()
    })
    .await?;
    println!("the server got {:?}", seen.borrow()[0]);

    // A data frame claiming 2 MiB.
    let mux = Mux::new();
    let socket = raw_connect(port).await;
    let token = mux.attach(&socket).expect("attach");
    let _incoming = mux.incoming();
    let (mut tx, rx) = wit_stream::new::<u8>();
    mux.outgoing(rx);
    let left = tx.write_all(frame(token, 0, 2 << 20, b"x")).await;
    println!("a 2 MiB frame closes outgoing: {}", !left.is_empty());
    drop((tx, socket, mux));
    until("the server to see the second connection end", || {
        seen.borrow().len() >= 2
    })
    .await?;
    println!("the server got {:?}", seen.borrow()[1]);

    // The SDK's own connections are unharmed.
    let (mut reader, mut writer) = open_connection("127.0.0.1", port).await?;
    writer.write(b"ping")?;
    writer.close();
    let back = wait_for(Duration::from_secs(5), reader.read_to_end()).await?;
    println!("afterwards: {}", String::from_utf8_lossy(&back));
    server.close();
    Ok(())
}

//! Echo server for the network benchmark on the experimental batched
//! I/O (`aio:host/mux`, docs/design-batched-io.md): every connection's
//! bytes arrive on one stream and leave on another, in frames, so each
//! turn costs one stream read and one stream write whatever the number of
//! connections. The issue 13 spike; raw bindings, no SDK transport.
//! Prints `listening on ADDR`, serves until killed. Needs
//! `--allow-listen=127.0.0.1:0`.
use asyncio::bindings::aio::host::mux::Mux;
use asyncio::bindings::wasi::sockets::types::{
    IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, TcpSocket,
};
use std::rc::Rc;
use wit_bindgen::StreamResult;

const HEADER: usize = 9;
const DATA: u8 = 0;
const EOF: u8 = 1;
const ERROR: u8 = 2;
const CLOSE: u8 = 1;

fn fail(what: &str, e: impl std::fmt::Debug) -> asyncio::Error {
    asyncio::Error::msg(format!("{what}: {e:?}"))
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let listener = TcpSocket::create(IpAddressFamily::Ipv4).map_err(|e| fail("socket", e))?;
    let any = Ipv4SocketAddress {
        port: 0,
        address: (127, 0, 0, 1),
    };
    listener
        .bind(IpSocketAddress::Ipv4(any))
        .map_err(|e| fail("bind", e))?;
    let mut clients = listener.listen().map_err(|e| fail("listen", e))?;
    let port = match listener.get_local_address() {
        Ok(IpSocketAddress::Ipv4(a)) => a.port,
        other => return Err(fail("address", other)),
    };
    println!("listening on 127.0.0.1:{port}");
    use std::io::Write;
    std::io::stdout().flush().ok();

    let mux = Rc::new(Mux::new());
    let mut incoming = mux.incoming();
    let (mut outgoing, data) = asyncio::bindings::wit_stream::new::<u8>();
    mux.outgoing(data);

    let attach = mux.clone();
    let _accept = asyncio::create_task(async move {
        loop {
            let (result, got) = clients.read(Vec::with_capacity(64)).await;
            for socket in &got {
                let _ = attach.attach(socket);
            }
            if matches!(result, StreamResult::Dropped) && got.is_empty() {
                return Ok(());
            }
        }
    });

    let mut buf = Vec::with_capacity(256 << 10);
    let mut out = Vec::with_capacity(256 << 10);
    loop {
        let (result, got) = incoming.read(buf).await;
        buf = got;
        let mut at = 0;
        while buf.len() - at >= HEADER {
            let token = &buf[at..at + 4];
            let kind = buf[at + 4];
            let len = u32::from_le_bytes(buf[at + 5..at + HEADER].try_into().unwrap()) as usize;
            let body = &buf[at + HEADER..at + HEADER + len];
            if kind == DATA {
                out.extend_from_slice(token);
                out.push(DATA);
                out.extend_from_slice(&(len as u32).to_le_bytes());
                out.extend_from_slice(body);
            } else if kind == EOF || kind == ERROR {
                out.extend_from_slice(token);
                out.push(CLOSE);
                out.extend_from_slice(&0u32.to_le_bytes());
            }
            at += HEADER + len;
        }
        buf.clear();
        if !out.is_empty() {
            out = outgoing.write_all(std::mem::take(&mut out)).await;
            if !out.is_empty() {
                return Err(asyncio::Error::msg("outgoing closed"));
            }
        }
        if matches!(result, StreamResult::Dropped) {
            return Ok(());
        }
    }
}

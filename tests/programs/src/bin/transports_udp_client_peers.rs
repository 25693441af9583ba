//! A UDP client on the raw `wasi:sockets` interface (the host's policy is
//! what is tested, whatever the guest): an unbound socket sends to the
//! granted peer (the first argument is its port), prints the local address
//! the host bound it to, then prints the first datagram that reaches it.
//! The host test also sends from a peer no grant names: that one must be
//! dropped (and audited), not received.
use asyncio::bindings::wasi::sockets::types::{
    IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, UdpSocket,
};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

fn to_wit(a: SocketAddrV4) -> IpSocketAddress {
    let [w, x, y, z] = a.ip().octets();
    IpSocketAddress::Ipv4(Ipv4SocketAddress {
        port: a.port(),
        address: (w, x, y, z),
    })
}

fn from_wit(a: IpSocketAddress) -> SocketAddr {
    match a {
        IpSocketAddress::Ipv4(a) => {
            let (w, x, y, z) = a.address;
            SocketAddr::from((Ipv4Addr::new(w, x, y, z), a.port))
        }
        IpSocketAddress::Ipv6(_) => panic!("an IPv4 socket"),
    }
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("the granted peer's port");
    let peer = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
    let socket = UdpSocket::create(IpAddressFamily::Ipv4).expect("create");
    socket
        .send(b"hello".to_vec(), Some(to_wit(peer)))
        .await
        .expect("send to the granted peer");
    let local = from_wit(socket.get_local_address().expect("bound by the send"));
    println!("local {local}");
    std::io::stdout().flush()?;
    let (data, from) = socket.receive().await.expect("receive");
    println!(
        "received {:?} from {}",
        String::from_utf8_lossy(&data),
        from_wit(from)
    );
    Ok(())
}

//! A guest granted one TCP port on 127.0.0.1 (`--allow-net=127.0.0.1:PORT`)
//! and UDP binds on 127.0.0.1 (`--allow-listen=127.0.0.1:0`) tries every
//! address next to what it was given: the next port and the next address,
//! the IPv4-mapped and IPv4-compatible IPv6 forms of the granted one, the
//! wildcards, broadcast and multicast, a UDP "reply" to a peer that never
//! sent, and listens it was not given. Each must be refused (and the run
//! goes on); the granted connect must work. One line per attempt.
use asyncio::net::{Socket, UdpSocket};
use std::net::SocketAddr;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let port: u16 = std::env::args().nth(1).unwrap().parse().unwrap();
    let lp = asyncio::get_running_loop();
    let tcp = [
        ("the next port", format!("127.0.0.1:{}", port + 1)),
        ("the next address", format!("127.0.0.2:{port}")),
        ("IPv4-mapped", format!("[::ffff:127.0.0.1]:{port}")),
        ("IPv4-compatible", format!("[::127.0.0.1]:{port}")),
        ("IPv6 loopback", format!("[::1]:{port}")),
        ("0.0.0.0", format!("0.0.0.0:{port}")),
        ("[::]", format!("[::]:{port}")),
        ("broadcast", format!("255.255.255.255:{port}")),
        ("multicast", format!("224.0.0.1:{port}")),
        ("IPv6 multicast", format!("[ff02::1]:{port}")),
    ];
    for (what, addr) in tcp {
        let addr: SocketAddr = addr.parse().unwrap();
        let sock = Socket::tcp();
        let got = lp.sock_connect(&sock, addr).await;
        println!("connect to {what}: {}", verdict(got.err()));
    }
    for (what, addr) in [
        ("the granted port", format!("127.0.0.1:{port}")),
        ("the wildcard", "0.0.0.0:0".to_owned()),
        ("[::]", "[::]:0".to_owned()),
    ] {
        let sock = Socket::tcp();
        let got = sock
            .bind(addr.parse().unwrap())
            .and_then(|()| sock.listen(8));
        println!("listen on {what}: {}", verdict(got.err()));
    }
    let udp = UdpSocket::new();
    udp.bind("127.0.0.1:0".parse().unwrap())?;
    for (what, addr) in [
        ("a peer that never sent", format!("127.0.0.1:{}", port + 1)),
        ("broadcast", format!("255.255.255.255:{port}")),
        ("multicast", format!("224.0.0.1:{port}")),
        ("IPv4-mapped", format!("[::ffff:127.0.0.1]:{port}")),
    ] {
        let got = lp
            .sock_sendto(&udp, b"x", addr.parse().unwrap())
            .await
            .map(|_| ());
        println!("udp send to {what}: {}", verdict(got.err()));
    }
    let sock = Socket::tcp();
    let granted: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    lp.sock_connect(&sock, granted).await?;
    lp.sock_sendall(&sock, b"granted\n").await?;
    println!("connect to the granted address: ok");
    Ok(())
}

fn verdict(e: Option<asyncio::Error>) -> String {
    match e.as_ref().map(asyncio::Error::kind) {
        None => "ALLOWED".into(),
        Some(asyncio::ErrorKind::PermissionDenied(_)) => "refused (PermissionDenied)".into(),
        Some(asyncio::ErrorKind::Io(kind)) => format!("refused ({kind:?})"),
        Some(other) => format!("refused ({other:?})"),
    }
}

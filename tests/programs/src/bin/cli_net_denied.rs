//! Tries TCP, UDP and name lookup, which no grant allows: each must fail.
//! The first argument is the port of a listener the host test opened.
//! Prints one line per attempt; exits 1 if any attempt succeeded.
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(1);
    let attempts = [
        (
            "tcp connect",
            TcpStream::connect(("127.0.0.1", port)).map(drop),
        ),
        ("udp bind", UdpSocket::bind("127.0.0.1:0").map(drop)),
        ("name lookup", "localhost:80".to_socket_addrs().map(drop)),
    ];
    let mut allowed = false;
    for (what, result) in attempts {
        match result {
            Ok(()) => {
                allowed = true;
                println!("{what}: allowed");
            }
            Err(e) => println!("{what}: refused ({:?})", e.kind()),
        }
    }
    if allowed {
        asyncio::exit(1);
    }
    Ok(())
}

//! UDP end to end on loopback: an echo endpoint bound to a free port and a
//! client endpoint connected to it; getnameinfo is numeric.
use asyncio::transports::{DatagramProtocol, DatagramTransport};
use asyncio::{Error, Event, Queue, get_running_loop, wait_for};
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Default)]
struct Echo(Option<DatagramTransport>);

impl DatagramProtocol for Echo {
    fn connection_made(&mut self, t: DatagramTransport) {
        self.0 = Some(t);
    }

    fn datagram_received(&mut self, data: &[u8], addr: SocketAddr) {
        self.0.as_ref().unwrap().sendto(data, Some(addr)).unwrap();
    }
}

struct Client {
    got: Queue<(Vec<u8>, SocketAddr)>,
    lost: Event,
}

impl DatagramProtocol for Client {
    fn datagram_received(&mut self, data: &[u8], addr: SocketAddr) {
        self.got.put_nowait((data.to_vec(), addr)).unwrap();
    }

    fn error_received(&mut self, error: Error) {
        panic!("error_received: {error}");
    }

    fn connection_lost(&mut self, error: Option<Error>) {
        assert!(error.is_none());
        self.lost.set();
    }
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let lp = get_running_loop();
    let (server, _) = lp
        .create_datagram_endpoint(Echo::default, Some(("127.0.0.1", 0)), None)
        .await?;
    let addr = server.sockname().expect("bound");
    assert!(addr.port() != 0 && server.peername().is_none());
    let got = Queue::new(0);
    let lost = Event::new();
    let (client, _) = lp
        .create_datagram_endpoint(
            || Client {
                got: got.clone(),
                lost: lost.clone(),
            },
            None,
            Some(("127.0.0.1", addr.port())),
        )
        .await?;
    assert_eq!(client.get_extra_info("peername"), Some(addr));
    let me = client.sockname().expect("bound by connect");
    for i in 0..10u32 {
        client.sendto(format!("datagram {i}").as_bytes(), None)?;
    }
    let big = vec![7u8; 60_000];
    client.sendto(&big, None)?;
    let mut n = 0;
    for i in 0..10u32 {
        let (data, from) = wait_for(Duration::from_secs(10), got.get()).await?;
        assert_eq!(from, addr);
        assert_eq!(data, format!("datagram {i}").as_bytes());
        n += 1;
    }
    let (data, _) = wait_for(Duration::from_secs(10), got.get()).await?;
    assert_eq!(data, big);
    assert!(client.sendto(&[0; 70_000], None).is_err(), "too large");
    assert!(
        client
            .sendto(b"x", Some("127.0.0.1:9".parse().unwrap()))
            .is_err(),
        "not the connected peer"
    );
    let (host, port) = asyncio::net::getnameinfo(me).await?;
    assert_eq!((host.as_str(), port), ("127.0.0.1", me.port().to_string()));
    client.close();
    assert!(client.is_closing());
    assert!(client.sendto(b"x", None).is_err(), "sendto after close");
    wait_for(Duration::from_secs(5), lost.wait()).await?;
    server.close();
    println!("{n} datagrams and {} bytes echoed", big.len());
    Ok(())
}

//! getaddrinfo in the real host: an IP literal (no lookup, no grant) and
//! `localhost` (a host lookup, which needs an --allow-net grant), with and
//! without filters. One line per entry or error; the host test runs it with
//! a grant and without one.
use asyncio::net::{AddrInfo, AddrInfoFlags, AddressFamily, IpProtocol, SocketKind, getaddrinfo};

fn show(case: &str, found: asyncio::Result<Vec<AddrInfo>>) {
    match found {
        Ok(entries) => {
            for a in entries {
                println!(
                    "{case}: {:?} {:?} {:?} {:?} {}",
                    a.family, a.socktype, a.proto, a.canonname, a.sockaddr
                );
            }
        }
        Err(e) => println!("{case}: {e}"),
    }
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    show("literal", getaddrinfo("127.0.0.1", 8080).await);
    show(
        "literal dgram",
        getaddrinfo("127.0.0.1", 8080)
            .socktype(SocketKind::Dgram)
            .await,
    );
    show(
        "localhost inet stream canonname",
        getaddrinfo("localhost", 8080)
            .family(AddressFamily::Inet)
            .socktype(SocketKind::Stream)
            .flags(AddrInfoFlags::CANONNAME)
            .await,
    );
    // Unfiltered, which addresses `localhost` has depends on the machine
    // (::1 or not): check the shape rather than print them.
    match getaddrinfo("localhost", 8080).await {
        Ok(entries) => {
            assert!(!entries.is_empty() && entries.len() % 2 == 0, "{entries:?}");
            for pair in entries.chunks(2) {
                let (stream, dgram) = (&pair[0], &pair[1]);
                assert_eq!(
                    (stream.socktype, stream.proto, dgram.socktype, dgram.proto),
                    (
                        SocketKind::Stream,
                        IpProtocol::Tcp,
                        SocketKind::Dgram,
                        IpProtocol::Udp
                    ),
                    "{entries:?}"
                );
                assert_eq!(stream.sockaddr, dgram.sockaddr, "{entries:?}");
                assert!(stream.sockaddr.ip().is_loopback(), "{entries:?}");
                assert_eq!(stream.sockaddr.port(), 8080, "{entries:?}");
                assert_eq!(stream.family, AddressFamily::of(&stream.sockaddr));
            }
            assert!(entries.iter().all(|a| a.canonname.is_none()));
            println!("localhost: loopback addresses, each as (Stream, Tcp) then (Dgram, Udp)");
        }
        Err(e) => println!("localhost: {e}"),
    }
    show(
        "localhost numerichost",
        getaddrinfo("localhost", 8080)
            .flags(AddrInfoFlags::NUMERICHOST)
            .await,
    );
    Ok(())
}

//! `net::getaddrinfo`, natively, where no host lookup is involved (IP
//! literals and no host): Python's `(family, type, proto, canonname,
//! sockaddr)` entries, the `family=`/`type=`/`proto=`/`flags=` filters,
//! and cancellation. Names (which need the host) are tested in
//! host/tests/all/net.rs (`net_getaddrinfo`).

use std::net::SocketAddr;

use asyncio::net::{AddrInfo, AddrInfoFlags, AddressFamily, IpProtocol, SocketKind, getaddrinfo};
use asyncio::testing::{TestLoop, run_virtual};
use asyncio::{ErrorKind, Runner};

fn run<T: 'static>(f: impl Future<Output = asyncio::Result<T>> + 'static) -> asyncio::Result<T> {
    run_virtual(Runner::new(), f)
}

/// Each entry as `family type proto canonname sockaddr`.
fn lines(found: &[AddrInfo]) -> Vec<String> {
    found
        .iter()
        .map(|a| {
            format!(
                "{:?} {:?} {:?} {:?} {}",
                a.family, a.socktype, a.proto, a.canonname, a.sockaddr
            )
        })
        .collect()
}

#[test]
fn an_ip_literal_gives_one_entry_per_socket_type() {
    let found = run(async { getaddrinfo("127.0.0.1", 8080).await }).unwrap();
    assert_eq!(
        lines(&found),
        [
            "Inet Stream Tcp None 127.0.0.1:8080",
            "Inet Dgram Udp None 127.0.0.1:8080",
        ]
    );
    let found = run(async { getaddrinfo("[::1]", 53).await }).unwrap();
    assert_eq!(
        lines(&found),
        [
            "Inet6 Stream Tcp None [::1]:53",
            "Inet6 Dgram Udp None [::1]:53"
        ]
    );
}

#[test]
fn type_and_proto_filter_the_entries() {
    let dgram = run(async {
        getaddrinfo("127.0.0.1", 9)
            .socktype(SocketKind::Dgram)
            .await
    })
    .unwrap();
    assert_eq!(lines(&dgram), ["Inet Dgram Udp None 127.0.0.1:9"]);
    let tcp = run(async { getaddrinfo("127.0.0.1", 9).proto(IpProtocol::Tcp).await }).unwrap();
    assert_eq!(lines(&tcp), ["Inet Stream Tcp None 127.0.0.1:9"]);
    let e = run(async {
        getaddrinfo("127.0.0.1", 9)
            .socktype(SocketKind::Stream)
            .proto(IpProtocol::Udp)
            .await
    })
    .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Io(std::io::ErrorKind::InvalidInput));
}

#[test]
fn a_family_filter_keeps_or_refuses_a_literal() {
    let e = run(async {
        getaddrinfo("127.0.0.1", 80)
            .family(AddressFamily::Inet6)
            .await
    })
    .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Io(std::io::ErrorKind::NotFound));
    assert_eq!(e.to_string(), "cannot resolve 127.0.0.1: no IPv6 address");
    // V4MAPPED turns it into an IPv4-mapped IPv6 address, as libc does.
    let mapped = run(async {
        getaddrinfo("127.0.0.1", 80)
            .family(AddressFamily::Inet6)
            .socktype(SocketKind::Stream)
            .flags(AddrInfoFlags::V4MAPPED)
            .await
    })
    .unwrap();
    assert_eq!(
        lines(&mapped),
        ["Inet6 Stream Tcp None [::ffff:127.0.0.1]:80"]
    );
}

#[test]
fn no_host_is_loopback_or_with_passive_the_wildcard() {
    let local = run(async { getaddrinfo(None, 80).socktype(SocketKind::Stream).await }).unwrap();
    let addrs: Vec<SocketAddr> = local.iter().map(|a| a.sockaddr).collect();
    assert_eq!(
        addrs,
        ["[::1]:80".parse().unwrap(), "127.0.0.1:80".parse().unwrap()]
    );
    let passive = run(async {
        getaddrinfo(None, 0)
            .family(AddressFamily::Inet)
            .flags(AddrInfoFlags::PASSIVE)
            .await
    })
    .unwrap();
    assert_eq!(
        lines(&passive),
        [
            "Inet Stream Tcp None 0.0.0.0:0",
            "Inet Dgram Udp None 0.0.0.0:0"
        ]
    );
    // CANONNAME needs a host (glibc: EAI_BADFLAGS).
    let e = run(async { getaddrinfo(None, 0).flags(AddrInfoFlags::CANONNAME).await }).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Io(std::io::ErrorKind::InvalidInput));
}

#[test]
fn canonname_is_on_the_first_entry_only() {
    let found = run(async {
        getaddrinfo("192.0.2.7", 1)
            .flags(AddrInfoFlags::CANONNAME | AddrInfoFlags::NUMERICHOST)
            .await
    })
    .unwrap();
    assert_eq!(
        lines(&found),
        [
            "Inet Stream Tcp Some(\"192.0.2.7\") 192.0.2.7:1",
            "Inet Dgram Udp None 192.0.2.7:1",
        ]
    );
}

/// NUMERICHOST refuses a name before anything asks the host (natively
/// there is no host: a lookup would panic in the bindings).
#[test]
fn numerichost_refuses_a_name_without_a_lookup() {
    let e = run(async {
        getaddrinfo("localhost", 80)
            .flags(AddrInfoFlags::NUMERICHOST)
            .await
    })
    .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Io(std::io::ErrorKind::NotFound));
    assert_eq!(
        e.to_string(),
        "cannot resolve localhost: not an IP address (NUMERICHOST)"
    );
}

/// A task cancelled before its lookup runs sees `Err(Cancelled)` from
/// `getaddrinfo` itself (even for a literal, which never waits). The task
/// first waits in a plain (non-SDK) future, which does not take the
/// cancellation, so the lookup is the first awaitable to see it.
#[test]
fn a_cancelled_lookup_returns_cancelled() {
    let tl = TestLoop::new();
    let seen = std::rc::Rc::new(std::cell::RefCell::new(None));
    let task = {
        let seen = seen.clone();
        tl.spawn(async move {
            let mut yielded = false;
            std::future::poll_fn(|cx| {
                if std::mem::replace(&mut yielded, true) {
                    return std::task::Poll::Ready(());
                }
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            })
            .await;
            let r = getaddrinfo("127.0.0.1", 80).await;
            *seen.borrow_mut() = Some(r.as_ref().map(Vec::len).map_err(|e| e.kind().clone()));
            r
        })
    };
    tl.run_once();
    assert!(seen.borrow().is_none(), "still in the plain future");
    task.cancel();
    tl.run_until_idle();
    assert_eq!(
        *seen.borrow(),
        Some(Err(ErrorKind::Cancelled { message: None }))
    );
    assert!(task.cancelled());
}

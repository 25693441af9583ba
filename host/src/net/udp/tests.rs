//! Native tests of the host's UDP on loopback: explicit binds need a
//! listen grant, the host's own bind is as narrow as the destination, a
//! client hears only granted peers, a server answers only its own.

use super::*;
use crate::net::testing::{access, run};
use std::future::poll_fn;
use std::time::Duration;

fn v4() -> IpAddressFamily {
    IpAddressFamily::Ipv4
}

fn a(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A plain socket on 127.0.0.1 standing for a peer.
fn peer() -> std::net::UdpSocket {
    let p = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    p.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    p
}

async fn send(s: &mut UdpSocket, data: &[u8], to: Option<SocketAddr>) -> SysResult<()> {
    let (io, target) = s.prepare_send(data.len(), to)?;
    poll_fn(|cx| poll_send(&io, cx, data, target)).await
}

async fn receive(s: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let r = s.receiver().unwrap();
    let mut buf = Vec::with_capacity(MAX_DATAGRAM);
    let from = poll_fn(|cx| r.poll_receive(cx, &mut buf)).await.unwrap();
    (buf, from)
}

#[test]
fn an_explicit_bind_needs_a_listen_grant_for_that_address() {
    run(async {
        // Issue 10: only a loopback listen grant; binding every interface
        // is refused, audited, and leaves the socket unbound.
        let (net, seen) = access(&[], &["127.0.0.1:0"]);
        let mut s = UdpSocket::new(net, v4()).unwrap();
        assert!(matches!(
            s.bind(a("0.0.0.0:0")),
            Err(ErrorCode::AccessDenied)
        ));
        assert!(matches!(s.local_address(), Err(ErrorCode::InvalidState)));
        assert!(matches!(s.receiver().err(), Some(ErrorCode::InvalidState)));
        s.bind(a("127.0.0.1:0")).unwrap();
        assert!(s.local_address().unwrap().ip().is_loopback());
        assert!(matches!(
            s.bind(a("127.0.0.1:0")),
            Err(ErrorCode::InvalidState)
        ));
        let seen = seen.lock().unwrap().clone();
        assert_eq!(
            seen,
            [
                ("net.bind".to_string(), "0.0.0.0:0".to_string(), false),
                ("net.bind".to_string(), "127.0.0.1:0".to_string(), true),
            ]
        );
    });
}

#[test]
fn the_hosts_bind_is_as_narrow_as_the_destination() {
    assert_eq!(implicit_local(a("127.0.0.1:53"), v4()), a("127.0.0.1:0"));
    assert_eq!(implicit_local(a("127.9.9.9:53"), v4()), a("127.0.0.1:0"));
    assert_eq!(implicit_local(a("10.1.2.3:53"), v4()), a("0.0.0.0:0"));
    let v6 = IpAddressFamily::Ipv6;
    assert_eq!(implicit_local(a("[::1]:53"), v6), a("[::1]:0"));
    assert_eq!(implicit_local(a("[2001:db8::1]:53"), v6), a("[::]:0"));
    run(async {
        let p = peer();
        let to = p.local_addr().unwrap();
        let (net, seen) = access(&[&to.to_string()], &[]);
        let mut s = UdpSocket::new(net, v4()).unwrap();
        send(&mut s, b"hi", Some(to)).await.unwrap();
        let local = s.local_address().unwrap();
        assert_eq!(local.ip(), Ipv4Addr::LOCALHOST, "bound to loopback only");
        let mut buf = [0; 16];
        let (n, from) = p.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"hi"[..], local));
        let seen = seen.lock().unwrap().clone();
        assert_eq!(
            seen,
            [
                ("net.send".to_string(), to.to_string(), true),
                ("net.bind".to_string(), "127.0.0.1:0".to_string(), true),
            ]
        );
    });
}

#[test]
fn a_refused_send_binds_nothing() {
    run(async {
        let p = peer();
        let (net, seen) = access(&["127.0.0.1:1"], &["127.0.0.1:0"]);
        let mut s = UdpSocket::new(net, v4()).unwrap();
        let to = p.local_addr().unwrap();
        assert!(matches!(
            send(&mut s, b"hi", Some(to)).await,
            Err(ErrorCode::AccessDenied)
        ));
        assert!(matches!(s.local_address(), Err(ErrorCode::InvalidState)));
        assert!(matches!(s.connect(to), Err(ErrorCode::AccessDenied)));
        assert!(matches!(s.local_address(), Err(ErrorCode::InvalidState)));
        let seen = seen.lock().unwrap().clone();
        assert!(
            seen.iter()
                .all(|(c, t, ok)| c == "net.send" && *t == to.to_string() && !ok)
        );
        // Arguments are checked before grants.
        for bad in ["0.0.0.0:53", "127.0.0.1:0", "[::1]:53"] {
            assert!(matches!(
                send(&mut s, b"x", Some(a(bad))).await,
                Err(ErrorCode::InvalidArgument)
            ));
        }
        assert!(matches!(
            send(&mut s, b"x", None).await,
            Err(ErrorCode::InvalidArgument)
        ));
        assert!(matches!(
            send(&mut s, &vec![0; MAX_DATAGRAM + 1], Some(to)).await,
            Err(ErrorCode::DatagramTooLarge)
        ));
    });
}

#[test]
fn a_client_hears_only_the_peers_it_may_reach() {
    run(async {
        let granted = peer();
        let stranger = peer();
        let g = granted.local_addr().unwrap();
        // A listen grant exists, but this socket was not bound under it.
        let (net, seen) = access(&[&g.to_string()], &["127.0.0.1:0"]);
        let mut s = UdpSocket::new(net, v4()).unwrap();
        send(&mut s, b"hello", Some(g)).await.unwrap();
        let local = s.local_address().unwrap();
        stranger.send_to(b"from a stranger", local).unwrap();
        granted.send_to(b"from the peer", local).unwrap();
        let (data, from) = receive(&s).await;
        assert_eq!((data.as_slice(), from), (&b"from the peer"[..], g));
        let seen = seen.lock().unwrap().clone();
        let s_addr = stranger.local_addr().unwrap().to_string();
        assert!(
            seen.contains(&("net.receive".to_string(), s_addr, false)),
            "{seen:?}"
        );
    });
}

#[test]
fn a_server_hears_anyone_and_answers_only_its_own_peers() {
    run(async {
        let client = peer();
        let (net, _) = access(&[], &["127.0.0.1:0"]);
        let mut server = UdpSocket::new(net.clone(), v4()).unwrap();
        server.bind(a("127.0.0.1:0")).unwrap();
        let addr = server.local_address().unwrap();
        let c = client.local_addr().unwrap();
        assert!(matches!(
            send(&mut server, b"early", Some(c)).await,
            Err(ErrorCode::AccessDenied)
        ));
        client.send_to(b"ping", addr).unwrap();
        let (data, from) = receive(&server).await;
        assert_eq!((data.as_slice(), from), (&b"ping"[..], c));
        send(&mut server, b"pong", Some(c)).await.unwrap();
        let mut buf = [0; 16];
        let (n, _) = client.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"pong");
        // Another socket of the run may not answer the server's peer.
        let mut other = UdpSocket::new(net, v4()).unwrap();
        other.bind(a("127.0.0.1:0")).unwrap();
        assert!(matches!(
            send(&mut other, b"hi", Some(c)).await,
            Err(ErrorCode::AccessDenied)
        ));
    });
}

#[test]
fn connect_is_checked_as_a_send_and_binds_narrowly() {
    run(async {
        let p = peer();
        let to = p.local_addr().unwrap();
        let (net, _) = access(&[&to.to_string()], &[]);
        let mut s = UdpSocket::new(net, v4()).unwrap();
        assert!(matches!(s.disconnect(), Err(ErrorCode::InvalidState)));
        s.connect(to).unwrap();
        assert_eq!(s.remote_address().unwrap(), to);
        assert_eq!(s.local_address().unwrap().ip(), Ipv4Addr::LOCALHOST);
        send(&mut s, b"one", None).await.unwrap();
        send(&mut s, b"two", Some(to)).await.unwrap();
        assert!(matches!(
            send(&mut s, b"x", Some(a("127.0.0.1:9"))).await,
            Err(ErrorCode::InvalidArgument)
        ));
        let mut buf = [0; 16];
        for want in [&b"one"[..], b"two"] {
            let (n, _) = p.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], want);
        }
        p.send_to(b"back", s.local_address().unwrap()).unwrap();
        assert_eq!(receive(&s).await.0, b"back");
        s.disconnect().unwrap();
        assert!(matches!(s.remote_address(), Err(ErrorCode::InvalidState)));
    });
}

#[test]
fn a_flood_of_refused_datagrams_does_not_hold_the_thread() {
    // Each receive drops at most DROPS_PER_POLL datagrams per poll, then
    // yields: a timer on the same thread still fires.
    run(async {
        let granted = peer();
        let stranger = peer();
        let g = granted.local_addr().unwrap();
        let (net, seen) = access(&[&g.to_string()], &[]);
        let mut s = UdpSocket::new(net, v4()).unwrap();
        send(&mut s, b"hello", Some(g)).await.unwrap();
        let local = s.local_address().unwrap();
        // (Few enough for the default receive buffer to hold them all.)
        for _ in 0..150 {
            stranger.send_to(b"junk", local).unwrap();
        }
        granted.send_to(b"real", local).unwrap();
        let r = s.receiver().unwrap();
        let mut buf = Vec::with_capacity(MAX_DATAGRAM);
        let mut polls = 0;
        let from = poll_fn(|cx| {
            polls += 1;
            r.poll_receive(cx, &mut buf)
        })
        .await
        .unwrap();
        assert_eq!((buf.as_slice(), from), (&b"real"[..], g));
        assert!(polls > 150 / DROPS_PER_POLL, "{polls} polls");
        let drops = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(c, _, _)| c == "net.receive")
            .count();
        assert_eq!(
            drops,
            crate::net::access::DROP_BURST as usize,
            "rate-limited"
        );
    });
}

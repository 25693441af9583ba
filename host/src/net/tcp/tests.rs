//! Native tests of the host's TCP on loopback: echo and half-close, short
//! reads, refusals that touch nothing and are audited, states, options.

use super::*;
use crate::net::testing::{access, run};
use std::future::poll_fn;

fn v4() -> IpAddressFamily {
    IpAddressFamily::Ipv4
}

/// A listener on 127.0.0.1 (any port) and a client connected to it.
async fn pair(net: &NetAccess) -> (TcpSocket, TcpSocket, TcpSocket) {
    let mut server = TcpSocket::new(net.clone(), v4()).unwrap();
    server.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let mut accepts = server.listen().unwrap();
    let addr = server.local_address().unwrap();
    let mut client = TcpSocket::new(net.clone(), v4()).unwrap();
    client.start_connect(addr).unwrap();
    poll_fn(|cx| client.poll_connect(cx)).await.unwrap();
    let accepted = poll_fn(|cx| accepts.poll_accept(cx)).await;
    (server, client, accepted)
}

async fn send_all(half: &mut SendConsumer, mut data: &[u8]) {
    while !data.is_empty() {
        match poll_fn(|cx| half.poll_send(cx, data)).await {
            Sent::Wrote(n) => data = &data[n..],
            Sent::Failed => panic!("send failed"),
        }
    }
}

#[test]
fn echo_both_ways_then_half_close() {
    run(async {
        let (net, seen) = access(&["127.0.0.1:*"], &["127.0.0.1:0"]);
        let (_server, mut client, mut accepted) = pair(&net).await;
        let (mut c_send, _c_send_result) = client.take_send().unwrap();
        let (mut c_recv, mut c_recv_result) = client.take_receive().unwrap();
        let (mut s_send, _) = accepted.take_send().unwrap();
        let (mut s_recv, _) = accepted.take_receive().unwrap();
        assert_eq!(
            accepted.remote_address().unwrap(),
            client.local_address().unwrap()
        );

        send_all(&mut c_send, b"ping").await;
        let mut buf = [0u8; 64];
        let Received::Data(n) = poll_fn(|cx| s_recv.poll_receive(cx, &mut buf)).await else {
            panic!("no data");
        };
        assert_eq!(&buf[..n], b"ping");
        send_all(&mut s_send, &buf[..n]).await;
        let Received::Data(n) = poll_fn(|cx| c_recv.poll_receive(cx, &mut buf)).await else {
            panic!("no echo");
        };
        assert_eq!(&buf[..n], b"ping");

        // The server closes its send half: the client reads EOF, and
        // its receive result is Ok.
        drop(s_send);
        assert!(matches!(
            poll_fn(|cx| c_recv.poll_receive(cx, &mut buf)).await,
            Received::Eof
        ));
        assert!(matches!(c_recv_result.try_recv().unwrap(), Ok(())));

        let seen = seen.lock().unwrap().clone();
        let caps: Vec<&str> = seen.iter().map(|(c, _, _)| c.as_str()).collect();
        assert_eq!(
            caps,
            ["net.bind", "net.listen", "net.connect", "net.accept"]
        );
        assert!(seen.iter().all(|(_, _, ok)| *ok));
    });
}

#[test]
fn a_short_read_leaves_nothing_behind() {
    // A read that got less than it asked for clears readiness; data
    // that arrives later must still wake the reader.
    run(async {
        let (net, _) = access(&["127.0.0.1:*"], &["127.0.0.1:0"]);
        let (_server, mut client, mut accepted) = pair(&net).await;
        let (mut send, _) = client.take_send().unwrap();
        let (mut recv, _) = accepted.take_receive().unwrap();
        let mut buf = vec![0u8; 1 << 16];
        for round in 0..50u8 {
            send_all(&mut send, &[round; 10]).await;
            let Received::Data(n) = poll_fn(|cx| recv.poll_receive(cx, &mut buf)).await else {
                panic!("round {round}: no data");
            };
            assert_eq!(&buf[..n], &[round; 10][..n]);
            if n < 10 {
                let Received::Data(m) = poll_fn(|cx| recv.poll_receive(cx, &mut buf[n..])).await
                else {
                    panic!("round {round}: the rest never came");
                };
                assert_eq!(n + m, 10);
            }
        }
    });
}

#[test]
fn refused_uses_touch_nothing_and_are_audited() {
    run(async {
        // A real listener the guest may not reach.
        let target = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        target.set_nonblocking(true).unwrap();
        let addr = target.local_addr().unwrap();
        let (net, seen) = access(&["127.0.0.1:1"], &[]);

        let mut s = TcpSocket::new(net.clone(), v4()).unwrap();
        assert!(matches!(
            s.start_connect(addr),
            Err(ErrorCode::AccessDenied)
        ));
        // Refused before any system call: nobody connected.
        assert!(target.accept().is_err());
        // The socket is still unused: a granted connect would work.
        assert!(matches!(s.state, State::Default(_)));

        assert!(matches!(
            s.bind("127.0.0.1:0".parse().unwrap()),
            Err(ErrorCode::AccessDenied)
        ));
        assert!(!s.is_bound());
        assert!(matches!(s.listen().err(), Some(ErrorCode::AccessDenied)));

        let seen = seen.lock().unwrap().clone();
        assert_eq!(
            seen[0],
            ("net.connect".to_string(), addr.to_string(), false),
            "{seen:?}"
        );
        assert!(
            seen.iter()
                .any(|(c, t, ok)| c == "net.bind" && t == "127.0.0.1:0" && !ok),
            "{seen:?}"
        );
    });
}

#[test]
fn connection_refused_is_reported_and_sticks() {
    run(async {
        // A port with no listener (bound, then closed).
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let (net, _) = access(&["127.0.0.1:*"], &[]);
        let mut s = TcpSocket::new(net, v4()).unwrap();
        s.start_connect(addr).unwrap();
        let r = poll_fn(|cx| s.poll_connect(cx)).await;
        assert!(matches!(r, Err(ErrorCode::ConnectionRefused)));
        assert!(matches!(
            s.take_receive().err(),
            Some(ErrorCode::ConnectionRefused)
        ));
        assert!(matches!(
            s.remote_address(),
            Err(ErrorCode::ConnectionRefused)
        ));
    });
}

#[test]
fn states_are_checked() {
    run(async {
        let (net, _) = access(&["127.0.0.1:*"], &["127.0.0.1:0"]);
        let mut s = TcpSocket::new(net.clone(), v4()).unwrap();
        assert!(matches!(s.local_address(), Err(ErrorCode::InvalidState)));
        assert!(matches!(s.remote_address(), Err(ErrorCode::InvalidState)));
        assert!(matches!(
            s.take_receive().err(),
            Some(ErrorCode::InvalidState)
        ));
        // Wrong family, multicast, unspecified or port 0 targets.
        for bad in ["[::1]:80", "224.0.0.1:80", "0.0.0.0:80", "127.0.0.1:0"] {
            assert!(
                matches!(
                    s.start_connect(bad.parse().unwrap()),
                    Err(ErrorCode::InvalidArgument)
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            s.set_listen_backlog_size(0),
            Err(ErrorCode::InvalidArgument)
        ));
        s.set_listen_backlog_size(u64::MAX).unwrap(); // clamped
        s.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        assert!(matches!(
            s.bind("127.0.0.1:0".parse().unwrap()),
            Err(ErrorCode::InvalidState)
        ));
        let _accepts = s.listen().unwrap();
        assert!(s.is_listening());
        assert!(matches!(s.listen().err(), Some(ErrorCode::InvalidState)));
        assert!(matches!(
            s.start_connect("127.0.0.1:1".parse().unwrap()),
            Err(ErrorCode::InvalidState)
        ));
        s.set_listen_backlog_size(16).unwrap(); // listening again

        let (_server, mut client, _accepted) = pair(&net).await;
        let _ = client.take_receive().unwrap();
        assert!(matches!(
            client.take_receive().err(),
            Some(ErrorCode::InvalidState)
        ));
        let _ = client.take_send().unwrap();
        assert!(matches!(
            client.take_send().err(),
            Some(ErrorCode::InvalidState)
        ));
    });
}

#[test]
fn options_round_trip() {
    run(async {
        let (net, _) = access(&["127.0.0.1:*"], &["127.0.0.1:0"]);
        let (server, client, accepted) = pair(&net).await;
        for s in [&server, &client, &accepted] {
            s.set_keep_alive_enabled(true).unwrap();
            assert!(s.keep_alive_enabled().unwrap());
            s.set_keep_alive_idle_time(30_000_000_000).unwrap();
            assert_eq!(s.keep_alive_idle_time().unwrap(), 30_000_000_000);
            // Below a second is rounded up, never to 0.
            s.set_keep_alive_interval(1).unwrap();
            assert_eq!(s.keep_alive_interval().unwrap(), 1_000_000_000);
            s.set_keep_alive_count(3).unwrap();
            assert_eq!(s.keep_alive_count().unwrap(), 3);
            s.set_hop_limit(42).unwrap();
            assert_eq!(s.hop_limit().unwrap(), 42);
            for zero in [
                s.set_keep_alive_idle_time(0),
                s.set_keep_alive_interval(0),
                s.set_keep_alive_count(0),
                s.set_hop_limit(0),
                s.set_receive_buffer_size(0),
                s.set_send_buffer_size(0),
            ] {
                assert!(matches!(zero, Err(ErrorCode::InvalidArgument)));
            }
            s.set_receive_buffer_size(64 << 10).unwrap();
            assert_eq!(s.receive_buffer_size().unwrap(), 64 << 10);
            s.set_send_buffer_size(64 << 10).unwrap();
            assert_eq!(s.send_buffer_size().unwrap(), 64 << 10);
        }
    });
}

#[test]
fn ipv6_sockets_are_ipv6_only() {
    run(async {
        let (net, _) = access(&["[::1]:*", "127.0.0.1:*"], &["[::1]:0"]);
        let v6 = IpAddressFamily::Ipv6;
        let mut s = TcpSocket::new(net.clone(), v6).unwrap();
        for bad in ["127.0.0.1:80", "[::ffff:127.0.0.1]:80"] {
            assert!(
                matches!(
                    s.start_connect(bad.parse().unwrap()),
                    Err(ErrorCode::InvalidArgument)
                ),
                "{bad}"
            );
        }
        if s.bind("[::1]:0".parse().unwrap()).is_err() {
            return; // no IPv6 loopback on this machine
        }
        let mut accepts = s.listen().unwrap();
        let addr = s.local_address().unwrap();
        assert!(addr.is_ipv6());
        let mut c = TcpSocket::new(net, v6).unwrap();
        c.start_connect(addr).unwrap();
        poll_fn(|cx| c.poll_connect(cx)).await.unwrap();
        let a = poll_fn(|cx| accepts.poll_accept(cx)).await;
        assert_eq!(a.family(), v6);
        assert_eq!(a.remote_address().unwrap(), c.local_address().unwrap());
    });
}

#[test]
fn a_wildcard_bind_needs_a_grant_for_it() {
    // Issue 10's TCP side: with only a loopback listen grant, neither an
    // explicit bind to every interface nor an unbound listen (which binds
    // the wildcard) is allowed; both are audited.
    run(async {
        let (net, seen) = access(&["127.0.0.1:*"], &["127.0.0.1:0"]);
        let mut s = TcpSocket::new(net.clone(), v4()).unwrap();
        assert!(matches!(
            s.bind("0.0.0.0:0".parse().unwrap()),
            Err(ErrorCode::AccessDenied)
        ));
        assert!(!s.is_bound());
        assert!(matches!(s.listen().err(), Some(ErrorCode::AccessDenied)));
        assert!(!s.is_bound());
        let seen = seen.lock().unwrap().clone();
        let denied = |c: &str| (c.to_string(), "0.0.0.0:0".to_string(), false);
        assert_eq!(seen, [denied("net.bind"), denied("net.listen")]);
        // The granted address still works on the same socket.
        s.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let _accepts = s.listen().unwrap();
    });
}

/// Our client connected to a plain std listener: (client, the peer).
async fn client_of_std_peer(net: &NetAccess) -> (TcpSocket, std::net::TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpSocket::new(net.clone(), v4()).unwrap();
    client
        .start_connect(listener.local_addr().unwrap())
        .unwrap();
    poll_fn(|cx| client.poll_connect(cx)).await.unwrap();
    let (peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    (client, peer)
}

#[test]
fn dropping_the_socket_before_its_send_stream_resets_the_connection() {
    // Issue 9 item 4: the guest's abort. The peer sees ECONNRESET, not
    // EOF, even while the guest still holds its receive stream.
    use std::io::Read;
    run(async {
        let (net, _) = access(&["127.0.0.1:*"], &[]);
        let (mut client, mut peer) = client_of_std_peer(&net).await;
        let (mut send, _) = client.take_send().unwrap();
        let (_receive, _) = client.take_receive().unwrap();
        send_all(&mut send, b"unread by the peer").await;
        client.dropped_by_guest();
        drop(send);
        let mut buf = [0u8; 64];
        let mut got = 0;
        let err = loop {
            match peer.read(&mut buf) {
                Ok(0) => panic!("a clean EOF after {got} bytes, not a reset"),
                Ok(n) => got += n,
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
    });
}

#[test]
fn closing_the_send_stream_first_is_graceful() {
    use std::io::Read;
    run(async {
        let (net, _) = access(&["127.0.0.1:*"], &[]);
        let (mut client, mut peer) = client_of_std_peer(&net).await;
        let (mut send, _) = client.take_send().unwrap();
        send_all(&mut send, b"all of it").await;
        drop(send); // the FIN, after the data
        client.dropped_by_guest();
        let mut got = Vec::new();
        peer.read_to_end(&mut got).expect("EOF, not a reset");
        assert_eq!(got, b"all of it");

        // A socket whose send stream was never taken closes normally too.
        let (client, mut peer) = client_of_std_peer(&net).await;
        client.dropped_by_guest();
        assert_eq!(peer.read(&mut [0u8; 8]).expect("EOF, not a reset"), 0);
    });
}

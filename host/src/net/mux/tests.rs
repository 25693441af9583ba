//! Native tests of the multiplexer on loopback: frames in and out for
//! several connections, end of stream, pause and resume, abort, a peer
//! that does not read (`queued` up, then down to 0), `sync` riding with
//! data, tokens not reused, frames a guest gets wrong, and dropping the mux.

use super::outgoing::Frames;
use super::*;
use crate::net::NetAccess;
use crate::net::tcp::TcpSocket;
use crate::net::testing::{access, run};
use std::future::poll_fn;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use wasmtime_wasi::p3::bindings::sockets::types::IpAddressFamily;

/// One frame as the guest sees it.
#[derive(Debug, PartialEq)]
struct Frame {
    token: u32,
    kind: u8,
    body: Vec<u8>,
}

fn parse(mut data: &[u8]) -> Vec<Frame> {
    let mut frames = Vec::new();
    while !data.is_empty() {
        let token = u32::from_le_bytes(data[..4].try_into().unwrap());
        let kind = data[4];
        let len = u32::from_le_bytes(data[5..HEADER].try_into().unwrap()) as usize;
        frames.push(Frame {
            token,
            kind,
            body: data[HEADER..HEADER + len].to_vec(),
        });
        data = &data[HEADER + len..];
    }
    frames
}

fn frame(token: u32, kind: u8, body: &[u8]) -> Vec<u8> {
    let mut f = vec![0; HEADER];
    put_header(&mut f, token, kind, body.len());
    f.extend_from_slice(body);
    f
}

/// Our connected socket and its plain std peer.
async fn connection(net: &NetAccess) -> (TcpSocket, TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut ours = TcpSocket::new(net.clone(), IpAddressFamily::Ipv4).unwrap();
    ours.start_connect(listener.local_addr().unwrap()).unwrap();
    poll_fn(|cx| ours.poll_connect(cx)).await.unwrap();
    let (peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    (ours, peer)
}

/// A mux with `n` attached connections: (mux, incoming, outgoing,
/// [(token, peer)]).
async fn mux_of(n: usize) -> (Mux, Incoming, Outgoing, Vec<(u32, TcpStream)>) {
    let (net, _) = access(&["127.0.0.1:*"], &[]);
    let mut mux = Mux::new();
    let incoming = mux.take_incoming().unwrap();
    let outgoing = mux.take_outgoing().unwrap();
    assert!(mux.take_incoming().is_none() && mux.take_outgoing().is_none());
    let mut conns = Vec::new();
    for _ in 0..n {
        let (mut socket, peer) = connection(&net).await;
        let token = mux.attach(socket.take_halves().unwrap(), 0).unwrap();
        assert!(
            socket.take_halves().is_err(),
            "the halves are the mux's now"
        );
        conns.push((token, peer));
    }
    // What was queued by attaching (nothing to read yet).
    assert_eq!(incoming.fill(&mut [0; 4096]), 0);
    (mux, incoming, outgoing, conns)
}

/// The next frames from `incoming`, waiting (bounded) for some to come.
async fn next(incoming: &Incoming) -> Vec<Frame> {
    let mut buf = vec![0; 256 << 10];
    for _ in 0..5000 {
        let n = incoming.fill(&mut buf);
        if n > 0 {
            return parse(&buf[..n]);
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("no frames within 5 s");
}

/// Collects frames until `want` holds for what came so far.
async fn until(incoming: &Incoming, want: impl Fn(&[Frame]) -> bool) -> Vec<Frame> {
    let mut all = Vec::new();
    while !want(&all) {
        all.extend(next(incoming).await);
    }
    all
}

fn data_of(frames: &[Frame], token: u32) -> Vec<u8> {
    frames
        .iter()
        .filter(|f| f.token == token && f.kind == from_host::DATA)
        .flat_map(|f| f.body.iter().copied())
        .collect()
}

fn read_exactly(peer: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    peer.read_exact(&mut buf).unwrap();
    buf
}

#[test]
fn frames_reach_the_right_connection_both_ways() {
    run(async {
        let (_mux, incoming, outgoing, mut conns) = mux_of(3).await;
        let tokens: Vec<u32> = conns.iter().map(|(t, _)| *t).collect();
        assert_eq!(
            tokens
                .iter()
                .collect::<std::collections::HashSet<_>>()
                .len(),
            3
        );
        for (i, (_, peer)) in conns.iter_mut().enumerate() {
            peer.write_all(&vec![b'a' + i as u8; i + 1]).unwrap();
        }
        let frames = until(&incoming, |f| {
            tokens
                .iter()
                .enumerate()
                .all(|(i, t)| data_of(f, *t).len() == i + 1)
        })
        .await;
        for (i, t) in tokens.iter().enumerate() {
            assert_eq!(data_of(&frames, *t), vec![b'a' + i as u8; i + 1]);
        }

        // Out: interleaved frames, each to its own peer, in order.
        let mut out = Vec::new();
        for (i, t) in tokens.iter().enumerate().rev() {
            out.extend(frame(*t, from_guest::DATA, format!("to {i};").as_bytes()));
            out.extend(frame(*t, from_guest::DATA, b"more"));
        }
        assert_eq!(outgoing.take(&out), Frames::Took(out.len()));
        for (i, (_, peer)) in conns.iter_mut().enumerate() {
            let want = format!("to {i};more");
            assert_eq!(read_exactly(peer, want.len()), want.as_bytes());
        }
    });
}

#[test]
fn eof_shutdown_and_close() {
    run(async {
        let (mux, incoming, outgoing, mut conns) = mux_of(2).await;
        let (a, b) = (conns[0].0, conns[1].0);
        // The peer's FIN: an `eof` frame.
        conns[0].1.shutdown(std::net::Shutdown::Write).unwrap();
        let frames = until(&incoming, |f| f.iter().any(|f| f.kind == from_host::EOF)).await;
        assert!(frames.contains(&Frame {
            token: a,
            kind: from_host::EOF,
            body: vec![]
        }));
        // Shutdown: data, then the peer reads EOF; the connection stays.
        let mut out = frame(a, from_guest::DATA, b"bye");
        out.extend(frame(a, from_guest::SHUTDOWN, b""));
        assert_eq!(outgoing.take(&out), Frames::Took(out.len()));
        let mut got = Vec::new();
        conns[0].1.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"bye");
        // Close: the peer reads EOF and its writes go nowhere; the token
        // is not given out again.
        let out = frame(b, from_guest::CLOSE, b"");
        assert_eq!(outgoing.take(&out), Frames::Took(out.len()));
        let mut got = Vec::new();
        conns[1].1.read_to_end(&mut got).unwrap();
        assert!(got.is_empty());
        let (net, _) = access(&["127.0.0.1:*"], &[]);
        let (mut socket, mut peer) = connection(&net).await;
        let c = mux.attach(socket.take_halves().unwrap(), 0).unwrap();
        assert!(
            c != b && c != a,
            "a closed connection's token is not reused"
        );
        // Frames naming the closed connection are dropped, not sent to
        // its successor.
        let mut out = frame(b, from_guest::DATA, b"stale");
        out.extend(frame(c, from_guest::DATA, b"fresh"));
        assert_eq!(outgoing.take(&out), Frames::Took(out.len()));
        assert_eq!(read_exactly(&mut peer, 5), b"fresh");
    });
}

#[test]
fn paused_connections_are_not_read() {
    run(async {
        let (_mux, incoming, outgoing, mut conns) = mux_of(2).await;
        let (a, b) = (conns[0].0, conns[1].0);
        let out = frame(a, from_guest::PAUSE, b"");
        assert_eq!(outgoing.take(&out), Frames::Took(out.len()));
        conns[0].1.write_all(b"held").unwrap();
        conns[1].1.write_all(b"flows").unwrap();
        let frames = until(&incoming, |f| data_of(f, b) == b"flows").await;
        assert!(data_of(&frames, a).is_empty());
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            incoming.fill(&mut [0; 4096]),
            0,
            "nothing of the paused one"
        );
        let out = frame(a, from_guest::RESUME, b"");
        assert_eq!(outgoing.take(&out), Frames::Took(out.len()));
        let frames = next(&incoming).await;
        assert_eq!(data_of(&frames, a), b"held");
    });
}

#[test]
fn abort_resets_the_peer() {
    run(async {
        let (_mux, _incoming, outgoing, mut conns) = mux_of(1).await;
        let out = frame(conns[0].0, from_guest::ABORT, b"");
        assert_eq!(outgoing.take(&out), Frames::Took(out.len()));
        let err = conns[0].1.read(&mut [0; 16]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    });
}

/// The `queued` counts of `token` in `frames`, in order.
fn queued_of(frames: &[Frame], token: u32) -> Vec<u32> {
    frames
        .iter()
        .filter(|f| f.token == token && f.kind == from_host::QUEUED)
        .map(|f| u32::from_le_bytes(f.body[..4].try_into().unwrap()))
        .collect()
}

#[test]
fn a_peer_that_does_not_read_blocks_only_its_connection() {
    run(async {
        let (_mux, incoming, outgoing, mut conns) = mux_of(2).await;
        let (a, b) = (conns[0].0, conns[1].0);
        // More than the socket buffers hold, until the host takes no more
        // (bounded: it must stop within 64 MiB).
        let chunk = vec![7u8; MAX_FRAME];
        let mut sent = 0;
        let full = loop {
            assert!(
                sent < 64 << 20,
                "the host took 64 MiB for a peer that does not read"
            );
            let out = frame(a, from_guest::DATA, &chunk);
            match outgoing.take(&out) {
                Frames::Took(n) => {
                    assert_eq!(n, out.len());
                    sent += chunk.len();
                }
                other => break other,
            }
        };
        assert_eq!(full, Frames::Full);
        let pending = outgoing.shared.pending.load(Ordering::Relaxed);
        assert!(pending > PENDING_LIMIT && pending <= PENDING_LIMIT + MAX_FRAME);
        let frames = until(&incoming, |f| !queued_of(f, a).is_empty()).await;
        assert!(queued_of(&frames, a)[0] > 0);
        // The other connection's control frames still go, and its data
        // once the blocked one drains.
        let out = frame(b, from_guest::PAUSE, b"");
        assert_eq!(outgoing.take(&out), Frames::Took(out.len()));
        // The blocked peer reads everything: the queue empties (`queued`
        // 0), nothing is lost, and data frames are taken again.
        let (_, mut peer) = conns.remove(0);
        let reader = std::thread::spawn(move || read_exactly(&mut peer, sent));
        until(&incoming, |f| queued_of(f, a).last() == Some(&0)).await;
        assert!(reader.join().unwrap().iter().all(|&x| x == 7));
        assert_eq!(outgoing.shared.pending.load(Ordering::Relaxed), 0);
        let out = frame(b, from_guest::DATA, b"unaffected");
        assert_eq!(outgoing.take(&out), Frames::Took(out.len()));
        assert_eq!(read_exactly(&mut conns[0].1, 10), b"unaffected");
    });
}

#[test]
fn a_reset_by_the_peer_is_an_error_frame_with_its_code() {
    run(async {
        let (_mux, incoming, _outgoing, conns) = mux_of(1).await;
        let (token, peer) = conns.into_iter().next().unwrap();
        // SO_LINGER 0: closing sends a reset.
        rustix::net::sockopt::set_socket_linger(&peer, Some(Duration::ZERO)).unwrap();
        drop(peer);
        let frames = until(&incoming, |f| f.iter().any(|f| f.kind == from_host::ERROR)).await;
        let error = frames.iter().find(|f| f.kind == from_host::ERROR).unwrap();
        assert_eq!(error.token, token);
        assert_eq!(
            error.body,
            [SIDE_RECEIVE, code_index(&ErrorCode::ConnectionReset)]
        );
    });
}

#[test]
fn frames_a_guest_gets_wrong() {
    run(async {
        let (_mux, _incoming, outgoing, mut conns) = mux_of(1).await;
        let token = conns[0].0;
        // An unknown kind, a control frame with a body, a data frame
        // longer than allowed, a frame cut short by the end of the data, a
        // header cut short.
        assert_eq!(outgoing.take(&frame(token, 9, b"")), Frames::Broken);
        let mut long = vec![0; HEADER];
        put_header(&mut long, token, from_guest::DATA, MAX_FRAME + 1);
        long.resize(HEADER + MAX_FRAME + 1, 0);
        assert_eq!(outgoing.take(&long), Frames::Broken);
        assert_eq!(
            outgoing.take(&frame(token, from_guest::CLOSE, b"x")),
            Frames::Broken
        );
        let whole = frame(token, from_guest::DATA, b"abc");
        assert_eq!(outgoing.take(&whole[..whole.len() - 1]), Frames::Broken);
        assert_eq!(outgoing.take(&whole[..4]), Frames::Broken);
        // Whole frames before a cut one are taken; the rest waits.
        let mut two = whole.clone();
        two.extend_from_slice(&whole[..HEADER + 1]);
        assert_eq!(outgoing.take(&two), Frames::Took(whole.len()));
        // Tokens nobody was given are ignored.
        let stray = frame(token ^ 0xABCD, from_guest::DATA, b"lost");
        assert_eq!(outgoing.take(&stray), Frames::Took(stray.len()));
        assert_eq!(read_exactly(&mut conns[0].1, 3), b"abc");
    });
}

/// `sync` rides along with data; alone it comes only when asked for.
#[test]
fn sync_rides_with_data_unless_asked_for() {
    run(async {
        let (_mux, incoming, mut outgoing, mut conns) = mux_of(1).await;
        let (token, peer) = &mut conns[0];
        let out = frame(*token, from_guest::DATA, b"ping");
        assert_eq!(outgoing.take(&out), Frames::Took(out.len()));
        outgoing.consumed(out.len());
        assert_eq!(read_exactly(peer, 4), b"ping");
        // Nothing else to say: no completion for the sync alone.
        let mut buf = vec![0; 4096];
        assert_eq!(incoming.fill(&mut buf), 0);
        // With data, the sync comes last.
        peer.write_all(b"pong").unwrap();
        let frames = next(&incoming).await;
        assert_eq!(data_of(&frames, *token), b"pong");
        let last = frames.last().unwrap();
        assert_eq!((last.token, last.kind), (0, from_host::SYNC));
        assert_eq!(last.body, (out.len() as u64).to_le_bytes());
        // Asked for: alone, at once.
        let mut more = frame(*token, from_guest::DATA, b"x");
        more.extend(frame(0, from_guest::SYNC_PLEASE, &[]));
        assert_eq!(outgoing.take(&more), Frames::Took(more.len()));
        outgoing.consumed(more.len());
        let n = incoming.fill(&mut buf);
        let frames = parse(&buf[..n]);
        let total = (out.len() + more.len()) as u64;
        assert_eq!(
            frames,
            vec![Frame {
                token: 0,
                kind: from_host::SYNC,
                body: total.to_le_bytes().to_vec()
            }]
        );
        assert_eq!(incoming.fill(&mut buf), 0, "told once");
    });
}

/// Dropping the mux closes its connections even while its streams live.
#[test]
fn dropping_the_mux_closes_its_connections() {
    run(async {
        let (mux, incoming, outgoing, mut conns) = mux_of(2).await;
        drop(mux);
        for (_, peer) in conns.iter_mut() {
            let mut buf = [0; 8];
            assert_eq!(peer.read(&mut buf).unwrap(), 0, "EOF, not a hang");
        }
        assert!(outgoing.shared.is_closed());
        drop(incoming);
    });
}

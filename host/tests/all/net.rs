//! Streams over TCP (`wasi:sockets` with `--allow-net` / `--allow-listen`),
//! through the real `aio` command, on loopback only.

use crate::util::{
    LOOPBACK, aio, scratch_dir, start_guest_server, start_guest_server_under,
    start_guest_server_with,
};
use std::time::Duration;
use test_artifacts::*;

check_suite!(net);

fn run_loopback(program: &str) -> crate::util::Aio {
    aio(&["run", LOOPBACK[0], LOOPBACK[1], program]).within(Duration::from_secs(30))
}

#[test]
fn net_echo() {
    run_loopback(NET_ECHO)
        .status(0)
        .stdout_is("echoed 100 lines and 1000000 bytes\n");
}

#[test]
fn net_server_dropped() {
    run_loopback(NET_SERVER_DROPPED)
        .status(0)
        .stdout_is("client 0\nclient 1\nclient 2\n");
}

#[test]
fn net_readexactly_eof() {
    run_loopback(NET_READEXACTLY_EOF).status(0).stdout_is(
        "IncompleteRead: partial \"abc\", expected Some(5)\nserver got \"still open\\n\" after its EOF\n",
    );
}

#[test]
fn net_readuntil_limit() {
    run_loopback(NET_READUNTIL_LIMIT)
        .status(0)
        .stdout_has("readuntil: ")
        .stdout_has("still readable: 112 bytes, ending \"xxxxx|tail\\nshort\\n\"\n");
}

/// The SDK's per-socket path (`ASYNCIO_MUX=0`: no multiplexer): the
/// echo, and back-pressure through a socket's own streams.
#[test]
fn net_without_mux() {
    let off = |program| {
        crate::util::aio_with(
            &[
                "run",
                "--allow-env=ASYNCIO_MUX",
                LOOPBACK[0],
                LOOPBACK[1],
                program,
            ],
            &[("ASYNCIO_MUX", "0")],
        )
        .within(Duration::from_secs(30))
    };
    off(NET_ECHO)
        .status(0)
        .stdout_is("echoed 100 lines and 1000000 bytes\n");
    off(NET_DRAIN_BLOCKS).status(0).stdout_is(
        "drain blocked while the peer did not read\ndrain resumed once it read\nserver read 16777216 bytes\n",
    );
    off(TRANSPORTS_WRITE_FLOW)
        .status(0)
        .stdout_has("paused while the peer did not read\n");
}

/// Bytes written just before `main` returns are not lost, with the
/// multiplexer and without it; the peer then sees EOF.
#[test]
fn net_write_then_exit() {
    use std::io::Read;
    for mux in ["1", "0"] {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port().to_string();
        let reader = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).map(|_| got)
        });
        crate::util::aio_with(
            &[
                "run",
                "--allow-env=ASYNCIO_MUX",
                LOOPBACK[1],
                NET_WRITE_THEN_EXIT,
                "--",
                &port,
                "200000",
            ],
            &[("ASYNCIO_MUX", mux)],
        )
        .within(Duration::from_secs(30))
        .status(0)
        .stdout_is("wrote 200000 bytes\n");
        let got = reader.join().unwrap().expect("the peer reads to EOF");
        assert_eq!(got.len(), 200_000, "ASYNCIO_MUX={mux}");
        assert!(
            got.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8),
            "ASYNCIO_MUX={mux}: the bytes came out of order"
        );
    }
}

#[test]
fn net_sock_calls() {
    run_loopback(NET_SOCK_CALLS).status(0).stdout_is(
        "connected: true\n\
         echoed: hello\n\
         second receive: invalid state: sock_recv: the socket is not connected, or another sock_recv is in progress\n\
         received back: 1000000\n\
         accept on a client: invalid state: sock_accept: the socket is not listening\n\
         accept after close: invalid state: sock_accept: the socket was closed\n",
    );
}

#[test]
fn net_sock_datagrams() {
    run_loopback(NET_SOCK_DATAGRAMS).status(0).stdout_is(
        "receive unbound: invalid state: sock_recvfrom: the socket is not bound (bind it, or send first)\n\
         sent 4, back \"ping\" from the server: true\n\
         cut to \"long\"\n",
    );
}

#[test]
fn net_drain_blocks() {
    run_loopback(NET_DRAIN_BLOCKS).status(0).stdout_is(
        "drain blocked while the peer did not read\ndrain resumed once it read\nserver read 16777216 bytes\n",
    );
}

#[test]
fn net_refused() {
    run_loopback(NET_REFUSED).status(0).stdout_is("refused\n");
}

#[test]
fn net_server_close() {
    run_loopback(NET_SERVER_CLOSE).status(0).stdout_is(
        "new client after close: Io(ConnectionRefused)\nexisting client still served\nhandler: EOF\nclosed\n",
    );
}

/// With some grant (so TCP is on) and with none at all, the refusal names
/// the address and the flag; the audit log has one line per decision.
#[test]
fn net_not_granted() {
    let dir = scratch_dir("net_not_granted");
    let log = dir.join("audit.jsonl");
    aio(&[
        "run",
        "--allow-net=127.0.0.1:1",
        "--audit-log",
        log.to_str().unwrap(),
        NET_NOT_GRANTED,
    ])
    .status(0)
    .stdout_has("connect: permission denied: connect to 127.0.0.1:9 refused: run with --allow-net=127.0.0.1:9\n")
    .stdout_has("listen: permission denied: listen on 127.0.0.1:0 refused: run with --allow-listen=127.0.0.1:0\n")
    // A net grant allows name lookup.
    .stdout_has("lookup: allowed");
    let audit = std::fs::read_to_string(&log).expect("audit log");
    let lines: Vec<&str> = audit.lines().collect();
    assert_eq!(lines.len(), 2, "{audit}");
    assert!(
        lines[0].contains(r#""capability":"net.connect","target":"127.0.0.1:9","decision":"denied","grant":"--allow-net=127.0.0.1:9""#),
        "{audit}"
    );
    assert!(
        lines[1].contains(r#""capability":"net.bind","target":"127.0.0.1:0","decision":"denied","grant":"--allow-listen=127.0.0.1:0""#),
        "{audit}"
    );

    // With no network grant at all, no socket is even created; each
    // refusal is audited too (before any address is known).
    let log = dir.join("audit-none.jsonl");
    aio(&["run", "--audit-log", log.to_str().unwrap(), NET_NOT_GRANTED])
        .status(0)
        .stdout_has("connect: permission denied: connect to 127.0.0.1:9 refused: run with --allow-net=127.0.0.1:9\n")
        .stdout_has("listen: permission denied: listen on 127.0.0.1:0 refused: run with --allow-listen=127.0.0.1:0\n")
        .stdout_has("lookup: permission denied: looking up localhost refused");
    let audit = std::fs::read_to_string(&log).expect("audit log");
    let lines: Vec<&str> = audit.lines().collect();
    assert_eq!(lines.len(), 2, "{audit}");
    for line in lines {
        assert!(
            line.contains(r#""capability":"net.socket","target":"TCP socket IPv4","decision":"denied","grant":"--allow-net or --allow-listen""#),
            "{audit}"
        );
    }
}

/// getaddrinfo in the real host: Python's `(family, type, proto,
/// canonname, sockaddr)` entries and its filters, for an IP literal (never
/// looked up, so no grant needed) and for `localhost` (a host lookup: with
/// a grant it resolves, without one it is refused naming the flag).
/// NUMERICHOST refuses the name without asking the host in both runs.
#[test]
fn net_getaddrinfo() {
    let literal = "literal: Inet Stream Tcp None 127.0.0.1:8080\n\
                   literal: Inet Dgram Udp None 127.0.0.1:8080\n\
                   literal dgram: Inet Dgram Udp None 127.0.0.1:8080\n";
    let numerichost =
        "localhost numerichost: cannot resolve localhost: not an IP address (NUMERICHOST)\n";
    aio(&["run", "--allow-net=127.0.0.1:8080", NET_GETADDRINFO])
        .within(Duration::from_secs(30))
        .status(0)
        .stdout_is(&format!(
            "{literal}\
             localhost inet stream canonname: Inet Stream Tcp Some(\"localhost\") 127.0.0.1:8080\n\
             localhost: loopback addresses, each as (Stream, Tcp) then (Dgram, Udp)\n\
             {numerichost}"
        ));
    let refused = "permission denied: looking up localhost refused: name lookup needs an \
                   --allow-net grant (e.g. --allow-net=localhost:8080)";
    aio(&["run", NET_GETADDRINFO])
        .within(Duration::from_secs(30))
        .status(0)
        .stdout_is(&format!(
            "{literal}\
             localhost inet stream canonname: {refused}\n\
             localhost: {refused}\n\
             {numerichost}"
        ));
}

#[test]
fn bad_net_grants_are_usage_errors() {
    for (flag, says) in [
        ("--allow-net=127.0.0.1:99999", "the port must be"),
        ("--allow-listen=::1", "brackets"),
        (
            "--allow-net=no-such-host.invalid:80",
            "cannot resolve no-such-host.invalid",
        ),
    ] {
        aio(&["run", flag, NET_REFUSED]).status(2).stderr_has(says);
    }
}

/// Misbehaving clients (an over-long line, a reset mid-line, garbage) do
/// not disturb a well-behaved one, which is served before, between and
/// after them.
#[test]
fn net_robust() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;

    let mut server = start_guest_server("60s", NET_ROBUST);
    let addr = server.addr.clone();
    let (child, out) = (&mut server.child, &mut server.out);
    let connect = || {
        let s = TcpStream::connect(&addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    };
    let mut good = connect();
    let mut good_in = BufReader::new(good.try_clone().unwrap());
    let mut echo = |s: &str| {
        good.write_all(s.as_bytes()).unwrap();
        let mut line = String::new();
        good_in.read_line(&mut line).unwrap();
        assert_eq!(line, s);
    };
    echo("hello\n");

    // An over-long line: an error line, then the server closes it.
    let mut long = connect();
    long.write_all(&[b'y'; 100_000]).unwrap();
    long.write_all(b"\n").unwrap();
    let mut reply = Vec::new();
    let _ = long.read_to_end(&mut reply); // may end in a reset: unread bytes
    assert!(reply.starts_with(b"error: line too long\n"), "{reply:?}");
    echo("after the long line\n");

    // A reset in the middle of a line (SO_LINGER 0, then close).
    let reset = connect();
    (&reset).write_all(b"half a li").unwrap();
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // Safety: a valid socket and a properly sized linger struct.
    let rc = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&reset),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    drop(reset);
    echo("after the reset\n");

    // Garbage: every byte value, with newlines, echoed as it came.
    let mut garbage = connect();
    let bytes: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    garbage.write_all(&bytes).unwrap();
    garbage.write_all(b"\n").unwrap();
    let mut back = vec![0; bytes.len() + 1];
    garbage.read_exact(&mut back).unwrap();
    assert_eq!(&back[..bytes.len()], &bytes[..]);
    drop(garbage);
    echo("after the garbage\n");

    good.write_all(b"quit\n").unwrap();
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    let err = crate::util::stderr_of(child);
    assert!(status.success(), "{status:?}\n{rest}\n{err}");
    assert!(
        rest.starts_with("done; 2 connections failed or were cut"),
        "{rest}\n{err}"
    );
}

/// What one of the thousand clients saw.
struct ClientTimes {
    connect: Duration,
    round_trips: Vec<Duration>,
}

/// One client of `net_thousand`: connects, does a round trip, waits until
/// every client has done one (so that all 1000 are open at once), then
/// does round trips until `busy` has passed (at least `round_trips` in
/// all); each echoed line is checked byte for byte.
async fn thousand_client(
    addr: std::net::SocketAddr,
    id: usize,
    round_trips: usize,
    busy: Duration,
    all_open: std::sync::Arc<tokio::sync::Barrier>,
) -> std::io::Result<ClientTimes> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let start = std::time::Instant::now();
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let connect = start.elapsed();
    stream.set_nodelay(true)?;
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    let mut times = Vec::with_capacity(round_trips);
    let mut back = String::new();
    let mut until = None;
    for round in 0.. {
        if round == 1 {
            all_open.wait().await;
            until = Some(std::time::Instant::now() + busy);
        }
        if round >= round_trips && until.is_some_and(|u| std::time::Instant::now() >= u) {
            break;
        }
        // 64 bytes with the newline, different for every client and round.
        let line = format!("{id:06} {round:03} {}\n", "x".repeat(53));
        let t0 = std::time::Instant::now();
        wr.write_all(line.as_bytes()).await?;
        back.clear();
        rd.read_line(&mut back).await?;
        times.push(t0.elapsed());
        if back != line {
            return Err(std::io::Error::other(format!(
                "client {id} round {round}: sent {line:?}, got {back:?}"
            )));
        }
    }
    Ok(ClientTimes {
        connect,
        round_trips: times,
    })
}

/// 1000 clients connect at once to one guest server and each does round
/// trips for 2 s (at least five): every one is served, and none is starved
/// (a behaviour check with generous bounds, not a performance target: see
/// docs/PERFORMANCE.md for the figures). The share check catches the
/// host's lowest-handle-first event order (docs/wasmtime-notes.md): without
/// the loop's drain, some clients made 2-6 round trips while others made
/// 150.
#[test]
fn net_thousand() {
    thousand(&[], Duration::from_secs(2));
}

/// The same 1,000 clients with the guest's memory capped at 24 MiB. A
/// pending read holds its buffer: at 64 KiB per connection the guest ran
/// out of memory (reads now start at 4 KiB and grow only while they
/// fill up).
#[test]
fn net_thousand_in_24_mib() {
    thousand(&["--max-memory=24MiB"], Duration::from_millis(500));
}

/// A server out of file descriptors keeps serving. Each accept that fails
/// (EMFILE) hands the guest one failed client and then waits (5 ms,
/// doubling to 1 s) instead of trying again at once: before, the guest was
/// handed failed clients as fast as it could take them, each cost it
/// stream handles, and it died with "store handle limit exceeded".
#[test]
fn net_out_of_descriptors() {
    use std::io::{BufRead, BufReader, Read, Write};
    const CLIENTS: usize = 100;
    let wrapper = ["sh", "-c", "ulimit -n 64 && exec \"$0\" \"$@\""];
    let mut server = start_guest_server_under(&wrapper, "60s", &[], NET_THOUSAND);
    let addr: std::net::SocketAddr = server.addr.parse().unwrap();

    // More clients at once than the server has descriptors for: some are
    // served, the others wait in the backlog or are given up.
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let Ok(mut c) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
            continue;
        };
        let _ = c.write_all(b"hello\n");
        clients.push(c);
    }
    // Those the server took have their echo by now.
    std::thread::sleep(Duration::from_secs(1));
    let mut served = 0;
    for c in &mut clients {
        c.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let mut buf = [0u8; 6];
        if c.read_exact(&mut buf).is_ok() && &buf == b"hello\n" {
            served += 1;
        }
    }
    assert!(served > 0, "no client served");
    assert!(
        served < CLIENTS,
        "all {CLIENTS} served: the limit did not bite"
    );
    drop(clients);

    // With the descriptors back, a new client is served (within the
    // longest wait), and the server is alive to be stopped.
    let mut c = std::net::TcpStream::connect(addr).expect("connect after");
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"again\n").unwrap();
    let mut line = String::new();
    BufReader::new(&c)
        .read_line(&mut line)
        .expect("an echo after the descriptors came back");
    assert_eq!(line, "again\n");
    c.write_all(b"quit\n").unwrap();
    drop(c);
    let mut rest = String::new();
    server.out.read_to_string(&mut rest).unwrap();
    let status = server.child.wait().unwrap();
    let mut err = String::new();
    let _ = server.child.stderr.take().unwrap().read_to_string(&mut err);
    assert!(status.success(), "{status:?}\n{rest}\n{err}");
    assert!(rest.starts_with("served "), "{rest}\n{err}");
}

fn thousand(flags: &[&str], busy: Duration) {
    use std::io::{Read, Write};
    const CLIENTS: usize = 1000;
    const ROUND_TRIPS: usize = 5;
    let flags_text = flags.join(" ");

    let mut server = start_guest_server_with("120s", flags, NET_THOUSAND);
    let addr: std::net::SocketAddr = server.addr.parse().unwrap();
    let (child, out) = (&mut server.child, &mut server.out);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let start = std::time::Instant::now();
    let results = rt.block_on(async {
        let all_open = std::sync::Arc::new(tokio::sync::Barrier::new(CLIENTS));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|id| {
                tokio::spawn(thousand_client(
                    addr,
                    id,
                    ROUND_TRIPS,
                    busy,
                    all_open.clone(),
                ))
            })
            .collect();
        let all = async {
            let mut results = Vec::with_capacity(CLIENTS);
            for c in clients {
                results.push(c.await.expect("client task"));
            }
            results
        };
        tokio::time::timeout(Duration::from_secs(60), all)
            .await
            .expect("1000 clients not done within 60 s")
    });
    let total = start.elapsed();
    drop(rt);

    let mut failed = Vec::new();
    let mut connects = Vec::new();
    let mut round_trips = Vec::new();
    let mut worst_per_client = Vec::new();
    let mut counts = Vec::new();
    for (id, r) in results.into_iter().enumerate() {
        match r {
            Ok(t) => {
                connects.push(t.connect);
                worst_per_client.push(*t.round_trips.iter().max().unwrap());
                counts.push(t.round_trips.len());
                round_trips.extend(t.round_trips);
            }
            Err(e) => failed.push(format!("client {id}: {e}")),
        }
    }
    // Stop the server and collect what it says.
    let mut quit = std::net::TcpStream::connect(addr).expect("connect to quit");
    quit.write_all(b"quit\n").unwrap();
    drop(quit);
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    let err = crate::util::stderr_of(child);

    assert!(
        failed.is_empty(),
        "{} clients failed: {failed:?}",
        failed.len()
    );
    connects.sort();
    round_trips.sort();
    let pct = |v: &[Duration], p: usize| v[(v.len() * p / 100).min(v.len() - 1)];
    let fewest = counts.iter().copied().min().unwrap();
    let mean = counts.iter().sum::<usize>() / counts.len();
    eprintln!(
        "net_thousand {flags_text}: {CLIENTS} clients, {} round trips in {total:?} (per client: mean {mean}, \
         fewest {fewest}); connect p50 {:?} p99 {:?} max {:?}; round trip p50 {:?} p99 {:?} max {:?}",
        round_trips.len(),
        pct(&connects, 50),
        pct(&connects, 99),
        connects.last().unwrap(),
        pct(&round_trips, 50),
        pct(&round_trips, 99),
        round_trips.last().unwrap(),
    );
    assert!(status.success(), "{status:?}\n{rest}\n{err}");
    assert!(
        rest.starts_with(&format!("served {CLIENTS} connections, at most ")),
        "{rest}\n{err}"
    );
    assert!(total < Duration::from_secs(30), "took {total:?}");
    let worst_connect = *connects.last().unwrap();
    assert!(
        worst_connect < Duration::from_secs(5),
        "a connect took {worst_connect:?}"
    );
    let worst = *worst_per_client.iter().max().unwrap();
    assert!(
        worst < Duration::from_secs(5),
        "a round trip took {worst:?}"
    );
    assert!(
        fewest * 4 >= mean,
        "a client made {fewest} round trips while the mean was {mean}: starved"
    );
}

/// Issue 10: with only a loopback listen grant, binding every interface
/// (`0.0.0.0:0`) is refused for TCP and UDP alike, and audited as a bind
/// (TCP's used to pass its bind unaudited and fail only at listen; UDP's
/// passed).
#[test]
fn net_wildcard_bind() {
    let dir = scratch_dir("net_wildcard_bind");
    let log = dir.join("audit.jsonl");
    aio(&[
        "run",
        "--allow-listen=127.0.0.1:0",
        "--audit-log",
        log.to_str().unwrap(),
        NET_WILDCARD_BIND,
    ])
    .status(0)
    .stdout_is(
        "tcp: permission denied: listen on 0.0.0.0:0 refused: run with --allow-listen=0.0.0.0:0\n\
         udp: permission denied: bind to 0.0.0.0:0 refused: run with --allow-listen=0.0.0.0:0\n\
         loopback: listening\n",
    );
    let audit = std::fs::read_to_string(&log).expect("audit log");
    let denied = r#""capability":"net.bind","target":"0.0.0.0:0","decision":"denied","grant":"--allow-listen=0.0.0.0:0""#;
    assert_eq!(audit.matches(denied).count(), 2, "{audit}");
    assert!(
        !audit.contains(r#""target":"0.0.0.0:0","decision":"allowed""#),
        "{audit}"
    );
}

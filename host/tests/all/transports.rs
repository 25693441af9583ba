//! Transports and protocols (TCP and UDP) through the real `aio` command,
//! on loopback only.

use crate::util::{LOOPBACK, aio, scratch_dir, start_guest_server};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use test_artifacts::*;

check_suite!(transports);

fn run_loopback(program: &str) -> crate::util::Aio {
    aio(&["run", "--timeout=60s", LOOPBACK[0], LOOPBACK[1], program])
        .within(Duration::from_secs(30))
}

/// Closes `s` with a reset (SO_LINGER 0).
fn reset(s: TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // Safety: a valid socket and a properly sized linger struct.
    let rc = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&s),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    drop(s);
}

/// connection_made, data_received*, eof_received?, connection_lost once,
/// with a real client that half-closes, one that resets, and a local abort.
#[test]
fn transports_call_order() {
    let mut server = start_guest_server("60s", TRANSPORTS_CALL_ORDER);
    let addr = server.addr.clone();
    let (child, out) = (&mut server.child, &mut server.out);
    let connect = || {
        let s = TcpStream::connect(&addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    };

    // Sends, half-closes, reads the answers to its data and to its EOF.
    let mut a = connect();
    a.write_all(b"hello").unwrap();
    let mut ok = [0; 3];
    a.read_exact(&mut ok).unwrap();
    assert_eq!(&ok, b"ok\n");
    a.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = String::new();
    a.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "bye\n");

    // Sends, is answered, then resets.
    let mut b = connect();
    b.write_all(b"x").unwrap();
    b.read_exact(&mut ok).unwrap();
    reset(b);

    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    let err = crate::util::stderr_of(child);
    assert!(status.success(), "{status:?}\n{rest}\n{err}");
    assert_eq!(
        rest,
        "server conn 1: made data eof lost(None)\n\
         server conn 2: made data lost(Io(ConnectionReset))\n\
         client abort: made lost(None)\n",
        "{err}"
    );
}

#[test]
fn transports_pause_reading() {
    run_loopback(TRANSPORTS_PAUSE_READING)
        .status(0)
        .stdout_is("nothing delivered while paused\n100000 bytes after resume_reading, then EOF\n");
}

#[test]
fn transports_write_flow() {
    run_loopback(TRANSPORTS_WRITE_FLOW).status(0).stdout_is(
        "paused while the peer did not read\nresumed once it read: [\"pause\", \"resume\"]\npeer read 16879616 bytes\n",
    );
}

#[test]
fn transports_buffered() {
    run_loopback(TRANSPORTS_BUFFERED)
        .status(0)
        .stdout_is("received 1000000 bytes intact through a 1000-byte buffer\n");
}

#[test]
fn transports_udp_echo() {
    run_loopback(TRANSPORTS_UDP_ECHO)
        .status(0)
        .stdout_is("10 datagrams and 60000 bytes echoed\n");
}

/// With only a listen grant: the refused send, bind and connect name their
/// flags, and the audit log has the send refusal.
#[test]
fn transports_udp_refused() {
    let dir = scratch_dir("transports_udp_refused");
    let log = dir.join("audit.jsonl");
    aio(&[
        "run",
        "--timeout=60s",
        "--allow-listen=127.0.0.1:0",
        "--audit-log",
        log.to_str().unwrap(),
        TRANSPORTS_UDP_REFUSED,
    ])
    .status(0)
    .stdout_is(
        "sendto: permission denied: send to 127.0.0.1:9 refused: run with --allow-net=127.0.0.1:9\n\
         create: permission denied: bind to 127.0.0.1:5 refused: run with --allow-listen=127.0.0.1:5\n\
         create: permission denied: connect to 127.0.0.1:9 refused: run with --allow-net=127.0.0.1:9\n",
    );
    let audit = std::fs::read_to_string(&log).expect("audit log");
    assert!(
        audit.contains(r#""capability":"net.send","target":"127.0.0.1:9","decision":"denied","grant":"--allow-net=127.0.0.1:9""#),
        "{audit}"
    );
}

#[test]
fn transports_unclosed() {
    let out = run_loopback(TRANSPORTS_UNCLOSED).status(0).stdout_is(
        "closed: lost(None)\nmain returns\nleft open: lost(Some(Cancelled { message: None }))\n",
    );
    let err = out.stderr();
    assert_eq!(
        err.matches("unclosed transport to 127.0.0.1:").count(),
        1,
        "{err}"
    );
}

/// A loopback port whose connects hang: a listener with a backlog of 0
/// whose one queue slot is taken (the kernel then drops new SYNs). Keep
/// both until the test ends.
fn hanging_port() -> (std::net::TcpListener, TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    // Safety: a valid listening socket; listen again only sets the backlog.
    let rc = unsafe { libc::listen(std::os::fd::AsRawFd::as_raw_fd(&listener), 0) };
    assert_eq!(rc, 0);
    let addr = listener.local_addr().unwrap();
    let filler = TcpStream::connect(addr).expect("the one queued connection");
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err(),
        "a connect to a full backlog should hang"
    );
    (listener, filler)
}

/// create_connection given up midway (wait_for, Task::cancel, drop, and
/// timeouts racing real connects): no protocol callback for an attempt
/// that did not return, nothing left open, a later connection works.
#[test]
fn transports_connect_cancel() {
    let (hang, _filler) = hanging_port();
    let port = hang.local_addr().unwrap().port().to_string();
    let out = aio(&[
        "run",
        "--timeout=20s",
        LOOPBACK[0],
        LOOPBACK[1],
        TRANSPORTS_CONNECT_CANCEL,
        "--",
        &port,
    ])
    .within(Duration::from_secs(30))
    .status(0)
    .stdout_is(
        "wait_for: timeout\n\
         cancelled task: cancelled\n\
         dropped: pending, then dropped\n\
         race: an attempt that connected got made and lost, one that timed out nothing\n\
         later: made, later: data ping, later: lost(None)\n\
         tasks left: [\"main\"]\n",
    );
    assert!(!out.stderr().contains("unclosed"), "{}", out.stderr());
}

/// create_datagram_endpoint given up before its first step and during its
/// name lookup: the factory is never called, the port stays free. (And a
/// closed endpoint frees its port even while a handle to it is kept.)
#[test]
fn transports_udp_cancel() {
    // Binding a chosen port needs it granted: any port on loopback.
    let out = aio(&[
        "run",
        "--timeout=20s",
        "--allow-listen=127.0.0.1:*",
        LOOPBACK[1],
        TRANSPORTS_UDP_CANCEL,
    ])
    .within(Duration::from_secs(30))
    .status(0)
    .stdout_is(
        "closed, handle kept: the port is free\n\
         cancelled before it ran: cancelled\n\
         wait_for: timeout\n\
         cancelled task: cancelled\n\
         dropped: pending, then dropped\n\
         port reused: echoed\n\
         tasks left: [\"main\"]\n",
    );
    assert!(!out.stderr().contains("unclosed"), "{}", out.stderr());
}

/// `aio run FLAGS PROGRAM -- ARGS` with stdout piped; killed and reaped
/// when dropped, even by a failing test.
struct Running {
    child: std::process::Child,
    out: std::io::BufReader<std::process::ChildStdout>,
}

impl Running {
    fn start(flags: &[&str], program: &str, args: &[&str]) -> Running {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_aio"))
            .arg("run")
            .args(flags)
            .arg(program)
            .arg("--")
            .args(args)
            .env("AIO_CACHE_DIR", crate::util::cache_dir())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn aio");
        let out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        Running { child, out }
    }

    fn line(&mut self) -> String {
        use std::io::BufRead;
        let mut line = String::new();
        self.out.read_line(&mut line).expect("read a line");
        line
    }

    /// The rest of stdout, and stderr, once it exited successfully.
    fn finish(mut self) -> String {
        let mut rest = String::new();
        self.out.read_to_string(&mut rest).unwrap();
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        let _ = self.child.stderr.take().unwrap().read_to_string(&mut err);
        assert!(status.success(), "{status:?}\n{rest}\n{err}");
        rest
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Issue 10: a UDP client (raw `wasi:sockets`, a listen grant present but
/// unused) is bound by the host to 127.0.0.1, not every interface, when it
/// first sends to 127.0.0.1; a datagram from a loopback peer no grant names
/// is dropped and audited, the granted peer's arrives.
#[test]
fn transports_udp_client_peers() {
    let dir = scratch_dir("transports_udp_client_peers");
    let log = dir.join("audit.jsonl");
    let granted = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let stranger = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    granted
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let g = granted.local_addr().unwrap();
    let allow_net = format!("--allow-net={g}");
    let mut guest = Running::start(
        &[
            "--timeout=30s",
            "--allow-listen=127.0.0.1:0",
            &allow_net,
            "--audit-log",
            log.to_str().unwrap(),
        ],
        TRANSPORTS_UDP_CLIENT_PEERS,
        &[&g.port().to_string()],
    );
    let first = guest.line();
    let local: std::net::SocketAddr = first
        .trim()
        .strip_prefix("local ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .parse()
        .unwrap();
    assert_eq!(local.ip().to_string(), "127.0.0.1", "bound to {local}");
    let mut buf = [0; 64];
    let (n, from) = granted.recv_from(&mut buf).expect("the guest's hello");
    assert_eq!((&buf[..n], from), (&b"hello"[..], local));
    // The stranger's first: datagrams to one socket on loopback keep their
    // order, so the guest would see it first if it were let through.
    stranger.send_to(b"stranger", local).unwrap();
    granted.send_to(b"granted", local).unwrap();
    assert_eq!(guest.finish(), format!("received \"granted\" from {g}\n"));

    let audit = std::fs::read_to_string(&log).expect("audit log");
    let s = stranger.local_addr().unwrap();
    for line in [
        format!(r#""capability":"net.send","target":"{g}","decision":"allowed""#),
        r#""capability":"net.bind","target":"127.0.0.1:0","decision":"allowed""#.to_string(),
        format!(
            r#""capability":"net.receive","target":"{s}","decision":"denied","grant":"--allow-net={s}""#
        ),
    ] {
        assert!(audit.contains(&line), "{line}\n{audit}");
    }
}

/// Reads until the connection ends; it must end with a reset, not EOF.
fn expect_reset(mut s: TcpStream, what: &str) {
    let mut buf = [0u8; 64 << 10];
    let mut got = 0;
    let err = loop {
        match s.read(&mut buf) {
            Ok(0) => panic!("{what}: a clean EOF after {got} bytes, not a reset"),
            Ok(n) => got += n,
            Err(e) => break e,
        }
    };
    assert_eq!(
        err.kind(),
        std::io::ErrorKind::ConnectionReset,
        "{what}: {err}"
    );
}

/// Issue 9 item 4: a transport's abort(), a StreamWriter's abort() and a
/// server's abort_clients() reset the connection (the peer reads
/// ECONNRESET, even with bytes buffered); close() still sends its bytes
/// and a FIN; a guest client of an aborting guest server sees
/// ConnectionReset.
#[test]
fn transports_abort_reset() {
    let mut server = start_guest_server("60s", TRANSPORTS_ABORT_RESET);
    let protocols = server.addr.clone();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut server.out, &mut line).unwrap();
    let streams = line
        .trim()
        .strip_prefix("streams on ")
        .unwrap_or_else(|| panic!("unexpected line {line:?}"))
        .to_owned();
    let connect = |addr: &str, ask: &[u8]| {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(ask).unwrap();
        s
    };
    for (api, addr) in [("transport", &protocols), ("streams", &streams)] {
        expect_reset(connect(addr, b"abort\n"), &format!("{api} abort"));
        let mut rest = String::new();
        connect(addr, b"close\n")
            .read_to_string(&mut rest)
            .unwrap_or_else(|e| panic!("{api} close: {e}"));
        assert_eq!(rest, "bye\n", "{api} close");
    }
    let mut held = connect(&streams, b"hold\n");
    let mut ok = [0; 5];
    held.read_exact(&mut ok).unwrap();
    assert_eq!(&ok, b"held\n");
    expect_reset(held, "abort_clients");

    let mut rest = String::new();
    server.out.read_to_string(&mut rest).unwrap();
    let status = server.child.wait().unwrap();
    let mut err = String::new();
    let _ = server.child.stderr.take().unwrap().read_to_string(&mut err);
    assert!(status.success(), "{status:?}\n{rest}\n{err}");
    assert_eq!(
        rest,
        "streams abort: reader then read 0 bytes\n\
         streams close: closed\n\
         abort_clients: reader then read 0 bytes\n\
         guest client of an abort: lost(Io(ConnectionReset))\n",
        "{err}"
    );
}

/// A protocol over stdin (`connect_read_pipe`) and one over stdout
/// (`connect_write_pipe`): data, EOF and the end of each.
#[test]
fn transports_pipes() {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_aio"))
        .args(["run", "--timeout=30s", TRANSPORTS_PIPES])
        .env("AIO_CACHE_DIR", crate::util::cache_dir())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn aio");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"line one\nline two\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let mut lines = stdout.lines();
    let first = lines.next().unwrap_or_default();
    assert!(
        first.starts_with("read pipe: made, data line one|")
            && first.ends_with("line two|, eof, lost(None)"),
        "{stdout}"
    );
    assert_eq!(
        lines.next(),
        Some("write on it: Transport: a read pipe's transport cannot write")
    );
    assert_eq!(lines.next(), Some(".".repeat(300_000).as_str()));
    assert_eq!(lines.next(), None);
    assert_eq!(stderr, "write pipe: made, lost(None)\n");
}

//! The examples under examples/, run as a user would.

use crate::util::cache_dir;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use test_artifacts::*;

/// `aio run` of the hello example prints its two lines about a second
/// apart (read as they arrive, from the real command).
#[test]
fn hello() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aio"))
        .args(["run", "--timeout", "60s", HELLO])
        .env("AIO_CACHE_DIR", cache_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn aio");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a first line").expect("utf-8");
    let first_at = Instant::now();
    let second = lines.next().expect("a second line").expect("utf-8");
    let gap = first_at.elapsed();
    assert!(lines.next().is_none(), "only two lines");
    let status = child.wait().expect("wait for aio");
    assert_eq!(
        (first.as_str(), second.as_str()),
        ("Hello ...", "... World!")
    );
    assert!(status.success(), "{status}");
    assert!(
        gap >= Duration::from_millis(950) && gap < Duration::from_secs(10),
        "the second line came {gap:?} after the first"
    );
}

/// The pipeline example runs `seq | grep | wc` with the grants it needs,
/// reporting progress, and fails clearly without them.
#[test]
fn pipeline_procs() {
    use crate::util::aio;
    let out = aio(&[
        "run",
        "--allow-run=seq,grep,wc",
        PIPELINE_PROCS,
        "--",
        "200000",
    ])
    .status(0)
    .stdout_has(" bytes so far")
    .stdout_has("numbers from 1 to 200000 containing a 7: 81902 (exit codes (0, 0, 0))");
    assert!(
        out.stdout().contains("grep -> wc: done"),
        "{}",
        out.stdout()
    );
    aio(&["run", "--allow-run=seq", PIPELINE_PROCS])
        .status(1)
        .stderr_has(") is not granted (allow it with --allow-run=grep)");
}

/// The sync/queues pipeline example: every job goes through the bounded
/// queue and the semaphore-limited workers, and it prints its throughput.
#[test]
fn pipeline() {
    use crate::util::aio;
    let out = aio(&["run", PIPELINE, "--", "500"])
        .status(0)
        .stdout_has("500 jobs through 8 workers (peak 8 busy)")
        .stdout_has("sum of squares 41791750");
    assert!(out.stdout().contains(" jobs/s"), "{}", out.stdout());
}

/// A free loopback TCP (or UDP) port: bound, then released for the example.
pub(crate) fn free_port(udp: bool) -> u16 {
    if udp {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        s.local_addr().unwrap().port()
    } else {
        let s = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        s.local_addr().unwrap().port()
    }
}

/// A network example running under `aio run` until it has said where it
/// listens; killed if a test fails first.
pub(crate) struct Served {
    child: std::process::Child,
    out: BufReader<std::process::ChildStdout>,
}

impl Served {
    /// The example with `PORT 30` as its arguments (port, seconds to serve).
    fn start(example: &str, grants: &[&str], port: u16) -> Served {
        Served::start_with(example, grants, port, &[&port.to_string(), "30"])
    }

    /// The example with these arguments; it must say it listens on `port`.
    pub(crate) fn start_with(
        example: &str,
        grants: &[&str],
        port: u16,
        guest_args: &[&str],
    ) -> Served {
        let mut args = vec!["run", "--timeout=60s"];
        args.extend_from_slice(grants);
        args.extend_from_slice(&[example, "--"]);
        args.extend_from_slice(guest_args);
        let mut child = Command::new(env!("CARGO_BIN_EXE_aio"))
            .args(&args)
            .env("AIO_CACHE_DIR", cache_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn aio");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        out.read_line(&mut first).expect("read");
        assert_eq!(
            first,
            format!("listening on 127.0.0.1:{port}\n"),
            "{example}: unexpected first line"
        );
        Served { child, out }
    }

    /// Waits for the exit; gives the rest of stdout and stderr.
    fn finish(mut self) -> (String, String) {
        use std::io::Read;
        let mut rest = String::new();
        self.out.read_to_string(&mut rest).expect("read");
        let status = self.child.wait().expect("wait");
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert!(status.success(), "{status}\n{rest}\n{err}");
        (rest, err)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tcp_client(port: u16) -> (std::net::TcpStream, BufReader<std::net::TcpStream>) {
    let s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let r = BufReader::new(s.try_clone().unwrap());
    (s, r)
}

fn read_line(r: &mut BufReader<std::net::TcpStream>) -> String {
    let mut line = String::new();
    r.read_line(&mut line).expect("a line");
    line
}

/// Without the listen grant, a server example stops at once, naming the
/// address and the flag.
fn fails_without_grant(example: &str) {
    let port = free_port(false).to_string();
    crate::util::aio(&["run", example, "--", &port])
        .status(1)
        .stderr_has(&format!(
            "refused: run with --allow-listen=127.0.0.1:{port}"
        ));
}

/// An echo server example: two clients at once, a large line, then `quit`.
fn echo_server(example: &str) {
    use std::io::Write;
    let port = free_port(false);
    let grant = format!("--allow-listen=127.0.0.1:{port}");
    let served = Served::start(example, &[&grant], port);
    let (mut a, mut ar) = tcp_client(port);
    let (mut b, mut br) = tcp_client(port);
    a.write_all(b"hello from a\n").unwrap();
    b.write_all(b"hello from b\n").unwrap();
    assert_eq!(read_line(&mut br), "hello from b\n");
    assert_eq!(read_line(&mut ar), "hello from a\n");
    let big = format!("{}\n", "z".repeat(50_000));
    a.write_all(big.as_bytes()).unwrap();
    assert_eq!(read_line(&mut ar), big);
    b.write_all(b"quit\n").unwrap();
    let (rest, _) = served.finish();
    assert_eq!(rest, "stopped\n");
    fails_without_grant(example);
}

#[test]
fn echo_streams() {
    echo_server(ECHO_STREAMS);
}

#[test]
fn echo_protocol() {
    echo_server(ECHO_PROTOCOL);
}

/// The client against the protocol server, both under `aio`; without its
/// grant the client names the address and the flag.
#[test]
fn echo_client() {
    let port = free_port(false);
    let p = port.to_string();
    let grant = format!("--allow-listen=127.0.0.1:{port}");
    let served = Served::start(ECHO_PROTOCOL, &[&grant], port);
    crate::util::aio(&[
        "run",
        &format!("--allow-net=127.0.0.1:{port}"),
        ECHO_CLIENT,
        "--",
        &p,
        "25",
        "quit",
    ])
    .status(0)
    .stdout_is(&format!("connected to 127.0.0.1:{port}\n25 lines echoed\n"));
    let (rest, _) = served.finish();
    assert_eq!(rest, "stopped\n");
    crate::util::aio(&["run", ECHO_CLIENT, "--", &p])
        .status(1)
        .stderr_has(&format!(
            "connect to 127.0.0.1:{port} refused: run with --allow-net=127.0.0.1:{port}"
        ));
}

/// Three clients: joins, a message broadcast to the two others, a leave,
/// then `/shutdown`.
#[test]
fn chat() {
    use std::io::Write;
    let port = free_port(false);
    let grant = format!("--allow-listen=127.0.0.1:{port}");
    let served = Served::start(CHAT, &[&grant], port);
    let join = |name: &str| {
        let (mut s, mut r) = tcp_client(port);
        assert_eq!(read_line(&mut r), "your name?\n");
        s.write_all(format!("{name}\n").as_bytes()).unwrap();
        assert_eq!(read_line(&mut r), format!("welcome, {name}\n"));
        (s, r)
    };
    let (mut ann, mut ann_r) = join("ann");
    let (_bob, mut bob_r) = join("bob");
    assert_eq!(read_line(&mut ann_r), "* bob joined\n");
    let (cat, mut cat_r) = join("cat");
    assert_eq!(read_line(&mut ann_r), "* cat joined\n");
    assert_eq!(read_line(&mut bob_r), "* cat joined\n");
    ann.write_all(b"hi all\n").unwrap();
    assert_eq!(read_line(&mut bob_r), "ann: hi all\n");
    assert_eq!(read_line(&mut cat_r), "ann: hi all\n");
    drop(cat_r);
    drop(cat);
    assert_eq!(read_line(&mut ann_r), "* cat left\n");
    assert_eq!(read_line(&mut bob_r), "* cat left\n");
    ann.write_all(b"/shutdown\n").unwrap();
    let (rest, _) = served.finish();
    assert_eq!(rest, "stopped\n");
    fails_without_grant(CHAT);
}

/// Datagrams from two sockets each come back to their sender; `quit`
/// stops it. Without the grant, the bind is refused by name.
#[test]
fn udp_echo() {
    let port = free_port(true);
    let grant = format!("--allow-listen=127.0.0.1:{port}");
    let served = Served::start(UDP_ECHO, &[&grant], port);
    let server = ("127.0.0.1", port);
    let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for s in [&a, &b] {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    }
    let mut buf = [0; 2048];
    for i in 0..5 {
        for (s, who) in [(&a, "a"), (&b, "b")] {
            let msg = format!("{who} {i}");
            s.send_to(msg.as_bytes(), server).unwrap();
            let (n, from) = s.recv_from(&mut buf).expect("an echo");
            assert_eq!(&buf[..n], msg.as_bytes());
            assert_eq!(from.port(), port);
        }
    }
    a.send_to(b"quit", server).unwrap();
    let (rest, _) = served.finish();
    assert_eq!(rest, "echoed 10 datagrams\n");
    let p = free_port(true).to_string();
    crate::util::aio(&["run", UDP_ECHO, "--", &p])
        .status(1)
        .stderr_has(&format!(
            "bind to 127.0.0.1:{p} refused: run with --allow-listen=127.0.0.1:{p}"
        ));
}

/// hello depends on asyncio without the `host-signals` feature: it imports
/// only standard WASI, so it runs on any WASI 0.3 host; a guest with the
/// default features imports `aio:host/signals`.
#[test]
fn hello_imports_only_wasi() {
    crate::util::aio(&["inspect", HELLO])
        .status(0)
        .stdout_has("wasi:clocks/monotonic-clock@0.3.0")
        .stdout_lacks("aio:host");
    crate::util::aio(&["inspect", TASKS_HELLO])
        .status(0)
        .stdout_has("aio:host/signals");
}

#[path = "../../../examples/plugin-host/src/demo.rs"]
#[allow(dead_code, unreachable_pub)]
mod plugin_host_demo;

/// examples/plugin-host's demo, on the test build of plugin-greeter:
/// concurrent calls overlap, grants differ per instance, one instance
/// crashes and the others serve on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_host() {
    let mut out = Vec::new();
    plugin_host_demo::run(std::path::Path::new(PLUGIN_GREETER), &mut out)
        .await
        .expect("the demo runs");
    let out = String::from_utf8(out).unwrap();
    for line in [
        "30 greetings of 200 ms each, all at once, took",
        "ms: they overlapped",
        "alice greeted 10",
        "alice's reminder task ran on: yes",
        "alice fetch-line: ok(\"the host heard: hi\")",
        "bob fetch-line: err(\"permission denied: connect to 127.0.0.1:",
        "bob's slow call: greet: the call timed out after 100ms",
        "mallory crash: the guest panicked",
        "mallory afterwards: the guest panicked",
        "alice still serves: \"Hello, alice!\"",
        "bob still serves: \"Hello, bob!\"",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    assert!(out.contains("alice's tasks: #"), "{out}");
}

/// stdin-lines numbers each line as it comes (the next one is written
/// only after the last came back), and gives up on idle input while its
/// read of stdin waits.
#[test]
fn stdin_lines() {
    use std::io::Write;
    let spawn = |idle: &str| {
        Command::new(env!("CARGO_BIN_EXE_aio"))
            .args(["run", "--timeout", "60s", STDIN_LINES, "--", idle])
            .env("AIO_CACHE_DIR", cache_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn aio")
    };
    // Lines read on a thread, so that a missing line fails the test
    // instead of hanging it.
    let lines_of = |child: &mut std::process::Child| {
        let (tx, rx) = std::sync::mpsc::channel();
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        std::thread::spawn(move || {
            for line in out.lines() {
                if tx.send(line.expect("utf-8")).is_err() {
                    return;
                }
            }
        });
        move || {
            rx.recv_timeout(Duration::from_secs(20))
                .expect("a line within 20 s")
        }
    };

    let mut child = spawn("30");
    let next = lines_of(&mut child);
    let mut stdin = child.stdin.take().expect("stdin");
    for (n, word) in ["alpha", "beta"].iter().enumerate() {
        stdin.write_all(format!("{word}\n").as_bytes()).unwrap();
        assert_eq!(next(), format!("{:>4}  {word}", n + 1));
    }
    stdin.write_all(b"gamma").unwrap();
    drop(stdin);
    assert_eq!(next(), "   3  gamma");
    assert_eq!(next(), "3 lines");
    assert!(child.wait().unwrap().success());

    // Nothing comes, stdin stays open: the timeout still fires.
    let mut child = spawn("0.3");
    let next = lines_of(&mut child);
    let stdin = child.stdin.take().expect("stdin");
    assert_eq!(next(), "no input for 0.3 s, giving up");
    assert_eq!(child.wait().unwrap().code(), Some(3));
    drop(stdin);
}

/// The HTTPS client against Python's own HTTPS server on loopback, its
/// certificate from the test CA the host was given; without the CA grant,
/// or without the network grant, it stops naming the flag.
#[test]
fn https_get() {
    use crate::tls::{pki, python_server};
    use crate::util::aio;
    let pki = pki("https_get");
    let server = python_server(&["https", &pki.path("leaf.pem"), &pki.path("leaf.key")]);
    let url = format!("https://localhost:{}/hello", server.port);
    let net = format!("--allow-net=127.0.0.1:{}", server.port);
    let ca = format!("--tls-ca=dev={}", pki.path("ca.pem"));
    // The server keeps its socket open after its close_notify, waiting for
    // ours (asyncio's 30 s ssl_shutdown_timeout): the EOF comes from the
    // close_notify alone.
    aio(&["run", &net, &ca, HTTPS_GET, "--", &url, "dev"])
        .within(Duration::from_secs(20))
        .status(0)
        .stdout_is(
            "TLSv1.3 http/1.1 CN=localhost\n\
             HTTP/1.1 200 OK\n\
             hello over https, you asked for /hello\n",
        );
    aio(&["run", &net, HTTPS_GET, "--", &url, "dev"])
        .status(1)
        .stderr_has("add --tls-ca dev=FILE");
    aio(&["run", &net, HTTPS_GET, "--", &url])
        .status(1)
        .stderr_has("certificate verify failed: unable to get local issuer certificate");
    aio(&["run", &ca, HTTPS_GET, "--", &url, "dev"])
        .status(1)
        .stderr_has("--allow-net");
}

/// The TLS echo server with its identity: Python's ssl client gets its
/// line back; without `--tls-cert` it stops at once, naming the flag.
#[test]
fn tls_echo() {
    use crate::tls::pki;
    let pki = pki("tls_echo");
    let port = free_port(false);
    let listen = format!("--allow-listen=127.0.0.1:{port}");
    let cert = format!(
        "--tls-cert=echo={},{}",
        pki.path("leaf.pem"),
        pki.path("leaf.key")
    );
    let served = Served::start_with(TLS_ECHO, &[&listen, &cert], port, &[&port.to_string(), "3"]);
    let said = crate::tls::python_client("client", &port.to_string(), &pki);
    assert!(said.ends_with("\nhello\n"), "{said}");
    let (rest, _) = served.finish();
    assert_eq!(rest, "time is up\nstopped\n");
    crate::util::aio(&["run", &listen, TLS_ECHO, "--", &port.to_string(), "1"])
        .status(1)
        .stderr_has("add --tls-cert echo=CERT,KEY");
}

/// examples/unix-kv: two clients share the table over the Unix socket, the
/// second shuts the service down, and the socket file goes with it;
/// without the grant it stops at once, naming the flag.
#[test]
fn unix_kv() {
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    use std::path::Path;
    let dir = std::env::temp_dir().join(format!("aio-unix-kv-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("kv.sock").to_str().unwrap().to_owned();
    let grant = format!("--allow-unix={}", dir.display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_aio"))
        .args(["run", "--timeout=60s", &grant, UNIX_KV, "--", &path, "30"])
        .env("AIO_CACHE_DIR", cache_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn aio");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert_eq!(first, format!("listening on {path}\n"));
    let ask = |conn: &mut UnixStream, reader: &mut BufReader<UnixStream>, req: &str| {
        conn.write_all(format!("{req}\n").as_bytes()).unwrap();
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        line.trim_end().to_owned()
    };
    let mut one = UnixStream::connect(&path).unwrap();
    one.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut one_r = BufReader::new(one.try_clone().unwrap());
    assert_eq!(ask(&mut one, &mut one_r, "SET city Paris"), "OK");
    assert_eq!(ask(&mut one, &mut one_r, "SET lang Rust"), "OK");
    let mut two = UnixStream::connect(&path).unwrap();
    two.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut two_r = BufReader::new(two.try_clone().unwrap());
    assert_eq!(ask(&mut two, &mut two_r, "GET city"), "Paris");
    assert_eq!(ask(&mut two, &mut two_r, "DEL lang"), "1");
    assert_eq!(ask(&mut two, &mut two_r, "KEYS"), "city");
    assert_eq!(ask(&mut two, &mut two_r, "GET lang"), "NIL");
    assert_eq!(ask(&mut two, &mut two_r, "SHUTDOWN"), "BYE");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(child.wait().unwrap().success(), "{rest}");
    assert_eq!(rest, "stopped with 1 keys\n");
    assert!(!Path::new(&path).exists(), "the socket file is removed");

    crate::util::aio(&["run", UNIX_KV, "--", &path, "1"])
        .status(1)
        .stderr_has("--allow-unix");
    let _ = std::fs::remove_dir_all(&dir);
}

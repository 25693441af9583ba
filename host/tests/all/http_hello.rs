//! examples/http-hello, both servers, driven by a raw HTTP/1.1 client:
//! keep-alive, pipelining, heads split across writes, bodies skipped,
//! `Connection: close`, and refusals of bad or oversized heads.

use crate::examples::{Served, free_port};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use test_artifacts::HTTP_HELLO;

const HELLO: &str =
    "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, world!";

/// A client that reads whole responses (head, then `Content-Length` bytes).
struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Reads until `f` finds what it wants in the buffer (or EOF: `None`).
    fn read_until(&mut self, mut f: impl FnMut(&[u8]) -> Option<usize>) -> Option<String> {
        loop {
            if let Some(n) = f(&self.buf) {
                let taken: Vec<u8> = self.buf.drain(..n).collect();
                return Some(String::from_utf8(taken).expect("utf-8"));
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).expect("read");
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// One whole response.
    fn response(&mut self) -> String {
        self.read_until(|buf| {
            let text = std::str::from_utf8(buf).ok()?;
            let head = text.find("\r\n\r\n")? + 4;
            let len = text[..head]
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .map_or(0, |n| n.trim().parse::<usize>().expect("a length"));
            (buf.len() >= head + len).then_some(head + len)
        })
        .expect("a response before EOF")
    }

    /// The server closed: nothing more to read.
    fn closed(&mut self) {
        assert_eq!(self.read_until(|_| None), None);
        assert!(self.buf.is_empty(), "left over: {:?}", self.buf);
    }
}

fn serve(mode: &str) -> (Served, u16) {
    let port = free_port(false);
    let grant = format!("--allow-listen=127.0.0.1:{port}");
    let served = Served::start_with(HTTP_HELLO, &[&grant], port, &[mode, &port.to_string()]);
    (served, port)
}

fn http_server(mode: &str) {
    let (_served, port) = serve(mode);
    // Keep-alive: several requests on one connection, one at a time.
    let mut c = Client::connect(port);
    for _ in 0..3 {
        c.send(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n");
        assert_eq!(c.response(), HELLO);
    }
    // Pipelined: three requests in one write, three responses in order.
    c.send(b"GET / HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\nHEAD / HTTP/1.1\r\n\r\n");
    assert_eq!(c.response(), HELLO);
    assert!(c.response().starts_with("HTTP/1.1 404 Not Found\r\n"));
    let head = c.read_until(|b| {
        let text = std::str::from_utf8(b).ok()?;
        text.find("\r\n\r\n").map(|i| i + 4)
    });
    assert_eq!(head.as_deref(), Some(&HELLO[..HELLO.len() - 13]));
    // A head in pieces, with pauses between them.
    for piece in [&b"GET / HT"[..], b"TP/1.1\r\nHo", b"st: x\r\n", b"\r\n"] {
        c.send(piece);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(c.response(), HELLO);
    // A body is skipped, also when it arrives later than its head.
    c.send(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nhello");
    std::thread::sleep(Duration::from_millis(20));
    c.send(b"worldGET / HTTP/1.1\r\n\r\n");
    assert!(
        c.response()
            .starts_with("HTTP/1.1 405 Method Not Allowed\r\n")
    );
    assert_eq!(c.response(), HELLO);
    // `Connection: close` gets its response, then the end.
    c.send(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_eq!(c.response(), HELLO);
    c.closed();

    // HTTP/1.0 closes unless asked to keep the connection.
    let mut c = Client::connect(port);
    c.send(b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(c.response(), HELLO);
    c.closed();
    // Garbage: 400 and the end.
    let mut c = Client::connect(port);
    c.send(b"\x16\x03\x01 not http at all\r\n\r\n");
    assert!(c.response().starts_with("HTTP/1.1 400 Bad Request\r\n"));
    c.closed();
    // A head that never ends: 431 and the end, not an ever-growing
    // buffer. The server may close with some of the head unread, which
    // resets the connection and can discard the 431 on its way: a reset
    // is an end too.
    let mut c = Client::connect(port);
    let mut head = b"GET / HTTP/1.1\r\nX-Long: ".to_vec();
    head.resize(40 << 10, b'a');
    let _ = c.stream.write_all(&head);
    let mut got = Vec::new();
    match c.stream.read_to_end(&mut got) {
        Ok(_) => assert!(
            got.starts_with(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            "{:?}",
            String::from_utf8_lossy(&got)
        ),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
    // The server serves on after all of it.
    let mut c = Client::connect(port);
    c.send(b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(c.response(), HELLO);
}

#[test]
fn http_hello_streams() {
    http_server("streams");
}

#[test]
fn http_hello_protocol() {
    http_server("protocol");
}

/// Without its grant the server stops at once, naming the flag.
#[test]
fn http_hello_needs_its_grant() {
    let port = free_port(false).to_string();
    crate::util::aio(&["run", HTTP_HELLO, "--", "protocol", &port])
        .status(1)
        .stderr_has(&format!(
            "refused: run with --allow-listen=127.0.0.1:{port}"
        ));
}

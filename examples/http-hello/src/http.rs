//! The HTTP/1.1 part, shared by both servers: parse one request head with
//! `httparse`, decide the response and whether the connection stays open.

/// Request heads larger than this are refused (431), as servers do.
pub const MAX_HEAD: usize = 16 << 10;

/// The most headers a request may carry.
const MAX_HEADERS: usize = 32;

/// What one parsed request asks for.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    /// Bytes of the head (request line and headers, blank line included).
    pub head_len: usize,
    /// Bytes of body that follow the head (`Content-Length`), to skip.
    pub body_len: usize,
    /// Whether the connection stays open after the response.
    pub keep_alive: bool,
    /// The response to send.
    pub response: &'static [u8],
}

/// What the bytes at the start of a buffer are.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A whole head.
    Request(Request),
    /// Not a whole head yet: read more.
    Partial,
    /// Not HTTP/1.x (or a head over [`MAX_HEAD`]): send this and close.
    Refuse(&'static [u8]),
}

pub const HELLO: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, world!";
const NOT_FOUND: &[u8] =
    b"HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\nContent-Type: text/plain\r\n\r\nnot found\n";
const NOT_ALLOWED: &[u8] =
    b"HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nContent-Length: 0\r\n\r\n";
const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
pub const TOO_LARGE: &[u8] = b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
const HELLO_HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\n";

/// Parses the request head at the start of `buf`.
pub fn parse(buf: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => return Parsed::Refuse(TOO_LARGE),
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => return Parsed::Refuse(TOO_LARGE),
        Err(_) => return Parsed::Refuse(BAD_REQUEST),
    };
    if head_len > MAX_HEAD {
        return Parsed::Refuse(TOO_LARGE);
    }
    // HTTP/1.1 keeps the connection unless told to close; 1.0 closes
    // unless told to keep it.
    let mut keep_alive = req.version == Some(1);
    let mut body_len = 0;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("connection") {
            if h.value.eq_ignore_ascii_case(b"close") {
                keep_alive = false;
            } else if h.value.eq_ignore_ascii_case(b"keep-alive") {
                keep_alive = true;
            }
        } else if h.name.eq_ignore_ascii_case("content-length") {
            match std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
            {
                Some(n) => body_len = n,
                None => return Parsed::Refuse(BAD_REQUEST),
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // A chunked body cannot be skipped without decoding it, and this
            // server has no use for one.
            return Parsed::Refuse(BAD_REQUEST);
        }
    }
    let response = match (req.method, req.path) {
        (Some("GET"), Some("/")) => HELLO,
        (Some("HEAD"), Some("/")) => HELLO_HEAD,
        (Some("GET" | "HEAD"), _) => NOT_FOUND,
        _ => NOT_ALLOWED,
    };
    Parsed::Request(Request {
        head_len,
        body_len,
        keep_alive,
        response,
    })
}

/// Spins for `iters` rounds of a hash, standing in for a handler's own
/// work (the multi-core benchmark gives each request some).
pub fn work(iters: u32) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for i in 0..iters {
        h = (h ^ u64::from(i)).wrapping_mul(0x0100_0000_01b3);
    }
    std::hint::black_box(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(buf: &[u8]) -> Request {
        match parse(buf) {
            Parsed::Request(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn keep_alive_and_close() {
        let r = request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n");
        assert_eq!((r.head_len, r.keep_alive, r.response), (27, true, HELLO));
        assert!(!request(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive);
        assert!(!request(b"GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(request(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
    }

    #[test]
    fn partial_bad_and_large() {
        assert_eq!(parse(b"GET / HT"), Parsed::Partial);
        assert_eq!(
            parse(b"\x00\x01 nonsense\r\n\r\n"),
            Parsed::Refuse(BAD_REQUEST)
        );
        let huge = [b"GET / HTTP/1.1\r\nX: ".as_slice(), &[b'a'; MAX_HEAD]].concat();
        assert_eq!(parse(&huge), Parsed::Refuse(TOO_LARGE));
        assert_eq!(
            parse(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Parsed::Refuse(BAD_REQUEST)
        );
    }

    #[test]
    fn routes_and_bodies() {
        let r = request(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
        assert_eq!((r.body_len, r.response), (5, NOT_ALLOWED));
        assert_eq!(request(b"GET /x HTTP/1.1\r\n\r\n").response, NOT_FOUND);
        assert_eq!(request(b"HEAD / HTTP/1.1\r\n\r\n").response, HELLO_HEAD);
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"),
            Parsed::Refuse(BAD_REQUEST)
        );
    }
}

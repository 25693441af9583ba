//! The HTTP/1.1 side of the load generator: one keep-alive request, and a
//! strict reading of its response (status 200, a `Content-Length`, exactly
//! that body, which must be `Hello, world!`), so that a server answering
//! wrongly fails the benchmark instead of looking fast.
use tokio::io::{AsyncRead, AsyncReadExt};

/// What every connection sends, again and again on one connection.
pub const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n";
/// The body every response must carry.
pub const BODY: &[u8] = b"Hello, world!";
/// A response head longer than this is an error, not a reason to buffer on.
const MAX_HEAD: usize = 16 << 10;

/// Reads one response from `stream`. `buf` holds what was read but not yet
/// used (a response may come in pieces, or with the start of the next one);
/// what follows this response stays in it.
pub async fn read_response<R: AsyncRead + Unpin>(
    stream: &mut R,
    buf: &mut Vec<u8>,
) -> Result<(), String> {
    let (head_len, body_len) = loop {
        if let Some(parsed) = parse_head(buf)? {
            break parsed;
        }
        if buf.len() > MAX_HEAD {
            return Err(format!(
                "no end of the response head in {} bytes",
                buf.len()
            ));
        }
        fill(stream, buf, "the response head").await?;
    };
    let end = head_len + body_len;
    while buf.len() < end {
        fill(stream, buf, "the body").await?;
    }
    let body = &buf[head_len..end];
    if body != BODY {
        return Err(format!(
            "body {:?}, expected {:?}",
            String::from_utf8_lossy(body),
            String::from_utf8_lossy(BODY)
        ));
    }
    buf.drain(..end);
    Ok(())
}

/// Parses the response head at the start of `buf`: `None` while it is
/// incomplete, else its length and the `Content-Length` it announces.
fn parse_head(buf: &[u8]) -> Result<Option<(usize, usize)>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("bad response head ({e}): {:?}", lossy_start(buf))),
    };
    if response.code != Some(200) {
        return Err(format!(
            "status {:?}, expected 200: {:?}",
            response.code,
            lossy_start(buf)
        ));
    }
    let length = response
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .ok_or_else(|| format!("no Content-Length: {:?}", lossy_start(buf)))?;
    let body_len = std::str::from_utf8(length.value)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| {
            format!(
                "bad Content-Length {:?}",
                String::from_utf8_lossy(length.value)
            )
        })?;
    Ok(Some((head_len, body_len)))
}

/// Appends what the next read gives to `buf`; the end of the stream is an
/// error (the server closed a keep-alive connection in the middle of `what`).
async fn fill<R: AsyncRead + Unpin>(
    stream: &mut R,
    buf: &mut Vec<u8>,
    what: &str,
) -> Result<(), String> {
    buf.reserve(4096);
    match stream.read_buf(buf).await {
        Ok(0) => Err(format!(
            "connection closed in {what} ({} bytes buffered)",
            buf.len()
        )),
        Ok(_) => Ok(()),
        Err(e) => Err(format!("reading {what}: {e}")),
    }
}

/// The first bytes of `buf`, for an error message.
fn lossy_start(buf: &[u8]) -> String {
    String::from_utf8_lossy(&buf[..buf.len().min(200)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    const OK: &[u8] =
        b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, world!";

    /// Reads `count` responses from `bytes` delivered `piece` bytes at a
    /// time; then the rest, which it gives back.
    async fn read_all(bytes: Vec<u8>, piece: usize, count: usize) -> Result<Vec<u8>, String> {
        let (mut client, mut server) = tokio::io::duplex(piece);
        let writer = tokio::spawn(async move { server.write_all(&bytes).await });
        let mut buf = Vec::new();
        for _ in 0..count {
            read_response(&mut client, &mut buf).await?;
        }
        client.read_to_end(&mut buf).await.unwrap();
        writer.await.unwrap().unwrap();
        Ok(buf)
    }

    #[tokio::test]
    async fn responses_in_pieces_and_back_to_back() {
        let two = [OK, OK, b"HTTP/1.1"].concat();
        for piece in [1, 7, 4096] {
            let left = read_all(two.clone(), piece, 2).await.unwrap();
            assert_eq!(left, b"HTTP/1.1", "piece {piece}");
        }
    }

    #[tokio::test]
    async fn wrong_answers_are_errors() {
        let cases: [(&[u8], &str); 5] = [
            (
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 13\r\n\r\nHello, world!",
                "status",
            ),
            (b"HTTP/1.1 200 OK\r\n\r\nHello, world!", "no Content-Length"),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHello", "body"),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello",
                "connection closed",
            ),
            (b"garbage\r\n\r\n", "bad response head"),
        ];
        for (bytes, expected) in cases {
            let err = read_all(bytes.to_vec(), 64, 1).await.unwrap_err();
            assert!(err.contains(expected), "{err:?} lacks {expected:?}");
        }
    }
}

//! HTTP/1.1 server for the HTTP benchmark (bench/run, `http`): hyper 1.x on
//! a tokio current_thread runtime, one task per connection, keep-alive on,
//! HTTP/1 only. Every request gets `200 OK`, `Content-Type: text/plain` and
//! the 13-byte body `Hello, world!` (hyper adds `Content-Length` from the
//! body's exact size). hyper's automatic `Date` header is off, so that every
//! server of the benchmark sends the same bytes.
//!
//! Listens on 127.0.0.1:0 with a backlog of 1024 (like the other servers of
//! bench/run), prints `listening on ADDR`, serves until killed.
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::io::Write;
use tokio::net::TcpSocket;

const BODY: &[u8] = b"Hello, world!";

async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut response = Response::new(Full::new(Bytes::from_static(BODY)));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(response)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("address"))
        .expect("bind");
    let listener = socket.listen(1024).expect("listen");
    println!("listening on {}", listener.local_addr().expect("address"));
    std::io::stdout().flush().expect("flush stdout");
    loop {
        let (stream, _) = listener.accept().await.expect("accept");
        stream.set_nodelay(true).expect("nodelay");
        tokio::spawn(async move {
            // A client closing or resetting its connection ends it; that is
            // no failure of the server.
            let _ = http1::Builder::new()
                .keep_alive(true)
                .auto_date_header(false)
                .serve_connection(TokioIo::new(stream), service_fn(hello))
                .await;
        });
    }
}

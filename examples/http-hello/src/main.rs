//! A minimal HTTP/1.1 server: `GET /` answers `Hello, world!`, connections
//! stay open (keep-alive) and may pipeline requests. Two servers in one
//! program, the same HTTP (src/http.rs, parsed with `httparse`):
//!
//! - `streams`: `start_server`, one task per connection, `readuntil` the
//!   blank line, `write` + `drain`;
//! - `protocol`: `create_server` with a [`Protocol`] that parses what
//!   `data_received` hands it and writes the response from the callback.
//!
//! ```sh
//! aio run --allow-listen=127.0.0.1:8080 http-hello.wasm -- streams 8080
//! aio run --allow-listen=127.0.0.1:0 http-hello.wasm -- protocol
//! ```
//!
//! Arguments: `[streams|protocol] [PORT] [--work=ITERS]` (default: streams
//! on an ephemeral port; `--work` spins ITERS hash rounds per request, a
//! stand-in for a handler's own work). It prints `listening on ADDR` and
//! serves until stopped. bench/run's HTTP benchmark runs it.

mod http;

use asyncio::transports::{BaseProtocol, Protocol, Transport};
use asyncio::{ErrorKind, StreamReader, StreamWriter};
use http::{MAX_HEAD, Parsed};

#[derive(Clone, Copy)]
enum Mode {
    Streams,
    Protocol,
}

struct Args {
    mode: Mode,
    port: u16,
    work: u32,
}

const USAGE: &str = "usage: http-hello [streams|protocol] [PORT] [--work=ITERS]";

fn parse_args() -> asyncio::Result<Args> {
    let mut args = Args {
        mode: Mode::Streams,
        port: 0,
        work: 0,
    };
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "streams" => args.mode = Mode::Streams,
            "protocol" => args.mode = Mode::Protocol,
            _ => {
                let bad = || asyncio::Error::msg(format!("{arg:?}: {USAGE}"));
                if let Some(n) = arg.strip_prefix("--work=") {
                    args.work = n.parse().map_err(|_| bad())?;
                } else {
                    args.port = arg.parse().map_err(|_| bad())?;
                }
            }
        }
    }
    Ok(args)
}

/// One connection of the streams server: request after request until the
/// client closes or asks to.
async fn serve_client(
    mut reader: StreamReader,
    mut writer: StreamWriter,
    work: u32,
) -> asyncio::Result<()> {
    loop {
        let head = match reader.readuntil(b"\r\n\r\n").await {
            Ok(head) => head,
            Err(e) => match e.kind() {
                // The client closed between requests (or mid-head).
                ErrorKind::IncompleteRead { .. } => return Ok(()),
                ErrorKind::LimitOverrun { .. } => {
                    return refuse(&mut writer, Parsed::Refuse(http::TOO_LARGE)).await;
                }
                _ => return Err(e),
            },
        };
        let request = match http::parse(&head) {
            Parsed::Request(request) => request,
            refused => return refuse(&mut writer, refused).await,
        };
        skip_body(&mut reader, request.body_len).await?;
        http::work(work);
        writer.write(request.response)?;
        writer.drain().await?;
        if !request.keep_alive {
            writer.close();
            return writer.wait_closed().await;
        }
    }
}

/// Sends a refusal (400, 431) and closes.
async fn refuse(writer: &mut StreamWriter, parsed: Parsed) -> asyncio::Result<()> {
    if let Parsed::Refuse(response) = parsed {
        writer.write(response)?;
    }
    writer.close();
    writer.wait_closed().await
}

/// Reads and drops a request body, a bounded piece at a time (a client may
/// announce any length).
async fn skip_body(reader: &mut StreamReader, mut left: usize) -> asyncio::Result<()> {
    while left > 0 {
        let got = reader.read(left.min(64 << 10)).await?;
        if got.is_empty() {
            return Err(asyncio::Error::msg("the client closed in a request body"));
        }
        left -= got.len();
    }
    Ok(())
}

/// The protocol server's connection: bytes that do not make a whole head
/// yet wait in `buf`; a body still to come is counted in `skip`.
struct HttpProtocol {
    transport: Option<Transport>,
    buf: Vec<u8>,
    skip: usize,
    work: u32,
}

impl HttpProtocol {
    /// Answers every whole request at the start of `input`; gives how many
    /// bytes it used (the rest is an incomplete head), or `None` once the
    /// connection is closed.
    fn answer(&mut self, input: &[u8]) -> Option<usize> {
        let transport = self.transport.as_ref()?;
        let mut at = 0;
        while at < input.len() {
            match http::parse(&input[at..]) {
                Parsed::Request(request) => {
                    at += request.head_len;
                    let body_here = request.body_len.min(input.len() - at);
                    at += body_here;
                    self.skip = request.body_len - body_here;
                    http::work(self.work);
                    let _ = transport.write(request.response);
                    if !request.keep_alive {
                        transport.close();
                        self.transport = None;
                        return None;
                    }
                }
                Parsed::Partial => break,
                Parsed::Refuse(response) => {
                    let _ = transport.write(response);
                    transport.close();
                    self.transport = None;
                    return None;
                }
            }
        }
        Some(at)
    }
}

impl BaseProtocol for HttpProtocol {
    fn connection_made(&mut self, transport: Transport) {
        self.transport = Some(transport);
    }

    fn connection_lost(&mut self, _error: Option<asyncio::Error>) {
        self.transport = None;
    }
}

impl Protocol for HttpProtocol {
    fn data_received(&mut self, mut data: &[u8]) {
        let skipped = self.skip.min(data.len());
        self.skip -= skipped;
        data = &data[skipped..];
        if data.is_empty() {
            return;
        }
        if self.buf.is_empty() {
            // The common case: whole requests, parsed where they lie.
            if let Some(used) = self.answer(data) {
                self.buf.extend_from_slice(&data[used..]);
            }
        } else {
            self.buf.extend_from_slice(data);
            let buf = std::mem::take(&mut self.buf);
            if let Some(used) = self.answer(&buf) {
                self.buf = buf;
                self.buf.drain(..used);
            }
        }
    }
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let Args { mode, port, work } = parse_args()?;
    let server = match mode {
        Mode::Streams => {
            asyncio::start_server(
                move |reader, writer| serve_client(reader.with_limit(MAX_HEAD), writer, work),
                "127.0.0.1",
                port,
            )
            .await?
        }
        Mode::Protocol => {
            let new = move || HttpProtocol {
                transport: None,
                buf: Vec::new(),
                skip: 0,
                work,
            };
            asyncio::get_running_loop()
                .create_server(new, "127.0.0.1", port)
                .await?
        }
    };
    println!("listening on {}", server.sockets()[0]);
    use std::io::Write;
    std::io::stdout().flush().ok();
    server.serve_forever().await
}

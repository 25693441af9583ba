//! A TLS echo server: every line a client sends comes back, encrypted by
//! the host with an identity the guest names but never holds. A client
//! sending `quit` stops the server, as does the time limit.
//!
//! ```sh
//! aio run --allow-listen=127.0.0.1:8443 --tls-cert=echo=cert.pem,key.pem \
//!     tls-echo.wasm -- 8443 [SECONDS]
//! openssl s_client -connect 127.0.0.1:8443 -CAfile ca.pem -quiet
//! ```
//!
//! Without `--tls-cert=echo=...` it stops at once, naming the flag.

use asyncio::ssl::SslContext;
use asyncio::{Event, StreamReader, StreamWriter, start_server_ssl, wait_for};
use std::time::Duration;

/// Echoes lines until EOF or `quit`.
async fn echo(
    mut reader: StreamReader,
    mut writer: StreamWriter,
    stop: Event,
) -> asyncio::Result<()> {
    loop {
        let line = reader.readline().await?;
        if line.is_empty() {
            return Ok(());
        }
        if line.trim_ascii() == b"quit" {
            stop.set();
            return Ok(());
        }
        writer.write(&line)?;
        writer.drain().await?;
    }
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args
        .get(1)
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| asyncio::Error::msg("usage: tls-echo PORT [SECONDS]"))?;
    let seconds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(60);
    let stop = Event::new();
    let handler_stop = stop.clone();
    let server = start_server_ssl(
        move |reader, writer| echo(reader, writer, handler_stop.clone()),
        "127.0.0.1",
        port,
        &SslContext::server("echo"),
    )
    .await?;
    println!("listening on {}", server.sockets()[0]);
    if wait_for(Duration::from_secs(seconds), stop.wait())
        .await
        .is_err()
    {
        println!("time is up");
    }
    server.close();
    server.close_clients();
    wait_for(Duration::from_secs(5), server.wait_closed()).await?;
    println!("stopped");
    Ok(())
}

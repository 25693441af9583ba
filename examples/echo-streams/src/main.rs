//! An echo server with streams: every line a client sends comes back. A
//! client sending `quit` stops the server, as do SIGTERM (`ctr task kill`,
//! a pod's deletion) and the time limit.
//!
//! ```sh
//! aio run echo-streams.wasm --allow-listen=127.0.0.1:8888 -- 8888 [SECONDS] [HOST]
//! ```
//!
//! HOST is the address to listen on (default 127.0.0.1; 0.0.0.0 in a pod).
//!
//! Without the grant it stops at once, naming the address and the flag.

use asyncio::signals::Signal;
use asyncio::{Event, StreamReader, StreamWriter, start_server, wait_for};
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
        .ok_or_else(|| asyncio::Error::msg("usage: echo-streams PORT [SECONDS] [HOST]"))?;
    let seconds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(60);
    let host = args.get(3).map_or("127.0.0.1", String::as_str);
    let stop = Event::new();
    let on_term = stop.clone();
    asyncio::get_running_loop().add_signal_handler(Signal::SIGTERM, move || {
        println!("SIGTERM: stopping");
        on_term.set();
    })?;
    let handler_stop = stop.clone();
    let server = start_server(
        move |reader, writer| echo(reader, writer, handler_stop.clone()),
        host,
        port,
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

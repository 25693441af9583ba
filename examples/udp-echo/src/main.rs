//! A UDP echo server: every datagram goes back to its sender. A datagram
//! `quit` stops it, as does the time limit.
//!
//! ```sh
//! aio run udp-echo.wasm --allow-listen=127.0.0.1:9999 -- 9999 [SECONDS]
//! ```
//!
//! Answering a sender needs no `--allow-net` grant: the host lets a bound
//! socket reply to the peers that sent to it.

use asyncio::transports::{DatagramProtocol, DatagramTransport};
use asyncio::{Event, get_running_loop, wait_for};
use std::net::SocketAddr;
use std::time::Duration;

struct Echo {
    transport: Option<DatagramTransport>,
    stop: Event,
    count: usize,
}

impl DatagramProtocol for Echo {
    fn connection_made(&mut self, transport: DatagramTransport) {
        self.transport = Some(transport);
    }

    fn datagram_received(&mut self, data: &[u8], addr: SocketAddr) {
        if data.trim_ascii() == b"quit" {
            self.stop.set();
            return;
        }
        self.count += 1;
        if let Some(t) = &self.transport {
            let _ = t.sendto(data, Some(addr));
        }
    }

    fn error_received(&mut self, error: asyncio::Error) {
        eprintln!("udp-echo: {error}");
    }
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args
        .get(1)
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| asyncio::Error::msg("usage: udp-echo PORT [SECONDS]"))?;
    let seconds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(60);
    let stop = Event::new();
    let (transport, protocol) = get_running_loop()
        .create_datagram_endpoint(
            || Echo {
                transport: None,
                stop: stop.clone(),
                count: 0,
            },
            Some(("127.0.0.1", port)),
            None,
        )
        .await?;
    println!("listening on {}", transport.sockname().expect("bound"));
    if wait_for(Duration::from_secs(seconds), stop.wait())
        .await
        .is_err()
    {
        println!("time is up");
    }
    transport.close();
    println!("echoed {} datagrams", protocol.borrow().count);
    Ok(())
}

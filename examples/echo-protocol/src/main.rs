//! An echo server with a protocol: every byte a client sends comes back.
//! A line `quit` stops the server, as does the time limit. When a client
//! does not read its echoes, the transport's write buffer fills up and the
//! protocol stops reading from that client until it drains (flow control
//! with `pause_writing`/`resume_writing` and `pause_reading`).
//!
//! ```sh
//! aio run echo-protocol.wasm --allow-listen=127.0.0.1:8888 -- 8888 [SECONDS]
//! ```

use asyncio::transports::{BaseProtocol, Protocol, Transport};
use asyncio::{Event, get_running_loop, wait_for};
use std::time::Duration;

struct Echo {
    transport: Option<Transport>,
    /// The line being received, to spot `quit`.
    line: Vec<u8>,
    stop: Event,
}

impl BaseProtocol for Echo {
    fn connection_made(&mut self, transport: Transport) {
        self.transport = Some(transport);
    }

    fn pause_writing(&mut self) {
        if let Some(t) = &self.transport {
            t.pause_reading();
        }
    }

    fn resume_writing(&mut self) {
        if let Some(t) = &self.transport {
            t.resume_reading();
        }
    }

    fn connection_lost(&mut self, _error: Option<asyncio::Error>) {
        self.transport = None;
    }
}

impl Protocol for Echo {
    fn data_received(&mut self, data: &[u8]) {
        let Some(t) = &self.transport else { return };
        for &b in data {
            if b == b'\n' {
                if self.line.trim_ascii() == b"quit" {
                    self.stop.set();
                    t.close();
                    return;
                }
                self.line.clear();
            } else if self.line.len() < 16 {
                self.line.push(b);
            }
        }
        let _ = t.write(data);
    }
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args
        .get(1)
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| asyncio::Error::msg("usage: echo-protocol PORT [SECONDS]"))?;
    let seconds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(60);
    let stop = Event::new();
    let factory_stop = stop.clone();
    let server = get_running_loop()
        .create_server(
            move || Echo {
                transport: None,
                line: Vec::new(),
                stop: factory_stop.clone(),
            },
            "127.0.0.1",
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

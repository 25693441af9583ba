//! Echo server for the network benchmark, with a protocol: every
//! `data_received` is written back. Prints `listening on ADDR`, serves
//! until killed. Needs `--allow-listen=127.0.0.1:0`.
use asyncio::transports::{BaseProtocol, Protocol, Transport};

#[derive(Default)]
struct Echo(Option<Transport>);

impl BaseProtocol for Echo {
    fn connection_made(&mut self, transport: Transport) {
        self.0 = Some(transport);
    }

    fn connection_lost(&mut self, _error: Option<asyncio::Error>) {
        self.0 = None;
    }
}

impl Protocol for Echo {
    fn data_received(&mut self, data: &[u8]) {
        if let Some(t) = &self.0 {
            let _ = t.write(data);
        }
    }
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let server = asyncio::get_running_loop()
        .create_server(Echo::default, "127.0.0.1", 0)
        .await?;
    println!("listening on {}", server.sockets()[0]);
    use std::io::Write;
    std::io::stdout().flush().ok();
    server.serve_forever().await
}

//! A client for the echo servers: sends lines, checks each comes back,
//! and with `quit` asks the server to stop.
//!
//! ```sh
//! aio run echo-client.wasm --allow-net=127.0.0.1:8888 -- 8888 [LINES] [quit]
//! ```

use asyncio::{open_connection, wait_for};
use std::time::Duration;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args
        .get(1)
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| asyncio::Error::msg("usage: echo-client PORT [LINES] [quit]"))?;
    let lines: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
    let quit = args.iter().any(|a| a == "quit");
    let (mut reader, mut writer) = open_connection("127.0.0.1", port).await?;
    println!("connected to {}", writer.peername().expect("a socket"));
    for i in 0..lines {
        let line = format!("line {i} from echo-client\n");
        writer.write(line.as_bytes())?;
        let back = wait_for(Duration::from_secs(10), reader.readline()).await?;
        if back != line.as_bytes() {
            return Err(asyncio::Error::msg(format!(
                "sent {line:?}, got back {:?}",
                String::from_utf8_lossy(&back)
            )));
        }
    }
    println!("{lines} lines echoed");
    if quit {
        writer.write(b"quit\n")?;
    }
    writer.close();
    writer.wait_closed().await?;
    Ok(())
}

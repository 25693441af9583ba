//! A server for `aio run --instances N`: listens on 127.0.0.1:0, prints
//! `listening on ADDR`, and answers each client's line: `id` with this
//! instance's random id, `exit N` by exiting with status N.
use asyncio::{StreamReader, StreamWriter};
use std::hash::{BuildHasher, RandomState};

async fn client(mut r: StreamReader, mut w: StreamWriter, id: u64) -> asyncio::Result<()> {
    loop {
        let line = r.readline().await?;
        let line = String::from_utf8_lossy(&line);
        let line = line.trim();
        if line.is_empty() {
            return Ok(());
        }
        if let Some(code) = line.strip_prefix("exit ") {
            asyncio::exit(code.parse().unwrap_or(1));
        }
        w.write(format!("{id:016x}\n").as_bytes())?;
        w.drain().await?;
    }
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    // Different in every instance (WASI random seeds it).
    let id = RandomState::new().hash_one(0u8);
    let server = asyncio::start_server(move |r, w| client(r, w, id), "127.0.0.1", 0).await?;
    println!("listening on {}", server.sockets()[0]);
    use std::io::Write;
    std::io::stdout().flush().ok();
    server.serve_forever().await
}

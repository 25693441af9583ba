//! Opens connections to its own server and keeps them all: each one holds
//! a socket and its streams, so a small `--max-handles` runs out. Prints a
//! line per 10 connections; if it reaches 1,000 the limit did not bite.
use asyncio::{open_connection, start_server};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let server = start_server(
        |_reader, _writer| async move {
            asyncio::sleep(std::time::Duration::from_secs(60)).await?;
            Ok(())
        },
        "127.0.0.1",
        0,
    )
    .await?;
    let addr = server.sockets()[0];
    let mut kept = Vec::new();
    for n in 1..=1000 {
        kept.push(open_connection("127.0.0.1", addr.port()).await?);
        if n % 10 == 0 {
            println!("{n} connections");
        }
    }
    println!("no limit hit");
    Ok(())
}

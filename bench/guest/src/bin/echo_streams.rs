//! Echo server for the network benchmark, with streams: `read` what is
//! there (up to 64 KiB), write it back, drain. Prints `listening on ADDR`,
//! serves until killed. Needs `--allow-listen=127.0.0.1:0`.
#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let server = asyncio::start_server(
        |mut reader, mut writer| async move {
            loop {
                let data = reader.read(64 << 10).await?;
                if data.is_empty() {
                    return Ok(());
                }
                writer.write(&data)?;
                writer.drain().await?;
            }
        },
        "127.0.0.1",
        0,
    )
    .await?;
    println!("listening on {}", server.sockets()[0]);
    use std::io::Write;
    std::io::stdout().flush().ok();
    server.serve_forever().await
}

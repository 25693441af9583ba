//! TLS echo server for the TLS benchmark: as echo_streams, over TLS with
//! the host's identity `bench` (`aio run --allow-listen=127.0.0.1:0
//! --tls-cert=bench=CERT,KEY`). Prints `listening on ADDR`, serves until
//! killed.
use asyncio::ssl::SslContext;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let server = asyncio::start_server_ssl(
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
        &SslContext::server("bench"),
    )
    .await?;
    println!("listening on {}", server.sockets()[0]);
    use std::io::Write;
    std::io::stdout().flush().ok();
    server.serve_forever().await
}

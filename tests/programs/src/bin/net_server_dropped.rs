//! Dropping a `Server` leaves it serving, as asyncio's does (only `close`
//! stops it): clients that connect after the drop are served, one after
//! another.
use asyncio::{open_connection, start_server};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let server = start_server(
        |mut reader, mut writer| async move {
            let line = reader.readline().await?;
            writer.write(&line)?;
            writer.drain().await?;
            Ok(())
        },
        "127.0.0.1",
        0,
    )
    .await?;
    let port = server.sockets()[0].port();
    drop(server);
    for i in 0..3 {
        let (mut reader, mut writer) = open_connection("127.0.0.1", port).await?;
        writer.write(format!("client {i}\n").as_bytes())?;
        writer.drain().await?;
        let line = asyncio::wait_for(std::time::Duration::from_secs(10), reader.readline()).await?;
        println!("{}", String::from_utf8_lossy(&line).trim_end());
    }
    Ok(())
}

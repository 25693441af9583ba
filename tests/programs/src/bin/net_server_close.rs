//! Server.close with handlers still running: no new clients, the current
//! ones still served; close_clients ends them (their readers see EOF);
//! wait_closed returns once they are done.
use asyncio::{open_connection, sleep, start_server, wait_for};
use std::time::Duration;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let server = start_server(
        |mut reader, mut writer| async move {
            loop {
                let line = reader.readline().await?;
                if line.is_empty() {
                    println!("handler: EOF");
                    return Ok(());
                }
                writer.write(&line)?;
                writer.drain().await?;
            }
        },
        "127.0.0.1",
        0,
    )
    .await?;
    let port = server.sockets()[0].port();
    let (mut r1, mut w1) = open_connection("127.0.0.1", port).await?;
    w1.write(b"before\n")?;
    assert_eq!(r1.readline().await?, b"before\n");
    assert_eq!(server.client_count(), 1);

    server.close();
    assert!(!server.is_serving());
    // Listening stopped: a new client is refused.
    sleep(Duration::from_millis(20)).await?;
    let err = open_connection("127.0.0.1", port).await.unwrap_err();
    println!("new client after close: {:?}", err.kind());
    // The running handler still serves.
    w1.write(b"after close\n")?;
    assert_eq!(r1.readline().await?, b"after close\n");
    println!("existing client still served");
    // wait_closed waits for it.
    let waited = wait_for(Duration::from_millis(100), server.wait_closed()).await;
    assert!(waited.unwrap_err().is_timeout());
    server.close_clients();
    wait_for(Duration::from_secs(10), server.wait_closed()).await?;
    assert_eq!(server.client_count(), 0);
    // The client sees the connection end.
    assert!(r1.read_to_end().await?.is_empty());
    println!("closed");
    Ok(())
}

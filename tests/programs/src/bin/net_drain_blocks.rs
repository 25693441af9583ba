//! drain blocks while the peer does not read, and resumes when it does.
use asyncio::{ErrorKind, Event, open_connection, start_server, wait_for};
use std::time::Duration;

const TOTAL: usize = 16 << 20;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let go = Event::new();
    let server_go = go.clone();
    let server = start_server(
        move |mut reader, _writer| {
            let go = server_go.clone();
            async move {
                go.wait().await?;
                let all = reader.read_to_end().await?;
                println!("server read {} bytes", all.len());
                Ok(())
            }
        },
        "127.0.0.1",
        0,
    )
    .await?;
    let port = server.sockets()[0].port();
    let (_reader, mut writer) = open_connection("127.0.0.1", port).await?;
    writer.write(&vec![7u8; TOTAL])?;
    let err = wait_for(Duration::from_millis(300), writer.drain())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Timeout);
    let stuck = writer.get_write_buffer_size();
    assert!(
        stuck > 64 << 10,
        "only {stuck} bytes left: the peer cannot have taken them all"
    );
    println!("drain blocked while the peer did not read");
    go.set();
    wait_for(Duration::from_secs(20), writer.drain()).await?;
    assert!(writer.get_write_buffer_size() <= 16 << 10);
    println!("drain resumed once it read");
    writer.close();
    writer.wait_closed().await?;
    server.close();
    server.wait_closed().await?;
    Ok(())
}

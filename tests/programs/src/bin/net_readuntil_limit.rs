//! readuntil over the limit gives LimitOverrun and the data stay readable.
use asyncio::{ErrorKind, open_connection, start_server};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let server = start_server(
        |_reader, mut writer| async move {
            writer.write(&[b'x'; 100])?;
            writer.write(b"|tail\nshort\n")?;
            writer.drain().await?;
            Ok(())
        },
        "127.0.0.1",
        0,
    )
    .await?;
    let port = server.sockets()[0].port();
    let (reader, _writer) = open_connection("127.0.0.1", port).await?;
    let mut reader = reader.with_limit(16);
    let err = reader.readuntil(b"|").await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::LimitOverrun { .. }),
        "{err:?}"
    );
    println!("readuntil: {err}");
    let rest = reader.read_to_end().await?;
    println!(
        "still readable: {} bytes, ending {:?}",
        rest.len(),
        String::from_utf8_lossy(&rest[95..])
    );
    server.close();
    Ok(())
}

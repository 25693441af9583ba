//! readexactly at EOF gives IncompleteRead with the partial bytes; the
//! server's write_eof is a half-close: it still reads what we send after.
use asyncio::{ErrorKind, open_connection, start_server};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let server = start_server(
        |mut reader, mut writer| async move {
            writer.write(b"abc")?;
            writer.write_eof();
            let got = reader.readline().await?;
            // The reply cannot go back (we closed our side): print it.
            println!(
                "server got {:?} after its EOF",
                String::from_utf8_lossy(&got)
            );
            Ok(())
        },
        "127.0.0.1",
        0,
    )
    .await?;
    let port = server.sockets()[0].port();
    let (mut reader, mut writer) = open_connection("127.0.0.1", port).await?;
    let err = reader.readexactly(5).await.unwrap_err();
    match err.kind() {
        ErrorKind::IncompleteRead { partial, expected } => {
            println!(
                "IncompleteRead: partial {:?}, expected {expected:?}",
                String::from_utf8_lossy(partial)
            );
        }
        other => panic!("expected IncompleteRead, got {other:?}"),
    }
    assert!(reader.at_eof());
    writer.write(b"still open\n")?;
    writer.drain().await?;
    writer.close();
    writer.wait_closed().await?;
    server.close();
    server.wait_closed().await?;
    Ok(())
}

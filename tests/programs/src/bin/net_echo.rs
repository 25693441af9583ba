//! A streams echo server and a client in one guest, on loopback: lines go
//! out and come back; the addresses each side sees agree.
use asyncio::{open_connection, start_server};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let server = start_server(
        |mut reader, mut writer| async move {
            loop {
                let line = reader.readline().await?;
                if line.is_empty() {
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
    let addr = server.sockets()[0];
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");

    let (mut reader, mut writer) = open_connection("127.0.0.1", addr.port()).await?;
    assert_eq!(writer.peername(), Some(addr));
    assert!(writer.sockname().unwrap().ip().is_loopback());
    for i in 0..100 {
        writer.write(format!("line {i}\n").as_bytes())?;
    }
    writer.drain().await?;
    let mut n = 0;
    for i in 0..100 {
        let line = reader.readline().await?;
        assert_eq!(line, format!("line {i}\n").as_bytes());
        n += 1;
    }
    // A large payload, read back exactly.
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    writer.write(&big)?;
    writer.write(b"\n")?;
    // The writer's pump sends in the background while we read.
    let back = reader.readexactly(big.len() + 1).await?;
    writer.drain().await?;
    assert_eq!(&back[..big.len()], &big[..]);
    writer.close();
    writer.wait_closed().await?;
    assert!(
        reader.read_to_end().await?.is_empty(),
        "the server closed after our EOF"
    );
    server.close();
    server.wait_closed().await?;
    println!("echoed {n} lines and {} bytes", big.len());
    Ok(())
}

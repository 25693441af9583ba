//! Writes to a connection and returns from `main` at once, neither
//! closing the writer nor waiting for the bytes to go: what was written
//! still reaches the peer (the loop's shutdown writes out what the
//! program's tasks left), then the connection ends. argv[1]: the port of
//! the test's listener; argv[2]: how many bytes.
use asyncio::open_connection;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args[1].parse().expect("argv[1]: a port");
    let n: usize = args[2].parse().expect("argv[2]: a byte count");
    let (_reader, mut writer) = open_connection("127.0.0.1", port).await?;
    let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
    writer.write(&data)?;
    println!("wrote {n} bytes");
    // The writer is dropped here: it closes after its bytes.
    Ok(())
}

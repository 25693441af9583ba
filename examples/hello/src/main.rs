//! asyncio's hello world: print, sleep one second, print.
use std::time::Duration;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    println!("Hello ...");
    asyncio::sleep(Duration::from_secs(1)).await?;
    println!("... World!");
    Ok(())
}

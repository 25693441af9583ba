//! Sleeps (in the host) far longer than any test: only --timeout ends it.
use std::time::Duration;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    println!("going to sleep");
    asyncio::sleep(Duration::from_secs(1_000_000)).await?;
    println!("woke up");
    Ok(())
}

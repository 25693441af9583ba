//! The smallest program: print, sleep, print (the last line without a
//! newline must still appear).
#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    println!("hello");
    asyncio::sleep(std::time::Duration::from_millis(20)).await?;
    print!("world");
    Ok(())
}

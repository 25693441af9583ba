//! `main` returns an error: the status is 1 and the error is printed.
#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    println!("about to fail");
    Err(std::io::Error::other("deliberate failure from main"))?;
    Ok(())
}

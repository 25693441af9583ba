//! Prints its arguments, one per line, argv[0] first.
#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    for arg in std::env::args() {
        println!("{arg}");
    }
    Ok(())
}

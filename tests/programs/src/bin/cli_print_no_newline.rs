//! Output without a trailing newline must still reach the host.
#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    print!("no newline at the end");
    eprint!("nor here");
    Ok(())
}

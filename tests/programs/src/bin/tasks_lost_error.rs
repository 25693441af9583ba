//! A task that fails while nobody keeps its handle is reported on stderr
//! ("Task exception was never retrieved"), as asyncio does; the program
//! itself carries on. The host test checks stderr.
use test_programs::ms;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    drop(asyncio::create_named_task("doomed", async {
        Err::<(), _>(asyncio::Error::msg("nobody listens"))
    }));
    asyncio::sleep(ms(10)).await?;
    println!("still running");
    Ok(())
}

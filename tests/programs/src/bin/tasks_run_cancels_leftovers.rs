//! When main returns, the runner cancels the tasks still pending and waits
//! for their cleanup (which may await) before the program ends. The host
//! test checks the cleanup's output arrives after main's.
use test_programs::ms;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    for i in 0..3 {
        asyncio::create_task(async move {
            if let Err(e) = asyncio::sleep(ms(60_000)).await {
                asyncio::sleep(ms(10)).await?;
                println!("leftover {i} cleaned up");
                return Err(e);
            }
            Ok(())
        });
    }
    asyncio::sleep(ms(10)).await?;
    println!("main done");
    Ok(())
}

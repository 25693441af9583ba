//! An operation that swallows the timeout's cancellation and returns a value
//! gives that value (asyncio 3.12+), and the task is not left cancelling.
use test_programs::ms;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let v = asyncio::wait_for(ms(20), async {
        match asyncio::sleep(ms(10_000)).await {
            Err(e) if e.is_cancelled() => Ok("swallowed"),
            other => other.map(|_| "slept"),
        }
    })
    .await?;
    assert_eq!(v, "swallowed");
    assert_eq!(asyncio::current_task().unwrap().cancelling(), 0);
    asyncio::sleep(ms(5)).await?; // no stray cancellation left
    Ok(())
}

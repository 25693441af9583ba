//! Debug mode: a lock acquire built and dropped without being awaited is
//! reported on stderr, naming the task. The host test checks stderr.
use asyncio::sync::Lock;

#[asyncio::main(debug = true)]
async fn main() -> asyncio::Result<()> {
    let lock = Lock::new();
    asyncio::create_named_task("forgetful", async move {
        drop(lock.acquire());
        Ok(())
    })
    .await?;
    Ok(())
}

//! A task that finishes while a cancellation request is still undelivered
//! ends cancelled (asyncio's rule), not with its value.
#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let t = asyncio::create_task(async {
        asyncio::current_task().unwrap().cancel();
        Ok(5) // returns without awaiting anything
    });
    let r = t.await;
    assert!(r.unwrap_err().is_cancelled());
    Ok(())
}

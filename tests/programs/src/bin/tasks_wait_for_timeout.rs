//! wait_for on expiry cancels the inner operation, lets its cleanup await,
//! and only then returns Timeout.
use test_programs::{Log, ms};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let log = Log::new();
    let l = log.clone();
    let start = asyncio::Instant::now();
    let r = asyncio::wait_for(ms(30), async move {
        if let Err(e) = asyncio::sleep(ms(10_000)).await {
            l.push("inner cancelled");
            asyncio::sleep(ms(50)).await?; // cleanup that awaits
            l.push("inner cleanup done");
            return Err(e);
        }
        Ok(())
    })
    .await;
    log.push("wait_for returned");
    assert!(r.unwrap_err().is_timeout());
    assert!(
        start.elapsed() >= ms(80),
        "returned before the cleanup finished"
    );
    log.assert(&["inner cancelled", "inner cleanup done", "wait_for returned"]);
    assert_eq!(asyncio::current_task().unwrap().cancelling(), 0);
    Ok(())
}

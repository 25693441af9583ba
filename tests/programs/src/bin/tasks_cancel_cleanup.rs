//! Cancellation is delivered once: the cancelled task can await during its
//! cleanup; and cancel() on a finished task is false.
use test_programs::{Log, ms};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let log = Log::new();
    let l = log.clone();
    let t = asyncio::create_task(async move {
        if let Err(e) = asyncio::sleep(ms(10_000)).await {
            l.push("cancelled");
            asyncio::sleep(ms(20)).await?;
            asyncio::yield_now().await?;
            l.push("cleanup finished");
            return Err(e);
        }
        Ok(())
    });
    asyncio::sleep(ms(5)).await?;
    t.cancel();
    let r = t.await;
    assert!(r.unwrap_err().is_cancelled());
    log.assert(&["cancelled", "cleanup finished"]);

    let done = asyncio::create_task(async { Ok(1) });
    asyncio::yield_now().await?;
    assert!(done.done());
    assert!(!done.cancel());
    assert_eq!(done.cancelling(), 0);
    assert_eq!(done.result()?, 1);
    Ok(())
}

//! shield: cancelling the awaiter does not cancel the shielded operation,
//! which runs to the end.
use test_programs::{Log, ms};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let log = Log::new();
    let l = log.clone();
    let inner_done = asyncio::Future::<()>::new();
    let d = inner_done.clone();
    let outer = asyncio::create_task(async move {
        asyncio::shield(async move {
            asyncio::sleep(ms(50)).await?;
            l.push("shielded work finished");
            d.set_result(()).ok();
            Ok("saved")
        })
        .await
    });
    asyncio::sleep(ms(10)).await?;
    outer.cancel();
    let r = outer.await;
    assert!(r.unwrap_err().is_cancelled());
    log.push("outer cancelled");
    inner_done.clone().await?;
    log.assert(&["outer cancelled", "shielded work finished"]);
    // Not cancelled: the shield gives the value.
    assert_eq!(asyncio::shield(async { Ok(1) }).await?, 1);
    Ok(())
}

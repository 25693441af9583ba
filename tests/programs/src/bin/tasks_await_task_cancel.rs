//! A task cancelled while awaiting another task cancels that task too, then
//! gets its outcome.
use test_programs::ms;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let inner = asyncio::create_task(async { asyncio::sleep(ms(10_000)).await });
    let inner_ref = inner.task_ref();
    let outer = asyncio::create_task(inner);
    asyncio::sleep(ms(10)).await?;
    outer.cancel();
    let r = outer.await;
    assert!(r.unwrap_err().is_cancelled());
    assert!(inner_ref.cancelled());

    // Not cancelled: awaiting a task gives its value.
    let t = asyncio::create_task(async {
        asyncio::sleep(ms(5)).await?;
        Ok(9)
    });
    assert_eq!(asyncio::create_task(t).await?, 9);
    Ok(())
}

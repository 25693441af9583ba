//! as_completed yields results in completion order; with a timeout, the
//! next item after the deadline is Timeout and the stream ends.
use test_programs::ms;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let mut results = asyncio::as_completed([90u64, 10, 50].map(|d| async move {
        asyncio::sleep(ms(d)).await?;
        Ok(d)
    }));
    let mut order = Vec::new();
    while let Some(r) = results.next().await {
        order.push(r?);
    }
    assert_eq!(order, [10, 50, 90]);

    let mut results = asyncio::as_completed([10u64, 10_000].map(|d| async move {
        asyncio::sleep(ms(d)).await?;
        Ok(d)
    }))
    .timeout(ms(100));
    assert_eq!(results.next().await.unwrap()?, 10);
    assert!(results.next().await.unwrap().unwrap_err().is_timeout());
    assert!(results.next().await.is_none());
    Ok(())
}

//! gather gives results in argument order, not completion order.
use test_programs::ms;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let delays = [60u64, 10, 40, 0, 20];
    let results = asyncio::gather(delays.map(|d| async move {
        asyncio::sleep(ms(d)).await?;
        Ok(d)
    }))
    .await?;
    assert_eq!(results, delays);
    println!("{results:?}");
    Ok(())
}

//! wait_for passes the value (or the error) through when in time.
use test_programs::ms;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let v = asyncio::wait_for(ms(500), async {
        asyncio::sleep(ms(10)).await?;
        Ok(42)
    })
    .await?;
    assert_eq!(v, 42);
    let e = asyncio::wait_for(ms(500), async {
        Err::<(), _>(asyncio::Error::msg("inner error"))
    })
    .await
    .unwrap_err();
    assert_eq!(e.to_string(), "inner error");
    Ok(())
}

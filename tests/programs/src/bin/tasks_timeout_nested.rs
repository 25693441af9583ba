//! Nested timeouts: each turns only its own expiry into Timeout; a
//! cancellation from an outer timeout stays a cancellation inside.
use asyncio::{sleep, timeout};
use test_programs::ms;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let v = timeout(ms(2_000), async {
        let inner = timeout(ms(20), sleep(ms(10_000))).await;
        assert!(inner.unwrap_err().is_timeout(), "inner expired first");
        sleep(ms(10)).await?; // the outer is still fine
        Ok("outer survived")
    })
    .await?;
    assert_eq!(v, "outer survived");

    let r = timeout(ms(20), async {
        let inner = timeout(ms(2_000), sleep(ms(10_000))).await;
        let e = inner.unwrap_err();
        assert!(
            e.is_cancelled(),
            "the outer's expiry is a cancellation inside: {e}"
        );
        Err::<(), _>(e)
    })
    .await;
    assert!(r.unwrap_err().is_timeout());
    assert_eq!(asyncio::current_task().unwrap().cancelling(), 0);
    Ok(())
}

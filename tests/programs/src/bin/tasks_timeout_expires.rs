//! timeout() expires: Timeout error, expired() true, when() the deadline.
use test_programs::ms;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let cm = asyncio::Timeout::after(ms(20));
    let handle = cm.clone();
    assert!(!handle.expired());
    let r = cm.run(asyncio::sleep(ms(10_000))).await;
    assert!(r.unwrap_err().is_timeout());
    assert!(handle.expired());
    assert!(handle.when().is_some());
    assert!(
        handle.reschedule(None).is_err(),
        "cannot move an expired timeout"
    );
    let r = asyncio::timeout(ms(500), async { Ok(5) }).await?;
    assert_eq!(r, 5);
    Ok(())
}

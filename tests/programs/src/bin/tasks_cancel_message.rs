//! cancel_with(message): the task sees Cancelled carrying the message, and
//! so does whoever awaits it.
use test_programs::ms;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let t = asyncio::create_task(async {
        let e = asyncio::sleep(ms(10_000)).await.unwrap_err();
        assert_eq!(e.cancel_message(), Some("shutting down"));
        Err::<(), _>(e)
    });
    asyncio::sleep(ms(5)).await?;
    assert!(t.cancel_with("shutting down"));
    let e = t.await.unwrap_err();
    assert!(e.is_cancelled());
    assert_eq!(e.cancel_message(), Some("shutting down"));
    assert_eq!(e.to_string(), "cancelled: shutting down");
    Ok(())
}

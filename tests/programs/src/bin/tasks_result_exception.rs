//! result(), take_result() and exception() for pending, failed, cancelled
//! and finished tasks.
use asyncio::ErrorKind;
use test_programs::ms;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let t = asyncio::create_task(async {
        asyncio::sleep(ms(5)).await?;
        Err::<u32, _>(asyncio::Error::msg("bad"))
    });
    assert!(matches!(
        t.result().unwrap_err().kind(),
        ErrorKind::InvalidState(_)
    ));
    assert!(matches!(
        t.exception().unwrap_err().kind(),
        ErrorKind::InvalidState(_)
    ));
    asyncio::sleep(ms(20)).await?;
    assert_eq!(t.exception()?.unwrap().to_string(), "bad");
    assert_eq!(t.result().unwrap_err().to_string(), "bad");

    let c = asyncio::create_task(async { asyncio::sleep(ms(10_000)).await });
    c.cancel();
    asyncio::yield_now().await?;
    asyncio::yield_now().await?;
    assert!(c.cancelled());
    assert!(c.exception().unwrap_err().is_cancelled());

    let ok = asyncio::create_task(async { Ok(String::from("value")) });
    asyncio::yield_now().await?;
    assert_eq!(ok.exception()?, None);
    assert_eq!(ok.result()?, "value");
    assert_eq!(ok.take_result()?, "value");
    assert!(matches!(
        ok.take_result().unwrap_err().kind(),
        ErrorKind::InvalidState(_)
    ));
    Ok(())
}

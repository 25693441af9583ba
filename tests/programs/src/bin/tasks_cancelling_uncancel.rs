//! cancelling() counts requests, uncancel() removes one; at zero an
//! undelivered request is withdrawn.
use test_programs::ms;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let t = asyncio::create_task(async {
        let me = asyncio::current_task().unwrap();
        let r = asyncio::sleep(ms(10_000)).await;
        assert!(r.unwrap_err().is_cancelled());
        assert_eq!(me.cancelling(), 2);
        assert_eq!(me.uncancel(), 1);
        assert_eq!(me.uncancel(), 0);
        // Withdrawn: this sleep completes.
        asyncio::sleep(ms(10)).await?;
        Ok("survived")
    });
    asyncio::sleep(ms(5)).await?;
    assert!(t.cancel());
    assert!(t.cancel());
    assert_eq!(t.cancelling(), 2);
    assert_eq!(t.await?, "survived");

    // uncancel to zero before delivery withdraws the request.
    let me = asyncio::current_task().unwrap();
    me.cancel();
    assert_eq!(me.uncancel(), 0);
    asyncio::sleep(ms(1)).await?;
    Ok(())
}

//! A get cancelled (here by a timeout) loses no item: what is put later is
//! still there for the next get.
use asyncio::Queue;
use test_programs::ms;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let q: Queue<&str> = Queue::new(0);
    let r = asyncio::wait_for(ms(5), q.get()).await;
    assert!(r.unwrap_err().is_timeout());
    // A getter woken by a put and cancelled before it runs passes the
    // wake-up on.
    let a = {
        let q = q.clone();
        asyncio::create_task(async move { q.get().await })
    };
    let b = {
        let q = q.clone();
        asyncio::create_task(async move { q.get().await })
    };
    asyncio::yield_now().await?;
    q.put_nowait("item").unwrap();
    a.cancel();
    assert!(a.await.unwrap_err().is_cancelled());
    assert_eq!(b.await?, "item");
    q.put_nowait("kept").unwrap();
    assert_eq!(q.get().await?, "kept");
    Ok(())
}

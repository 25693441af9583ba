//! Barrier: the parties are released together with distinct arrival
//! indexes; abort breaks the waiters (BrokenBarrier), reset repairs it.
use asyncio::ErrorKind;
use asyncio::sync::Barrier;
use test_programs::ms;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let barrier = Barrier::new(3);
    let tasks: Vec<_> = (0..3u64)
        .map(|i| {
            let b = barrier.clone();
            asyncio::create_task(async move {
                asyncio::sleep(ms(i * 3)).await?;
                b.wait().await
            })
        })
        .collect();
    let mut idx = asyncio::gather(tasks).await?;
    idx.sort();
    assert_eq!(idx, [0, 1, 2]);

    let waiter = {
        let b = barrier.clone();
        asyncio::create_task(async move { b.wait().await })
    };
    asyncio::sleep(ms(2)).await?;
    assert_eq!(barrier.n_waiting(), 1);
    barrier.abort();
    assert_eq!(waiter.await.unwrap_err().kind(), &ErrorKind::BrokenBarrier);
    assert!(barrier.broken());
    assert_eq!(
        barrier.wait().await.unwrap_err().kind(),
        &ErrorKind::BrokenBarrier
    );
    barrier.reset();
    assert!(!barrier.broken());
    println!("barrier ok");
    Ok(())
}

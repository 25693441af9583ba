//! shutdown(immediate=True) wakes blocked getters and putters with
//! QueueShutDown and releases join; shutdown() lets getters drain first.
use asyncio::queues::PutError;
use asyncio::{ErrorKind, Queue};
use test_programs::ms;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let full = Queue::new(1);
    full.put_nowait(0).unwrap();
    let empty: Queue<i32> = Queue::new(0);
    let putter = {
        let q = full.clone();
        asyncio::create_task(async move { q.put(1).await })
    };
    let getter = {
        let q = empty.clone();
        asyncio::create_task(async move { q.get().await })
    };
    let joiner = {
        let q = full.clone();
        asyncio::create_task(async move { q.join().await })
    };
    asyncio::sleep(ms(2)).await?;
    full.shutdown(true);
    empty.shutdown(true);
    assert_eq!(putter.await.unwrap_err().kind(), &ErrorKind::QueueShutDown);
    assert_eq!(getter.await.unwrap_err().kind(), &ErrorKind::QueueShutDown);
    joiner.await?;
    assert!(matches!(full.put_nowait(5), Err(PutError::ShutDown(5))));

    let q = Queue::new(0);
    q.put_nowait(1).unwrap();
    q.shutdown(false);
    assert_eq!(q.get().await?, 1);
    assert_eq!(q.get().await.unwrap_err().kind(), &ErrorKind::QueueShutDown);
    println!("shutdown ok");
    Ok(())
}

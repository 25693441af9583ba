//! Queue(maxsize=1): a put blocks while the queue is full, until a get.
use asyncio::Queue;
use test_programs::{Log, ms};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let q = Queue::new(1);
    let log = Log::new();
    let producer = {
        let (q, log) = (q.clone(), log.clone());
        asyncio::create_task(async move {
            for i in 0..3 {
                q.put(i).await?;
                log.push(format!("put {i}"));
            }
            Ok(())
        })
    };
    asyncio::sleep(ms(5)).await?;
    log.assert(&["put 0"]);
    assert!(q.full());
    for expected in 0..3 {
        assert_eq!(q.get().await?, expected);
        asyncio::sleep(ms(1)).await?;
    }
    producer.await?;
    log.assert(&["put 0", "put 1", "put 2"]);
    Ok(())
}

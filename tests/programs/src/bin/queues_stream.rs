//! A queue consumed as a Stream: every item in order, then the end once the
//! producer shuts the queue down.
use asyncio::Queue;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let q = Queue::new(4);
    let producer = {
        let q = q.clone();
        asyncio::create_task(async move {
            for i in 0..100 {
                q.put(i).await?;
            }
            q.shutdown(false);
            Ok(())
        })
    };
    let mut items = q.stream();
    let mut got = Vec::new();
    while let Some(item) = items.next().await {
        got.push(item?);
    }
    producer.await?;
    assert_eq!(got, (0..100).collect::<Vec<_>>());
    println!("{} items", got.len());
    Ok(())
}

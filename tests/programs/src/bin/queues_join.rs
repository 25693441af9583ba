//! join waits until every item put has been marked done; one task_done too
//! many is an error.
use asyncio::{ErrorKind, Queue};
use test_programs::ms;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let q = Queue::new(0);
    for i in 0..5 {
        q.put_nowait(i).unwrap();
    }
    let worker = {
        let q = q.clone();
        asyncio::create_task(async move {
            let mut sum = 0;
            for _ in 0..5 {
                sum += q.get().await?;
                asyncio::sleep(ms(1)).await?;
                q.task_done()?;
            }
            Ok(sum)
        })
    };
    q.join().await?;
    assert!(q.empty());
    assert_eq!(worker.await?, 10);
    assert!(matches!(
        q.task_done().unwrap_err().kind(),
        ErrorKind::Value(_)
    ));
    Ok(())
}

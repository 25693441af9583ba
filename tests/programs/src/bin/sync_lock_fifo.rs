//! Lock waiters get the lock in arrival order, one at a time, across real
//! sleeps; a waiter cancelled while queued never gets it.
use asyncio::sync::Lock;
use test_programs::{Log, ms};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let lock = Lock::new();
    let log = Log::new();
    let first = lock.acquire().await?;
    let mut tasks = Vec::new();
    for name in ["a", "b", "c", "d"] {
        let (lock, log) = (lock.clone(), log.clone());
        tasks.push(asyncio::create_task(async move {
            let _g = lock.acquire().await?;
            log.push(format!("{name} in"));
            asyncio::sleep(ms(5)).await?;
            log.push(format!("{name} out"));
            Ok(())
        }));
        asyncio::yield_now().await?;
    }
    tasks[2].cancel(); // `c`, still queued
    asyncio::sleep(ms(5)).await?;
    drop(first);
    for t in tasks {
        let _ = t.await;
    }
    log.assert(&["a in", "a out", "b in", "b out", "d in", "d out"]);
    assert!(!lock.locked());
    Ok(())
}

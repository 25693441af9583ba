//! A waiter that is handed the lock and cancelled before it runs passes
//! the lock on: the next waiter gets it and the lock ends free.
use asyncio::sync::Lock;
use test_programs::Log;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let lock = Lock::new();
    let log = Log::new();
    let held = lock.acquire().await?;
    let spawn = |name: &'static str| {
        let (lock, log) = (lock.clone(), log.clone());
        asyncio::create_task(async move {
            let _g = lock.acquire().await?;
            log.push(name);
            Ok(())
        })
    };
    let a = spawn("a");
    let b = spawn("b");
    asyncio::yield_now().await?;
    drop(held); // handed to `a` ...
    a.cancel(); // ... which never takes it
    assert!(a.await.unwrap_err().is_cancelled());
    b.await?;
    log.assert(&["b"]);
    assert!(!lock.locked());
    Ok(())
}

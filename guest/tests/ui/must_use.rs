//! A guard, permit or handle whose drop releases or closes something, left
//! unused: each statement below must be an `unused_must_use` error (see
//! must_use.stderr). The bound and explicit forms at the end must not be.
#![deny(unused_must_use)]

use asyncio::subprocess::{Options, create_subprocess_exec};
use asyncio::sync::{BoundedSemaphore, Condition, Lock, Semaphore};
use asyncio::testing::TestLoop;

async fn released_at_once(
    lock: Lock,
    sem: Semaphore,
    bounded: BoundedSemaphore,
    cond: Condition,
) -> asyncio::Result<()> {
    lock.acquire().await?;
    sem.acquire().await?;
    bounded.acquire().await?;
    cond.acquire().await?;
    lock.try_acquire();
    sem.try_acquire();
    Ok(())
}

async fn closed_at_once() -> asyncio::Result<()> {
    asyncio::open_connection("127.0.0.1", 8888).await?;
    create_subprocess_exec("true", Vec::<String>::new(), Options::new()).await?;
    TestLoop::new();
    Ok(())
}

async fn held_or_released_explicitly(lock: Lock, sem: Semaphore) -> asyncio::Result<()> {
    let _guard = lock.acquire().await?;
    let permit = sem.acquire().await?;
    permit.release();
    sem.acquire().await?.forget();
    sem.release()?;
    drop(_guard);
    lock.acquire().await?.release();
    if let Some(guard) = lock.try_acquire() {
        guard.release();
    }
    Ok(())
}

fn main() {
    let (lock, sem) = (Lock::new(), Semaphore::new(1));
    let _ = released_at_once(
        lock.clone(),
        sem.clone(),
        BoundedSemaphore::new(1),
        Condition::new(),
    );
    let _ = closed_at_once();
    let _ = held_or_released_explicitly(lock, sem);
}

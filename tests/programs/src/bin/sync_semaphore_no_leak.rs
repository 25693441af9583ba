//! A semaphore permit handed to a waiter that is then cancelled is not
//! leaked; and a worker pool never runs more than the limit at once.
use std::cell::Cell;
use std::rc::Rc;

use asyncio::sync::Semaphore;
use test_programs::ms;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let sem = Semaphore::new(1);
    let permit = sem.acquire().await?;
    let a = {
        let sem = sem.clone();
        asyncio::create_task(async move { sem.acquire().await.map(drop) })
    };
    let b = {
        let sem = sem.clone();
        asyncio::create_task(async move { sem.acquire().await.map(drop) })
    };
    asyncio::yield_now().await?;
    drop(permit);
    a.cancel();
    assert!(a.await.unwrap_err().is_cancelled());
    b.await?;
    assert_eq!(sem.value(), 1);

    let limit = Semaphore::new(3);
    let running = Rc::new(Cell::new(0));
    let peak = Rc::new(Cell::new(0));
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (limit, running, peak) = (limit.clone(), running.clone(), peak.clone());
            asyncio::create_task(async move {
                let _p = limit.acquire().await?;
                running.set(running.get() + 1);
                peak.set(peak.get().max(running.get()));
                asyncio::sleep(ms(1 + i % 3)).await?;
                running.set(running.get() - 1);
                Ok(())
            })
        })
        .collect();
    asyncio::gather(tasks).await?;
    assert_eq!(peak.get(), 3);
    assert_eq!(limit.value(), 3);
    println!("peak {}", peak.get());
    Ok(())
}

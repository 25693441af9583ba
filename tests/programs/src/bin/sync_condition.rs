//! Condition: notify(1) wakes exactly one waiter, notify_all the rest; the
//! waiters hold the lock again when they return.
use asyncio::sync::Condition;
use test_programs::{Log, ms};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let cond = Condition::new();
    let log = Log::new();
    let waiters: Vec<_> = (0..3)
        .map(|i| {
            let (cond, log) = (cond.clone(), log.clone());
            asyncio::create_task(async move {
                let mut g = cond.acquire().await?;
                cond.wait(&mut g).await?;
                assert!(cond.locked());
                log.push(format!("woke {i}"));
                Ok(())
            })
        })
        .collect();
    asyncio::sleep(ms(2)).await?;
    {
        let _g = cond.acquire().await?;
        cond.notify(1)?;
    }
    asyncio::sleep(ms(2)).await?;
    log.assert(&["woke 0"]);
    {
        let _g = cond.acquire().await?;
        cond.notify_all()?;
    }
    asyncio::gather(waiters).await?;
    log.assert(&["woke 0", "woke 1", "woke 2"]);
    assert!(cond.notify(1).is_err(), "notify without the lock");
    Ok(())
}

//! Event: set wakes every waiter; clear makes later waits block again.
use asyncio::sync::Event;
use test_programs::{Log, ms};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let ev = Event::new();
    let log = Log::new();
    let waiters: Vec<_> = (0..3)
        .map(|i| {
            let (ev, log) = (ev.clone(), log.clone());
            asyncio::create_task(async move {
                ev.wait().await?;
                log.push(format!("woke {i}"));
                Ok(())
            })
        })
        .collect();
    asyncio::sleep(ms(5)).await?;
    log.assert(&[]);
    ev.set();
    assert!(ev.is_set());
    asyncio::gather(waiters).await?;
    log.assert(&["woke 0", "woke 1", "woke 2"]);
    ev.clear();
    let r = asyncio::wait_for(ms(10), ev.wait()).await;
    assert!(r.unwrap_err().is_timeout(), "cleared: wait blocks");
    Ok(())
}

//! Cancelling the task that runs a TaskGroup cancels every child; the group
//! waits for them and propagates the cancellation (not an error group).
use asyncio::{TaskGroup, sleep};
use test_programs::{Log, ms};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let log = Log::new();
    let l = log.clone();
    let runner = asyncio::create_task(async move {
        let l2 = l.clone();
        let r: asyncio::Result<()> = TaskGroup::run(|tg| async move {
            let l = l2;
            for i in 0..3 {
                let l = l.clone();
                tg.create_task(async move {
                    if let Err(e) = sleep(ms(10_000)).await {
                        sleep(ms(10)).await?; // cleanup, awaited by the group
                        l.push(format!("child {i} cleaned up"));
                        return Err(e);
                    }
                    Ok(())
                })?;
            }
            sleep(ms(10_000)).await
        })
        .await;
        l.push("group exited");
        r
    });
    sleep(ms(30)).await?;
    runner.cancel();
    let r = runner.await;
    assert!(r.unwrap_err().is_cancelled());
    let events = log.events();
    assert_eq!(events.len(), 4);
    assert_eq!(events[3], "group exited");
    Ok(())
}

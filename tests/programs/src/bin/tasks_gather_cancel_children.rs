//! Cancelling the task that awaits a gather cancels every child; the gather
//! (and so the task) ends cancelled.
use test_programs::{Log, ms};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let log = Log::new();
    let l = log.clone();
    let outer = asyncio::create_task(async move {
        asyncio::gather((0..3).map(|i| {
            let l = l.clone();
            async move {
                match asyncio::sleep(ms(10_000)).await {
                    Err(e) => {
                        l.push(format!("child {i} cancelled"));
                        Err(e)
                    }
                    Ok(()) => Ok(i),
                }
            }
        }))
        .await
    });
    asyncio::sleep(ms(20)).await?;
    outer.cancel();
    let r = outer.await;
    assert!(r.unwrap_err().is_cancelled());
    let mut events = log.events();
    events.sort();
    assert_eq!(
        events,
        [
            "child 0 cancelled",
            "child 1 cancelled",
            "child 2 cancelled"
        ]
    );
    Ok(())
}

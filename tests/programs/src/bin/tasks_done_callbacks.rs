//! Done callbacks run (via call_soon) after the task finishes, in the order
//! added; a removed one does not run; one added to a done task still runs.
use test_programs::{Log, ms};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let log = Log::new();
    let t = asyncio::create_task(async {
        asyncio::sleep(ms(10)).await?;
        Ok(1)
    });
    let (a, b, c) = (log.clone(), log.clone(), log.clone());
    t.add_done_callback(move |t| a.push(format!("first: done={}", t.done())));
    let id = t.add_done_callback(move |_| b.push("removed"));
    t.add_done_callback(move |_| c.push("second"));
    assert_eq!(t.remove_done_callback(id), 1);
    assert_eq!(t.remove_done_callback(id), 0);
    let r = t.task_ref();
    assert_eq!(t.await?, 1);
    asyncio::yield_now().await?;
    let d = log.clone();
    r.add_done_callback(move |_| d.push("late"));
    asyncio::yield_now().await?;
    log.assert(&["first: done=true", "second", "late"]);
    Ok(())
}

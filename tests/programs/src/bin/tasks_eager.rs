//! With eager tasks, create_task runs the task's first step before it
//! returns; a task that finishes in that step is done at once.
use test_programs::Log;

#[asyncio::main(eager_tasks = true)]
async fn main() -> asyncio::Result<()> {
    let log = Log::new();
    let l = log.clone();
    let t = asyncio::create_task(async move {
        l.push("child step 1");
        asyncio::yield_now().await?;
        l.push("child step 2");
        Ok(())
    });
    log.push("create_task returned");
    t.await?;
    log.assert(&["child step 1", "create_task returned", "child step 2"]);
    let quick = asyncio::create_task(async { Ok(3) });
    assert!(quick.done());
    assert_eq!(quick.result()?, 3);
    Ok(())
}

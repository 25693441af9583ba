//! yield_now (sleep(0)) lets every other ready task run once: two busy
//! tasks interleave step by step.
use test_programs::Log;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let log = Log::new();
    let tasks: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|name| {
            let l = log.clone();
            asyncio::create_task(async move {
                for i in 0..3 {
                    l.push(format!("{name}{i}"));
                    asyncio::yield_now().await?;
                }
                Ok(())
            })
        })
        .collect();
    asyncio::gather(tasks).await?;
    log.assert(&["a0", "b0", "a1", "b1", "a2", "b2"]);
    Ok(())
}

//! gather returns the first error as soon as it happens; the other children
//! are not cancelled and run to the end.
use test_programs::{Log, ms};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let log = Log::new();
    let (l1, l2) = (log.clone(), log.clone());
    let start = asyncio::Instant::now();
    let slow = asyncio::create_task(async move {
        asyncio::sleep(ms(300)).await?;
        l1.push("slow finished");
        Ok(())
    });
    let slow_ref = slow.task_ref();
    let failing = async move {
        asyncio::sleep(ms(20)).await?;
        l2.push("failing");
        Err::<(), _>(asyncio::Error::msg("boom"))
    };
    let r = asyncio::gather([
        Box::pin(failing)
            as std::pin::Pin<Box<dyn std::future::Future<Output = asyncio::Result<()>>>>,
        Box::pin(slow),
    ])
    .await;
    assert_eq!(r.unwrap_err().to_string(), "boom");
    assert!(
        start.elapsed() < ms(250),
        "the error did not wait for the slow child"
    );
    assert!(!slow_ref.done() && !slow_ref.cancelled());
    asyncio::sleep(ms(400)).await?;
    log.assert(&["failing", "slow finished"]);
    Ok(())
}

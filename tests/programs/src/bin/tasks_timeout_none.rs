//! timeout_at(None) never expires until rescheduled to a deadline.
use asyncio::{Instant, sleep, timeout_at};
use test_programs::ms;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    timeout_at(None, sleep(ms(30))).await?;
    let fut = timeout_at(None, sleep(ms(10_000)));
    let h = fut.handle();
    let r = asyncio::gather!(fut, async move {
        sleep(ms(20)).await?;
        h.reschedule(Some(Instant::now()))?;
        Ok(())
    })
    .await;
    // The timeout runs inside gather's child task: that task times out.
    assert!(r.unwrap_err().is_timeout());
    Ok(())
}

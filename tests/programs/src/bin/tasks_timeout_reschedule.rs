//! A running timeout can be moved later, earlier, or removed.
use asyncio::{Instant, Timeout, sleep};
use test_programs::ms;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    // Pushed later: the 60 ms sleep completes under a 20 ms timeout.
    let cm = Timeout::after(ms(20));
    let h = cm.clone();
    cm.run(async move {
        h.reschedule(Some(Instant::now() + ms(1000)))?;
        sleep(ms(60)).await
    })
    .await?;

    // Brought earlier: expires at about 30 ms instead of 10 s.
    let start = Instant::now();
    let cm = Timeout::after(ms(10_000));
    let h = cm.clone();
    let r = cm
        .run(async move {
            h.reschedule(Some(Instant::now() + ms(30)))?;
            sleep(ms(5_000)).await
        })
        .await;
    assert!(r.unwrap_err().is_timeout());
    assert!(start.elapsed() < ms(2_000));

    // Removed: never expires.
    let cm = Timeout::after(ms(10));
    let h = cm.clone();
    cm.run(async move {
        h.reschedule(None)?;
        assert_eq!(h.when(), None);
        sleep(ms(40)).await
    })
    .await?;
    Ok(())
}

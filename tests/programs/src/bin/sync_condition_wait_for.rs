//! Condition.wait_for re-checks its predicate after every notification: a
//! consumer waits for the count to reach 3 while a producer notifies at each
//! step.
use std::cell::Cell;
use std::rc::Rc;

use asyncio::sync::Condition;
use test_programs::ms;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let cond = Condition::new();
    let count = Rc::new(Cell::new(0));
    let checks = Rc::new(Cell::new(0));
    let consumer = {
        let (cond, count, checks) = (cond.clone(), count.clone(), checks.clone());
        asyncio::create_task(async move {
            let mut g = cond.acquire().await?;
            cond.wait_for(&mut g, || {
                checks.set(checks.get() + 1);
                count.get() >= 3
            })
            .await?;
            Ok(count.get())
        })
    };
    for _ in 0..3 {
        asyncio::sleep(ms(1)).await?;
        let _g = cond.acquire().await?;
        count.set(count.get() + 1);
        cond.notify_all()?;
    }
    assert_eq!(consumer.await?, 3);
    assert_eq!(checks.get(), 4);
    Ok(())
}

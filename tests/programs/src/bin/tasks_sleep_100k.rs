//! 100,000 concurrent sleeps all fire, none early, and those registered
//! before their deadline fire in deadline order (ties in creation order),
//! with one host clock wait at a time.
//!
//! Phase 1: deadlines 1 s + random 0-100 ms away, so every sleep is
//! registered (its task's first step ran) long before any is due: the order
//! must be exactly the deadline order. Phase 2: random 0-100 ms, due while
//! the tasks are still starting: a sleep registered after its deadline
//! fires at once, so only "never early, all fired" holds there.
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use asyncio::Instant;

const N: u32 = 100_000;

/// Runs N sleeps to `offset + random(0..100 ms)`; returns (deadline, task
/// index, woke at) in wake-up order.
async fn sleeps(offset: Duration, seed: u64) -> asyncio::Result<Vec<(Instant, u32, Instant)>> {
    let woken = Rc::new(RefCell::new(Vec::with_capacity(N as usize)));
    let mut seed = seed;
    let start = Instant::now();
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let deadline = start + offset + Duration::from_micros(seed % 100_000);
            let w = woken.clone();
            asyncio::create_task(async move {
                asyncio::sleep_until(deadline).await?;
                w.borrow_mut().push((deadline, i, Instant::now()));
                Ok(())
            })
        })
        .collect();
    asyncio::yield_now().await?; // every task has had its first step
    let registered = start.elapsed();
    asyncio::gather(tasks).await?;
    println!(
        "{N} sleeps (+{offset:?}): registered in {registered:?}, done in {:?}",
        start.elapsed()
    );
    if !offset.is_zero() {
        assert!(
            registered < offset,
            "setup took {registered:?}: the premise of phase 1 failed"
        );
    }
    Ok(Rc::try_unwrap(woken).expect("all tasks done").into_inner())
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let woken = sleeps(Duration::from_secs(1), 0x2545_f491_4f6c_dd1d).await?;
    assert_eq!(woken.len(), N as usize);
    assert!(
        woken.iter().all(|(deadline, _, at)| at >= deadline),
        "a sleep woke early"
    );
    assert!(
        woken
            .windows(2)
            .all(|w| (w[0].0, w[0].1) <= (w[1].0, w[1].1)),
        "fired out of deadline order"
    );

    let woken = sleeps(Duration::ZERO, 0x9e37_79b9_7f4a_7c15).await?;
    assert_eq!(woken.len(), N as usize);
    assert!(
        woken.iter().all(|(deadline, _, at)| at >= deadline),
        "a sleep woke early"
    );
    Ok(())
}

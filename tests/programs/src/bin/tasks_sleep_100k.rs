//! 100,000 concurrent sleeps (random 0-100 ms) all fire, in deadline order
//! (ties in creation order), with one host clock wait at a time.
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    const N: u32 = 100_000;
    let woken = Rc::new(RefCell::new(Vec::with_capacity(N as usize)));
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let start = asyncio::Instant::now();
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let delay = Duration::from_micros(seed % 100_000);
            let deadline = start + delay;
            let w = woken.clone();
            asyncio::create_task(async move {
                asyncio::sleep_until(deadline).await?;
                w.borrow_mut().push((deadline, i));
                Ok(())
            })
        })
        .collect();
    asyncio::gather(tasks).await?;
    let woken = woken.borrow();
    assert_eq!(woken.len(), N as usize);
    assert!(
        woken.windows(2).all(|w| w[0] <= w[1]),
        "fired out of deadline order"
    );
    println!("100000 sleeps in {:?}", start.elapsed());
    Ok(())
}

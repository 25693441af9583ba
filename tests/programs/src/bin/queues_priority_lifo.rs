//! PriorityQueue gives the smallest first; LifoQueue the last first.
use asyncio::{LifoQueue, PriorityQueue};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let pq = PriorityQueue::new(0);
    for item in [(3, "c"), (1, "a"), (2, "b")] {
        pq.put(item).await?;
    }
    let mut out = Vec::new();
    while !pq.empty() {
        out.push(pq.get().await?.1);
    }
    assert_eq!(out, ["a", "b", "c"]);
    let lq = LifoQueue::new(0);
    for i in 1..=3 {
        lq.put(i).await?;
    }
    let out: Vec<i32> = vec![lq.get().await?, lq.get().await?, lq.get().await?];
    assert_eq!(out, [3, 2, 1]);
    println!("{out:?}");
    Ok(())
}

//! 1,000 tasks each acquiring a semaphore of 10 a hundred times (holding
//! it across a yield), in an asyncio-wasm guest. Prints one JSON line.
use asyncio::Semaphore;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let tasks: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000);
    let rounds = 100;
    let sem = Semaphore::new(10);
    let start = asyncio::Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let sem = sem.clone();
            asyncio::create_task(async move {
                for _ in 0..rounds {
                    let _permit = sem.acquire().await?;
                    asyncio::yield_now().await?;
                }
                Ok(())
            })
        })
        .collect();
    for h in handles {
        h.await?;
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(sem.value(), 10);
    let acquires = tasks * rounds;
    println!(
        "{{\"acquires\": {acquires}, \"seconds\": {secs:.6}, \"acquires_per_s\": {:.0}}}",
        acquires as f64 / secs
    );
    Ok(())
}

//! 1,000,000 trivial tasks created, then awaited, in an asyncio-wasm guest.
//! Prints one JSON line (the same shape as bench/native).

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let start = asyncio::Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|i| asyncio::create_task(async move { Ok(i) }))
        .collect();
    let mut sum = 0u64;
    for t in tasks {
        sum += t.await?;
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(sum, n * (n - 1) / 2);
    println!(
        "{{\"tasks\": {n}, \"seconds\": {secs:.6}, \"tasks_per_s\": {:.0}}}",
        n as f64 / secs
    );
    Ok(())
}

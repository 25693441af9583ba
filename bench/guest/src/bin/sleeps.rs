//! 100,000 concurrent sleeps of random 0-100 ms in an asyncio-wasm guest:
//! wall time until all woke, and lateness (wake-up time - deadline).
use std::time::Duration;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let start = asyncio::Instant::now();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let deadline = start + Duration::from_micros(seed % 100_000);
            asyncio::create_task(async move {
                asyncio::sleep_until(deadline).await?;
                Ok(asyncio::Instant::now() - deadline)
            })
        })
        .collect();
    let mut total = Duration::ZERO;
    let mut worst = Duration::ZERO;
    for t in tasks {
        let late = t.await?;
        total += late;
        worst = worst.max(late);
    }
    let wall = start.elapsed();
    println!(
        "{{\"sleeps\": {n}, \"wall_ms\": {:.3}, \"mean_late_ms\": {:.3}, \"max_late_ms\": {:.3}}}",
        wall.as_secs_f64() * 1e3,
        total.as_secs_f64() * 1e3 / n as f64,
        worst.as_secs_f64() * 1e3
    );
    Ok(())
}

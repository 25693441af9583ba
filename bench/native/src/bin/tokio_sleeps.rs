//! 100,000 concurrent sleeps of random 0-100 ms on tokio current_thread:
//! wall time until all woke, and lateness (wake-up time - deadline).
use std::time::{Duration, Instant};

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let start = Instant::now();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let handles: Vec<_> = (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let deadline = start + Duration::from_micros(seed % 100_000);
                tokio::spawn(async move {
                    tokio::time::sleep_until(deadline.into()).await;
                    Instant::now().duration_since(deadline)
                })
            })
            .collect();
        let mut total = Duration::ZERO;
        let mut worst = Duration::ZERO;
        for h in handles {
            let late = h.await.unwrap();
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
    });
}

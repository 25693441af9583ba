//! 1,000,000 trivial tasks spawned, then awaited, on tokio current_thread.
//! Prints one JSON line.
use std::time::Instant;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let start = Instant::now();
        let handles: Vec<_> = (0..n).map(|i| tokio::spawn(async move { i })).collect();
        let mut sum = 0u64;
        for h in handles {
            sum += h.await.unwrap();
        }
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(sum, n * (n - 1) / 2);
        println!(
            "{{\"tasks\": {n}, \"seconds\": {secs:.6}, \"tasks_per_s\": {:.0}}}",
            n as f64 / secs
        );
    });
}

//! 1,000 tasks each acquiring a tokio Semaphore of 10 a hundred times
//! (holding it across a yield), on tokio current_thread. Prints one JSON
//! line.
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;

fn main() {
    let tasks: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000);
    let rounds = 100;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let sem = Arc::new(Semaphore::new(10));
        let start = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                let sem = sem.clone();
                tokio::spawn(async move {
                    for _ in 0..rounds {
                        let _permit = sem.acquire().await.unwrap();
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(sem.available_permits(), 10);
        let acquires = tasks * rounds;
        println!(
            "{{\"acquires\": {acquires}, \"seconds\": {secs:.6}, \"acquires_per_s\": {:.0}}}",
            acquires as f64 / secs
        );
    });
}

//! Ping-pong between two tasks over two unbounded tokio mpsc channels,
//! 1,000,000 round trips, on tokio current_thread. Prints one JSON line.
use std::time::Instant;

use tokio::sync::mpsc;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let (ping_tx, mut ping_rx) = mpsc::unbounded_channel::<u64>();
        let (pong_tx, mut pong_rx) = mpsc::unbounded_channel::<u64>();
        let start = Instant::now();
        let echo = tokio::spawn(async move {
            for _ in 0..n {
                let v = ping_rx.recv().await.unwrap();
                pong_tx.send(v + 1).unwrap();
            }
        });
        let mut sum = 0;
        for i in 0..n {
            ping_tx.send(i).unwrap();
            sum += pong_rx.recv().await.unwrap();
        }
        echo.await.unwrap();
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(sum, n * (n + 1) / 2);
        println!(
            "{{\"round_trips\": {n}, \"seconds\": {secs:.6}, \"round_trips_per_s\": {:.0}}}",
            n as f64 / secs
        );
    });
}

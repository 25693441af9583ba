//! Queue ping-pong between two tasks in an asyncio-wasm guest: 1,000,000
//! round trips over two unbounded queues. Prints one JSON line.
use asyncio::Queue;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let ping: Queue<u64> = Queue::new(0);
    let pong: Queue<u64> = Queue::new(0);
    let start = asyncio::Instant::now();
    let echo = {
        let (ping, pong) = (ping.clone(), pong.clone());
        asyncio::create_task(async move {
            for _ in 0..n {
                let v = ping.get().await?;
                pong.put(v + 1).await?;
            }
            Ok(())
        })
    };
    let mut sum = 0;
    for i in 0..n {
        ping.put(i).await?;
        sum += pong.get().await?;
    }
    echo.await?;
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(sum, n * (n + 1) / 2);
    println!(
        "{{\"round_trips\": {n}, \"seconds\": {secs:.6}, \"round_trips_per_s\": {:.0}}}",
        n as f64 / secs
    );
    Ok(())
}

//! Spawn rate: /bin/true run 2,000 times, 4 at once (4 tasks, each spawning
//! and waiting in turn), stdio to /dev/null. Needs `--allow-run=/bin/true`.
//! Prints one JSON line (the same shape as bench/native).
use asyncio::subprocess::{Options, Stdio, create_subprocess_exec};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000);
    let at_once = 4;
    let start = asyncio::Instant::now();
    let workers: Vec<_> = (0..at_once)
        .map(|w| {
            asyncio::create_task(async move {
                for _ in (w..n).step_by(at_once) {
                    let options = Options::new()
                        .stdin(Stdio::Null)
                        .stdout(Stdio::Null)
                        .stderr(Stdio::Null);
                    let mut child =
                        create_subprocess_exec("/bin/true", Vec::<String>::new(), options).await?;
                    let code = child.wait().await?;
                    assert_eq!(code, 0);
                }
                Ok(())
            })
        })
        .collect();
    for w in workers {
        w.await?;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{{\"spawns\": {n}, \"seconds\": {secs:.6}, \"spawns_per_s\": {:.0}}}",
        n as f64 / secs
    );
    Ok(())
}

//! Spawn rate: /bin/true run 2,000 times, 4 at once, stdio to /dev/null, on
//! tokio current_thread with tokio::process. Prints one JSON line.
use std::process::Stdio;
use std::time::Instant;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000);
    let at_once = 4;
    let start = Instant::now();
    let workers: Vec<_> = (0..at_once)
        .map(|w| {
            tokio::spawn(async move {
                for _ in (w..n).step_by(at_once) {
                    let status = tokio::process::Command::new("/bin/true")
                        .env_clear()
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status()
                        .await
                        .expect("spawn /bin/true");
                    assert!(status.success());
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{{\"spawns\": {n}, \"seconds\": {secs:.6}, \"spawns_per_s\": {:.0}}}",
        n as f64 / secs
    );
}

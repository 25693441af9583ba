//! Pipe throughput: 100 MB read from a child's stdout (`head -c ... /dev/zero`)
//! in 64 KiB reads. Needs `--allow-run=head`. Prints one JSON line.
use asyncio::subprocess::{Options, Stdio, create_subprocess_exec};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let total: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000_000);
    let start = asyncio::Instant::now();
    let options = Options::new().stdout(Stdio::Pipe).stdin(Stdio::Null);
    let mut child = create_subprocess_exec(
        "head",
        ["-c".to_string(), total.to_string(), "/dev/zero".into()],
        options,
    )
    .await?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut n = 0usize;
    loop {
        let chunk = stdout.read(64 << 10).await?;
        if chunk.is_empty() {
            break;
        }
        n += chunk.len();
    }
    assert_eq!(child.wait().await?, 0);
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(n, total);
    println!(
        "{{\"bytes\": {n}, \"seconds\": {secs:.6}, \"mb_per_s\": {:.1}}}",
        n as f64 / 1e6 / secs
    );
    Ok(())
}

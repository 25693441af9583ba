//! Pipe throughput: 100 MB read from a child's stdout (`head -c ... /dev/zero`)
//! in 64 KiB reads, tokio current_thread with tokio::process. One JSON line.
use std::process::Stdio;
use std::time::Instant;
use tokio::io::AsyncReadExt;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let total: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000_000);
    let start = Instant::now();
    let mut child = tokio::process::Command::new("head")
        .args(["-c", &total.to_string(), "/dev/zero"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn head");
    let mut stdout = child.stdout.take().expect("piped");
    let mut buf = vec![0u8; 64 << 10];
    let mut n = 0usize;
    loop {
        let got = stdout.read(&mut buf).await.expect("read");
        if got == 0 {
            break;
        }
        n += got;
    }
    assert!(child.wait().await.expect("wait").success());
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(n, total);
    println!(
        "{{\"bytes\": {n}, \"seconds\": {secs:.6}, \"mb_per_s\": {:.1}}}",
        n as f64 / 1e6 / secs
    );
}

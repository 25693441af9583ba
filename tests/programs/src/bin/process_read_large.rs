//! Reads 100 MB from a child's stdout (`head -c`), chunk by chunk.
use asyncio::subprocess::{Options, Stdio, create_subprocess_exec};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let total = 100 << 20;
    let options = Options::new().stdout(Stdio::Pipe);
    let mut child = create_subprocess_exec(
        "head",
        ["-c".to_string(), total.to_string(), "/dev/zero".into()],
        options,
    )
    .await?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut n = 0usize;
    loop {
        let chunk = stdout.read(1 << 20).await?;
        if chunk.is_empty() {
            break;
        }
        n += chunk.len();
    }
    println!("read {n} bytes, returncode {}", child.wait().await?);
    Ok(())
}

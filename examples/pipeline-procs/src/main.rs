//! A pipeline of three programs, `seq 1 N | grep 7 | wc -l`, wired by the
//! guest: it copies each child's stdout into the next child's stdin and
//! reports progress as the bytes flow.
//!
//! ```sh
//! aio run pipeline-procs.wasm --allow-run=seq,grep,wc -- 200000
//! ```
//!
//! Without the grants it stops at once, naming the program and the flag.

use asyncio::subprocess::{Options, Stdio, create_subprocess_exec};
use asyncio::{StreamReader, StreamWriter};

/// Copies `from` into `to`, printing a progress line every `every` bytes;
/// closes `to` at the end. Gives the byte count.
async fn pump(
    name: &'static str,
    mut from: StreamReader,
    mut to: StreamWriter,
    every: usize,
) -> asyncio::Result<usize> {
    let (mut total, mut next_report) = (0, every);
    loop {
        let chunk = from.read(64 << 10).await?;
        if chunk.is_empty() {
            break;
        }
        total += chunk.len();
        to.write(&chunk)?;
        to.drain().await?;
        if total >= next_report {
            println!("{name}: {total} bytes so far");
            next_report += every;
        }
    }
    to.close();
    to.wait_closed().await?;
    println!("{name}: done, {total} bytes");
    Ok(total)
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let piped = || Options::new().stdin(Stdio::Pipe).stdout(Stdio::Pipe);
    let mut producer = create_subprocess_exec(
        "seq",
        ["1".to_string(), n.to_string()],
        Options::new().stdout(Stdio::Pipe),
    )
    .await?;
    let mut filter = create_subprocess_exec("grep", ["7"], piped()).await?;
    let mut counter = create_subprocess_exec("wc", ["-l"], piped()).await?;

    let first = asyncio::create_task(pump(
        "seq -> grep",
        producer.stdout.take().expect("piped"),
        filter.stdin.take().expect("piped"),
        256 << 10,
    ));
    let second = asyncio::create_task(pump(
        "grep -> wc",
        filter.stdout.take().expect("piped"),
        counter.stdin.take().expect("piped"),
        256 << 10,
    ));
    let (result, _) = counter.communicate(None).await?;
    first.await?;
    second.await?;
    let codes = (
        producer.wait().await?,
        filter.wait().await?,
        counter.wait().await?,
    );
    let count = String::from_utf8_lossy(&result).trim().to_string();
    println!("numbers from 1 to {n} containing a 7: {count} (exit codes {codes:?})");
    Ok(())
}

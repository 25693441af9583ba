//! A line-oriented stdin tool: numbers each line of its input, and gives
//! up when no line comes for IDLE seconds. Reading stdin is a stream
//! read like any other (`asyncio::streams::stdin`), so the idle timeout,
//! and any other task, runs while it waits.
//!
//! ```sh
//! printf 'a\nb\n' | aio run stdin-lines.wasm -- [IDLE]
//! ```

use std::time::Duration;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let idle: f64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()
        .map_err(|_| asyncio::Error::msg("usage: stdin-lines [IDLE SECONDS]"))?
        .unwrap_or(10.0);
    let mut input = asyncio::streams::stdin();
    let mut output = asyncio::streams::stdout();
    let mut n = 0;
    loop {
        let line = asyncio::wait_for(Duration::from_secs_f64(idle), input.readline()).await;
        let line = match line {
            Ok(line) => line,
            Err(e) if e.is_timeout() => {
                output.write(format!("no input for {idle} s, giving up\n").as_bytes())?;
                output.close();
                output.wait_closed().await?;
                asyncio::exit(3);
            }
            Err(e) => return Err(e),
        };
        if line.is_empty() {
            break;
        }
        n += 1;
        output.write(format!("{n:>4}  ").as_bytes())?;
        output.write(&line)?;
        if !line.ends_with(b"\n") {
            output.write(b"\n")?; // the last line, without its newline
        }
        output.drain().await?;
    }
    output.write(format!("{n} lines\n").as_bytes())?;
    output.close();
    output.wait_closed().await?;
    Ok(())
}

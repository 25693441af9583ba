//! Exit codes: 0, non-zero, and death by a signal (a negative returncode).
use asyncio::subprocess::{Options, create_subprocess_exec};

async fn code(program: &str, args: &[&str]) -> asyncio::Result<i32> {
    let mut child = create_subprocess_exec(program, args.iter().copied(), Options::new()).await?;
    child.wait().await
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    println!("true: {}", code("true", &[]).await?);
    println!("false: {}", code("false", &[]).await?);
    println!("exit 7: {}", code("sh", &["-c", "exit 7"]).await?);
    println!(
        "kill -TERM self: {}",
        code("sh", &["-c", "kill -TERM $$"]).await?
    );
    Ok(())
}

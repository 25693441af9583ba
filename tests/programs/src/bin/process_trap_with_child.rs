//! Starts a long `sleep`, prints its pid, then panics: the host must kill
//! and reap the child.
use asyncio::subprocess::{Options, create_subprocess_exec};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let child = create_subprocess_exec("sleep", ["1000"], Options::new()).await?;
    println!("{}", child.pid());
    asyncio::sleep(std::time::Duration::from_millis(50)).await?;
    panic!("deliberate panic with a child running");
}

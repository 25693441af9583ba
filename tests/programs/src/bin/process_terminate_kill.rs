//! terminate() and kill() end a child that would run for a minute; a
//! signal to a finished child does nothing.
use asyncio::subprocess::{Options, create_subprocess_exec};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let mut a = create_subprocess_exec("sleep", ["60"], Options::new()).await?;
    let mut b = create_subprocess_exec("sleep", ["60"], Options::new()).await?;
    assert!(a.pid() > 0 && a.pid() != b.pid());
    assert_eq!(a.returncode(), None);
    a.terminate()?;
    b.kill()?;
    println!("terminated: {}", a.wait().await?);
    println!("killed: {}", b.wait().await?);
    a.kill()?; // already reaped: nothing happens
    println!("returncode still {:?}", a.returncode());
    Ok(())
}

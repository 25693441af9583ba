//! A granted path that does not exist gives NotFound.
use asyncio::ErrorKind;
use asyncio::subprocess::{Options, create_subprocess_exec};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    match create_subprocess_exec("/nonexistent/aio-test-prog", ["x"], Options::new()).await {
        Err(e) if matches!(e.kind(), ErrorKind::Io(std::io::ErrorKind::NotFound)) => {
            println!("not found: {e}")
        }
        Err(e) => println!("other error: {e:?}"),
        Ok(_) => println!("ran"),
    }
    Ok(())
}

//! Running a program that was not granted is refused (PermissionDenied,
//! naming it and the flag); the program never runs. Args: the program and
//! a file it would create.
use asyncio::ErrorKind;
use asyncio::subprocess::{Options, create_subprocess_exec};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match create_subprocess_exec(&args[0], &args[1..].to_vec(), Options::new()).await {
        Err(e) if matches!(e.kind(), ErrorKind::PermissionDenied(_)) => println!("refused: {e}"),
        Err(e) => println!("other error: {e:?}"),
        Ok(mut child) => println!("ran, returncode {}", child.wait().await?),
    }
    match asyncio::create_subprocess_shell("true", Options::new()).await {
        Err(e) => println!("shell: {e}"),
        Ok(_) => println!("shell ran"),
    }
    Ok(())
}

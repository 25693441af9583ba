//! The child sees only the environment it was given (`env` prints it).
use asyncio::subprocess::{Options, Stdio, create_subprocess_exec};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let options = Options::new()
        .env("GIVEN_A", "1")
        .env("GIVEN_B", "two words")
        .stdout(Stdio::Pipe);
    let mut child = create_subprocess_exec("env", Vec::<String>::new(), options).await?;
    let (out, _) = child.communicate(None).await?;
    print!("{}", String::from_utf8_lossy(&out));
    Ok(())
}

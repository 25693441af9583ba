//! create_subprocess_shell with --allow-shell, stderr merged into stdout.
use asyncio::subprocess::{Options, Stdio};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let options = Options::new().stdout(Stdio::Pipe).stderr(Stdio::Stdout);
    let mut child =
        asyncio::create_subprocess_shell("echo out; echo err >&2; exit 3", options).await?;
    let (out, _) = child.communicate(None).await?;
    print!("{}", String::from_utf8_lossy(&out));
    println!("returncode {:?}", child.returncode());
    Ok(())
}

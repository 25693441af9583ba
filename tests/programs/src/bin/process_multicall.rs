//! Runs one program (args: the program as the guest names it, then its
//! arguments) with `echo argv0=$0` on its stdin, and prints what it wrote
//! or why it was refused. The host test lays out multi-call programs and
//! grants one name: whatever the guest asks for, the child must behave as
//! the name granted, or be refused.
use asyncio::subprocess::{Options, Stdio, create_subprocess_exec};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = Options::new()
        .stdin(Stdio::Pipe)
        .stdout(Stdio::Pipe)
        .stderr(Stdio::Stdout);
    match create_subprocess_exec(&args[0], &args[1..], options).await {
        Ok(mut child) => {
            let (out, _) = child.communicate(Some(b"echo argv0=$0\n")).await?;
            let out = String::from_utf8_lossy(&out);
            println!("ran: {}, returncode {}", out.trim(), child.wait().await?);
        }
        Err(e) => println!("refused: {e}"),
    }
    Ok(())
}

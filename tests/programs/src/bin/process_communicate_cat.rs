//! `cat` round-trips 10 MB through `communicate` (stdin written while
//! stdout is read: no deadlock on pipes far bigger than a pipe buffer).
use asyncio::subprocess::{Options, Stdio, create_subprocess_exec};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let input: Vec<u8> = (0..10 << 20).map(|i: u32| (i % 251) as u8).collect();
    let options = Options::new()
        .stdin(Stdio::Pipe)
        .stdout(Stdio::Pipe)
        .stderr(Stdio::Pipe);
    let mut child = create_subprocess_exec("cat", Vec::<String>::new(), options).await?;
    let (out, err) = child.communicate(Some(&input)).await?;
    assert!(
        out == input,
        "cat gave back {} bytes, not the same",
        out.len()
    );
    assert!(err.is_empty());
    println!(
        "round-tripped {} bytes, returncode {:?}",
        out.len(),
        child.returncode()
    );
    Ok(())
}

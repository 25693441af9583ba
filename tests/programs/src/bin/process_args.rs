//! Arguments reach the child exactly as given: spaces, quotes, `$`, `*`,
//! empty strings (`printf '[%s]\n'` prints each).
use asyncio::subprocess::{Options, Stdio, create_subprocess_exec};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let args = [
        "[%s]\\n",
        "two words",
        "it's \"quoted\"",
        "$HOME",
        "*",
        "",
        "back\\slash",
    ];
    let mut child =
        create_subprocess_exec("printf", args, Options::new().stdout(Stdio::Pipe)).await?;
    let (out, _) = child.communicate(None).await?;
    print!("{}", String::from_utf8_lossy(&out));
    Ok(())
}

//! 50 `cat` children at once, each echoing its own data through pipes.
use asyncio::subprocess::{Options, Stdio, create_subprocess_exec};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            asyncio::create_task(async move {
                let data: Vec<u8> = format!("child {i}\n").repeat(1000 + i).into_bytes();
                let options = Options::new().stdin(Stdio::Pipe).stdout(Stdio::Pipe);
                let mut child =
                    create_subprocess_exec("cat", Vec::<String>::new(), options).await?;
                let (out, _) = child.communicate(Some(&data)).await?;
                assert!(out == data, "child {i} echoed {} bytes", out.len());
                Ok(child.returncode())
            })
        })
        .collect();
    let codes = asyncio::gather(tasks).await?;
    let ok = codes.iter().filter(|c| **c == Some(0)).count();
    println!("{ok} of {} children echoed their data", codes.len());
    Ok(())
}

//! Leaves processes behind for the host to clean up. A granted shell starts
//! `sleep 1000.<token>` in the background and a daemon that leaves the
//! process group (`setsid sleep 1001.<token>`), and exits once both run;
//! the guest starts `sleep 1002.<token>` itself, and `setsid sleep
//! 1003.<token>` (a direct child that leaves the group), and prints
//! `started`. Then
//! (args: mode, token) `exit` returns, `hang` waits for the host to end the
//! run (`--timeout`, a SIGKILL of `aio`). The host test checks that none of
//! the sleeps outlives the run.
use asyncio::subprocess::{Options, Stdio, create_subprocess_exec};
use std::io::Write as _;
use std::time::Duration;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, token) = (&args[0], &args[1]);
    let quiet = "</dev/null >/dev/null 2>&1";
    // The shell says `started` once both children have exec'd `sleep`
    // (bounded: 5 s), so the run never ends before they exist.
    let script = format!(
        "sleep 1000.{token} {quiet} & a=$!\n\
         setsid sleep 1001.{token} {quiet} & b=$!\n\
         i=0\n\
         until grep -qa 1000.{token} /proc/$a/cmdline && grep -qa 1001.{token} /proc/$b/cmdline; do\n\
           i=$((i + 1)); [ $i -gt 500 ] && exit 1; sleep 0.01\n\
         done\n\
         echo started\n"
    );
    let mut shell =
        asyncio::create_subprocess_shell(&script, Options::new().stdout(Stdio::Pipe)).await?;
    let (out, _) = shell.communicate(None).await?;
    let code = shell.wait().await?;
    if out != b"started\n" || code != 0 {
        println!(
            "the shell failed: {:?}, returncode {code}",
            String::from_utf8_lossy(&out)
        );
        return Ok(());
    }
    let _direct =
        create_subprocess_exec("sleep", [format!("1002.{token}")], Options::new()).await?;
    let sleep = format!("1003.{token}");
    let _left_group = create_subprocess_exec("setsid", ["sleep", &sleep], Options::new()).await?;
    println!("started");
    std::io::stdout().flush().ok();
    if mode == "hang" {
        asyncio::sleep(Duration::from_secs(1000)).await?;
    }
    Ok(())
}

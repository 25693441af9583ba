//! Handles SIGTERM and SIGINT and ignores them, with a child running: the
//! operator's escalation (a later SIGTERM/SIGINT after --signal-grace) must
//! stop it, child and all. Prints the child's pid, then one line per signal.
use asyncio::signals::Signal;
use asyncio::subprocess::{Options, create_subprocess_exec};
use std::io::Write;
use std::time::Duration;

fn say(line: &str) {
    println!("{line}");
    std::io::stdout().flush().ok();
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let lp = asyncio::get_running_loop();
    for sig in [Signal::SIGTERM, Signal::SIGINT] {
        lp.add_signal_handler(sig, move || say(&format!("ignoring {}", sig.name())))?;
    }
    let child = create_subprocess_exec("sleep", ["60"], Options::new()).await?;
    say(&format!("child {}", child.pid()));
    say("ready");
    asyncio::sleep(Duration::from_secs(60)).await?;
    say("slept a minute");
    Ok(())
}

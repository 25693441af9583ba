//! SIGTERM. `default`: no handler, so the host ends the run at once (143)
//! and main's cleanup never runs; SIGWINCH (ignored by default) before it
//! changes nothing. `handler`: a SIGTERM handler cancels main, which
//! cleans up and returns normally (0).
use asyncio::signals::Signal;
use std::io::Write;
use std::time::Duration;

fn say(line: &str) {
    println!("{line}");
    std::io::stdout().flush().ok();
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("handler") {
        let main_task = asyncio::current_task().expect("main is a task");
        asyncio::get_running_loop().add_signal_handler(Signal::SIGTERM, move || {
            say("SIGTERM: cancelling main");
            main_task.cancel();
        })?;
    }
    say("ready");
    match asyncio::sleep(Duration::from_secs(600)).await {
        Err(e) if e.is_cancelled() => {
            asyncio::sleep(Duration::from_millis(20)).await?;
            say("main: stopped cleanly");
            Ok(())
        }
        other => other,
    }
}

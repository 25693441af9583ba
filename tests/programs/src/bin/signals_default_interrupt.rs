//! SIGINT without a handler cancels main, as asyncio.run does: main's
//! cleanup runs (and awaits), then the leftover task is cancelled, then the
//! program exits with 130. With the argument `stubborn`, main swallows the
//! cancellation and keeps sleeping: the host's grace period or a second
//! SIGINT ends it.
use std::io::Write;
use std::time::Duration;

fn say(line: &str) {
    println!("{line}");
    std::io::stdout().flush().ok();
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let stubborn = std::env::args().nth(1).as_deref() == Some("stubborn");
    let _leftover = asyncio::create_named_task("leftover", async {
        let slept = asyncio::sleep(Duration::from_secs(600)).await;
        if slept.is_err() {
            say("leftover: cancelled");
        }
        slept
    });
    say("ready");
    match asyncio::sleep(Duration::from_secs(600)).await {
        Ok(()) => {
            say("main: slept 600s");
            Ok(())
        }
        Err(e) if e.is_cancelled() => {
            say("main: cancelled, cleaning up");
            if stubborn {
                asyncio::current_task().expect("main is a task").uncancel();
                say("main: ignoring it");
                asyncio::sleep(Duration::from_secs(600)).await?;
            }
            asyncio::sleep(Duration::from_millis(50)).await?;
            say("main: cleanup done");
            Err(e)
        }
        Err(e) => Err(e),
    }
}

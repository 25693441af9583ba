//! Removing a SIGINT handler restores asyncio.run's default (cancel main,
//! exit 130); removing one that is not there says false.
use asyncio::signals::Signal;
use std::io::Write;
use std::time::Duration;

fn say(line: &str) {
    println!("{line}");
    std::io::stdout().flush().ok();
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let lp = asyncio::get_running_loop();
    lp.add_signal_handler(Signal::SIGINT, || say("handler: must not run"))?;
    let removed = lp.remove_signal_handler(Signal::SIGINT);
    let again = lp.remove_signal_handler(Signal::SIGINT);
    let never = lp.remove_signal_handler(Signal::SIGTERM);
    say(&format!(
        "removed: {removed}, again: {again}, never added: {never}"
    ));
    say("ready");
    let slept = asyncio::sleep(Duration::from_secs(600)).await;
    if slept.is_err() {
        say("main: cancelled");
    }
    slept
}

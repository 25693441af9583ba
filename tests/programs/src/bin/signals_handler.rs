//! Signal handlers: SIGINT (twice: a handler gets every one, no escalation),
//! SIGUSR1 and SIGHUP each reach their handler, which runs as a loop
//! callback; adding a handler replaces the previous one. The test sends
//! each signal after seeing the line before it; the guest ends on its own.
use asyncio::signals::Signal;
use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;
use std::time::Duration;

fn say(line: &str) {
    println!("{line}");
    std::io::stdout().flush().ok();
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let lp = asyncio::get_running_loop();
    let got: Rc<RefCell<Vec<&'static str>>> = Rc::default();
    let arrived = asyncio::Event::new();
    lp.add_signal_handler(Signal::SIGINT, || say("replaced handler: must not run"))?;
    for sig in [Signal::SIGINT, Signal::SIGUSR1, Signal::SIGHUP] {
        let (got, arrived) = (got.clone(), arrived.clone());
        lp.add_signal_handler(sig, move || {
            // A loop callback, not inside a task.
            let where_ = if asyncio::current_task().is_some() {
                "in a task"
            } else {
                "as a callback"
            };
            println!("{} handler runs {where_}", sig.name());
            got.borrow_mut().push(sig.name());
            arrived.set();
        })?;
    }
    say("ready");
    let mut handled = 0;
    while handled < 4 {
        asyncio::wait_for(Duration::from_secs(30), arrived.wait()).await?;
        arrived.clear();
        for name in got.borrow_mut().drain(..) {
            handled += 1;
            say(&format!("handled {name}"));
        }
    }
    say("done");
    Ok(())
}

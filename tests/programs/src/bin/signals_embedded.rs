//! For the embedding API (`Signals::send`): counts SIGWINCH (ignored until
//! the handler is installed, so the sender may start early) and ends after
//! three.
use asyncio::signals::Signal;
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let count = Rc::new(Cell::new(0));
    let third = asyncio::Event::new();
    let (c, t) = (count.clone(), third.clone());
    asyncio::get_running_loop().add_signal_handler(Signal::SIGWINCH, move || {
        c.set(c.get() + 1);
        if c.get() == 3 {
            t.set();
        }
    })?;
    asyncio::wait_for(Duration::from_secs(30), third.wait()).await?;
    println!("resized {} times", count.get());
    Ok(())
}

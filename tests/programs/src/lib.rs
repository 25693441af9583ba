//! Helpers shared by the guest test programs in `src/bin/`.
//!
//! Each program is one test case named `<suite>_<case>`; it checks its own
//! behaviour with `assert!` (a failed assertion panics, which the host test
//! reports as a trap with the message) and prints what the host test reads.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

/// `n` milliseconds.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Waits (at most 5 s, in 10 ms steps) until `done` holds; the error names
/// `what` it waited for.
pub async fn until(what: &str, done: impl Fn() -> bool) -> asyncio::Result<()> {
    for _ in 0..500 {
        if done() {
            return Ok(());
        }
        asyncio::sleep(ms(10)).await?;
    }
    Err(asyncio::Error::msg(format!("timed out waiting for {what}")))
}

/// A shared event log, to check the order in which things happened.
#[derive(Clone, Default, Debug)]
pub struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    pub fn new() -> Log {
        Log::default()
    }

    /// Records an event (and prints it, so a failing test shows the story).
    pub fn push(&self, event: impl Into<String>) {
        let event = event.into();
        println!("{event}");
        self.0.borrow_mut().push(event);
    }

    pub fn events(&self) -> Vec<String> {
        self.0.borrow().clone()
    }

    /// Asserts the events so far, in order.
    #[track_caller]
    pub fn assert(&self, expected: &[&str]) {
        assert_eq!(self.events(), expected);
    }
}

//! Where the loop's time comes from: the host's monotonic clock, or a
//! virtual clock that tests move by hand.
//!
//! Times are nanoseconds on the clock's own scale (`wasi:clocks`
//! `monotonic-clock` marks in a guest), only ever compared with each other.

use std::cell::Cell;

pub(crate) enum Clock {
    /// `wasi:clocks/monotonic-clock@0.3.0` in a guest; `std::time::Instant`
    /// natively (so native code can still run a loop in real time).
    Host,
    /// Moves only when the loop (or a test) sets it.
    Virtual(Cell<u64>),
}

impl Clock {
    pub(crate) fn now(&self) -> u64 {
        match self {
            Clock::Host => host_now(),
            Clock::Virtual(t) => t.get(),
        }
    }

    /// Moves a virtual clock forward to `t` (never backwards).
    pub(crate) fn advance_to(&self, t: u64) {
        if let Clock::Virtual(now) = self
            && t > now.get()
        {
            now.set(t);
        }
    }
}

#[cfg(target_arch = "wasm32")]
pub(crate) fn host_now() -> u64 {
    crate::bindings::wasi::clocks::monotonic_clock::now()
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn host_now() -> u64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    let elapsed = START.get_or_init(Instant::now).elapsed();
    u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
}

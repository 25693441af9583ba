//! The low-level loop: call_soon runs in FIFO order, call_later/call_at in
//! deadline order (ties in scheduling order), cancelled handles never run,
//! and loop.time() is monotonic.
use test_programs::{Log, ms};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let lp = asyncio::get_running_loop();
    assert!(lp.is_running() && !lp.is_closed());
    let log = Log::new();
    let t0 = lp.time();
    let done = asyncio::Future::<()>::new();
    for (d, name) in [(30, "later 30 a"), (10, "later 10"), (30, "later 30 b")] {
        let l = log.clone();
        lp.call_later(ms(d), move || l.push(name));
    }
    let l = log.clone();
    let cancelled = lp.call_at(t0 + ms(20), move || l.push("never"));
    cancelled.cancel();
    assert!(cancelled.cancelled());
    for name in ["soon 1", "soon 2"] {
        let l = log.clone();
        lp.call_soon(move || l.push(name));
    }
    let l = log.clone();
    lp.call_soon(move || l.push("never either")).cancel();
    let d = done.clone();
    lp.call_later(ms(50), move || {
        d.set_result(()).ok();
    });
    done.await?;
    assert!(lp.time() - t0 >= ms(50));
    log.assert(&["soon 1", "soon 2", "later 10", "later 30 a", "later 30 b"]);
    Ok(())
}

//! A task cancelled before its first step never runs its body.
use std::cell::Cell;
use std::rc::Rc;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let t = asyncio::create_task(async move {
        r.set(true);
        Ok(())
    });
    t.cancel();
    let e = t.await.unwrap_err();
    assert!(e.is_cancelled());
    assert!(!ran.get());
    Ok(())
}

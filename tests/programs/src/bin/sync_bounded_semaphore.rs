//! BoundedSemaphore: releasing above the initial value is asyncio's
//! ValueError (`ErrorKind::Value`); a plain Semaphore allows it.
use asyncio::ErrorKind;
use asyncio::sync::{BoundedSemaphore, Semaphore};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let sem = BoundedSemaphore::new(1);
    sem.acquire().await?.forget();
    assert!(sem.locked());
    sem.release()?;
    let e = sem.release().unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Value(_)), "{e:?}");
    println!("{e}");
    let plain = Semaphore::new(0);
    plain.release()?;
    plain.release()?;
    assert_eq!(plain.value(), 2);
    Ok(())
}

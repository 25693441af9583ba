//! asyncio Future: every awaiter gets the result; errors and cancellation
//! reach awaiters; cancelling an awaiter cancels the future; a done future
//! refuses a second result.
use asyncio::{Error, ErrorKind, Future};
use test_programs::ms;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let fut = asyncio::get_running_loop().create_future::<u32>();
    let awaiters: Vec<_> = (0..3).map(|_| asyncio::create_task(fut.clone())).collect();
    asyncio::sleep(ms(5)).await?;
    fut.set_result(7)?;
    assert!(matches!(
        fut.set_result(8).unwrap_err().kind(),
        ErrorKind::InvalidState(_)
    ));
    assert_eq!(asyncio::gather(awaiters).await?, [7, 7, 7]);

    let failed = Future::<u32>::new();
    failed.set_exception(Error::msg("nope"))?;
    assert_eq!(failed.clone().await.unwrap_err().to_string(), "nope");
    assert_eq!(failed.exception()?.unwrap().to_string(), "nope");

    let f = Future::<u32>::new();
    let waiter = asyncio::create_task(f.clone());
    asyncio::sleep(ms(5)).await?;
    waiter.cancel();
    assert!(waiter.await.unwrap_err().is_cancelled());
    assert!(
        f.cancelled(),
        "the awaited future was cancelled with its awaiter"
    );

    let g = Future::<u32>::new();
    let seen = std::rc::Rc::new(std::cell::Cell::new(0));
    let s = seen.clone();
    g.add_done_callback(move |g| s.set(g.result().unwrap()));
    g.set_result(4)?;
    assert_eq!(
        seen.get(),
        0,
        "done callbacks are scheduled, not called inline"
    );
    asyncio::yield_now().await?;
    assert_eq!(seen.get(), 4);

    let h = Future::<u32>::new();
    assert!(h.cancel_with("bye"));
    assert!(!h.cancel(), "already done");
    let e = h.clone().await.unwrap_err();
    assert_eq!(e.cancel_message(), Some("bye"));
    Ok(())
}

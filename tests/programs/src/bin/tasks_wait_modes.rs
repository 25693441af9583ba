//! wait(): FirstCompleted, FirstException and AllCompleted; a timeout hands
//! back what is pending without cancelling it.
use asyncio::{Error, ReturnWhen, create_task, sleep, wait};
use test_programs::ms;

fn job(d: u64, fail: bool) -> asyncio::Task<u64> {
    create_task(async move {
        sleep(ms(d)).await?;
        if fail {
            Err(Error::msg("failed"))
        } else {
            Ok(d)
        }
    })
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let (done, pending) = wait(
        vec![job(10, false), job(300, false)],
        ReturnWhen::FirstCompleted,
        None,
    )
    .await?;
    assert_eq!((done.len(), pending.len()), (1, 1));
    assert_eq!(done[0].result()?, 10);

    let (done, pending) = wait(
        vec![job(10, false), job(30, true), job(500, false)],
        ReturnWhen::FirstException,
        None,
    )
    .await?;
    assert_eq!((done.len(), pending.len()), (2, 1));
    assert!(done.iter().any(|t| t.exception().unwrap().is_some()));

    let (done, pending) = wait(
        vec![job(10, false), job(20, true)],
        ReturnWhen::AllCompleted,
        None,
    )
    .await?;
    assert_eq!((done.len(), pending.len()), (2, 0));

    let (done, pending) = wait(
        vec![job(5_000, false)],
        ReturnWhen::AllCompleted,
        Some(ms(30)),
    )
    .await?;
    assert_eq!((done.len(), pending.len()), (0, 1));
    assert!(
        !pending[0].done() && !pending[0].cancelled(),
        "wait does not cancel"
    );
    pending[0].cancel();

    let empty: Vec<asyncio::Task<()>> = Vec::new();
    assert!(wait(empty, ReturnWhen::AllCompleted, None).await.is_err());
    Ok(())
}

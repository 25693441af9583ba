//! Failures that happen before the group finishes all land in the group, in
//! the order they happened.
use asyncio::{Error, TaskGroup, sleep};
use test_programs::ms;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let r: asyncio::Result<()> = TaskGroup::run(|tg| async move {
        tg.create_task(async {
            sleep(ms(20)).await?;
            Err::<(), _>(Error::msg("first"))
        })?;
        // Fails even while being cancelled: a real failure too.
        tg.create_task(async {
            let _ = sleep(ms(10_000)).await;
            Err::<(), _>(Error::msg("second, during cleanup"))
        })?;
        Ok(())
    })
    .await;
    let e = r.unwrap_err();
    let errors: Vec<String> = e
        .group_errors()
        .unwrap()
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(errors, ["first", "second, during cleanup"]);
    Ok(())
}

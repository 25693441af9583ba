//! A TaskGroup whose tasks all succeed waits for every one and gives the
//! body's value; tasks may create more tasks in the group.
use asyncio::{TaskGroup, sleep};
use test_programs::ms;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let start = asyncio::Instant::now();
    let (a, b, c) = TaskGroup::run(|tg| async move {
        let a = tg.create_task(async {
            sleep(ms(40)).await?;
            Ok(1)
        })?;
        let tg2 = tg.clone();
        let b = tg.create_named_task("spawner", async move {
            let c = tg2.create_task(async {
                sleep(ms(60)).await?;
                Ok(3)
            })?;
            Ok(c)
        })?;
        Ok((a, b, 2))
    })
    .await?;
    assert!(
        start.elapsed() >= ms(60),
        "the group waited for the grandchild"
    );
    let c2 = b.take_result()?;
    assert!(c2.done());
    assert_eq!(a.result()? + c + c2.result()?, 6);
    Ok(())
}

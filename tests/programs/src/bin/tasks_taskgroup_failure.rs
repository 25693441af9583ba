//! The first failure in a TaskGroup cancels the siblings and the body; the
//! error group holds only the real failure, not the cancellations.
use asyncio::{Error, TaskGroup, sleep};
use test_programs::{Log, ms};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let log = Log::new();
    let l = log.clone();
    let r: asyncio::Result<()> = TaskGroup::run(|tg| async move {
        for i in 0..2 {
            let l = l.clone();
            tg.create_task(async move {
                if let Err(e) = sleep(ms(10_000)).await {
                    l.push(format!("sibling {i} cancelled"));
                    return Err(e);
                }
                Ok(())
            })?;
        }
        tg.create_task(async {
            sleep(ms(20)).await?;
            Err::<(), _>(Error::msg("real failure"))
        })?;
        let r = sleep(ms(10_000)).await;
        l.push(format!("body: {}", r.as_ref().unwrap_err()));
        r
    })
    .await;
    let e = r.unwrap_err();
    let errors: Vec<String> = e
        .group_errors()
        .expect("an error group")
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(errors, ["real failure"]);
    let mut events = log.events();
    events.sort();
    assert_eq!(
        events,
        [
            "body: cancelled",
            "sibling 0 cancelled",
            "sibling 1 cancelled"
        ]
    );
    // The group's own cancellation of this task was withdrawn.
    assert_eq!(asyncio::current_task().unwrap().cancelling(), 0);
    sleep(ms(1)).await?;
    println!("{e}");
    Ok(())
}

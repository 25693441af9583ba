//! The shape of the example in Python 3.14's docs for `python -m asyncio
//! pstree`: a main task with a TaskGroup of albums, each album a task with
//! a TaskGroup of tracks that sleep. Prints `ready` once every track
//! sleeps, then sleeps until the host stops it (the test's `aio ps`).
use asyncio::{TaskGroup, sleep};
use test_programs::ms;

async fn album(name: &'static str, tracks: &'static [&'static str]) -> asyncio::Result<()> {
    TaskGroup::run(|tg| async move {
        for &track in tracks {
            tg.create_named_task(track, async move { sleep(ms(60_000)).await })?;
        }
        Ok(())
    })
    .await?;
    let _ = name;
    Ok(())
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    TaskGroup::run(|tg| async move {
        tg.create_named_task("Sundowning", album("Sundowning", &["TMBTE", "TNDNBTG"]))?;
        tg.create_named_task("TMBTE", album("TMBTE", &["DYWTYLM", "Aqua Regia"]))?;
        // Every track is created and asleep after a turn of the loop.
        sleep(ms(50)).await?;
        println!("ready");
        Ok(())
    })
    .await
}

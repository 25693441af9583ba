//! current_task, all_tasks, names, ids, and the task dump.
use test_programs::ms;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let me = asyncio::current_task().expect("main runs in a task");
    assert_eq!(me.get_name(), "main");
    let a = asyncio::create_named_task("worker-a", async { asyncio::sleep(ms(10_000)).await });
    let b = asyncio::create_task(async { asyncio::sleep(ms(10_000)).await });
    assert!(b.get_name().starts_with("Task-"));
    b.set_name("worker-b");
    asyncio::yield_now().await?;
    let names: Vec<String> = asyncio::all_tasks().iter().map(|t| t.get_name()).collect();
    for n in ["main", "worker-a", "worker-b"] {
        assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
    }
    assert_ne!(a.id(), b.id());
    let dump = asyncio::task_dump();
    print!("{dump}");
    assert!(dump.contains("'main': running"), "{dump}");
    assert!(dump.contains("'worker-a': awaiting sleep"), "{dump}");
    assert!(a.awaiting().starts_with("awaiting sleep"));
    a.cancel();
    b.cancel();
    asyncio::yield_now().await?;
    assert_eq!(asyncio::all_tasks().len(), 1);
    Ok(())
}

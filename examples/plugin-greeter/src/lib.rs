//! A plugin: the host loads it, keeps instances alive and calls them.
//!
//! Each export call runs as an asyncio task on the instance's loop, so
//! `greet` can sleep while other calls run, the reminder task started by
//! one call keeps running after it returns, and the counters below are
//! seen by every later call of the same instance.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::time::Duration;

asyncio::generate!({ world: "example:greeter/plugin" });

thread_local! {
    static GREETED: Cell<u64> = const { Cell::new(0) };
    static REMINDERS: RefCell<VecDeque<String>> = const { RefCell::new(VecDeque::new()) };
}

struct Greeter;

#[asyncio::plugin]
impl exports::example::greeter::greeter::Guest for Greeter {
    async fn greet(name: String, delay_ms: u32) -> String {
        if let Err(e) = asyncio::sleep(Duration::from_millis(delay_ms.into())).await {
            // Cancelled by the host (the caller gave up, or a timeout).
            return format!("not greeting {name}: {e}");
        }
        GREETED.with(|g| g.set(g.get() + 1));
        format!("Hello, {name}!")
    }

    fn greeted() -> u64 {
        GREETED.with(|g| g.get())
    }

    async fn start_reminder(name: String, every_ms: u32) {
        let every = Duration::from_millis(every_ms.max(1).into());
        let task: asyncio::Task<()> =
            asyncio::create_named_task(format!("reminder for {name}"), async move {
                loop {
                    asyncio::sleep(every).await?;
                    REMINDERS.with(|r| {
                        let mut r = r.borrow_mut();
                        if r.len() == 10 {
                            r.pop_front();
                        }
                        r.push_back(format!("still here, {name}"));
                    });
                }
            });
        // Not awaited: the task runs on in the instance.
        drop(task);
    }

    fn reminders() -> Vec<String> {
        REMINDERS.with(|r| r.borrow().iter().cloned().collect())
    }

    async fn fetch_line(host: String, port: u16, line: String) -> Result<String, String> {
        fetch_line(&host, port, &line)
            .await
            .map_err(|e| e.to_string())
    }

    async fn crash() {
        panic!("asked to crash");
    }
}

async fn fetch_line(host: &str, port: u16, line: &str) -> asyncio::Result<String> {
    let (mut reader, mut writer) = asyncio::open_connection(host, port).await?;
    writer.write(format!("{line}\n").as_bytes())?;
    writer.drain().await?;
    let reply = reader.readline().await?;
    writer.close();
    Ok(String::from_utf8_lossy(&reply).trim_end().to_owned())
}

export!(Greeter);

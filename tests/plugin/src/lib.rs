//! The plugin the host's plugin tests call: every export exercises one
//! promise of the plugin runtime (docs/embedding.md).

use std::cell::{Cell, RefCell};
use std::time::Duration;

use asyncio::Error;

asyncio::generate!({ world: "aio-test:plugin/plugin" });

thread_local! {
    static CALLS: Cell<u64> = const { Cell::new(0) };
    static TICKS: Cell<u64> = const { Cell::new(0) };
    static CLEANUPS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    static KEPT: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

fn count_call() {
    CALLS.with(|c| c.set(c.get() + 1));
}

struct Plugin;

#[asyncio::plugin]
impl exports::aio_test::plugin::api::Guest for Plugin {
    async fn greet(name: String) -> String {
        count_call();
        let _ = asyncio::yield_now().await;
        let task = asyncio::current_task()
            .map(|t| t.get_name())
            .unwrap_or_default();
        format!("hello, {name}! (task {task})")
    }

    async fn sleep(ms: u32, value: String) -> String {
        count_call();
        match asyncio::sleep(Duration::from_millis(ms.into())).await {
            Ok(()) => value,
            Err(e) if e.is_cancelled() => {
                // Cleanup that awaits, as asyncio allows.
                let _ = asyncio::sleep(Duration::from_millis(20)).await;
                CLEANUPS.with(|c| c.borrow_mut().push(format!("{value} cancelled")));
                "cancelled".to_owned()
            }
            Err(e) => format!("error: {e}"),
        }
    }

    fn calls() -> u64 {
        CALLS.with(|c| c.get())
    }

    async fn start_ticker(ms: u32) {
        count_call();
        let every = Duration::from_millis(ms.into());
        let ticker: asyncio::Task<()> = asyncio::create_named_task("ticker", async move {
            loop {
                asyncio::sleep(every).await?;
                TICKS.with(|t| t.set(t.get() + 1));
            }
        });
        // The ticker runs on after this call returns.
        drop(ticker);
    }

    fn ticks() -> u64 {
        TICKS.with(|t| t.get())
    }

    fn cleanups() -> Vec<String> {
        CLEANUPS.with(|c| c.borrow().clone())
    }

    async fn echo(addr: String, line: String) -> Result<String, String> {
        count_call();
        echo_once(&addr, &line).await.map_err(|e| e.to_string())
    }

    async fn panic() {
        count_call();
        panic!("the plugin was asked to panic");
    }

    async fn grow(mib: u32) -> u32 {
        count_call();
        let block = vec![1u8; mib as usize * 1024 * 1024];
        KEPT.with(|k| {
            k.borrow_mut().push(block);
            k.borrow()
                .iter()
                .map(|b| b.len() / (1024 * 1024))
                .sum::<usize>() as u32
        })
    }

    async fn spin() {
        count_call();
        let mut x: u64 = 0;
        loop {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    }
}

async fn echo_once(addr: &str, line: &str) -> asyncio::Result<String> {
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| Error::value(format!("not HOST:PORT: {addr}")))?;
    let port: u16 = port
        .parse()
        .map_err(|_| Error::value(format!("bad port in {addr}")))?;
    let (mut reader, mut writer) = asyncio::open_connection(host, port).await?;
    writer.write(format!("{line}\n").as_bytes())?;
    writer.drain().await?;
    let reply = reader.readline().await?;
    writer.close();
    Ok(String::from_utf8_lossy(&reply).trim_end().to_owned())
}

export!(Plugin);

//! The playground: the guest `aio repl` starts when no APP is given, so a
//! newcomer can try asyncio's model at once (wit/playground.wit lists the
//! calls). host/build.rs compiles it to wasm and the `aio` binary carries
//! it.
//!
//! Each call is an asyncio task on the instance's one loop; the tickers
//! and echo servers it starts are tasks too, and keep running between
//! REPL lines.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

asyncio::generate!({ world: "aio:playground/playground" });

/// A live ticker: its task, and how often it ticked.
struct Ticker {
    task: asyncio::Task<()>,
    count: Rc<Cell<u64>>,
}

thread_local! {
    static TICKERS: RefCell<BTreeMap<u32, Ticker>> = const { RefCell::new(BTreeMap::new()) };
    static NEXT_TICKER: Cell<u32> = const { Cell::new(1) };
    /// Echo servers stay open for the instance's life.
    static SERVERS: RefCell<Vec<asyncio::Server>> = const { RefCell::new(Vec::new()) };
}

struct Playground;

#[asyncio::plugin]
impl exports::aio::playground::play::Guest for Playground {
    async fn sleep(ms: u32, result: String) -> String {
        match asyncio::sleep(Duration::from_millis(ms.into())).await {
            Ok(()) => result,
            Err(e) => {
                // Cleanup may await: the host waits for it (its cancel grace).
                let _ = asyncio::sleep(Duration::from_millis(10)).await;
                eprintln!("sleep({ms}): {e}; cleaned up");
                String::new()
            }
        }
    }

    async fn gather(ms: Vec<u32>) -> Vec<u32> {
        let sleeps = ms.iter().map(|&ms| async move {
            asyncio::sleep(Duration::from_millis(ms.into())).await?;
            Ok(ms)
        });
        asyncio::gather(sleeps).await.unwrap_or_default()
    }

    fn start_ticker(every_ms: u32) -> u32 {
        let id = NEXT_TICKER.with(|n| n.replace(n.get() + 1));
        let every = Duration::from_millis(every_ms.max(1).into());
        let count = Rc::new(Cell::new(0));
        let ticks = count.clone();
        let task = asyncio::create_named_task(format!("ticker {id}"), async move {
            loop {
                asyncio::sleep(every).await?;
                ticks.set(ticks.get() + 1);
            }
        });
        TICKERS.with(|t| t.borrow_mut().insert(id, Ticker { task, count }));
        id
    }

    fn ticks() -> Vec<(u32, u64)> {
        TICKERS.with(|t| {
            t.borrow()
                .iter()
                .filter(|(_, ticker)| !ticker.task.done())
                .map(|(&id, ticker)| (id, ticker.count.get()))
                .collect()
        })
    }

    fn stop_ticker(id: u32) -> bool {
        match TICKERS.with(|t| t.borrow_mut().remove(&id)) {
            Some(ticker) => ticker.task.cancel(),
            None => false,
        }
    }

    async fn serve_echo(port: u16) -> Result<u16, String> {
        let server = asyncio::start_server(
            |mut reader, mut writer| async move {
                loop {
                    let line = reader.readline().await?;
                    if line.is_empty() {
                        break;
                    }
                    writer.write(&line)?;
                    writer.drain().await?;
                }
                writer.close();
                Ok(())
            },
            "127.0.0.1",
            port,
        )
        .await
        .map_err(|e| e.to_string())?;
        let port = server.sockets().first().map_or(port, |a| a.port());
        SERVERS.with(|s| s.borrow_mut().push(server));
        Ok(port)
    }

    async fn echo(host: String, port: u16, message: String) -> Result<String, String> {
        echo(&host, port, &message).await.map_err(|e| e.to_string())
    }

    async fn run(program: String, args: Vec<String>) -> Result<String, String> {
        let options = asyncio::subprocess::Options::new().stdout(asyncio::subprocess::Stdio::Pipe);
        let run = async {
            let mut child = asyncio::create_subprocess_exec(&program, args, options).await?;
            let (out, _) = child.communicate(None).await?;
            let status = child.wait().await?;
            Ok::<_, asyncio::Error>((out, status))
        };
        match run.await {
            Ok((out, 0)) => Ok(String::from_utf8_lossy(&out).into_owned()),
            Ok((out, status)) => Err(format!(
                "{program} exited with status {status}: {}",
                String::from_utf8_lossy(&out).trim_end()
            )),
            Err(e) => Err(e.to_string()),
        }
    }

    fn tasks() -> String {
        asyncio::task_dump()
    }

    fn crash() {
        panic!("crash() was called: the instance dies");
    }
}

async fn echo(host: &str, port: u16, message: &str) -> asyncio::Result<String> {
    let (mut reader, mut writer) = asyncio::open_connection(host, port).await?;
    writer.write(format!("{message}\n").as_bytes())?;
    writer.drain().await?;
    let reply = reader.readline().await?;
    writer.close();
    Ok(String::from_utf8_lossy(&reply).trim_end().to_owned())
}

export!(Playground);

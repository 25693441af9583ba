//! A guest that tries to exhaust the host, one resource per mode; the host
//! test checks that the host stops it (or refuses it) cleanly and keeps
//! nothing afterwards:
//!
//! - `tasks`: a million tasks that never finish (memory, under
//!   `--max-memory`);
//! - `timers`: a million timers a day away (the guest's timer heap: one host
//!   wait at a time), then a million more cancelled;
//! - `sockets PORT N`: N connects to a loopback port nobody listens on,
//!   64 at a time, each refused; then it says `idle` and waits, so the test
//!   can count the host's descriptors;
//! - `children N`: starts `sleep 60` until the host refuses (its cap), then
//!   exits with the children still running (they must die with the run);
//! - `flood MB`: MB mebibytes to stdout and to stderr, as fast as it can,
//!   then `idle` on stderr and a wait, so the test can read the host's peak
//!   memory.
use std::time::Duration;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n = |i: usize| -> usize { args.get(i).map_or(0, |a| a.parse().unwrap()) };
    match args[0].as_str() {
        "tasks" => {
            let mut tasks = Vec::new();
            for i in 0..1_000_000u32 {
                tasks.push(asyncio::create_task(async move {
                    asyncio::sleep(Duration::from_secs(3600)).await?;
                    Ok(i)
                }));
                if i % 100_000 == 0 {
                    asyncio::yield_now().await?;
                }
            }
            println!("a million tasks");
            asyncio::sleep(Duration::from_secs(3600)).await?;
        }
        "timers" => {
            let lp = asyncio::get_running_loop();
            let mut handles = Vec::new();
            for _ in 0..1_000_000 {
                handles.push(lp.call_later(Duration::from_secs(86_400), || {}));
            }
            for h in &handles {
                h.cancel();
            }
            drop(handles);
            for _ in 0..1_000_000 {
                drop(lp.call_later(Duration::from_secs(86_400), || {}));
            }
            asyncio::sleep(Duration::from_millis(10)).await?;
            println!("two million timers");
        }
        "sockets" => {
            let port = n(1) as u16;
            let total = n(2);
            let mut refused = 0;
            let mut other = 0;
            let mut left = total;
            while left > 0 {
                let batch = left.min(64);
                left -= batch;
                let attempts: Vec<_> = (0..batch)
                    .map(|_| asyncio::create_task(asyncio::open_connection("127.0.0.1", port)))
                    .collect();
                for t in attempts {
                    match t.await {
                        Err(e)
                            if matches!(
                                e.kind(),
                                asyncio::ErrorKind::Io(std::io::ErrorKind::ConnectionRefused)
                            ) =>
                        {
                            refused += 1
                        }
                        Err(_) => other += 1,
                        Ok(_) => panic!("a connection to a closed port"),
                    }
                }
            }
            println!("{refused} refused, {other} other");
            eprintln!("idle");
            asyncio::sleep(Duration::from_secs(3600)).await?;
        }
        "children" => {
            let mut children = Vec::new();
            loop {
                let opts = asyncio::subprocess::Options::new();
                match asyncio::create_subprocess_exec("sleep", ["60"], opts).await {
                    Ok(child) => children.push(child),
                    Err(e) => {
                        println!("refused after {} children: {e}", children.len());
                        break;
                    }
                }
                if children.len() > 10_000 {
                    println!("no cap");
                    break;
                }
            }
            let pids: Vec<String> = children.iter().map(|c| c.pid().to_string()).collect();
            println!("pids {}", pids.join(" "));
        }
        "flood" => {
            let chunk = vec![b'x'; 1 << 20];
            let mut out = asyncio::streams::stdout();
            let mut err = asyncio::streams::stderr();
            for _ in 0..n(1) {
                out.write(&chunk)?;
                err.write(&chunk)?;
                out.drain().await?;
                err.drain().await?;
            }
            err.write(b"\nidle\n")?;
            err.drain().await?;
            asyncio::sleep(Duration::from_secs(3600)).await?;
        }
        other => panic!("unknown mode {other}"),
    }
    Ok(())
}

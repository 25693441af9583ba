//! A line echo server for the 1000-connection test (the host test is the
//! client): every line comes back; a `quit` line stops it. It reports how
//! many connections it served and the most it had open at once.
use asyncio::Event;
use std::cell::Cell;
use std::rc::Rc;

#[derive(Default)]
struct Counts {
    served: Cell<u32>,
    open: Cell<u32>,
    most_open: Cell<u32>,
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let quit = Event::new();
    let counts = Rc::new(Counts::default());
    let (q, c) = (quit.clone(), counts.clone());
    let server = asyncio::start_server(
        move |mut reader, mut writer| {
            let (quit, counts) = (q.clone(), c.clone());
            async move {
                counts.open.set(counts.open.get() + 1);
                counts
                    .most_open
                    .set(counts.most_open.get().max(counts.open.get()));
                let mut lines = 0u32;
                let result = async {
                    loop {
                        let line = reader.readline().await?;
                        if line.is_empty() {
                            return Ok(());
                        }
                        if line == b"quit\n" {
                            quit.set();
                            return Ok(());
                        }
                        writer.write(&line)?;
                        writer.drain().await?;
                        lines += 1;
                    }
                }
                .await;
                counts.open.set(counts.open.get() - 1);
                if lines > 0 {
                    counts.served.set(counts.served.get() + 1);
                }
                result
            }
        },
        "127.0.0.1",
        0,
    )
    .await?;
    println!("listening on {}", server.sockets()[0]);
    quit.wait().await?;
    server.close();
    server.close_clients();
    server.wait_closed().await?;
    println!(
        "served {} connections, at most {} at once",
        counts.served.get(),
        counts.most_open.get()
    );
    Ok(())
}

//! A line echo server that must keep serving everyone while some clients
//! misbehave (the host test plays them): over-long lines get an error and
//! are closed, resets and garbage affect only their own connection. A
//! "quit" line ends the server.
use asyncio::{ErrorKind, Event};
use std::cell::Cell;
use std::rc::Rc;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let quit = Event::new();
    let failures = Rc::new(Cell::new(0u32));
    let (q, f) = (quit.clone(), failures.clone());
    let server = asyncio::streams::start_server_with(
        move |mut reader, mut writer| {
            let (quit, failures) = (q.clone(), f.clone());
            async move {
                loop {
                    let line = match reader.readline().await {
                        Ok(line) => line,
                        Err(e) if matches!(e.kind(), ErrorKind::LimitOverrun { .. }) => {
                            writer.write(b"error: line too long\n")?;
                            writer.drain().await?;
                            failures.set(failures.get() + 1);
                            return Ok(());
                        }
                        Err(e) => {
                            failures.set(failures.get() + 1);
                            return Err(e);
                        }
                    };
                    if line.is_empty() {
                        return Ok(());
                    }
                    if line == b"quit\n" {
                        quit.set();
                        return Ok(());
                    }
                    writer.write(&line)?;
                    writer.drain().await?;
                }
            }
        },
        "127.0.0.1",
        0,
        1024,
    )
    .await?;
    println!("listening on {}", server.sockets()[0]);
    quit.wait().await?;
    server.close();
    server.close_clients();
    server.wait_closed().await?;
    println!("done; {} connections failed or were cut", failures.get());
    Ok(())
}

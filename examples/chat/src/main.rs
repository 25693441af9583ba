//! A small chat server: each client first sends its name, then every line
//! it sends goes to every other client as `name: line`; joins and leaves
//! are announced. `/shutdown` from any client stops the server, as does
//! the time limit. A client that stops reading is dropped once 1 MiB of
//! messages waits for it, so it cannot hold the others back.
//!
//! ```sh
//! aio run chat.wasm --allow-listen=127.0.0.1:7777 -- 7777 [SECONDS]
//! ```

use asyncio::{Event, StreamReader, StreamWriter, start_server, wait_for};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

/// How much may wait for one slow client before it is dropped.
const BACKLOG: usize = 1 << 20;

#[derive(Default)]
struct Room {
    next_id: u64,
    members: BTreeMap<u64, StreamWriter>,
}

impl Room {
    /// Sends `message` to everyone but `from`.
    fn broadcast(&mut self, from: u64, message: &str) {
        self.members.retain(|&id, writer| {
            if id == from {
                return true;
            }
            if writer.get_write_buffer_size() > BACKLOG {
                writer.abort();
                return false;
            }
            writer.write(message.as_bytes()).is_ok()
        });
    }
}

async fn member(
    room: Rc<RefCell<Room>>,
    stop: Event,
    mut reader: StreamReader,
    mut writer: StreamWriter,
) -> asyncio::Result<()> {
    writer.write(b"your name?\n")?;
    let name = String::from_utf8_lossy(reader.readline().await?.trim_ascii()).into_owned();
    if name.is_empty() {
        return Ok(());
    }
    writer.write(format!("welcome, {name}\n").as_bytes())?;
    let id = {
        let mut room = room.borrow_mut();
        let id = room.next_id;
        room.next_id += 1;
        room.members.insert(id, writer);
        room.broadcast(id, &format!("* {name} joined\n"));
        id
    };
    let result = async {
        loop {
            let line = reader.readline().await?;
            if line.is_empty() {
                return Ok(());
            }
            let text = String::from_utf8_lossy(line.trim_ascii_end());
            if text == "/shutdown" {
                stop.set();
                return Ok(());
            }
            room.borrow_mut()
                .broadcast(id, &format!("{name}: {text}\n"));
        }
    }
    .await;
    let mut room = room.borrow_mut();
    room.members.remove(&id);
    room.broadcast(id, &format!("* {name} left\n"));
    result
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args
        .get(1)
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| asyncio::Error::msg("usage: chat PORT [SECONDS]"))?;
    let seconds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(60);
    let room = Rc::new(RefCell::new(Room::default()));
    let stop = Event::new();
    let (r, s) = (room.clone(), stop.clone());
    let server = start_server(
        move |reader, writer| member(r.clone(), s.clone(), reader, writer),
        "127.0.0.1",
        port,
    )
    .await?;
    println!("listening on {}", server.sockets()[0]);
    if wait_for(Duration::from_secs(seconds), stop.wait())
        .await
        .is_err()
    {
        println!("time is up");
    }
    server.close();
    // Members' writers live in the room: closing them ends every session.
    for writer in room.borrow_mut().members.values_mut() {
        writer.close();
    }
    server.close_clients();
    wait_for(Duration::from_secs(5), server.wait_closed()).await?;
    println!("stopped");
    Ok(())
}

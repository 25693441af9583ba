//! A key-value service on a Unix socket: the local-IPC shape of many real
//! services (a daemon's control socket, a sidecar). One line per request:
//!
//! - `SET KEY VALUE` answers `OK`; `GET KEY` answers the value or `NIL`;
//! - `DEL KEY` answers `1` or `0`; `KEYS` answers the keys, sorted, on one
//!   line; `SHUTDOWN` answers `BYE` and stops the service.
//!
//! Every client shares the one table; the service stops after SECONDS (60
//! by default) if nobody shuts it down, and its socket file goes with it.
//!
//! ```sh
//! aio run --allow-unix=/tmp/kv unix-kv.wasm -- /tmp/kv/kv.sock [SECONDS]
//! scripts/run-example unix-kv --allow-unix=/tmp/unix-kv.sock   # the default path
//! printf 'SET a 1\nGET a\n' | nc -U -q1 /tmp/unix-kv.sock
//! ```
//!
//! Without `--allow-unix` covering the path it stops at once, naming the
//! flag.

use asyncio::{Event, StreamReader, StreamWriter, start_unix_server, wait_for};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

type Table = Rc<RefCell<BTreeMap<String, String>>>;

/// Answers one request line.
fn answer(table: &Table, line: &str, stop: &Event) -> String {
    let mut words = line.splitn(3, ' ');
    let mut t = table.borrow_mut();
    match (words.next(), words.next(), words.next()) {
        (Some("SET"), Some(key), Some(value)) => {
            t.insert(key.to_owned(), value.to_owned());
            "OK".into()
        }
        (Some("GET"), Some(key), None) => t.get(key).cloned().unwrap_or_else(|| "NIL".into()),
        (Some("DEL"), Some(key), None) => u8::from(t.remove(key).is_some()).to_string(),
        (Some("KEYS"), None, None) => t.keys().cloned().collect::<Vec<_>>().join(" "),
        (Some("SHUTDOWN"), None, None) => {
            stop.set();
            "BYE".into()
        }
        _ => format!("ERR unknown request {line:?}"),
    }
}

/// Serves one client until it leaves.
async fn serve(
    mut reader: StreamReader,
    mut writer: StreamWriter,
    table: Table,
    stop: Event,
) -> asyncio::Result<()> {
    loop {
        let line = reader.readline().await?;
        if line.is_empty() {
            return Ok(());
        }
        let line = String::from_utf8_lossy(&line);
        let reply = answer(&table, line.trim_end(), &stop);
        writer.write(format!("{reply}\n").as_bytes())?;
        writer.drain().await?;
    }
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).map_or("/tmp/unix-kv.sock", String::as_str);
    let seconds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(60);
    let table = Table::default();
    let stop = Event::new();
    let (t, s) = (table.clone(), stop.clone());
    let server = start_unix_server(
        move |reader, writer| serve(reader, writer, t.clone(), s.clone()),
        path,
    )
    .await?;
    println!("listening on {path}");
    if wait_for(Duration::from_secs(seconds), stop.wait())
        .await
        .is_err()
    {
        println!("time is up");
    }
    server.close();
    server.close_clients();
    wait_for(Duration::from_secs(5), server.wait_closed()).await?;
    println!("stopped with {} keys", table.borrow().len());
    Ok(())
}

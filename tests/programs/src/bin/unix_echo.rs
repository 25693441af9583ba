//! Unix domain sockets (`--allow-unix`) against a real peer (the host test
//! runs Python asyncio's own `start_unix_server`/`open_unix_connection`):
//!
//! - `client PATH`: streams (`open_unix_connection`): two lines out and
//!   back, then 256 KiB, then EOF;
//! - `protocol PATH`: a protocol (`Loop::create_unix_connection`): one line;
//! - `server PATH N`: an uppercasing line server (`start_unix_server`) for
//!   N clients, then closed (the host removes the socket file);
//! - `protocol-server PATH N`: the same with `Loop::create_unix_server`.
use asyncio::transports::{BaseProtocol, Protocol, Transport};
use std::cell::{Cell, RefCell};
use std::rc::Rc;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args[1].as_str();
    let clients: usize = args.get(2).map_or(0, |n| n.parse().unwrap());
    match args[0].as_str() {
        "client" => client(path).await,
        "protocol" => protocol(path).await,
        "server" => server(path, clients).await,
        "protocol-server" => protocol_server(path, clients).await,
        other => panic!("unknown mode {other}"),
    }
}

async fn client(path: &str) -> asyncio::Result<()> {
    let (mut reader, mut writer) = asyncio::open_unix_connection(path).await?;
    assert_eq!(writer.unix_path(), Some(path));
    assert_eq!(writer.peername(), None);
    for line in ["hello\n", "unix\n"] {
        writer.write(line.as_bytes())?;
        writer.drain().await?;
        let back = reader.readline().await?;
        print!("{}", String::from_utf8_lossy(&back));
    }
    // A large payload, each line back in order.
    let mut big = Vec::new();
    for i in 0..4096 {
        big.extend_from_slice(format!("{i:063}\n").as_bytes());
    }
    writer.write(&big)?;
    let back = reader.readexactly(big.len()).await?;
    assert_eq!(back, big.to_ascii_uppercase());
    println!("bulk {} bytes", back.len());
    writer.close();
    writer.wait_closed().await?;
    assert!(reader.read_to_end().await?.is_empty());
    println!("closed");
    Ok(())
}

/// A protocol that sends one line and keeps what comes back.
struct OneLine {
    got: Rc<RefCell<Vec<u8>>>,
    done: asyncio::Event,
    transport: Option<Transport>,
}

impl BaseProtocol for OneLine {
    fn connection_made(&mut self, t: Transport) {
        t.write(b"protocol\n").unwrap();
        self.transport = Some(t);
    }

    fn connection_lost(&mut self, _exc: Option<asyncio::Error>) {
        self.done.set();
    }
}

impl Protocol for OneLine {
    fn data_received(&mut self, data: &[u8]) {
        self.got.borrow_mut().extend_from_slice(data);
        if data.ends_with(b"\n") {
            self.transport.as_ref().unwrap().close();
        }
    }
}

async fn protocol(path: &str) -> asyncio::Result<()> {
    let got = Rc::new(RefCell::new(Vec::new()));
    let done = asyncio::Event::new();
    let lp = asyncio::get_running_loop();
    let (transport, _p) = lp
        .create_unix_connection(
            || OneLine {
                got: got.clone(),
                done: done.clone(),
                transport: None,
            },
            path,
        )
        .await?;
    assert_eq!(transport.unix_path().as_deref(), Some(path));
    done.wait().await?;
    print!("{}", String::from_utf8_lossy(&got.borrow()));
    Ok(())
}

async fn server(path: &str, clients: usize) -> asyncio::Result<()> {
    let served = Rc::new(Cell::new(0));
    let count = served.clone();
    let server = asyncio::start_unix_server(
        move |mut reader, mut writer| {
            let count = count.clone();
            async move {
                assert!(writer.unix_path().is_some());
                loop {
                    let line = reader.readline().await?;
                    if line.is_empty() {
                        count.set(count.get() + 1);
                        return Ok(());
                    }
                    writer.write(&line.to_ascii_uppercase())?;
                    writer.drain().await?;
                }
            }
        },
        path,
    )
    .await?;
    assert_eq!(server.path(), Some(path));
    assert!(server.sockets().is_empty());
    finish(server, path, clients, served).await
}

/// Uppercases every line, as a protocol; counts its connection when lost.
struct Upper(Option<Transport>, Vec<u8>, Rc<Cell<usize>>);

impl BaseProtocol for Upper {
    fn connection_made(&mut self, t: Transport) {
        self.0 = Some(t);
    }

    fn connection_lost(&mut self, _exc: Option<asyncio::Error>) {
        self.2.set(self.2.get() + 1);
    }
}

impl Protocol for Upper {
    fn data_received(&mut self, data: &[u8]) {
        self.1.extend_from_slice(data);
        while let Some(end) = self.1.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.1.drain(..=end).collect();
            self.0
                .as_ref()
                .unwrap()
                .write(&line.to_ascii_uppercase())
                .unwrap();
        }
    }
}

async fn protocol_server(path: &str, clients: usize) -> asyncio::Result<()> {
    let served = Rc::new(Cell::new(0));
    let count = served.clone();
    let lp = asyncio::get_running_loop();
    let server = lp
        .create_unix_server(move || Upper(None, Vec::new(), count.clone()), path)
        .await?;
    finish(server, path, clients, served).await
}

/// Says where it listens, waits until `clients` clients were served, and
/// closes the server.
async fn finish(
    server: asyncio::Server,
    path: &str,
    clients: usize,
    served: Rc<Cell<usize>>,
) -> asyncio::Result<()> {
    println!("listening on {path}");
    while served.get() < clients {
        asyncio::sleep(std::time::Duration::from_millis(5)).await?;
    }
    server.close();
    server.wait_closed().await?;
    println!("served {}", served.get());
    Ok(())
}

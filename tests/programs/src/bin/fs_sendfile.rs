//! `StreamWriter::sendfile` and `loop.sendfile` from a file in a granted
//! directory: a slice to a streams client, then the whole file over a
//! protocol's transport; each client checks every byte. argv[1]: the file.
use std::cell::RefCell;
use std::rc::Rc;

use asyncio::transports::{BaseProtocol, Protocol, Transport};
use asyncio::{get_running_loop, open_connection, start_server};

#[derive(Default)]
struct Keep(Rc<RefCell<Option<Transport>>>);

impl BaseProtocol for Keep {
    fn connection_made(&mut self, transport: Transport) {
        *self.0.borrow_mut() = Some(transport);
    }
}

impl Protocol for Keep {}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let path = std::env::args().nth(1).expect("argv[1]: a file");
    let whole = std::fs::read(&path)?;

    // Streams: bytes 1000..201000.
    let p = path.clone();
    let server = start_server(
        move |_reader, mut writer| {
            let p = p.clone();
            async move {
                let mut file = std::fs::File::open(&p)?;
                let n = writer.sendfile(&mut file, 1000, Some(200_000)).await?;
                println!("streams: sent {n}");
                writer.close();
                writer.wait_closed().await
            }
        },
        "127.0.0.1",
        0,
    )
    .await?;
    let port = server.sockets()[0].port();
    let (mut reader, _writer) = open_connection("127.0.0.1", port).await?;
    let got = reader.read_to_end().await?;
    println!(
        "streams: received {}, intact: {}",
        got.len(),
        got == whole[1000..201_000]
    );
    server.close();

    // A transport: the whole file, then close.
    let lp = get_running_loop();
    let kept: Rc<RefCell<Option<Transport>>> = Rc::default();
    let k = kept.clone();
    let server = lp
        .create_server(move || Keep(k.clone()), "127.0.0.1", 0)
        .await?;
    let port = server.sockets()[0].port();
    let (mut reader, _writer) = open_connection("127.0.0.1", port).await?;
    while kept.borrow().is_none() {
        asyncio::sleep(std::time::Duration::from_millis(1)).await?;
    }
    let transport = kept.borrow().clone().unwrap();
    let mut file = std::fs::File::open(&path)?;
    let n = lp.sendfile(&transport, &mut file, 0, None).await?;
    transport.close();
    let got = reader.read_to_end().await?;
    println!(
        "transport: sent {n}, received {}, intact: {}",
        got.len(),
        got == whole
    );
    server.close();
    Ok(())
}

//! abort() resets a connection, close() ends it with a FIN (issue 9 item
//! 4). Two guest servers: a protocol server (`listening on ADDR`) and a
//! streams server (`streams on ADDR`). Each client sends one line:
//! `abort` (the server buffers bytes, then aborts), `close` (the server
//! says `bye` and closes), `hold` (streams only: the handler answers `held`
//! and the server aborts every client). The host test is the client of
//! five such connections and must see a reset for each abort; then this
//! guest connects to its own protocol server, asks for an abort, and
//! prints what its transport saw.
use asyncio::transports::{BaseProtocol, Protocol, Transport};
use asyncio::{Event, Server, get_running_loop, start_server, wait_for};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

/// Acts on the first line: `abort` or `close`.
#[derive(Default)]
struct Commands {
    t: Option<Transport>,
    line: Vec<u8>,
}

impl BaseProtocol for Commands {
    fn connection_made(&mut self, t: Transport) {
        self.t = Some(t);
    }
}

impl Protocol for Commands {
    fn data_received(&mut self, data: &[u8]) {
        self.line.extend_from_slice(data);
        let t = self.t.as_ref().unwrap();
        match self.line.as_slice() {
            b"abort\n" => {
                // Buffered, some of it beyond what the socket takes at once.
                t.write(&[b'x'; 1 << 20]).unwrap();
                t.abort();
                assert!(t.write(b"late").is_err());
            }
            b"close\n" => {
                t.write(b"bye\n").unwrap();
                t.close();
            }
            _ => {}
        }
    }
}

/// The guest's own client: records how its connection was lost.
struct Client {
    lost: Rc<RefCell<Option<String>>>,
    done: Event,
}

impl BaseProtocol for Client {
    fn connection_made(&mut self, t: Transport) {
        t.write(b"abort\n").unwrap();
    }

    fn connection_lost(&mut self, e: Option<asyncio::Error>) {
        *self.lost.borrow_mut() = Some(match e {
            None => "None".into(),
            Some(e) => format!("{:?}", e.kind()),
        });
        self.done.set();
    }
}

impl Protocol for Client {}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let lp = get_running_loop();
    let protocols = lp.create_server(Commands::default, "127.0.0.1", 0).await?;
    let served = Rc::new(RefCell::new(Vec::<String>::new()));
    let server: Rc<RefCell<Option<Rc<Server>>>> = Rc::default();
    let (log, me) = (served.clone(), server.clone());
    let streams = Rc::new(
        start_server(
            move |mut reader, mut writer| {
                let (log, me) = (log.clone(), me.clone());
                async move {
                    let line = reader.readline().await?;
                    match line.as_slice() {
                        b"abort\n" => {
                            writer.write(&vec![b'y'; 1 << 20])?;
                            writer.abort();
                            assert!(writer.write(b"late").is_err());
                            // Our own reader ends, as asyncio's does.
                            let rest = reader.read(100).await?;
                            log.borrow_mut().push(format!(
                                "streams abort: reader then read {} bytes",
                                rest.len()
                            ));
                        }
                        b"close\n" => {
                            writer.write(b"bye\n")?;
                            writer.close();
                            writer.wait_closed().await?;
                            log.borrow_mut().push("streams close: closed".into());
                        }
                        b"hold\n" => {
                            writer.write(b"held\n")?;
                            writer.drain().await?;
                            let server = me.borrow().clone().expect("the server");
                            server.abort_clients();
                            let rest = reader.read(100).await?;
                            log.borrow_mut().push(format!(
                                "abort_clients: reader then read {} bytes",
                                rest.len()
                            ));
                        }
                        other => panic!("unexpected {other:?}"),
                    }
                    Ok(())
                }
            },
            "127.0.0.1",
            0,
        )
        .await?,
    );
    *server.borrow_mut() = Some(streams.clone());
    println!("listening on {}", protocols.sockets()[0]);
    println!("streams on {}", streams.sockets()[0]);

    // The host's three streams clients.
    wait_for(Duration::from_secs(20), async {
        while served.borrow().len() < 3 {
            asyncio::sleep(Duration::from_millis(10)).await?;
        }
        Ok(())
    })
    .await?;
    for line in served.borrow().iter() {
        println!("{line}");
    }

    // Guest to guest: our own client of the protocol server.
    let lost = Rc::new(RefCell::new(None));
    let done = Event::new();
    let port = protocols.sockets()[0].port();
    let (l2, d2) = (lost.clone(), done.clone());
    let _client = lp
        .create_connection(move || Client { lost: l2, done: d2 }, "127.0.0.1", port)
        .await?;
    wait_for(Duration::from_secs(10), done.wait()).await?;
    println!(
        "guest client of an abort: lost({})",
        lost.borrow().as_ref().unwrap()
    );
    protocols.close();
    streams.close();
    Ok(())
}

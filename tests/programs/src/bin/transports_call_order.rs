//! The protocol call order with real peers: the host test connects a
//! client that sends, half-closes and reads, then one that resets; this
//! guest then aborts a connection of its own. Each connection's callbacks
//! are printed in order (data as one `data` per callback, sizes summed).
use asyncio::transports::{BaseProtocol, Protocol, Transport};
use asyncio::{Error, Event, get_running_loop, wait_for};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

type Log = Rc<RefCell<Vec<String>>>;

/// Records every callback; answers `ok` to data, `bye` to EOF (keeping the
/// connection open to say it), then closes.
struct Recorder {
    log: Log,
    transport: Option<Transport>,
    lost: Option<Event>,
}

impl Recorder {
    fn push(&self, what: String) {
        self.log.borrow_mut().push(what);
    }
}

fn describe(e: &Option<Error>) -> String {
    match e {
        None => "None".into(),
        Some(e) => format!("{:?}", e.kind()),
    }
}

impl BaseProtocol for Recorder {
    fn connection_made(&mut self, t: Transport) {
        assert!(t.peername().is_some() && t.sockname().is_some());
        assert_eq!(t.get_extra_info("peername"), t.peername());
        self.push("made".into());
        self.transport = Some(t);
    }

    fn connection_lost(&mut self, e: Option<Error>) {
        self.push(format!("lost({})", describe(&e)));
        self.transport = None;
        if let Some(ev) = &self.lost {
            ev.set();
        }
    }
}

impl Protocol for Recorder {
    fn data_received(&mut self, data: &[u8]) {
        assert!(!data.is_empty());
        if self.log.borrow().last().is_some_and(|l| l == "data") {
            // Chunking is the network's business: one entry per run.
        } else {
            self.push("data".into());
        }
        if let Some(t) = &self.transport
            && self.lost.is_some()
        {
            t.write(b"ok\n").unwrap();
        }
    }

    fn eof_received(&mut self) -> bool {
        self.push("eof".into());
        let t = self.transport.as_ref().unwrap();
        if self.lost.is_some() {
            t.write(b"bye\n").unwrap();
            t.close();
            assert!(t.is_closing());
            assert!(t.write(b"late").is_err(), "write after close fails");
        }
        true
    }
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let lp = get_running_loop();
    let logs: Rc<RefCell<Vec<Log>>> = Rc::default();
    let lost: Rc<RefCell<Vec<Event>>> = Rc::default();
    let (l2, lost2) = (logs.clone(), lost.clone());
    let server = lp
        .create_server(
            move || {
                let log = Log::default();
                let ev = Event::new();
                l2.borrow_mut().push(log.clone());
                lost2.borrow_mut().push(ev.clone());
                Recorder {
                    log,
                    transport: None,
                    lost: Some(ev),
                }
            },
            "127.0.0.1",
            0,
        )
        .await?;
    println!("listening on {}", server.sockets()[0]);
    // The host test's two clients, one after the other.
    for i in 0..2 {
        while lost.borrow().len() <= i {
            asyncio::sleep(Duration::from_millis(10)).await?;
        }
        let ev = lost.borrow()[i].clone();
        wait_for(Duration::from_secs(20), ev.wait()).await?;
        println!(
            "server conn {}: {}",
            i + 1,
            logs.borrow()[i].borrow().join(" ")
        );
    }

    // A local abort: made, then lost(None) and nothing else, even with
    // bytes buffered.
    let log = Log::default();
    let l3 = log.clone();
    let port = server.sockets()[0].port();
    let (t, _p) = lp
        .create_connection(
            move || Recorder {
                log: l3,
                transport: None,
                lost: None,
            },
            "127.0.0.1",
            port,
        )
        .await?;
    assert_eq!(
        log.borrow().join(" "),
        "made",
        "made before create_connection returns"
    );
    t.write(&[1; 100_000])?;
    t.abort();
    t.abort(); // idempotent
    for _ in 0..100 {
        if log.borrow().len() > 1 {
            break;
        }
        asyncio::sleep(Duration::from_millis(10)).await?;
    }
    asyncio::sleep(Duration::from_millis(100)).await?; // nothing after lost
    println!("client abort: {}", log.borrow().join(" "));
    server.close();
    wait_for(Duration::from_secs(10), server.wait_closed()).await?;
    Ok(())
}

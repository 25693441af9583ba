//! pause_reading stops data_received until resume_reading; nothing is lost.
use asyncio::transports::{BaseProtocol, Protocol, Transport};
use asyncio::{Event, get_running_loop, open_connection, sleep, wait_for};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

struct Paused {
    got: Rc<Cell<usize>>,
    transport: Rc<RefCell<Option<Transport>>>,
    eof: Event,
}

impl BaseProtocol for Paused {
    fn connection_made(&mut self, t: Transport) {
        t.pause_reading();
        assert!(!t.is_reading());
        *self.transport.borrow_mut() = Some(t);
    }
}

impl Protocol for Paused {
    fn data_received(&mut self, data: &[u8]) {
        self.got.set(self.got.get() + data.len());
    }

    fn eof_received(&mut self) -> bool {
        self.eof.set();
        false
    }
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let got = Rc::new(Cell::new(0));
    let transport: Rc<RefCell<Option<Transport>>> = Rc::default();
    let eof = Event::new();
    let (g, t, e) = (got.clone(), transport.clone(), eof.clone());
    let server = get_running_loop()
        .create_server(
            move || Paused {
                got: g.clone(),
                transport: t.clone(),
                eof: e.clone(),
            },
            "127.0.0.1",
            0,
        )
        .await?;
    let (_r, mut w) = open_connection("127.0.0.1", server.sockets()[0].port()).await?;
    w.write(&[5; 100_000])?;
    w.drain().await?;
    sleep(Duration::from_millis(300)).await?;
    assert_eq!(got.get(), 0, "data_received while reading was paused");
    println!("nothing delivered while paused");
    let server_side = transport.borrow().clone().expect("connected");
    server_side.resume_reading();
    assert!(server_side.is_reading());
    w.close();
    wait_for(Duration::from_secs(10), eof.wait()).await?;
    println!("{} bytes after resume_reading, then EOF", got.get());
    server.close();
    wait_for(Duration::from_secs(10), server.wait_closed()).await?;
    Ok(())
}

//! A BufferedProtocol with a small buffer receives every byte, in order.
use asyncio::transports::{BaseProtocol, BufferedProtocol, Transport};
use asyncio::{Error, Event, get_running_loop, open_connection, wait_for};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

const TOTAL: usize = 1_000_000;

struct Collect {
    buf: [u8; 1000],
    got: Rc<RefCell<Vec<u8>>>,
    calls: Rc<RefCell<usize>>,
    done: Event,
}

impl BaseProtocol for Collect {
    fn connection_made(&mut self, t: Transport) {
        let _ = t;
    }

    fn connection_lost(&mut self, e: Option<Error>) {
        assert!(e.is_none(), "{e:?}");
        self.done.set();
    }
}

impl BufferedProtocol for Collect {
    fn get_buffer(&mut self, size_hint: usize) -> &mut [u8] {
        assert!(size_hint > 0);
        &mut self.buf
    }

    fn buffer_updated(&mut self, n: usize) {
        *self.calls.borrow_mut() += 1;
        self.got.borrow_mut().extend_from_slice(&self.buf[..n]);
    }
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let got: Rc<RefCell<Vec<u8>>> = Rc::default();
    let calls = Rc::new(RefCell::new(0));
    let done = Event::new();
    let (g, c, d) = (got.clone(), calls.clone(), done.clone());
    let server = get_running_loop()
        .create_buffered_server(
            move || Collect {
                buf: [0; 1000],
                got: g.clone(),
                calls: c.clone(),
                done: d.clone(),
            },
            "127.0.0.1",
            0,
        )
        .await?;
    let (_r, mut w) = open_connection("127.0.0.1", server.sockets()[0].port()).await?;
    let data: Vec<u8> = (0..TOTAL).map(|i| (i % 253) as u8).collect();
    w.write(&data)?;
    w.close();
    w.wait_closed().await?;
    wait_for(Duration::from_secs(20), done.wait()).await?;
    assert!(*got.borrow() == data, "the bytes differ");
    assert!(*calls.borrow() >= TOTAL / 1000);
    println!(
        "received {} bytes intact through a 1000-byte buffer",
        got.borrow().len()
    );
    server.close();
    wait_for(Duration::from_secs(10), server.wait_closed()).await?;
    Ok(())
}

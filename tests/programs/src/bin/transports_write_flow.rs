//! pause_writing fires when the write buffer passes the high-water mark
//! while the peer does not read; resume_writing once the peer reads.
use asyncio::transports::{BaseProtocol, Protocol};
use asyncio::{Event, get_running_loop, sleep, wait_for};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

#[derive(Default)]
struct Writer {
    events: Rc<RefCell<Vec<&'static str>>>,
    resumed: Event,
}

impl BaseProtocol for Writer {
    fn pause_writing(&mut self) {
        self.events.borrow_mut().push("pause");
    }

    fn resume_writing(&mut self) {
        self.events.borrow_mut().push("resume");
        self.resumed.set();
    }
}

impl Protocol for Writer {}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let lp = get_running_loop();
    let go = Event::new();
    let g = go.clone();
    let server = asyncio::start_server(
        move |mut reader, _w| {
            let go = g.clone();
            async move {
                go.wait().await?;
                let n = reader.read_to_end().await?.len();
                println!("peer read {n} bytes");
                Ok(())
            }
        },
        "127.0.0.1",
        0,
    )
    .await?;
    let port = server.sockets()[0].port();
    let (t, p) = lp
        .create_connection(Writer::default, "127.0.0.1", port)
        .await?;
    t.set_write_buffer_limits(Some(256 << 10), None);
    let limits = t.get_write_buffer_limits();
    assert_eq!((limits.high, limits.low), (256 << 10, 64 << 10));
    t.write(&[1; 100 << 10])?;
    assert!(p.borrow().events.borrow().is_empty(), "below the mark");
    t.write(&[2; 16 << 20])?;
    assert_eq!(
        *p.borrow().events.borrow(),
        ["pause"],
        "called inside write"
    );
    sleep(Duration::from_millis(300)).await?;
    assert_eq!(*p.borrow().events.borrow(), ["pause"]);
    assert!(t.get_write_buffer_size() > 256 << 10);
    println!("paused while the peer did not read");
    go.set();
    let resumed = p.borrow().resumed.clone();
    wait_for(Duration::from_secs(20), resumed.wait()).await?;
    assert!(t.get_write_buffer_size() <= 64 << 10);
    println!("resumed once it read: {:?}", p.borrow().events.borrow());
    t.close();
    server.close();
    wait_for(Duration::from_secs(20), server.wait_closed()).await?;
    Ok(())
}

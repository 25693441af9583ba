//! UDP without the grants: a refused sendto reaches error_received as
//! PermissionDenied naming --allow-net; a refused bind or connect fails
//! create_datagram_endpoint, naming its flag.
use asyncio::transports::DatagramProtocol;
use asyncio::{Error, Queue, get_running_loop, wait_for};
use std::time::Duration;

struct Errors(Queue<Error>);

impl DatagramProtocol for Errors {
    fn error_received(&mut self, error: Error) {
        self.0.put_nowait(error).unwrap();
    }
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let lp = get_running_loop();
    let errors = Queue::new(0);
    // Run with --allow-listen=127.0.0.1:0 only.
    let (t, _) = lp
        .create_datagram_endpoint(|| Errors(errors.clone()), Some(("127.0.0.1", 0)), None)
        .await?;
    t.sendto(b"hello", Some("127.0.0.1:9".parse().unwrap()))?;
    let e = wait_for(Duration::from_secs(10), errors.get()).await?;
    println!("sendto: {e}");
    assert!(!t.is_closing(), "the endpoint stays open");
    t.close();
    for (local, remote) in [
        (Some(("127.0.0.1", 5)), None),
        (None, Some(("127.0.0.1", 9))),
    ] {
        let r = lp
            .create_datagram_endpoint(|| Errors(errors.clone()), local, remote)
            .await;
        println!("create: {}", r.map(|_| ()).unwrap_err());
    }
    Ok(())
}

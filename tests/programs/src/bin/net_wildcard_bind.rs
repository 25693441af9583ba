//! Binds every interface (`0.0.0.0:0`) for TCP (start_server) and UDP
//! (create_datagram_endpoint), run with only loopback listen grants: both
//! must be refused, naming the flag that would allow them.
use asyncio::transports::DatagramProtocol;
use asyncio::{get_running_loop, start_server};

struct Quiet;
impl DatagramProtocol for Quiet {}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    match start_server(|_r, _w| async { Ok(()) }, "0.0.0.0", 0).await {
        Ok(s) => println!("tcp: listening on {} (wrong)", s.sockets()[0]),
        Err(e) => println!("tcp: {e}"),
    }
    let udp = get_running_loop()
        .create_datagram_endpoint(|| Quiet, Some(("0.0.0.0", 0)), None)
        .await;
    match udp {
        Ok((t, _)) => println!("udp: bound to {:?} (wrong)", t.sockname()),
        Err(e) => println!("udp: {e}"),
    }
    // The granted loopback address still works.
    let server = start_server(|_r, _w| async { Ok(()) }, "127.0.0.1", 0).await?;
    println!("loopback: listening");
    server.close();
    Ok(())
}

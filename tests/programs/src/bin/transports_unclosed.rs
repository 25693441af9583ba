//! Debug mode: a transport still open when main returns is reported as
//! unclosed, and its protocol gets connection_lost(Cancelled) at shutdown;
//! a closed one is not reported.
use asyncio::transports::{BaseProtocol, Protocol};
use asyncio::{Error, get_running_loop};
use std::time::Duration;

struct Quiet(&'static str);

impl BaseProtocol for Quiet {
    fn connection_lost(&mut self, e: Option<Error>) {
        println!("{}: lost({:?})", self.0, e.map(|e| e.kind().clone()));
    }
}

impl Protocol for Quiet {}

#[asyncio::main(debug = true)]
async fn main() -> asyncio::Result<()> {
    let lp = get_running_loop();
    let server = asyncio::start_server(
        |mut r, w| async move {
            let _keep_open = w;
            r.read_to_end().await?;
            Ok(())
        },
        "127.0.0.1",
        0,
    )
    .await?;
    let port = server.sockets()[0].port();
    let (closed, _) = lp
        .create_connection(|| Quiet("closed"), "127.0.0.1", port)
        .await?;
    closed.close();
    let (left_open, _) = lp
        .create_connection(|| Quiet("left open"), "127.0.0.1", port)
        .await?;
    asyncio::sleep(Duration::from_millis(100)).await?;
    drop(left_open);
    println!("main returns");
    Ok(())
}

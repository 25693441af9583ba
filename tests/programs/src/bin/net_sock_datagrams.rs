//! `loop.sock_sendto` and `sock_recvfrom` over `asyncio::net::UdpSocket`:
//! a bound socket echoes to an unbound one (bound by the host at its first
//! send), a datagram longer than the receive is cut, and a receive before
//! any bind is refused.
use std::time::Duration;

use asyncio::net::UdpSocket;
use asyncio::{create_task, get_running_loop, wait_for};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let lp = get_running_loop();
    let server = std::rc::Rc::new(UdpSocket::new());
    server.bind("127.0.0.1:0".parse().unwrap())?;
    let addr = server.getsockname().expect("bound");
    let s = server.clone();
    let echo = create_task(async move {
        let lp = get_running_loop();
        for _ in 0..2 {
            let (data, from) = lp.sock_recvfrom(&s, 4).await?;
            lp.sock_sendto(&s, &data, from).await?;
        }
        Ok(())
    });

    let client = UdpSocket::new();
    let refused = lp.sock_recvfrom(&client, 10).await.unwrap_err();
    println!("receive unbound: {refused}");
    let n = lp.sock_sendto(&client, b"ping", addr).await?;
    let (back, from) = wait_for(Duration::from_secs(5), lp.sock_recvfrom(&client, 100)).await?;
    println!(
        "sent {n}, back {:?} from the server: {}",
        String::from_utf8_lossy(&back),
        from == addr
    );
    lp.sock_sendto(&client, b"longer than four", addr).await?;
    let (back, _) = wait_for(Duration::from_secs(5), lp.sock_recvfrom(&client, 100)).await?;
    println!("cut to {:?}", String::from_utf8_lossy(&back));
    wait_for(Duration::from_secs(5), echo).await?;
    Ok(())
}

//! The loop's socket calls over `asyncio::net::Socket`: a server on
//! `bind`/`listen`/`sock_accept` echoing with `sock_recv`/`sock_sendall`,
//! a client on `sock_connect`, a receive and a send in progress at once
//! from two tasks, and the errors of calls a socket cannot take.
use std::rc::Rc;
use std::time::Duration;

use asyncio::net::Socket;
use asyncio::{create_task, get_running_loop, sleep, wait_for};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let lp = get_running_loop();
    let server = Rc::new(Socket::tcp());
    server.bind("127.0.0.1:0".parse().unwrap())?;
    server.listen(16)?;
    let addr = server.getsockname().expect("bound");
    let s = server.clone();
    let serving = create_task(async move {
        let lp = get_running_loop();
        for _ in 0..2 {
            let (client, _) = lp.sock_accept(&s).await?;
            create_task(async move {
                let lp = get_running_loop();
                loop {
                    let data = lp.sock_recv(&client, 4096).await?;
                    if data.is_empty() {
                        return Ok(());
                    }
                    lp.sock_sendall(&client, &data).await?;
                }
            });
        }
        Ok(())
    });

    // One client: send, then receive into a buffer.
    let c = Socket::tcp();
    lp.sock_connect(&c, addr).await?;
    println!("connected: {}", c.getpeername() == Some(addr));
    lp.sock_sendall(&c, b"hello").await?;
    let mut buf = [0u8; 16];
    let mut got = 0;
    while got < 5 {
        got += wait_for(
            Duration::from_secs(5),
            lp.sock_recv_into(&c, &mut buf[got..]),
        )
        .await?;
    }
    println!("echoed: {}", String::from_utf8_lossy(&buf[..got]));

    // A second client: a task receives while this one sends 1 MB.
    let c2 = Rc::new(Socket::tcp());
    lp.sock_connect(&c2, addr).await?;
    let r = c2.clone();
    let receiving = create_task(async move {
        let lp = get_running_loop();
        let mut n = 0;
        while n < 1_000_000 {
            n += lp.sock_recv(&r, 65536).await?.len();
        }
        Ok(n)
    });
    sleep(Duration::from_millis(10)).await?;
    // The task above is in sock_recv: another is refused, not raced.
    let busy = lp.sock_recv(&c2, 10).await.unwrap_err();
    println!("second receive: {busy}");
    lp.sock_sendall(&c2, &vec![7u8; 1_000_000]).await?;
    println!(
        "received back: {}",
        wait_for(Duration::from_secs(10), receiving).await?
    );

    let not_listening = lp.sock_accept(&c).await.unwrap_err();
    println!("accept on a client: {not_listening}");
    wait_for(Duration::from_secs(5), serving).await?;
    // Closing a listener ends an accept that waits.
    let s = server.clone();
    let waiting = create_task(async move { get_running_loop().sock_accept(&s).await.map(|_| ()) });
    sleep(Duration::from_millis(10)).await?;
    server.close();
    let closed = wait_for(Duration::from_secs(5), waiting).await.unwrap_err();
    println!("accept after close: {closed}");
    c.close();
    c2.close();
    Ok(())
}

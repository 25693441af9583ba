//! A port nobody listens on refuses the connection: ConnectionRefused,
//! naming the address.
use asyncio::{ErrorKind, open_connection, start_server};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    // A port that was free a moment ago.
    let server = start_server(|_r, _w| async { Ok(()) }, "127.0.0.1", 0).await?;
    let port = server.sockets()[0].port();
    server.close();
    server.wait_closed().await?;
    let err = open_connection("127.0.0.1", port).await.unwrap_err();
    assert_eq!(
        err.kind(),
        &ErrorKind::Io(std::io::ErrorKind::ConnectionRefused),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains(&format!("connect to 127.0.0.1:{port}")),
        "{err}"
    );
    println!("refused");
    Ok(())
}

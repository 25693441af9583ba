//! A connect and a listen the host did not grant: PermissionDenied naming
//! the address and the flag that would allow it. Also a name lookup.
use asyncio::{ErrorKind, open_connection, start_server};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let err = open_connection("127.0.0.1", 9).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::PermissionDenied(_)),
        "{err:?}"
    );
    println!("connect: {err}");
    let err = start_server(|_r, _w| async { Ok(()) }, "127.0.0.1", 0)
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::PermissionDenied(_)),
        "{err:?}"
    );
    println!("listen: {err}");
    match asyncio::net::getaddrinfo("localhost", 80).await {
        Ok(addrs) => println!("lookup: allowed ({} addresses)", addrs.len()),
        Err(e) => println!("lookup: {e}"),
    }
    Ok(())
}

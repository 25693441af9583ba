//! Unix socket paths the host did not grant: each attempt fails with
//! `PermissionDenied` naming `--allow-unix` (or, inside the grant, with
//! the system's own error), and the program goes on.
#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    for path in std::env::args().skip(1) {
        let connect = asyncio::open_unix_connection(&path).await.err();
        println!("connect {path}: {}", describe(connect));
        let listen = asyncio::start_unix_server(|_, _| async { Ok(()) }, &path)
            .await
            .err();
        println!("listen {path}: {}", describe(listen));
    }
    Ok(())
}

fn describe(e: Option<asyncio::Error>) -> String {
    let Some(e) = e else {
        return "ok".into();
    };
    let flag = if e.to_string().contains("--allow-unix") {
        " (names --allow-unix)"
    } else {
        ""
    };
    match e.kind() {
        asyncio::ErrorKind::PermissionDenied(_) => format!("PermissionDenied{flag}"),
        asyncio::ErrorKind::Io(kind) => format!("{kind:?}{flag}"),
        other => format!("{other:?}"),
    }
}

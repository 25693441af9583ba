//! STARTTLS both ways (`StreamWriter::start_tls`).
//!
//! `client PORT`: to 127.0.0.1:PORT, reads the greeting, says `STARTTLS`,
//! reads the go-ahead, upgrades (the CA granted as `test`, the name
//! `localhost`), then sends `hello` and prints the echo.
//!
//! `server NAME`: listens on 127.0.0.1, port 0 (`listening on ADDR`), greets
//! one client, and on `STARTTLS` says go ahead and upgrades with the host's
//! identity NAME at once, then echoes lines.
use asyncio::ssl::SslContext;
use asyncio::{Event, open_connection, start_server};
use std::rc::Rc;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args[0] == "client" {
        let port: u16 = args[1].parse()?;
        let (mut reader, mut writer) = open_connection("127.0.0.1", port).await?;
        let greeting = reader.readline().await?;
        print!("greeting: {}", String::from_utf8_lossy(&greeting));
        writer.write(b"STARTTLS\n")?;
        let go = reader.readline().await?;
        print!("then: {}", String::from_utf8_lossy(&go));
        let ctx = SslContext::client()
            .load_verify_locations("test")
            .server_hostname("localhost");
        writer.start_tls(&mut reader, &ctx).await?;
        let tls = writer.ssl_object().expect("TLS now");
        println!("upgraded: {} {:?}", tls.version(), tls.peer_subject());
        writer.write(b"hello\n")?;
        let echo = reader.readline().await?;
        print!("echo: {}", String::from_utf8_lossy(&echo));
        writer.close();
        writer.wait_closed().await?;
        return Ok(());
    }
    let ctx = SslContext::server(&args[1]);
    let done = Rc::new(Event::new());
    let d = done.clone();
    let server = start_server(
        move |mut reader, mut writer| {
            let (ctx, d) = (ctx.clone(), d.clone());
            async move {
                writer.write(b"220 ready\n")?;
                if reader.readline().await?.trim_ascii() != b"STARTTLS" {
                    d.set();
                    return Ok(());
                }
                writer.write(b"220 go ahead\n")?;
                let upgraded = writer.start_tls(&mut reader, &ctx).await;
                println!(
                    "upgraded: {:?}",
                    upgraded.map(|()| writer.ssl_object().map(|t| t.version()))
                );
                loop {
                    let line = reader.readline().await?;
                    if line.is_empty() {
                        break;
                    }
                    writer.write(&line)?;
                    writer.drain().await?;
                }
                d.set();
                Ok(())
            }
        },
        "127.0.0.1",
        0,
    )
    .await?;
    println!("listening on {}", server.sockets()[0]);
    done.wait().await?;
    server.close();
    server.wait_closed().await?;
    println!("done");
    Ok(())
}

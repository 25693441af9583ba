//! A TLS echo server for the host's TLS tests: `start_server_ssl` with the
//! host's identity `NAME` (`--tls-cert NAME=...`) on 127.0.0.1, port 0;
//! prints `listening on ADDR`, echoes lines for `CLIENTS` clients (each
//! announced with its session), then closes and exits.
//!
//! Flags after NAME CLIENTS: `--alpn P,Q`.
use std::cell::Cell;
use std::rc::Rc;

use asyncio::ssl::SslContext;
use asyncio::{Event, start_server_ssl};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut ctx = SslContext::server(&args[0]);
    let clients: usize = args[1].parse()?;
    if args.get(2).map(String::as_str) == Some("--alpn") {
        ctx = ctx.set_alpn_protocols(&args[3].split(',').collect::<Vec<_>>());
    }
    let served = Rc::new(Cell::new(0));
    let done = Rc::new(Event::new());
    let (s, d) = (served.clone(), done.clone());
    let server = start_server_ssl(
        move |mut reader, mut writer| {
            let (s, d) = (s.clone(), d.clone());
            async move {
                let tls = writer.ssl_object().expect("a TLS session");
                println!(
                    "client: {} alpn={:?} peer cert={}",
                    tls.version(),
                    tls.selected_alpn_protocol(),
                    tls.peer_certificate().is_some()
                );
                loop {
                    let line = reader.readline().await?;
                    if line.is_empty() {
                        break;
                    }
                    writer.write(&line)?;
                    writer.drain().await?;
                }
                s.set(s.get() + 1);
                if s.get() == clients {
                    d.set();
                }
                Ok(())
            }
        },
        "127.0.0.1",
        0,
        &ctx,
    )
    .await;
    let server = match server {
        Ok(server) => server,
        Err(e) => {
            println!("error: {e}");
            return Ok(());
        }
    };
    println!("listening on {}", server.sockets()[0]);
    done.wait().await?;
    server.close();
    server.wait_closed().await?;
    println!("served {}", served.get());
    Ok(())
}

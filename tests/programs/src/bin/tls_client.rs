//! A TLS client for the host's TLS tests: connects to `HOST PORT` with
//! `open_connection_ssl`, says what the session is, sends `hello` and
//! prints the echo; any error is printed with its kind.
//!
//! Flags: `--ca NAME` (a `--tls-ca` bundle), `--name SERVER_NAME`,
//! `--alpn P,Q`, `--timeout-ms N` (the handshake timeout), `--lines N`
//! (then N lines of 1,000 bytes go out at once, from another task, while
//! this one reads the echo back and checks it).
use std::time::Duration;

use asyncio::ssl::SslContext;
use asyncio::{ErrorKind, open_connection_ssl};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let host = args[0].clone();
    let port: u16 = args[1].parse()?;
    let mut ctx = SslContext::client();
    let mut lines = 0usize;
    let mut flags = args[2..].iter();
    while let Some(flag) = flags.next() {
        let value = flags.next().expect("a value");
        ctx = match flag.as_str() {
            "--ca" => ctx.load_verify_locations(value),
            "--name" => ctx.server_hostname(value),
            "--alpn" => ctx.set_alpn_protocols(&value.split(',').collect::<Vec<_>>()),
            "--timeout-ms" => ctx.handshake_timeout(Duration::from_millis(value.parse()?)),
            "--lines" => {
                lines = value.parse()?;
                ctx
            }
            other => panic!("unknown flag {other}"),
        };
    }
    let (mut reader, mut writer) = match open_connection_ssl(&host, port, &ctx).await {
        Ok(pair) => pair,
        Err(e) => {
            match e.kind() {
                ErrorKind::Ssl { kind, .. } => println!("ssl error {kind:?}: {e}"),
                ErrorKind::PermissionDenied(_) => println!("permission denied: {e}"),
                other => println!("other error {other:?}: {e}"),
            }
            return Ok(());
        }
    };
    let tls = writer.ssl_object().expect("a TLS session");
    let cert = tls.peer_certificate().expect("the server's certificate");
    println!(
        "secured: {} alpn={:?} subject={:?} issuer={:?} san={:?} expires={}",
        tls.version(),
        tls.selected_alpn_protocol(),
        tls.peer_subject(),
        cert.issuer(),
        cert.subject_alt_names(),
        cert.not_after().is_some(),
    );
    println!("cipher named: {}", tls.cipher().starts_with("TLS"));
    if lines > 0 {
        let line = |i: usize| {
            let mut l = format!("{i:08} ").into_bytes();
            l.resize(999, b'a' + (i % 26) as u8);
            l.push(b'\n');
            l
        };
        let sending = asyncio::create_task(async move {
            for i in 0..lines {
                writer.write(&line(i))?;
                writer.drain().await?;
            }
            Ok(writer)
        });
        let mut good = 0;
        for i in 0..lines {
            if reader.readline().await? == line(i) {
                good += 1;
            }
        }
        println!("echoed {good} of {lines} lines intact");
        let mut writer = sending.await?;
        writer.close();
        writer.wait_closed().await?;
        return Ok(());
    }
    writer.write(b"hello\n")?;
    writer.drain().await?;
    let line = reader.readline().await?;
    println!("echo: {}", String::from_utf8_lossy(&line).trim_end());
    writer.close();
    writer.wait_closed().await?;
    Ok(())
}

//! An HTTPS client: fetches one URL with HTTP/1.1 over TLS and prints the
//! session, the status line and the body. The host verifies the server's
//! certificate against Mozilla's roots, or against a CA bundle it was
//! given by name.
//!
//! ```sh
//! aio run --allow-net=example.com:443 https-get.wasm -- https://example.com/
//! aio run --allow-net=127.0.0.1:8443 --tls-ca=dev=ca.pem \
//!     https-get.wasm -- https://localhost:8443/hello dev
//! ```

use asyncio::ssl::SslContext;
use asyncio::{Error, open_connection_ssl};

/// `https://HOST[:PORT][/PATH]` as its parts.
fn parse(url: &str) -> asyncio::Result<(String, u16, String)> {
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| Error::value(format!("{url}: not an https:// URL")))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse()
                .map_err(|_| Error::value(format!("{p}: bad port")))?,
        ),
        None => (authority, 443),
    };
    Ok((host.to_owned(), port, path.to_owned()))
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .ok_or_else(|| Error::msg("usage: https-get https://HOST[:PORT]/PATH [CA-NAME]"))?;
    let (host, port, path) = parse(url)?;
    let mut ctx = SslContext::client().set_alpn_protocols(&["http/1.1"]);
    if let Some(ca) = args.get(2) {
        ctx = ctx.load_verify_locations(ca);
    }
    // A name that is only ours (localhost) resolves through the host; the
    // connection goes to 127.0.0.1 and the certificate is checked for it.
    let connect_to = if host == "localhost" {
        "127.0.0.1"
    } else {
        &host
    };
    let ctx = ctx.server_hostname(&host);
    let (mut reader, mut writer) = open_connection_ssl(connect_to, port, &ctx).await?;
    if let Some(tls) = writer.ssl_object() {
        println!(
            "{} {} {}",
            tls.version(),
            tls.selected_alpn_protocol().unwrap_or("-"),
            tls.peer_subject().unwrap_or_default()
        );
    }
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: asyncio-wasm\r\nConnection: close\r\n\r\n"
    );
    writer.write(request.as_bytes())?;
    writer.drain().await?;
    let status = reader.readline().await?;
    println!("{}", String::from_utf8_lossy(&status).trim_end());
    // Headers, then the body to EOF (Connection: close).
    loop {
        let line = reader.readline().await?;
        if line.is_empty() || line == b"\r\n" || line == b"\n" {
            break;
        }
    }
    let body = reader.read_to_end().await?;
    print!("{}", String::from_utf8_lossy(&body));
    writer.close();
    Ok(())
}

//! TLS under protocols: `create_server_ssl` with the host's identity `web`
//! and `create_connection_ssl` to it (the CA granted as `test`), in one
//! guest. The server's protocol echoes; the client's sends a line, prints
//! what comes back and the session both ends saw, then closes.
use asyncio::ssl::SslContext;
use asyncio::transports::{BaseProtocol, Protocol, Transport};
use asyncio::{Error, Event, get_running_loop, wait_for};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

struct Echo(Option<Transport>);

impl BaseProtocol for Echo {
    fn connection_made(&mut self, t: Transport) {
        let tls = t.ssl_object().expect("TLS before connection_made");
        println!("server made: {}", tls.version());
        self.0 = Some(t);
    }

    fn connection_lost(&mut self, _: Option<Error>) {
        println!("server lost");
    }
}

impl Protocol for Echo {
    fn data_received(&mut self, data: &[u8]) {
        self.0.as_ref().unwrap().write(data).unwrap();
    }
}

struct Client {
    got: Rc<RefCell<Vec<u8>>>,
    done: Event,
}

impl BaseProtocol for Client {
    fn connection_made(&mut self, t: Transport) {
        let tls = t.ssl_object().expect("TLS before connection_made");
        println!(
            "client made: {} alpn={:?} subject={:?}",
            tls.version(),
            tls.selected_alpn_protocol(),
            tls.peer_subject()
        );
        t.write(b"over tls\n").unwrap();
    }

    fn connection_lost(&mut self, e: Option<Error>) {
        println!("client lost: {:?}", e.map(|e| e.to_string()));
    }
}

impl Protocol for Client {
    fn data_received(&mut self, data: &[u8]) {
        self.got.borrow_mut().extend_from_slice(data);
        if self.got.borrow().ends_with(b"\n") {
            self.done.set();
        }
    }
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let lp = get_running_loop();
    let server_ctx = SslContext::server("web").set_alpn_protocols(&["echo/1"]);
    let server = lp
        .create_server_ssl(|| Echo(None), "127.0.0.1", 0, &server_ctx)
        .await?;
    let port = server.sockets()[0].port();
    let ctx = SslContext::client()
        .load_verify_locations("test")
        .server_hostname("localhost")
        .set_alpn_protocols(&["echo/1"]);
    let got = Rc::new(RefCell::new(Vec::new()));
    let done = Event::new();
    let (transport, _client) = lp
        .create_connection_ssl(
            || Client {
                got: got.clone(),
                done: done.clone(),
            },
            "127.0.0.1",
            port,
            &ctx,
        )
        .await?;
    wait_for(Duration::from_secs(10), done.wait()).await?;
    println!(
        "echo: {}",
        String::from_utf8_lossy(&got.borrow()).trim_end()
    );
    transport.close();
    server.close();
    server.close_clients();
    wait_for(Duration::from_secs(10), server.wait_closed()).await?;
    Ok(())
}

//! The load generator of the network benchmarks (bench/run, "Network
//! echo" and "HTTP"): tokio current_thread, loopback. Verifies every echoed
//! byte and every HTTP response.
//!
//! ```text
//! loadgen ADDR echo CONNS SIZE SECONDS    # CONNS connections, each one SIZE-byte
//!                                         # message at a time, for SECONDS
//! loadgen ADDR connect WORKERS COUNT      # COUNT x (connect, 64 B round trip,
//!                                         # close), WORKERS at a time
//! loadgen ADDR http CONNS SECONDS         # CONNS keep-alive connections, each
//!                                         # one `GET /` at a time, for SECONDS
//! ```
//!
//! With `LOADGEN_TLS_CA=ca.pem` (and the `tls` feature), echo and connect
//! speak TLS (tokio-rustls, server name `localhost`): connect then counts
//! handshakes.
//!
//! Prints one JSON line: round trips (HTTP: requests; or connections),
//! seconds, the rate, and latency percentiles in microseconds (a round trip:
//! the write of the message to the last echoed byte; a request: its write to
//! the last byte of the response's body; a connection: connect to close).
mod http;

use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The message a connection sends in round `round`: different bytes for
/// every connection and round, so a misplaced echo is caught.
fn message(conn: usize, round: u64, size: usize) -> Vec<u8> {
    let seed = (conn as u64).wrapping_mul(0x9e37_79b9) ^ round.wrapping_mul(31);
    (0..size)
        .map(|i| (seed.wrapping_add(i as u64 * 7) % 251) as u8)
        .collect()
}

/// A connection of the echo and connect loads: TCP, or TLS over it.
enum Stream {
    Tcp(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

async fn round_trip(stream: &mut Stream, msg: &[u8], back: &mut [u8]) -> std::io::Result<()> {
    match stream {
        Stream::Tcp(stream) => {
            let (mut rd, mut wr) = stream.split();
            let (w, r) = tokio::join!(wr.write_all(msg), rd.read_exact(back));
            w?;
            r?;
        }
        #[cfg(feature = "tls")]
        Stream::Tls(stream) => {
            // (A 64 KiB message fits the loopback socket's buffers: no
            // need to read while writing.)
            stream.write_all(msg).await?;
            stream.flush().await?;
            stream.read_exact(back).await?;
        }
    }
    if back != msg {
        return Err(std::io::Error::other("echo differs from what was sent"));
    }
    Ok(())
}

/// A TCP connection to the server under test, with Nagle off (one small
/// message in flight at a time).
async fn connect_tcp(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

/// A connection for the echo and connect loads: over TLS when
/// `LOADGEN_TLS_CA` names the CA to verify the server against.
async fn connect(addr: SocketAddr) -> Stream {
    let stream = connect_tcp(addr).await;
    #[cfg(feature = "tls")]
    if let Some(connector) = tls::connector() {
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = connector
            .connect(name, stream)
            .await
            .expect("TLS handshake");
        return Stream::Tls(Box::new(tls));
    }
    Stream::Tcp(stream)
}

#[cfg(feature = "tls")]
mod tls {
    use std::sync::{Arc, OnceLock};
    use tokio_rustls::TlsConnector;
    use tokio_rustls::rustls::pki_types::CertificateDer;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto};

    /// One client configuration for the whole run (sessions resume, as
    /// the guest host's do).
    pub(super) fn connector() -> Option<TlsConnector> {
        static CONNECTOR: OnceLock<Option<TlsConnector>> = OnceLock::new();
        CONNECTOR
            .get_or_init(|| {
                let ca = std::env::var_os("LOADGEN_TLS_CA")?;
                let mut roots = RootCertStore::empty();
                for cert in CertificateDer::pem_file_iter(ca).expect("the CA file") {
                    roots.add(cert.expect("a CA certificate")).expect("a root");
                }
                #[allow(deprecated)]
                let provider = Arc::new(crypto::ring::default_provider());
                let config = ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .expect("versions")
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                Some(TlsConnector::from(Arc::new(config)))
            })
            .clone()
    }
}

/// The latencies of one connection's consecutive rounds, until a deadline.
struct Rounds {
    until: Instant,
    lat: Vec<u32>,
}

impl Rounds {
    fn new(until: Instant) -> Self {
        Rounds {
            until,
            lat: Vec::new(),
        }
    }

    /// The number of the next round, or `None` once the deadline has passed.
    fn next_round(&self) -> Option<u64> {
        (Instant::now() < self.until).then_some(self.lat.len() as u64)
    }

    /// Keeps the latency (µs) of a round that started at `t0` and ended now.
    fn done(&mut self, t0: Instant) {
        self.lat.push(t0.elapsed().as_micros() as u32);
    }
}

/// One connection sending `size`-byte messages until `until`: latencies in µs.
async fn echo_conn(addr: SocketAddr, conn: usize, size: usize, until: Instant) -> Vec<u32> {
    let mut stream = connect(addr).await;
    let mut back = vec![0u8; size];
    let mut rounds = Rounds::new(until);
    while let Some(round) = rounds.next_round() {
        let msg = message(conn, round, size);
        let t0 = Instant::now();
        round_trip(&mut stream, &msg, &mut back)
            .await
            .unwrap_or_else(|e| panic!("connection {conn}, round {round}: {e}"));
        rounds.done(t0);
    }
    rounds.lat
}

/// One keep-alive connection sending `GET /` until `until`, one request in
/// flight, checking every response: latencies in µs.
async fn http_conn(addr: SocketAddr, conn: usize, until: Instant) -> Vec<u32> {
    let mut stream = connect_tcp(addr).await;
    let mut buf = Vec::new();
    let mut rounds = Rounds::new(until);
    while let Some(request) = rounds.next_round() {
        let t0 = Instant::now();
        let result = match stream.write_all(http::REQUEST).await {
            Ok(()) => http::read_response(&mut stream, &mut buf).await,
            Err(e) => Err(format!("writing the request: {e}")),
        };
        if let Err(e) = result {
            panic!("HTTP connection {conn}, request {request}: {e}");
        }
        rounds.done(t0);
    }
    rounds.lat
}

/// `count` times: connect, one 64 B round trip, close.
async fn connect_worker(addr: SocketAddr, worker: usize, count: usize) -> Vec<u32> {
    let mut lat = Vec::with_capacity(count);
    let mut back = [0u8; 64];
    for i in 0..count {
        let t0 = Instant::now();
        let mut stream = connect(addr).await;
        let msg = message(worker, i as u64, 64);
        round_trip(&mut stream, &msg, &mut back)
            .await
            .unwrap_or_else(|e| panic!("worker {worker}, connection {i}: {e}"));
        drop(stream);
        lat.push(t0.elapsed().as_micros() as u32);
    }
    lat
}

fn pct(sorted: &[u32], p: f64) -> u32 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: loadgen ADDR (echo CONNS SIZE SECONDS | connect WORKERS COUNT | http CONNS SECONDS)";
    let addr: SocketAddr = args.get(1).and_then(|a| a.parse().ok()).expect(usage);
    let num = |i: usize| -> usize { args.get(i).and_then(|a| a.parse().ok()).expect(usage) };
    let start = Instant::now();
    let tasks: Vec<_> = match args.get(2).map(String::as_str) {
        Some("echo") => {
            let (conns, size, secs) = (num(3), num(4), num(5));
            let until = start + Duration::from_secs(secs as u64);
            (0..conns)
                .map(|c| tokio::spawn(echo_conn(addr, c, size, until)))
                .collect()
        }
        Some("http") => {
            let (conns, secs) = (num(3), num(4));
            let until = start + Duration::from_secs(secs as u64);
            (0..conns)
                .map(|c| tokio::spawn(http_conn(addr, c, until)))
                .collect()
        }
        Some("connect") => {
            let (workers, count) = (num(3), num(4));
            (0..workers)
                .map(|w| tokio::spawn(connect_worker(addr, w, count / workers)))
                .collect()
        }
        _ => panic!("{usage}"),
    };
    let mut lat = Vec::new();
    // Fairness: the fewest and most round trips one connection made.
    let (mut fewest, mut most) = (usize::MAX, 0);
    // The worst first round trip of a connection (it includes being
    // accepted) and the worst of the others.
    let (mut first_max, mut rest_max) = (0, 0);
    let mut per_conn = Vec::new();
    for t in tasks {
        let one = t.await.expect("a client failed");
        per_conn.push(one.len());
        fewest = fewest.min(one.len());
        most = most.max(one.len());
        first_max = first_max.max(one.first().copied().unwrap_or(0));
        rest_max = rest_max.max(one.iter().skip(1).copied().max().unwrap_or(0));
        lat.extend(one);
    }
    if std::env::var_os("LOADGEN_DECILES").is_some() {
        let n = per_conn.len().max(10) / 10;
        let d: Vec<usize> = per_conn
            .chunks(n)
            .map(|c| c.iter().sum::<usize>() / c.len())
            .collect();
        eprintln!("mean round trips per connection, by tenth of connection index: {d:?}");
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort_unstable();
    assert!(!lat.is_empty(), "no round trip completed");
    println!(
        "{{\"round_trips\": {}, \"seconds\": {secs:.6}, \"per_s\": {:.1}, \"p50_us\": {}, \"p99_us\": {}, \"max_us\": {}, \"fewest_per_conn\": {fewest}, \"most_per_conn\": {most}, \"first_max_us\": {first_max}, \"rest_max_us\": {rest_max}}}",
        lat.len(),
        lat.len() as f64 / secs,
        pct(&lat, 0.50),
        pct(&lat, 0.99),
        lat[lat.len() - 1]
    );
}

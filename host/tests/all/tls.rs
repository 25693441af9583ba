//! TLS on the host (`open_connection_ssl`, `start_server_ssl`) against
//! real peers on loopback: Python's asyncio with `ssl`, and OpenSSL's
//! `s_server` and `s_client`. Certificates are made here, with rcgen: a
//! test CA, a leaf for `localhost` and 127.0.0.1 it signed, an expired
//! leaf, and a self-signed one.

use crate::util::{Killed, aio, scratch_dir};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::LazyLock;
use std::time::{Duration, Instant};
use test_artifacts::*;

check_suite!(tls);

/// The project's peers (openssl, python3), installed once if missing.
static TOOLS: LazyLock<()> = LazyLock::new(|| {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/ensure-test-tools");
    let status = Command::new(script)
        .status()
        .expect("run ensure-test-tools");
    assert!(status.success(), "scripts/ensure-test-tools failed");
});

/// The test certificates, as PEM files in a scratch directory.
pub(crate) struct Pki {
    dir: PathBuf,
}

impl Pki {
    pub(crate) fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_owned()
    }
}

pub(crate) fn pki(test: &str) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let dir = scratch_dir(test);
    let write = |name: &str, pem: String| std::fs::write(dir.join(name), pem).unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "aio test CA");
    write("ca.pem", ca.self_signed(&ca_key).unwrap().pem());
    let issuer = Issuer::new(ca, ca_key);
    let leaf = |name: &str, expired: bool| {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
        p.distinguished_name.push(DnType::CommonName, "localhost");
        if expired {
            p.not_before = rcgen::date_time_ymd(2020, 1, 1);
            p.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        write(
            &format!("{name}.pem"),
            p.signed_by(&key, &issuer).unwrap().pem(),
        );
        write(&format!("{name}.key"), key.serialize_pem());
    };
    leaf("leaf", false);
    leaf("expired", true);
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    p.distinguished_name.push(DnType::CommonName, "localhost");
    write("self.pem", p.self_signed(&key).unwrap().pem());
    write("self.key", key.serialize_pem());
    Pki { dir }
}

/// A peer process, killed and reaped when dropped (even by a failing
/// test); `port` is the first line it printed.
pub(crate) struct Peer {
    child: Child,
    pub(crate) port: u16,
}

impl Drop for Peer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn peer_script() -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/peers/tls_peer.py");
    p.to_str().unwrap().to_owned()
}

/// Python's asyncio as a server: `tls_peer.py ARGS`.
pub(crate) fn python_server(args: &[&str]) -> Peer {
    LazyLock::force(&TOOLS);
    let mut child = Command::new("python3")
        .arg(peer_script())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start python3");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().parse().unwrap_or_else(|_| {
        let _ = child.kill();
        panic!("the peer said {line:?}, not its port")
    });
    Peer { child, port }
}

/// `aio run` of the TLS client against 127.0.0.1:PORT, with the test CA
/// granted as `test`, and these client flags.
fn client(pki: &Pki, port: u16, flags: &[&str]) -> crate::util::Aio {
    aio(&[
        "run",
        &format!("--allow-net=127.0.0.1:{port}"),
        &format!("--tls-ca=test={}", pki.path("ca.pem")),
        "--timeout=20s",
        TLS_CLIENT,
        "--",
        "127.0.0.1",
        &port.to_string(),
    ]
    .iter()
    .copied()
    .chain(flags.iter().copied())
    .collect::<Vec<_>>())
}

#[test]
fn tls_client() {
    let pki = pki("tls_client");
    let server = python_server(&[
        "server",
        &pki.path("leaf.pem"),
        &pki.path("leaf.key"),
        "http/1.1",
    ]);
    let log = pki.dir.join("audit.jsonl");
    aio(&[
        "run",
        &format!("--allow-net=127.0.0.1:{}", server.port),
        &format!("--tls-ca=test={}", pki.path("ca.pem")),
        &format!("--audit-log={}", log.display()),
        TLS_CLIENT,
        "--",
        "127.0.0.1",
        &server.port.to_string(),
        "--ca",
        "test",
        "--alpn",
        "h2,http/1.1",
    ])
    .status(0)
    .stdout_is(
        "secured: TLSv1.3 alpn=Some(\"http/1.1\") subject=Some(\"CN=localhost\") \
         issuer=Some(\"CN=aio test CA\") san=[\"DNS:localhost\", \"IP Address:127.0.0.1\"] \
         expires=true\n\
         cipher named: true\n\
         echo: hello\n",
    );
    let audit = std::fs::read_to_string(&log).unwrap();
    let line = audit
        .lines()
        .find(|l| l.contains("\"tls.connect\""))
        .unwrap_or_else(|| panic!("no tls.connect line in {audit}"));
    assert!(line.contains("127.0.0.1"), "{line}");
    assert!(line.contains("TLSv1_3"), "{line}");
    assert!(line.contains("alpn http/1.1"), "{line}");
}

/// A megabyte each way through the session, the writer and the reader
/// in two tasks (what the socket does not take waits in rustls and on the
/// host, in order).
#[test]
fn tls_client_bulk() {
    let pki = pki("tls_client_bulk");
    let server = python_server(&["server", &pki.path("leaf.pem"), &pki.path("leaf.key")]);
    client(&pki, server.port, &["--ca", "test", "--lines", "1000"])
        .status(0)
        .stdout_has("echoed 1000 of 1000 lines intact\n");
}

/// Every way a client's handshake is refused ends in an SSL error that
/// names the cause.
#[test]
fn tls_client_refusals() {
    let pki = pki("tls_client_refusals");
    let good = python_server(&["server", &pki.path("leaf.pem"), &pki.path("leaf.key")]);
    let expired = python_server(&["server", &pki.path("expired.pem"), &pki.path("expired.key")]);
    let selfsigned = python_server(&["server", &pki.path("self.pem"), &pki.path("self.key")]);
    let silent = python_server(&["silent"]);
    let cases: [(&str, &Peer, &[&str], &str); 6] = [
        (
            "wrong name",
            &good,
            &["--ca", "test", "--name", "example.com"],
            "ssl error CertVerification: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify \
             failed: hostname mismatch, certificate is not valid for \"example.com\" (it names \
             DNS:localhost, IP Address:127.0.0.1) (127.0.0.1:",
        ),
        (
            "unknown CA (the webpki roots)",
            &good,
            &[],
            "ssl error CertVerification: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify \
             failed: unable to get local issuer certificate",
        ),
        (
            "expired",
            &expired,
            &["--ca", "test"],
            "ssl error CertVerification: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify \
             failed: certificate has expired",
        ),
        (
            "self-signed",
            &selfsigned,
            &["--ca", "test"],
            "ssl error CertVerification: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify \
             failed: unable to get local issuer certificate",
        ),
        (
            "a CA bundle not granted",
            &good,
            &["--ca", "nope"],
            "permission denied: permission denied: TLS tls.ca \"nope\" is not granted \
             (add --tls-ca nope=FILE)",
        ),
        (
            "a peer that never answers",
            &silent,
            &["--ca", "test", "--timeout-ms", "300"],
            "ssl error HandshakeTimeout: [SSL: HANDSHAKE_TIMEOUT] SSL handshake is taking \
             longer than 300ms: aborting the connection",
        ),
    ];
    for (what, peer, flags, expected) in cases {
        let ran = client(&pki, peer.port, flags).status(0);
        let out = ran.stdout();
        assert!(
            out.starts_with(expected),
            "{what}: expected {expected:?}, got {out:?}"
        );
    }
}

/// The guest as a TLS server, for Python's client and OpenSSL's.
#[test]
fn tls_server() {
    LazyLock::force(&TOOLS);
    let pki = pki("tls_server");
    let (mut guest, mut out, addr) =
        guest_tls_server(&pki, "web", TLS_SERVER, &["web", "2", "--alpn", "http/1.1"]);
    let port = addr.rsplit(':').next().unwrap().to_owned();

    // Python's asyncio client, verifying the guest's certificate.
    let said = python_client("client", &port, &pki);
    let mut lines = said.lines();
    assert!(lines.next().unwrap().starts_with("TLSv1.3 TLS_"), "{said}");
    assert_eq!(lines.next(), Some("hello"));

    // OpenSSL's client: verification and the protocol it agreed.
    let ossl = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &addr,
            "-CAfile",
            &pki.path("ca.pem"),
            "-verify_return_error",
            "-verify_hostname",
            "localhost",
            "-alpn",
            "http/1.1",
            "-brief",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&ossl.stderr).into_owned() + &String::from_utf8_lossy(&ossl.stdout);
    assert!(said.contains("Verification: OK"), "{said}");
    assert!(said.contains("Protocol version: TLSv1.3"), "{said}");

    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert!(guest.0.wait().unwrap().success());
    assert_eq!(
        rest,
        "client: TLSv1.3 alpn=None peer cert=false\n\
         client: TLSv1.3 alpn=Some(\"http/1.1\") peer cert=false\n\
         served 2\n"
    );
}

/// A guest server under `aio run` with the test leaf as the host's
/// identity `identity`: the child (killed when dropped), the rest of its
/// stdout, and the address of its `listening on ADDR` line.
fn guest_tls_server(
    pki: &Pki,
    identity: &str,
    program: &str,
    args: &[&str],
) -> (Killed, BufReader<std::process::ChildStdout>, String) {
    let cert = format!(
        "--tls-cert={identity}={},{}",
        pki.path("leaf.pem"),
        pki.path("leaf.key")
    );
    let mut guest = Killed(
        Command::new(env!("CARGO_BIN_EXE_aio"))
            .args([
                "run",
                "--timeout=30s",
                "--allow-listen=127.0.0.1:0",
                &cert,
                program,
                "--",
            ])
            .args(args)
            .env("AIO_CACHE_DIR", crate::util::cache_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start aio"),
    );
    let mut out = BufReader::new(guest.0.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let addr = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();
    (guest, out, addr)
}

/// Python's client `tls_peer.py MODE PORT CA` (verifying against the test
/// CA): what it printed; it must succeed.
pub(crate) fn python_client(mode: &str, port: &str, pki: &Pki) -> String {
    LazyLock::force(&TOOLS);
    let py = Command::new("python3")
        .args([&peer_script(), mode, port, &pki.path("ca.pem")])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&py.stdout).into_owned();
    let err = String::from_utf8_lossy(&py.stderr);
    assert!(py.status.success(), "python {mode}: {said} {err}");
    said
}

/// A server identity the host was not given is refused when the server
/// starts, naming the flag.
#[test]
fn tls_server_identity_not_granted() {
    aio(&[
        "run",
        "--allow-listen=127.0.0.1:0",
        TLS_SERVER,
        "--",
        "nope",
        "1",
    ])
    .status(0)
    .stdout_is(
        "error: permission denied: TLS tls.identity \"nope\" is not granted \
         (add --tls-cert nope=CERT,KEY)\n",
    );
}

/// The guest's client against OpenSSL's own server (`s_server -rev`
/// answers each line reversed).
#[test]
fn tls_client_openssl_server() {
    LazyLock::force(&TOOLS);
    let pki = pki("tls_client_openssl_server");
    let port = crate::examples::free_port(false);
    let mut server = Killed(
        Command::new("openssl")
            .args([
                "s_server",
                "-accept",
                &format!("127.0.0.1:{port}"),
                "-cert",
                &pki.path("leaf.pem"),
                "-key",
                &pki.path("leaf.key"),
                "-rev",
                "-naccept",
                "1",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // s_server says ACCEPT once it listens.
    let mut out = BufReader::new(server.0.stdout.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 || Instant::now() > deadline {
            panic!("openssl s_server did not start");
        }
        if line.starts_with("ACCEPT") {
            break;
        }
    }
    let ran = client(&pki, port, &["--ca", "test", "--name", "localhost"]).status(0);
    let said = ran.stdout();
    assert!(said.starts_with("secured: TLSv1.3"), "{said}");
    assert!(said.ends_with("echo: olleh\n"), "{said}");
}

/// STARTTLS: the guest as the client against Python's asyncio server
/// (its own `start_tls`), and as the server against Python's client,
/// which starts its handshake the moment it reads the go-ahead.
#[test]
fn tls_starttls() {
    let pki = pki("tls_starttls");
    let server = python_server(&["starttls", &pki.path("leaf.pem"), &pki.path("leaf.key")]);
    aio(&[
        "run",
        &format!("--allow-net=127.0.0.1:{}", server.port),
        &format!("--tls-ca=test={}", pki.path("ca.pem")),
        "--timeout=20s",
        TLS_STARTTLS,
        "--",
        "client",
        &server.port.to_string(),
    ])
    .status(0)
    .stdout_is(
        "greeting: 220 ready\n\
         then: 220 go ahead\n\
         upgraded: TLSv1.3 Some(\"CN=localhost\")\n\
         echo: hello\n",
    );

    let (mut guest, mut out, addr) =
        guest_tls_server(&pki, "mail", TLS_STARTTLS, &["server", "mail"]);
    let port = addr.rsplit(':').next().unwrap().to_owned();
    let said = python_client("starttls-client", &port, &pki);
    assert_eq!(said, "220 ready\n220 go ahead\nTLSv1.3\nhello\n");
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert!(guest.0.wait().unwrap().success());
    assert_eq!(rest, "upgraded: Ok(Some(\"TLSv1.3\"))\ndone\n");
}

/// Protocols over TLS: `create_server_ssl` and `create_connection_ssl` in
/// one guest, with ALPN.
#[test]
fn tls_protocols() {
    let pki = pki("tls_protocols");
    aio(&[
        "run",
        "--timeout=20s",
        "--allow-listen=127.0.0.1:0",
        "--allow-net=127.0.0.1:*",
        &format!(
            "--tls-cert=web={},{}",
            pki.path("leaf.pem"),
            pki.path("leaf.key")
        ),
        &format!("--tls-ca=test={}", pki.path("ca.pem")),
        TLS_PROTOCOLS,
    ])
    .status(0)
    .stdout_has("client made: TLSv1.3 alpn=Some(\"echo/1\") subject=Some(\"CN=localhost\")\n")
    .stdout_has("server made: TLSv1.3\n")
    .stdout_has("echo: over tls\n")
    .stdout_has("client lost: None\n")
    .stdout_has("server lost\n");
}

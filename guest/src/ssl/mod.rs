//! TLS for streams and transports (asyncio's `ssl=` arguments), done by
//! the host (docs/tls.md).
//!
//! An [`SslContext`] says which end of the session the program plays and
//! how: a client verifies the server's certificate and name against the
//! host's roots (Mozilla's, or a CA bundle the host granted by name); a
//! server presents an identity the host holds (`aio run --tls-cert
//! NAME=cert.pem,key.pem`): the program names it, and its private key
//! never enters the sandbox.
//!
//! ```no_run
//! # async fn demo() -> asyncio::Result<()> {
//! use asyncio::ssl::SslContext;
//!
//! // Client: verified against the webpki roots, or `--tls-ca test=ca.pem`.
//! let ctx = SslContext::client().load_verify_locations("test").set_alpn_protocols(&["http/1.1"]);
//! let (mut reader, mut writer) = asyncio::open_connection_ssl("localhost", 8443, &ctx).await?;
//! let tls = writer.ssl_object().expect("a TLS connection");
//! println!("{} {} {:?}", tls.version(), tls.cipher(), tls.peer_subject());
//! writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
//!
//! // Server: the identity the host was given with --tls-cert web=CERT,KEY.
//! let ctx = SslContext::server("web");
//! let server = asyncio::start_server_ssl(
//!     |_reader, mut writer| async move { writer.write(b"hello\n") },
//!     "127.0.0.1",
//!     8443,
//!     &ctx,
//! )
//! .await?;
//! # let _ = (reader, server); Ok(()) }
//! ```
//!
//! Errors are [`ErrorKind::Ssl`](crate::ErrorKind::Ssl) with an
//! [`SslErrorKind`] and OpenSSL's words for the cause, as Python's
//! `ssl.SSLCertVerificationError` and `ssl.SSLError` carry them.

mod cert;

use std::rc::Rc;
use std::time::Duration;

pub use cert::Certificate;

/// asyncio's default `ssl_handshake_timeout`.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

/// How a TLS session failed (the `ssl` module's exception classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SslErrorKind {
    /// `ssl.SSLCertVerificationError`: the peer's certificate was refused
    /// (expired, not for this name, not from a trusted CA, ...).
    CertVerification,
    /// The handshake failed otherwise: an alert from the peer, no
    /// protocol or ALPN protocol in common, a peer that does not speak
    /// TLS, or one that closed during the handshake.
    Handshake,
    /// A bad record after the handshake.
    Protocol,
    /// The handshake took longer than the context's timeout (asyncio
    /// aborts the connection with `ConnectionAbortedError`).
    HandshakeTimeout,
    /// The context cannot be used: it names an identity or CA bundle the
    /// host was not given, a bad server name, or TLS is not available.
    Config,
}

impl SslErrorKind {
    /// The reason as OpenSSL names it (what Python's messages start with).
    pub fn reason(self) -> &'static str {
        match self {
            SslErrorKind::CertVerification => "CERTIFICATE_VERIFY_FAILED",
            SslErrorKind::Handshake => "HANDSHAKE_FAILURE",
            SslErrorKind::Protocol => "PROTOCOL_ERROR",
            SslErrorKind::HandshakeTimeout => "HANDSHAKE_TIMEOUT",
            SslErrorKind::Config => "BAD_CONTEXT",
        }
    }
}

/// Which end of a session, and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Role {
    Client {
        ca: Option<String>,
        server_hostname: Option<String>,
    },
    Server {
        identity: String,
    },
}

/// A TLS configuration (Python's `ssl.SSLContext`): cheap to clone, and
/// shared by every connection made with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SslContext {
    pub(crate) role: Role,
    pub(crate) alpn: Vec<String>,
    pub(crate) handshake_timeout: Duration,
}

impl SslContext {
    /// A client context (`ssl.create_default_context()`): the server's
    /// certificate must chain to the host's roots (the webpki roots,
    /// unless [`load_verify_locations`](Self::load_verify_locations)
    /// names a bundle) and be valid for the server's name.
    pub fn client() -> SslContext {
        SslContext {
            role: Role::Client {
                ca: None,
                server_hostname: None,
            },
            alpn: Vec::new(),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// A server context presenting the host's identity `name`
    /// (`aio run --tls-cert NAME=cert.pem,key.pem`): asyncio's
    /// `load_cert_chain`, except that the key stays on the host.
    pub fn server(name: &str) -> SslContext {
        SslContext {
            role: Role::Server {
                identity: name.to_owned(),
            },
            alpn: Vec::new(),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// Trusts the CA bundle the host was given as `name` (`aio run
    /// --tls-ca NAME=ca.pem`) instead of the webpki roots (asyncio's
    /// `load_verify_locations`, by name: the file is the host's). No
    /// effect on a server context.
    pub fn load_verify_locations(mut self, name: &str) -> SslContext {
        if let Role::Client { ca, .. } = &mut self.role {
            *ca = Some(name.to_owned());
        }
        self
    }

    /// The name to verify the server's certificate against and to send as
    /// SNI (asyncio's `server_hostname=`); by default the host name the
    /// connection was made to. No effect on a server context.
    pub fn server_hostname(mut self, name: &str) -> SslContext {
        if let Role::Client {
            server_hostname, ..
        } = &mut self.role
        {
            *server_hostname = Some(name.to_owned());
        }
        self
    }

    /// The ALPN protocols to offer (a client) or accept (a server), most
    /// wanted first (`set_alpn_protocols`).
    pub fn set_alpn_protocols(mut self, protocols: &[&str]) -> SslContext {
        self.alpn = protocols.iter().map(|p| (*p).to_owned()).collect();
        self
    }

    /// How long a handshake may take before the connection is aborted
    /// (asyncio's `ssl_handshake_timeout=`; default 60 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> SslContext {
        self.handshake_timeout = timeout;
        self
    }

    /// Whether this is a server context.
    pub fn is_server(&self) -> bool {
        matches!(self.role, Role::Server { .. })
    }
}

/// A TLS connection's parameters, once its handshake is done (what
/// asyncio's `get_extra_info("ssl_object")`, `"cipher"` and `"peercert"`
/// give).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SslObject {
    version: u16,
    cipher: String,
    alpn: Option<String>,
    peer: Option<Rc<Certificate>>,
}

impl SslObject {
    /// Parses a `secured` frame's body (wit/mux.wit); `None` if it is
    /// malformed.
    #[cfg_attr(not(feature = "host-mux"), allow(dead_code))]
    pub(crate) fn from_frame(body: &[u8]) -> Option<SslObject> {
        let version = u16::from_le_bytes(body.get(..2)?.try_into().ok()?);
        let mut rest = &body[2..];
        let mut field = || -> Option<String> {
            let (&n, tail) = rest.split_first()?;
            let text = tail.get(..n as usize)?;
            rest = &tail[n as usize..];
            Some(String::from_utf8_lossy(text).into_owned())
        };
        let cipher = field()?;
        let alpn = field()?;
        let peer = (!rest.is_empty()).then(|| Rc::new(Certificate::from_der(rest.to_vec())));
        Some(SslObject {
            version,
            cipher,
            alpn: (!alpn.is_empty()).then_some(alpn),
            peer,
        })
    }

    /// The protocol version, as `SSLObject.version()` names it:
    /// `"TLSv1.3"` or `"TLSv1.2"`.
    pub fn version(&self) -> &'static str {
        match self.version {
            0x0304 => "TLSv1.3",
            0x0303 => "TLSv1.2",
            _ => "unknown",
        }
    }

    /// The cipher suite's IANA name, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub fn cipher(&self) -> &str {
        &self.cipher
    }

    /// The ALPN protocol both ends chose (`selected_alpn_protocol()`).
    pub fn selected_alpn_protocol(&self) -> Option<&str> {
        self.alpn.as_deref()
    }

    /// The peer's certificate (a server's, always; a client's, never: the
    /// host asks clients for none), parsed inside the sandbox.
    pub fn peer_certificate(&self) -> Option<&Certificate> {
        self.peer.as_deref()
    }

    /// The peer certificate's subject, as `CN=example.com, O=Example`
    /// (`getpeercert()["subject"]`).
    pub fn peer_subject(&self) -> Option<String> {
        self.peer_certificate().and_then(Certificate::subject)
    }
}

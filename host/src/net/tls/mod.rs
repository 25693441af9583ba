//! TLS on the host for the guest's connections (docs/tls.md): the guest
//! asks the socket multiplexer to wrap a connected socket in a TLS session
//! (`aio:host/mux` `attach-tls`), and its frames carry plaintext from then
//! on. The session runs here, with rustls and ring:
//!
//! - **Server identities stay on the host.** `--tls-cert NAME=CERT,KEY`
//!   ([`TlsGrant::add_identity`]) loads a certificate chain and its private
//!   key; the guest names the identity and never sees the key.
//! - **Roots are the host's choice.** A client verifies the server's
//!   certificate and name against the webpki roots (Mozilla's), or against
//!   a CA bundle the host granted under a name (`--tls-ca NAME=FILE`,
//!   [`TlsGrant::add_ca`]).
//! - **TLS adds no reach.** The socket was connected (or accepted) under
//!   the network grants already; each handshake's outcome is audited
//!   (`tls.connect`, `tls.accept`).
//!
//! Configurations are built once per (roots or identity, ALPN list) and
//! shared by every session that uses them, so client sessions resume.

mod session;

pub(crate) use session::{Session, TlsReceived, TlsReceiver, TlsSender};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The TLS identities and CA bundles a run is given. Empty by default:
/// clients verify against the webpki roots, and no server identity exists.
/// Cheap to clone.
#[derive(Clone, Default)]
pub struct TlsGrant {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    identities: HashMap<String, Identity>,
    cas: HashMap<String, Arc<RootCertStore>>,
    /// Built configurations, by roots (`None`: webpki) or identity, and
    /// ALPN list.
    clients: Mutex<Configs<Option<String>, ClientConfig>>,
    servers: Mutex<Configs<String, ServerConfig>>,
}

type Configs<K, C> = HashMap<(K, Vec<String>), Arc<C>>;

struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    cert_file: PathBuf,
}

impl fmt::Debug for TlsGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<&String> = self.inner.identities.keys().collect();
        let mut cas: Vec<&String> = self.inner.cas.keys().collect();
        ids.sort();
        cas.sort();
        f.debug_struct("TlsGrant")
            .field("identities", &ids)
            .field("cas", &cas)
            .finish()
    }
}

/// A certificate, key or CA bundle that could not be loaded, or a name
/// given twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsGrantError(String);

impl fmt::Display for TlsGrantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsGrantError {}

/// ring's crypto. rustls 0.23.48 deprecates it for having no
/// post-quantum key exchange (X25519MLKEM768 needs aws-lc-rs); ring builds
/// in seconds with the C compiler alone, where aws-lc-rs needs minutes and
/// cmake, and the peers tested here (OpenSSL 3.0, Python's `ssl`) offer
/// no post-quantum groups either. docs/tls.md says so.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn check_name(name: &str, what: &str) -> Result<(), TlsGrantError> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(TlsGrantError(format!(
            "{what} name {name:?}: use letters, digits, '-', '_' and '.'"
        )))
    }
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsGrantError> {
    let bad = |e: &dyn fmt::Display| TlsGrantError(format!("{}: {e}", path.display()));
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(&e))?;
    if certs.is_empty() {
        return Err(bad(&"no PEM certificate in the file"));
    }
    Ok(certs)
}

impl TlsGrant {
    /// No identities, no extra CAs.
    pub fn new() -> TlsGrant {
        TlsGrant::default()
    }

    fn inner_mut(&mut self) -> &mut Inner {
        // Grants are built before any run shares them; a clone made
        // earlier keeps what it had.
        if Arc::get_mut(&mut self.inner).is_none() {
            let old = &self.inner;
            let copy = Inner {
                identities: old
                    .identities
                    .iter()
                    .map(|(k, v)| {
                        let id = Identity {
                            chain: v.chain.clone(),
                            key: v.key.clone_key(),
                            cert_file: v.cert_file.clone(),
                        };
                        (k.clone(), id)
                    })
                    .collect(),
                cas: old.cas.clone(),
                ..Inner::default()
            };
            self.inner = Arc::new(copy);
        }
        Arc::get_mut(&mut self.inner).expect("unshared")
    }

    /// A server identity (`--tls-cert NAME=CERT,KEY`): the certificate
    /// chain (PEM, leaf first) and its private key (PEM: PKCS#8, PKCS#1 or
    /// SEC1), checked to belong together. Guests name it in
    /// `start_server_ssl`; the key never leaves the host.
    pub fn add_identity(
        &mut self,
        name: &str,
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<(), TlsGrantError> {
        check_name(name, "--tls-cert")?;
        let (cert, key) = (cert.as_ref(), key.as_ref());
        if self.inner.identities.contains_key(name) {
            return Err(TlsGrantError(format!("--tls-cert {name} is given twice")));
        }
        let chain = load_certs(cert)?;
        let key = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| TlsGrantError(format!("{}: {e}", key.display())))?;
        // Builds once to check the key against the certificate.
        ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .and_then(|b| {
                b.with_no_client_auth()
                    .with_single_cert(chain.clone(), key.clone_key())
            })
            .map_err(|e| {
                TlsGrantError(format!(
                    "--tls-cert {name}: {} and its key: {e}",
                    cert.display()
                ))
            })?;
        let identity = Identity {
            chain,
            key,
            cert_file: cert.to_path_buf(),
        };
        self.inner_mut()
            .identities
            .insert(name.to_owned(), identity);
        Ok(())
    }

    /// A CA bundle (`--tls-ca NAME=FILE`, PEM): a client that names it
    /// trusts these roots instead of the webpki ones.
    pub fn add_ca(&mut self, name: &str, bundle: impl AsRef<Path>) -> Result<(), TlsGrantError> {
        check_name(name, "--tls-ca")?;
        let bundle = bundle.as_ref();
        if self.inner.cas.contains_key(name) {
            return Err(TlsGrantError(format!("--tls-ca {name} is given twice")));
        }
        let mut roots = RootCertStore::empty();
        for cert in load_certs(bundle)? {
            roots
                .add(cert)
                .map_err(|e| TlsGrantError(format!("{}: {e}", bundle.display())))?;
        }
        self.inner_mut()
            .cas
            .insert(name.to_owned(), Arc::new(roots));
        Ok(())
    }

    /// The identities' names and certificate files, sorted by name.
    pub fn identities(&self) -> Vec<(String, PathBuf)> {
        let mut all: Vec<(String, PathBuf)> = (self.inner.identities.iter())
            .map(|(k, v)| (k.clone(), v.cert_file.clone()))
            .collect();
        all.sort();
        all
    }

    /// The client configuration for `ca` (`None`: the webpki roots) and
    /// `alpn`; `Err` names the missing grant.
    fn client(&self, ca: Option<&str>, alpn: &[String]) -> Result<Arc<ClientConfig>, Refusal> {
        let key = (ca.map(str::to_owned), alpn.to_vec());
        if let Some(c) = lock(&self.inner.clients).get(&key) {
            return Ok(c.clone());
        }
        let roots = match ca {
            Some(name) => match self.inner.cas.get(name) {
                Some(r) => (**r).clone(),
                None => {
                    return Err(Refusal::NotGranted {
                        capability: "tls.ca",
                        target: name.to_owned(),
                        flag: format!("--tls-ca {name}=FILE"),
                    });
                }
            },
            None => RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            },
        };
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Refusal::Invalid(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        let config = Arc::new(config);
        remember(&self.inner.clients, key, &config);
        Ok(config)
    }

    fn server(&self, name: &str, alpn: &[String]) -> Result<Arc<ServerConfig>, Refusal> {
        let key = (name.to_owned(), alpn.to_vec());
        if let Some(c) = lock(&self.inner.servers).get(&key) {
            return Ok(c.clone());
        }
        let Some(id) = self.inner.identities.get(name) else {
            return Err(Refusal::NotGranted {
                capability: "tls.identity",
                target: name.to_owned(),
                flag: format!("--tls-cert {name}=CERT,KEY"),
            });
        };
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .and_then(|b| {
                b.with_no_client_auth()
                    .with_single_cert(id.chain.clone(), id.key.clone_key())
            })
            .map_err(|e| Refusal::Invalid(e.to_string()))?;
        config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        let config = Arc::new(config);
        remember(&self.inner.servers, key, &config);
        Ok(config)
    }

    /// A new session for `role`.
    pub(crate) fn session(&self, role: &Role) -> Result<rustls::Connection, Refusal> {
        let (Role::Client { alpn, .. } | Role::Server { alpn, .. }) = role;
        check_alpn(alpn)?;
        match role {
            Role::Client {
                server_name,
                alpn,
                ca,
            } => {
                let config = self.client(ca.as_deref(), alpn)?;
                let name = ServerName::try_from(server_name.clone()).map_err(|_| {
                    Refusal::Invalid(format!("{server_name:?} is not a DNS name or IP address"))
                })?;
                rustls::ClientConnection::new(config, name)
                    .map(rustls::Connection::Client)
                    .map_err(|e| Refusal::Invalid(e.to_string()))
            }
            Role::Server { identity, alpn } => {
                let config = self.server(identity, alpn)?;
                rustls::ServerConnection::new(config)
                    .map(rustls::Connection::Server)
                    .map_err(|e| Refusal::Invalid(e.to_string()))
            }
        }
    }
}

/// The most configurations kept per kind: the ALPN lists are the guest's
/// to choose, and a guest making a new list per connection must not grow
/// the host's memory (past this, a configuration is built per session).
const MAX_CONFIGS: usize = 32;

fn remember<K: std::hash::Hash + Eq, C>(
    cache: &Mutex<Configs<K, C>>,
    key: (K, Vec<String>),
    config: &Arc<C>,
) {
    let mut cache = lock(cache);
    if cache.len() < MAX_CONFIGS {
        cache.insert(key, config.clone());
    }
}

/// ALPN protocols as TLS allows them: 1 to 255 bytes each; at most 16.
fn check_alpn(alpn: &[String]) -> Result<(), Refusal> {
    if alpn.len() > 16 {
        return Err(Refusal::Invalid(format!(
            "{} ALPN protocols: at most 16",
            alpn.len()
        )));
    }
    match alpn.iter().find(|p| p.is_empty() || p.len() > 255) {
        Some(p) => Err(Refusal::Invalid(format!(
            "ALPN protocol of {} bytes: 1 to 255",
            p.len()
        ))),
        None => Ok(()),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Which end of a session the host plays, as the guest asked.
#[derive(Debug, Clone)]
pub(crate) enum Role {
    Client {
        server_name: String,
        alpn: Vec<String>,
        ca: Option<String>,
    },
    Server {
        identity: String,
        alpn: Vec<String>,
    },
}

impl Role {
    /// The audit capability of its handshakes.
    pub(crate) fn capability(&self) -> &'static str {
        match self {
            Role::Client { .. } => "tls.connect",
            Role::Server { .. } => "tls.accept",
        }
    }

    /// What its audit lines name: the server name, or the identity.
    pub(crate) fn target(&self) -> &str {
        match self {
            Role::Client { server_name, .. } => server_name,
            Role::Server { identity, .. } => identity,
        }
    }
}

/// Why a session could not be made.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// It names an identity or CA bundle the host was not given.
    NotGranted {
        capability: &'static str,
        target: String,
        flag: String,
    },
    /// A bad server name, ALPN protocol, ...
    Invalid(String),
}

/// How a session failed, in the frame the guest gets (wit/mux.wit,
/// `tls-error`): the kind, then a message naming the cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum FailureKind {
    /// The peer's certificate was refused (Python's
    /// `SSLCertVerificationError`).
    Certificate = 0,
    /// The handshake failed otherwise (an alert, no common protocol,
    /// not TLS).
    Handshake = 1,
    /// A bad record after the handshake.
    Protocol = 2,
}

/// A rustls error as the guest sees it: the kind and OpenSSL-like words
/// (what Python's `ssl` module prints), naming the cause.
pub(crate) fn describe(e: &rustls::Error, handshaking: bool) -> (FailureKind, String) {
    use rustls::{CertificateError as C, Error as E};
    let kind = if handshaking {
        FailureKind::Handshake
    } else {
        FailureKind::Protocol
    };
    match e {
        E::InvalidCertificate(c) => {
            let why = match c {
                C::Expired | C::ExpiredContext { .. } => "certificate has expired".to_owned(),
                C::NotValidYet | C::NotValidYetContext { .. } => {
                    "certificate is not yet valid".to_owned()
                }
                C::UnknownIssuer => "unable to get local issuer certificate (self-signed, or \
                                     signed by a CA the host does not trust)"
                    .to_owned(),
                C::NotValidForName => "hostname mismatch".to_owned(),
                C::NotValidForNameContext {
                    expected,
                    presented,
                } => {
                    let names: Vec<String> = presented.iter().map(|n| san(n)).collect();
                    format!(
                        "hostname mismatch, certificate is not valid for {:?} (it names {})",
                        expected.to_str(),
                        names.join(", ")
                    )
                }
                C::BadSignature => "certificate signature failure".to_owned(),
                C::Revoked => "certificate revoked".to_owned(),
                C::BadEncoding => "certificate is not valid DER".to_owned(),
                C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
                    "unsuitable certificate purpose".to_owned()
                }
                other => format!("{other:?}"),
            };
            (
                FailureKind::Certificate,
                format!("certificate verify failed: {why}"),
            )
        }
        E::AlertReceived(alert) => (kind, format!("the peer sent alert {alert:?}")),
        E::NoApplicationProtocol => (kind, "no application protocol (ALPN) in common".to_owned()),
        E::InvalidMessage(m) => (kind, format!("not TLS, or a broken TLS record: {m:?}")),
        other => (kind, other.to_string()),
    }
}

/// A name from webpki's list (`DnsName("a.example")`, `IpAddress(1.2.3.4)`)
/// as OpenSSL writes subject alternative names.
fn san(name: &str) -> String {
    if let Some(dns) = name
        .strip_prefix("DnsName(\"")
        .and_then(|n| n.strip_suffix("\")"))
    {
        format!("DNS:{dns}")
    } else if let Some(ip) = name
        .strip_prefix("IpAddress(")
        .and_then(|n| n.strip_suffix(')'))
    {
        format!("IP Address:{ip}")
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpn_lists_are_checked() {
        assert_eq!(check_alpn(&["h2".into(), "http/1.1".into()]), Ok(()));
        assert!(matches!(check_alpn(&["".into()]), Err(Refusal::Invalid(_))));
        assert!(matches!(
            check_alpn(&["x".repeat(256)]),
            Err(Refusal::Invalid(_))
        ));
        let many: Vec<String> = (0..17).map(|i| i.to_string()).collect();
        assert!(matches!(check_alpn(&many), Err(Refusal::Invalid(_))));
    }

    /// A guest choosing a new ALPN list for every connection gets its
    /// sessions, and the cache stops growing at its cap.
    #[test]
    fn the_config_cache_is_bounded() {
        let grant = TlsGrant::new();
        for i in 0..(MAX_CONFIGS * 3) {
            let role = Role::Client {
                server_name: "example.com".into(),
                alpn: vec![format!("p{i}")],
                ca: None,
            };
            grant.session(&role).expect("a session");
        }
        assert_eq!(lock(&grant.inner.clients).len(), MAX_CONFIGS);
    }

    #[test]
    fn names_not_granted_are_refused_with_the_flag() {
        let grant = TlsGrant::new();
        let role = Role::Server {
            identity: "web".into(),
            alpn: vec![],
        };
        let Err(Refusal::NotGranted { flag, .. }) = grant.session(&role) else {
            panic!("an identity nobody gave");
        };
        assert_eq!(flag, "--tls-cert web=CERT,KEY");
        let role = Role::Client {
            server_name: "not a name!".into(),
            alpn: vec![],
            ca: None,
        };
        assert!(matches!(grant.session(&role), Err(Refusal::Invalid(_))));
    }
}

//! The guest's network: which addresses it may reach (`--allow-net`) and
//! listen on (`--allow-listen`), and the WASI 0.3 sockets behind them.
//!
//! TCP is the host's own (`tcp`, linked by `wasi`: one `recv` per message,
//! batched accepts); UDP and name lookup are wasmtime-wasi's. [`NetGrant`]
//! holds the two lists of [`NetRule`]s and answers each use of an address,
//! from the host's TCP directly and from wasmtime-wasi through its
//! `socket_addr_check`:
//!
//! | socket use | grant | audit capability |
//! |---|---|---|
//! | TCP connect | `--allow-net` | `net.connect` |
//! | TCP bind, listen | `--allow-listen` | `net.bind`, `net.listen` |
//! | accepting a client | (the listen grant) | `net.accept` (always allowed) |
//! | UDP send | `--allow-net`, or a reply to a peer that sent to a bound socket | `net.send` |
//! | UDP bind | `--allow-listen` | `net.bind` |
//! | UDP receive | `--allow-listen` (any), or from an `--allow-net` address | `net.receive` (denials only) |
//! | name lookup | any `--allow-net` grant | not audited (wasmtime-wasi gives no hook) |
//!
//! The implicit bind to an ephemeral port (`0.0.0.0:0`) that a connect or a
//! UDP send does first is allowed whenever any network grant exists, and is
//! not audited. Binding a port 0 (any free port) needs a listen grant that
//! includes port 0 (`127.0.0.1:0`, `127.0.0.1:*`); the listen that follows
//! on the port the system chose is then allowed.
//!
//! ```
//! use aio_host::Grants;
//!
//! let grants = Grants::new()
//!     .allow_net(["127.0.0.1:8000-8100", "localhost:9000"])?
//!     .allow_listen(["127.0.0.1:0"])?;
//! # let _ = grants;
//! # Ok::<(), aio_host::net::NetRuleError>(())
//! ```

mod rule;
mod sys;
mod tcp;
pub(crate) mod wasi;

pub use rule::{NetRule, NetRuleError};

use crate::audit::CapabilityUse;
use crate::policy::{AuditEvent, AuditHook};
use rule::spec_of;
use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use wasmtime_wasi::sockets::SocketAddrUse;

/// The network a guest may use. Default: none (no TCP, no UDP, no name
/// lookup, every address refused).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetGrant {
    connect: Vec<NetRule>,
    listen: Vec<NetRule>,
}

/// How many UDP peers that sent to the guest it may answer without an
/// `--allow-net` grant for them (the oldest are forgotten first).
const UDP_REPLY_PEERS: usize = 4096;

impl NetGrant {
    /// Adds `--allow-net` entries (connect, UDP send, name lookup).
    pub fn add_connect(&mut self, rules: impl IntoIterator<Item = NetRule>) {
        self.connect.extend(rules);
    }

    /// Adds `--allow-listen` entries (bind, listen, UDP bind).
    pub fn add_listen(&mut self, rules: impl IntoIterator<Item = NetRule>) {
        self.listen.extend(rules);
    }

    /// The `--allow-net` entries.
    pub fn connect_rules(&self) -> &[NetRule] {
        &self.connect
    }

    /// The `--allow-listen` entries.
    pub fn listen_rules(&self) -> &[NetRule] {
        &self.listen
    }

    /// Whether anything at all is granted.
    pub fn is_empty(&self) -> bool {
        self.connect.is_empty() && self.listen.is_empty()
    }

    /// Whether name lookup is allowed: only with an `--allow-net` grant.
    pub fn allows_name_lookup(&self) -> bool {
        !self.connect.is_empty()
    }

    fn find(rules: &[NetRule], addr: SocketAddr) -> Option<&NetRule> {
        rules.iter().find(|r| r.matches(addr))
    }
}

/// Decides each socket use of one run, remembering UDP peers it may answer.
#[derive(Debug, Clone)]
pub(crate) struct NetPolicy {
    grant: Arc<NetGrant>,
    udp_peers: Arc<Mutex<Peers>>,
}

#[derive(Debug, Default)]
struct Peers {
    set: HashSet<SocketAddr>,
    order: VecDeque<SocketAddr>,
}

impl Peers {
    fn remember(&mut self, addr: SocketAddr) {
        if self.set.insert(addr) {
            self.order.push_back(addr);
            if self.order.len() > UDP_REPLY_PEERS
                && let Some(old) = self.order.pop_front()
            {
                self.set.remove(&old);
            }
        }
    }
}

/// A decision and what to audit about it (`None`: not audited).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub allowed: bool,
    pub audit: Option<CapabilityUse>,
}

impl Verdict {
    fn silent(allowed: bool) -> Verdict {
        Verdict {
            allowed,
            audit: None,
        }
    }

    fn audited(allowed: bool, capability: &'static str, addr: SocketAddr, grant: String) -> Self {
        let target = spec_of(addr);
        Verdict {
            allowed,
            audit: Some(if allowed {
                CapabilityUse::allowed(capability, target)
            } else {
                CapabilityUse::denied(capability, target, grant)
            }),
        }
    }
}

impl NetPolicy {
    pub(crate) fn new(grant: NetGrant) -> NetPolicy {
        NetPolicy {
            grant: Arc::new(grant),
            udp_peers: Arc::default(),
        }
    }

    pub(crate) fn grant(&self) -> &NetGrant {
        &self.grant
    }

    /// The decision for one `socket_addr_check`.
    pub(crate) fn check(&self, addr: SocketAddr, use_: SocketAddrUse) -> Verdict {
        let g = &*self.grant;
        let net_flag = || format!("--allow-net={}", spec_of(addr));
        let listen_flag = || format!("--allow-listen={}", spec_of(addr));
        let implicit = addr.ip().is_unspecified() && addr.port() == 0;
        match use_ {
            SocketAddrUse::TcpConnect => {
                let ok = NetGrant::find(&g.connect, addr).is_some();
                Verdict::audited(ok, "net.connect", addr, net_flag())
            }
            SocketAddrUse::TcpBind | SocketAddrUse::UdpBind if implicit && !g.is_empty() => {
                // The ephemeral bind before a connect, a send or a listen:
                // what follows is checked on its own.
                Verdict::silent(true)
            }
            SocketAddrUse::TcpBind | SocketAddrUse::UdpBind => {
                let ok = NetGrant::find(&g.listen, addr).is_some();
                Verdict::audited(ok, "net.bind", addr, listen_flag())
            }
            SocketAddrUse::TcpListen => {
                // The bind before it was checked; a port-0 grant covers the
                // port the system chose.
                let ok = g.listen.iter().any(|r| {
                    r.matches(addr) || (r.matches_host(addr.ip()) && r.allows_ephemeral())
                });
                Verdict::audited(ok, "net.listen", addr, listen_flag())
            }
            SocketAddrUse::TcpAccept => Verdict::audited(true, "net.accept", addr, String::new()),
            SocketAddrUse::UdpSend => {
                let ok =
                    NetGrant::find(&g.connect, addr).is_some() || self.peers().set.contains(&addr);
                Verdict::audited(ok, "net.send", addr, net_flag())
            }
            SocketAddrUse::UdpReceive => {
                if NetGrant::find(&g.connect, addr).is_some() {
                    Verdict::silent(true)
                } else if !g.listen.is_empty() {
                    self.peers().remember(addr);
                    Verdict::silent(true)
                } else {
                    Verdict::audited(false, "net.receive", addr, net_flag())
                }
            }
        }
    }

    fn peers(&self) -> std::sync::MutexGuard<'_, Peers> {
        self.udp_peers.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A run's network access: its policy and where decisions are audited.
/// Cheap to clone (every socket holds one).
#[derive(Clone)]
pub(crate) struct NetAccess {
    policy: NetPolicy,
    audit: Option<AuditHook>,
}

impl NetAccess {
    pub(crate) fn new(grant: NetGrant, audit: Option<AuditHook>) -> NetAccess {
        NetAccess {
            policy: NetPolicy::new(grant),
            audit,
        }
    }

    pub(crate) fn grant(&self) -> &NetGrant {
        self.policy.grant()
    }

    /// Decides one use of an address, and audits the decision.
    pub(crate) fn allows(&self, addr: SocketAddr, use_: SocketAddrUse) -> bool {
        let verdict = self.policy.check(addr, use_);
        if let (Some(hook), Some(used)) = (&self.audit, verdict.audit) {
            hook(&AuditEvent::Capability(used));
        }
        verdict.allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Decision;

    fn policy(net: &[&str], listen: &[&str]) -> NetPolicy {
        let mut g = NetGrant::default();
        g.add_connect(net.iter().map(|s| s.parse().unwrap()));
        g.add_listen(listen.iter().map(|s| s.parse().unwrap()));
        NetPolicy::new(g)
    }

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn nothing_by_default() {
        let p = policy(&[], &[]);
        for use_ in [
            SocketAddrUse::TcpConnect,
            SocketAddrUse::TcpBind,
            SocketAddrUse::TcpListen,
            SocketAddrUse::UdpBind,
            SocketAddrUse::UdpSend,
            SocketAddrUse::UdpReceive,
        ] {
            assert!(!p.check(a("127.0.0.1:80"), use_).allowed, "{use_:?}");
            assert!(!p.check(a("0.0.0.0:0"), use_).allowed, "{use_:?}");
        }
        assert!(!p.grant().allows_name_lookup());
    }

    #[test]
    fn connect_needs_net() {
        let p = policy(&["127.0.0.1:8080"], &[]);
        assert!(p.grant().allows_name_lookup());
        assert_eq!(
            p.check(a("0.0.0.0:0"), SocketAddrUse::TcpBind),
            Verdict::silent(true)
        );
        let ok = p.check(a("127.0.0.1:8080"), SocketAddrUse::TcpConnect);
        assert!(ok.allowed);
        assert_eq!(
            ok.audit.unwrap(),
            CapabilityUse::allowed("net.connect", "127.0.0.1:8080")
        );
        let no = p.check(a("127.0.0.1:8081"), SocketAddrUse::TcpConnect);
        assert!(!no.allowed);
        assert_eq!(
            no.audit.unwrap().decision,
            Decision::Denied {
                grant: "--allow-net=127.0.0.1:8081".into()
            }
        );
        // A connect grant does not let it listen.
        assert!(!p.check(a("127.0.0.1:8080"), SocketAddrUse::TcpBind).allowed);
        assert!(!p.check(a("0.0.0.0:0"), SocketAddrUse::TcpListen).allowed);
    }

    #[test]
    fn listen_with_port_zero() {
        let p = policy(&[], &["127.0.0.1:0"]);
        assert!(!p.grant().allows_name_lookup());
        assert!(p.check(a("127.0.0.1:0"), SocketAddrUse::TcpBind).allowed);
        assert!(
            p.check(a("127.0.0.1:41234"), SocketAddrUse::TcpListen)
                .allowed
        );
        assert!(
            !p.check(a("127.0.0.1:41234"), SocketAddrUse::TcpBind)
                .allowed
        );
        assert!(!p.check(a("0.0.0.0:0"), SocketAddrUse::TcpListen).allowed);
        let no = p.check(a("10.0.0.1:0"), SocketAddrUse::TcpBind);
        assert_eq!(
            no.audit.unwrap().decision,
            Decision::Denied {
                grant: "--allow-listen=10.0.0.1:0".into()
            }
        );
        assert!(
            p.check(a("10.9.9.9:5555"), SocketAddrUse::TcpAccept)
                .allowed
        );
        assert!(
            !p.check(a("127.0.0.1:80"), SocketAddrUse::TcpConnect)
                .allowed
        );
    }

    #[test]
    fn listen_on_a_fixed_port() {
        let p = policy(&[], &["127.0.0.1:9000"]);
        assert!(p.check(a("127.0.0.1:9000"), SocketAddrUse::TcpBind).allowed);
        assert!(
            p.check(a("127.0.0.1:9000"), SocketAddrUse::TcpListen)
                .allowed
        );
        assert!(!p.check(a("127.0.0.1:0"), SocketAddrUse::TcpBind).allowed);
        assert!(
            !p.check(a("127.0.0.1:9001"), SocketAddrUse::TcpListen)
                .allowed
        );
    }

    #[test]
    fn udp_server_answers_its_peers() {
        let p = policy(&[], &["127.0.0.1:0"]);
        let peer = a("127.0.0.1:50000");
        assert!(p.check(a("127.0.0.1:0"), SocketAddrUse::UdpBind).allowed);
        assert!(
            !p.check(peer, SocketAddrUse::UdpSend).allowed,
            "not before it sent"
        );
        assert_eq!(
            p.check(peer, SocketAddrUse::UdpReceive),
            Verdict::silent(true)
        );
        assert!(p.check(peer, SocketAddrUse::UdpSend).allowed, "a reply");
        assert!(
            !p.check(a("127.0.0.1:50001"), SocketAddrUse::UdpSend)
                .allowed
        );
    }

    #[test]
    fn udp_client() {
        let p = policy(&["127.0.0.1:53"], &[]);
        assert!(p.check(a("0.0.0.0:0"), SocketAddrUse::UdpBind).allowed);
        assert!(p.check(a("127.0.0.1:53"), SocketAddrUse::UdpSend).allowed);
        assert!(
            p.check(a("127.0.0.1:53"), SocketAddrUse::UdpReceive)
                .allowed
        );
        let stranger = p.check(a("127.0.0.1:54"), SocketAddrUse::UdpReceive);
        assert!(!stranger.allowed);
        assert_eq!(stranger.audit.unwrap().capability, "net.receive");
    }

    #[test]
    fn reply_peers_are_bounded() {
        let p = policy(&[], &["127.0.0.1:0"]);
        for port in 1..=(UDP_REPLY_PEERS as u16 + 1) {
            p.check(
                SocketAddr::from(([127, 0, 0, 1], port)),
                SocketAddrUse::UdpReceive,
            );
        }
        assert!(!p.check(a("127.0.0.1:1"), SocketAddrUse::UdpSend).allowed);
        assert!(p.check(a("127.0.0.1:2"), SocketAddrUse::UdpSend).allowed);
    }
}

//! The decisions: which use of which address the grants allow, and what to
//! audit about it. No sockets and no audit hook here ([`super::access`]
//! writes the audit lines), so every rule is testable on its own.

use super::NetGrant;
use super::rule::spec_of;
use crate::audit::CapabilityUse;
use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};

/// How many (socket, peer) pairs the run remembers as UDP peers that sent
/// to a socket bound under `--allow-listen` and may be answered by it
/// without an `--allow-net` grant (the oldest are forgotten first).
pub(crate) const UDP_REPLY_PEERS: usize = 4096;

/// One use of an address by a TCP socket, or a UDP bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Use {
    /// A TCP connect: `--allow-net`.
    Connect,
    /// An explicit bind, TCP or UDP, to any address (the wildcard and port
    /// 0 too): `--allow-listen`.
    Bind,
    /// The ephemeral bind the system makes itself at a TCP connect (the
    /// connect is checked next) or before an unbound TCP listen (the
    /// listen is checked next): allowed with any grant, not audited.
    EphemeralBind,
    /// A TCP listen on the address it is bound to: `--allow-listen`; a
    /// grant with port 0 covers the port the system chose.
    Listen,
    /// A client accepted: always allowed (the listen grant covers it).
    Accept,
}

/// A UDP socket as the policy knows it: its run-wide number, and whether
/// it was bound under `--allow-listen` (a "server": it hears anyone and may
/// answer them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UdpSide {
    pub id: u64,
    pub listening: bool,
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

/// Decides each socket use of one run, remembering the UDP peers each
/// listening socket may answer.
#[derive(Debug)]
pub(crate) struct NetPolicy {
    grant: NetGrant,
    udp_peers: Mutex<Peers>,
}

/// (socket, peer) pairs, bounded, oldest forgotten first.
#[derive(Debug, Default)]
struct Peers {
    set: HashSet<(u64, SocketAddr)>,
    order: VecDeque<(u64, SocketAddr)>,
}

impl Peers {
    fn remember(&mut self, key: (u64, SocketAddr)) {
        if self.set.insert(key) {
            self.order.push_back(key);
            if self.order.len() > UDP_REPLY_PEERS
                && let Some(old) = self.order.pop_front()
            {
                self.set.remove(&old);
            }
        }
    }
}

fn net_flag(addr: SocketAddr) -> String {
    format!("--allow-net={}", spec_of(addr))
}

fn listen_flag(addr: SocketAddr) -> String {
    format!("--allow-listen={}", spec_of(addr))
}

impl NetPolicy {
    pub(crate) fn new(grant: NetGrant) -> NetPolicy {
        NetPolicy {
            grant,
            udp_peers: Mutex::default(),
        }
    }

    pub(crate) fn grant(&self) -> &NetGrant {
        &self.grant
    }

    /// The decision for one use of `addr`.
    pub(crate) fn check(&self, addr: SocketAddr, use_: Use) -> Verdict {
        let g = &self.grant;
        match use_ {
            Use::Connect => {
                let ok = NetGrant::find(&g.connect, addr).is_some();
                Verdict::audited(ok, "net.connect", addr, net_flag(addr))
            }
            Use::Bind => {
                let ok = NetGrant::find(&g.listen, addr).is_some();
                Verdict::audited(ok, "net.bind", addr, listen_flag(addr))
            }
            Use::EphemeralBind => Verdict::silent(!g.is_empty()),
            Use::Listen => {
                let ok = g.listen.iter().any(|r| {
                    r.matches(addr) || (r.matches_host(addr.ip()) && r.allows_ephemeral())
                });
                Verdict::audited(ok, "net.listen", addr, listen_flag(addr))
            }
            Use::Accept => Verdict::audited(true, "net.accept", addr, String::new()),
        }
    }

    /// A UDP send (or connect) from `socket` to `addr`: `--allow-net`, or a
    /// reply from a listening socket to a peer that sent to it.
    pub(crate) fn udp_send(&self, socket: UdpSide, addr: SocketAddr) -> Verdict {
        let ok = NetGrant::find(&self.grant.connect, addr).is_some()
            || (socket.listening && self.peers().set.contains(&(socket.id, addr)));
        Verdict::audited(ok, "net.send", addr, net_flag(addr))
    }

    /// The bind the host makes itself before the first send or the connect
    /// of an unbound UDP socket (the send was allowed): audited, allowed.
    pub(crate) fn udp_implicit_bind(&self, local: SocketAddr) -> Verdict {
        Verdict::audited(true, "net.bind", local, String::new())
    }

    /// A datagram from `from` arriving on `socket`: a listening socket
    /// takes it (and may answer `from`); any other socket only from a peer
    /// an `--allow-net` rule names. Denials are audited.
    pub(crate) fn udp_receive(&self, socket: UdpSide, from: SocketAddr) -> Verdict {
        if socket.listening {
            self.peers().remember((socket.id, from));
            Verdict::silent(true)
        } else if NetGrant::find(&self.grant.connect, from).is_some() {
            Verdict::silent(true)
        } else {
            Verdict::audited(false, "net.receive", from, net_flag(from))
        }
    }

    fn peers(&self) -> MutexGuard<'_, Peers> {
        self.udp_peers.lock().unwrap_or_else(|e| e.into_inner())
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

    const SERVER: UdpSide = UdpSide {
        id: 1,
        listening: true,
    };
    const CLIENT: UdpSide = UdpSide {
        id: 2,
        listening: false,
    };

    #[test]
    fn nothing_by_default() {
        let p = policy(&[], &[]);
        for use_ in [Use::Connect, Use::Bind, Use::EphemeralBind, Use::Listen] {
            assert!(!p.check(a("127.0.0.1:80"), use_).allowed, "{use_:?}");
            assert!(!p.check(a("0.0.0.0:0"), use_).allowed, "{use_:?}");
        }
        for side in [SERVER, CLIENT] {
            assert!(!p.udp_send(side, a("127.0.0.1:80")).allowed);
        }
        assert!(!p.udp_receive(CLIENT, a("127.0.0.1:80")).allowed);
        assert!(!p.grant().allows_name_lookup());
    }

    #[test]
    fn connect_needs_net() {
        let p = policy(&["127.0.0.1:8080"], &[]);
        assert!(p.grant().allows_name_lookup());
        assert_eq!(
            p.check(a("0.0.0.0:0"), Use::EphemeralBind),
            Verdict::silent(true)
        );
        let ok = p.check(a("127.0.0.1:8080"), Use::Connect);
        assert!(ok.allowed);
        assert_eq!(
            ok.audit.unwrap(),
            CapabilityUse::allowed("net.connect", "127.0.0.1:8080")
        );
        let no = p.check(a("127.0.0.1:8081"), Use::Connect);
        assert!(!no.allowed);
        assert_eq!(
            no.audit.unwrap().decision,
            Decision::Denied {
                grant: "--allow-net=127.0.0.1:8081".into()
            }
        );
        // A connect grant does not let it bind or listen.
        assert!(!p.check(a("127.0.0.1:8080"), Use::Bind).allowed);
        assert!(!p.check(a("0.0.0.0:0"), Use::Listen).allowed);
    }

    #[test]
    fn an_explicit_bind_to_the_wildcard_needs_a_grant_for_it() {
        // Issue 10: with only a loopback listen grant, binding 0.0.0.0:0
        // (every interface) is refused and audited, for TCP and UDP alike.
        let p = policy(&["127.0.0.1:*"], &["127.0.0.1:9000"]);
        let no = p.check(a("0.0.0.0:0"), Use::Bind);
        assert!(!no.allowed);
        let audit = no.audit.unwrap();
        assert_eq!(audit.capability, "net.bind");
        assert_eq!(
            audit.decision,
            Decision::Denied {
                grant: "--allow-listen=0.0.0.0:0".into()
            }
        );
        assert!(!p.check(a("0.0.0.0:9000"), Use::Bind).allowed);
        assert!(!p.check(a("0.0.0.0:41234"), Use::Listen).allowed);
        // A grant for it allows it.
        let p = policy(&[], &["0.0.0.0:0"]);
        assert!(p.check(a("0.0.0.0:0"), Use::Bind).allowed);
        assert!(p.check(a("0.0.0.0:41234"), Use::Listen).allowed);
    }

    #[test]
    fn listen_with_port_zero() {
        let p = policy(&[], &["127.0.0.1:0"]);
        assert!(!p.grant().allows_name_lookup());
        assert!(p.check(a("127.0.0.1:0"), Use::Bind).allowed);
        assert!(p.check(a("127.0.0.1:41234"), Use::Listen).allowed);
        assert!(!p.check(a("127.0.0.1:41234"), Use::Bind).allowed);
        assert!(!p.check(a("0.0.0.0:0"), Use::Listen).allowed);
        let no = p.check(a("10.0.0.1:0"), Use::Bind);
        assert_eq!(
            no.audit.unwrap().decision,
            Decision::Denied {
                grant: "--allow-listen=10.0.0.1:0".into()
            }
        );
        assert!(p.check(a("10.9.9.9:5555"), Use::Accept).allowed);
        assert!(!p.check(a("127.0.0.1:80"), Use::Connect).allowed);
    }

    #[test]
    fn listen_on_a_fixed_port() {
        let p = policy(&[], &["127.0.0.1:9000"]);
        assert!(p.check(a("127.0.0.1:9000"), Use::Bind).allowed);
        assert!(p.check(a("127.0.0.1:9000"), Use::Listen).allowed);
        assert!(!p.check(a("127.0.0.1:0"), Use::Bind).allowed);
        assert!(!p.check(a("127.0.0.1:9001"), Use::Listen).allowed);
    }

    #[test]
    fn a_udp_server_answers_its_own_peers() {
        let p = policy(&[], &["127.0.0.1:0"]);
        let peer = a("127.0.0.1:50000");
        assert!(!p.udp_send(SERVER, peer).allowed, "not before it sent");
        assert_eq!(p.udp_receive(SERVER, peer), Verdict::silent(true));
        assert!(p.udp_send(SERVER, peer).allowed, "a reply");
        assert!(!p.udp_send(SERVER, a("127.0.0.1:50001")).allowed);
        // Another socket may not: the peer sent to the server, not to it.
        let other = UdpSide {
            id: 3,
            listening: true,
        };
        assert!(!p.udp_send(other, peer).allowed);
        assert!(!p.udp_send(CLIENT, peer).allowed);
    }

    #[test]
    fn a_udp_client_hears_only_granted_peers() {
        let p = policy(&["127.0.0.1:53"], &["127.0.0.1:0"]);
        assert!(p.udp_send(CLIENT, a("127.0.0.1:53")).allowed);
        assert_eq!(
            p.udp_receive(CLIENT, a("127.0.0.1:53")),
            Verdict::silent(true)
        );
        // A listen grant exists, but this socket was not bound under it.
        let stranger = p.udp_receive(CLIENT, a("127.0.0.1:54"));
        assert!(!stranger.allowed);
        let audit = stranger.audit.unwrap();
        assert_eq!(audit.capability, "net.receive");
        assert_eq!(audit.target, "127.0.0.1:54");
        assert!(
            !p.udp_send(CLIENT, a("127.0.0.1:54")).allowed,
            "nor answer it"
        );
        assert_eq!(
            p.udp_implicit_bind(a("127.0.0.1:0")).audit.unwrap(),
            CapabilityUse::allowed("net.bind", "127.0.0.1:0")
        );
    }

    #[test]
    fn reply_peers_are_bounded() {
        let p = policy(&[], &["127.0.0.1:0"]);
        for port in 1..=(UDP_REPLY_PEERS as u16 + 1) {
            p.udp_receive(SERVER, SocketAddr::from(([127, 0, 0, 1], port)));
        }
        assert!(!p.udp_send(SERVER, a("127.0.0.1:1")).allowed);
        assert!(p.udp_send(SERVER, a("127.0.0.1:2")).allowed);
    }
}

//! [`NetAccess`]: a run's network policy and its audit hook, shared by
//! every socket of the run. It turns each [`Verdict`] into an audit line,
//! and keeps a flood of dropped datagrams from writing a line each.
//!
//! **Dropped datagrams are rate-limited.** Anyone who can reach a guest's
//! UDP port can make it drop datagrams, as fast as they can send them: an
//! audit line each would let them fill the host's disk. The run writes the
//! first [`DROP_BURST`] `net.receive` denials, then at most one per
//! [`DROP_INTERVAL`]; each line counts the drops since the line before it
//! that got no line of their own (`"suppressed":N`), and when the run ends
//! a last line carries whatever is left uncounted. Every drop is thus
//! counted once, and a flood of any length costs one line per second.

use super::NetGrant;
use super::SharedPorts;
use super::policy::{NetPolicy, UdpSide, Use, Verdict};
use crate::audit::CapabilityUse;
use crate::audit::{AuditEvent, AuditHook};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How many `net.receive` denials are written before the rate limit.
pub(crate) const DROP_BURST: u32 = 20;

/// After the burst, one `net.receive` line per this much time.
pub(crate) const DROP_INTERVAL: Duration = Duration::from_secs(1);

/// A run's network access: its policy and where decisions are audited.
/// Cheap to clone (every socket holds one).
#[derive(Clone)]
pub(crate) struct NetAccess {
    shared: Arc<Shared>,
}

struct Shared {
    policy: NetPolicy,
    audit: Option<AuditHook>,
    /// The group whose ports this run's TCP listeners share, if any, and
    /// how many binds to each address this run made (see `share`).
    ports: Option<(SharedPorts, Mutex<HashMap<SocketAddr, usize>>)>,
    drops: Mutex<DropLimiter>,
    /// Numbers the run's UDP sockets.
    next_socket: AtomicU64,
    /// The TLS identities and CA bundles the run was given.
    #[cfg(feature = "tls")]
    tls: super::tls::TlsGrant,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The run is over (no socket holds the access any more): write the
        // drops the limiter held back.
        let last = self.drops.get_mut().map(|d| d.flush()).unwrap_or(None);
        if let (Some(hook), Some(used)) = (&self.audit, last) {
            hook(&AuditEvent::Capability(used));
        }
    }
}

impl NetAccess {
    pub(crate) fn new(
        grant: NetGrant,
        audit: Option<AuditHook>,
        ports: Option<SharedPorts>,
    ) -> NetAccess {
        NetAccess {
            shared: Arc::new(Shared {
                policy: NetPolicy::new(grant),
                audit,
                ports: ports.map(|p| (p, Mutex::new(HashMap::new()))),
                drops: Mutex::new(DropLimiter::new(Instant::now())),
                next_socket: AtomicU64::new(1),
                #[cfg(feature = "tls")]
                tls: super::tls::TlsGrant::default(),
            }),
        }
    }

    /// With the run's TLS identities and CA bundles (before any socket
    /// shares the access).
    #[cfg(feature = "tls")]
    pub(crate) fn with_tls(mut self, tls: super::tls::TlsGrant) -> NetAccess {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.tls = tls;
        }
        self
    }

    /// The run's TLS identities and CA bundles.
    #[cfg(feature = "tls")]
    pub(crate) fn tls(&self) -> &super::tls::TlsGrant {
        &self.shared.tls
    }

    /// Writes one capability use to the audit hook, if there is one.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(crate) fn audit(&self, used: CapabilityUse) {
        if let Some(hook) = &self.shared.audit {
            hook(&AuditEvent::Capability(used));
        }
    }

    pub(crate) fn grant(&self) -> &NetGrant {
        self.shared.policy.grant()
    }

    /// Whether this run's TCP binds join a [`SharedPorts`] group.
    pub(crate) fn shares_ports(&self) -> bool {
        self.shared.ports.is_some()
    }

    /// Makes a TCP bind to `asked` (already granted) through the run's
    /// [`SharedPorts`] group, which may bind another address (the group's
    /// port for `asked`); without a group, a plain bind. `bind` binds and
    /// says where.
    pub(crate) fn bind_shared<E>(
        &self,
        asked: SocketAddr,
        bind: impl FnOnce(SocketAddr) -> Result<SocketAddr, E>,
    ) -> Result<(), E> {
        match &self.shared.ports {
            Some((group, count)) => {
                let mut count = count.lock().unwrap_or_else(|e| e.into_inner());
                group.bind(asked, &mut count, bind)
            }
            None => bind(asked).map(|_| ()),
        }
    }

    /// A number for a new UDP socket, unique in the run.
    pub(crate) fn udp_socket_id(&self) -> u64 {
        self.shared.next_socket.fetch_add(1, Ordering::Relaxed)
    }

    fn report(&self, verdict: Verdict) -> bool {
        if let (Some(hook), Some(used)) = (&self.shared.audit, verdict.audit) {
            hook(&AuditEvent::Capability(used));
        }
        verdict.allowed
    }

    /// Audits, and gives the error for, an address refused before any
    /// grant is looked at because no grant can allow it: a wildcard,
    /// broadcast or multicast peer, port 0, an IPv4-mapped or -compatible
    /// IPv6 form, the other family's address (the WASI spec's
    /// `invalid-argument`). Trying them is how a guest looks for a way
    /// around its grants, so they are logged as every refusal is.
    pub(crate) fn refuse_invalid(
        &self,
        capability: &'static str,
        addr: SocketAddr,
    ) -> wasmtime_wasi::sockets::ErrorCode {
        if let Some(hook) = &self.shared.audit {
            let why = "no grant: not a unicast address and port of the socket's family";
            hook(&AuditEvent::Capability(CapabilityUse::denied(
                capability,
                addr.to_string(),
                why,
            )));
        }
        wasmtime_wasi::sockets::ErrorCode::InvalidArgument
    }

    /// Opens wasmtime-wasi's WASI 0.2 TCP sockets (what a plain WASI 0.2
    /// command uses; WASI 0.3 TCP and UDP are the host's own) under these
    /// grants, each use checked and audited here:
    ///
    /// - a connect needs `--allow-net`; a bind and a listen
    ///   `--allow-listen`; an accepted client is the listen grant's;
    /// - wasmtime-wasi checks the bind the system makes at a connect or a
    ///   listen as a bind to the wildcard with port 0, which it cannot tell
    ///   from an explicit one: that is allowed as the ephemeral bind (the
    ///   connect or listen that follows is checked), as for WASI 0.3.
    ///
    /// WASI 0.2 UDP stays off: wasmtime-wasi's UDP sockets hear every peer,
    /// and the grants say which peers a socket may hear.
    pub(crate) fn open_wasi_p2_tcp(&self, builder: &mut wasmtime_wasi::WasiCtxBuilder) {
        use wasmtime_wasi::sockets::SocketAddrUse;
        builder.allow_tcp(true);
        let access = self.clone();
        builder.socket_addr_check(move |addr, used| {
            let use_ = match used {
                SocketAddrUse::TcpBind if addr.ip().is_unspecified() && addr.port() == 0 => {
                    Some(Use::EphemeralBind)
                }
                SocketAddrUse::TcpBind => Some(Use::Bind),
                SocketAddrUse::TcpListen => Some(Use::Listen),
                SocketAddrUse::TcpAccept => Some(Use::Accept),
                SocketAddrUse::TcpConnect => Some(Use::Connect),
                SocketAddrUse::UdpBind | SocketAddrUse::UdpSend | SocketAddrUse::UdpReceive => None,
            };
            let allowed = use_.is_some_and(|use_| access.allows(addr, use_));
            Box::pin(async move { allowed })
        });
    }

    /// Decides one use of an address, and audits the decision.
    pub(crate) fn allows(&self, addr: SocketAddr, use_: Use) -> bool {
        self.report(self.shared.policy.check(addr, use_))
    }

    /// Decides a UDP send (or connect) to `addr`, and audits it.
    pub(crate) fn allows_udp_send(&self, socket: UdpSide, addr: SocketAddr) -> bool {
        self.report(self.shared.policy.udp_send(socket, addr))
    }

    /// Audits the bind the host makes before an unbound UDP socket's first
    /// send or its connect.
    pub(crate) fn audit_implicit_bind(&self, local: SocketAddr) {
        self.report(self.shared.policy.udp_implicit_bind(local));
    }

    /// Decides whether a datagram from `from` reaches `socket`; a drop is
    /// audited within the rate limit (see the module docs).
    pub(crate) fn allows_udp_receive(&self, socket: UdpSide, from: SocketAddr) -> bool {
        let verdict = self.shared.policy.udp_receive(socket, from);
        if verdict.allowed {
            return true;
        }
        if let (Some(hook), Some(used)) = (&self.shared.audit, verdict.audit) {
            let line = {
                let mut drops = self.shared.drops.lock().unwrap_or_else(|e| e.into_inner());
                drops.on_drop(Instant::now(), used)
            };
            if let Some(used) = line {
                hook(&AuditEvent::Capability(used));
            }
        }
        false
    }
}

/// A token bucket for `net.receive` lines: [`DROP_BURST`] tokens, one more
/// per [`DROP_INTERVAL`].
#[derive(Debug)]
struct DropLimiter {
    tokens: u32,
    /// When the last token was added (or the bucket was full).
    refilled: Instant,
    /// Drops with no line of their own since the last line.
    suppressed: u64,
    /// The latest of them, for the line written when the run ends.
    latest: Option<CapabilityUse>,
}

impl DropLimiter {
    fn new(now: Instant) -> DropLimiter {
        DropLimiter {
            tokens: DROP_BURST,
            refilled: now,
            suppressed: 0,
            latest: None,
        }
    }

    /// One drop at `now`: the line to write for it, if any.
    fn on_drop(&mut self, now: Instant, mut used: CapabilityUse) -> Option<CapabilityUse> {
        let elapsed = now.saturating_duration_since(self.refilled);
        let earned = elapsed.as_nanos() / DROP_INTERVAL.as_nanos();
        if earned > 0 {
            let earned = u32::try_from(earned).unwrap_or(u32::MAX);
            self.tokens = self.tokens.saturating_add(earned).min(DROP_BURST);
            self.refilled = if self.tokens == DROP_BURST {
                now
            } else {
                self.refilled + DROP_INTERVAL * earned
            };
        }
        if self.tokens == 0 {
            self.suppressed += 1;
            self.latest = Some(used);
            return None;
        }
        self.tokens -= 1;
        used.suppressed = std::mem::take(&mut self.suppressed);
        self.latest = None;
        Some(used)
    }

    /// The line for the drops still held back, if any.
    fn flush(&mut self) -> Option<CapabilityUse> {
        let mut last = self.latest.take()?;
        last.suppressed = std::mem::take(&mut self.suppressed) - 1;
        Some(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::rule::spec_of;

    /// A denial as [`NetPolicy::udp_receive`] makes it (for the tests).
    fn dropped(from: &str) -> CapabilityUse {
        let addr: SocketAddr = from.parse().unwrap();
        CapabilityUse::denied(
            "net.receive",
            spec_of(addr),
            format!("--allow-net={}", spec_of(addr)),
        )
    }

    #[test]
    fn a_flood_of_drops_writes_a_burst_then_one_line_per_interval() {
        let t0 = Instant::now();
        let mut limiter = DropLimiter::new(t0);
        let mut lines = Vec::new();
        // 100,000 drops over 10 s (one per 100 µs).
        for i in 0..100_000u64 {
            let now = t0 + Duration::from_micros(100 * i);
            if let Some(line) = limiter.on_drop(now, dropped("127.0.0.1:7")) {
                lines.push(line);
            }
        }
        lines.extend(limiter.flush());
        // The burst, one line per second after it (the 10th second's
        // token comes at exactly 10 s, after the last drop), and the flush.
        assert_eq!(lines.len(), DROP_BURST as usize + 9 + 1, "{}", lines.len());
        assert!(
            lines[..DROP_BURST as usize]
                .iter()
                .all(|l| l.suppressed == 0)
        );
        // Every drop is counted exactly once.
        let counted: u64 = lines.iter().map(|l| 1 + l.suppressed).sum();
        assert_eq!(counted, 100_000);
        assert_eq!(limiter.flush(), None, "nothing left");
    }

    #[test]
    fn drops_far_apart_are_all_written() {
        let t0 = Instant::now();
        let mut limiter = DropLimiter::new(t0);
        for i in 0..100u32 {
            let now = t0 + DROP_INTERVAL * i;
            let line = limiter.on_drop(now, dropped("[::1]:9")).expect("a line");
            assert_eq!(line.suppressed, 0);
            assert_eq!(line.target, "[::1]:9");
        }
        assert_eq!(limiter.flush(), None);
    }

    #[test]
    fn the_bucket_refills_after_a_quiet_spell() {
        let t0 = Instant::now();
        let mut limiter = DropLimiter::new(t0);
        for _ in 0..DROP_BURST + 5 {
            limiter.on_drop(t0, dropped("127.0.0.1:7"));
        }
        // Quiet for longer than a full refill: a whole burst again, the
        // first line counting the 5 held back.
        let later = t0 + DROP_INTERVAL * (DROP_BURST + 1);
        let first = limiter.on_drop(later, dropped("127.0.0.1:8")).unwrap();
        assert_eq!(first.suppressed, 5);
        for _ in 1..DROP_BURST {
            assert_eq!(
                limiter
                    .on_drop(later, dropped("127.0.0.1:8"))
                    .unwrap()
                    .suppressed,
                0
            );
        }
        assert_eq!(limiter.on_drop(later, dropped("127.0.0.1:8")), None);
        let last = limiter.flush().unwrap();
        assert_eq!((last.target.as_str(), last.suppressed), ("127.0.0.1:8", 0));
    }

    #[test]
    fn the_held_back_drops_are_written_when_the_run_ends() {
        let seen: Arc<Mutex<Vec<CapabilityUse>>> = Arc::default();
        let log = seen.clone();
        let hook: AuditHook = Arc::new(move |e: &AuditEvent| {
            if let AuditEvent::Capability(u) = e {
                log.lock().unwrap().push(u.clone());
            }
        });
        let mut grant = NetGrant::default();
        grant.add_connect(["127.0.0.1:53".parse().unwrap()]);
        let access = NetAccess::new(grant, Some(hook), None);
        let client = UdpSide {
            id: access.udp_socket_id(),
            listening: false,
        };
        let stranger: SocketAddr = "127.0.0.1:54".parse().unwrap();
        for _ in 0..1000 {
            assert!(!access.allows_udp_receive(client, stranger));
        }
        assert!(access.allows_udp_receive(client, "127.0.0.1:53".parse().unwrap()));
        let socket_copy = access.clone();
        drop(access);
        assert_eq!(seen.lock().unwrap().len(), DROP_BURST as usize, "not yet");
        drop(socket_copy);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), DROP_BURST as usize + 1);
        assert_eq!(seen.iter().map(|l| 1 + l.suppressed).sum::<u64>(), 1000);
        assert!(seen.iter().all(|l| l.capability == "net.receive"));
    }
}

//! One network grant, `HOST:PORT` as written on the command line, and the
//! matcher that decides whether a socket address falls under it.

use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::str::FromStr;

/// One `--allow-net` / `--allow-listen` entry: hosts and a port range.
///
/// Forms (the port may be a number, a range `a-b`, or `*`; without a port,
/// every port):
///
/// - `127.0.0.1:8080`, `[::1]:8080`: one address;
/// - `localhost:8000-8100`, `example.com:443`: a name, **resolved when the
///   grant is made** (every address it resolves to then is allowed; a name
///   that later resolves elsewhere does not follow);
/// - `*:443`, `*`: any host.
///
/// ```
/// use aio_host::net::NetRule;
///
/// let rule: NetRule = "127.0.0.1:8000-8100".parse().unwrap();
/// assert!(rule.matches("127.0.0.1:8080".parse().unwrap()));
/// assert!(!rule.matches("127.0.0.1:9000".parse().unwrap()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetRule {
    /// As written.
    asked: String,
    hosts: Hosts,
    ports: Ports,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Hosts {
    Any,
    /// The addresses a literal or a resolved name stands for (canonical:
    /// IPv4-mapped IPv6 addresses as IPv4).
    Ips(Vec<IpAddr>),
}

/// An inclusive port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ports {
    lo: u16,
    hi: u16,
}

impl Ports {
    const ALL: Ports = Ports {
        lo: 0,
        hi: u16::MAX,
    };

    fn contains(self, port: u16) -> bool {
        (self.lo..=self.hi).contains(&port)
    }
}

/// Why a grant could not be parsed; its `Display` is one line naming the
/// entry and the form expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetRuleError {
    entry: String,
    reason: String,
}

impl fmt::Display for NetRuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?}: {} (expected HOST:PORT, HOST:FIRST-LAST, HOST:* or HOST, with HOST an IP, [IPv6], a name or *)",
            self.entry, self.reason
        )
    }
}

impl std::error::Error for NetRuleError {}

impl NetRule {
    /// The entry as it was written.
    pub fn as_str(&self) -> &str {
        &self.asked
    }

    /// Whether `addr` is covered by this grant.
    pub fn matches(&self, addr: SocketAddr) -> bool {
        self.matches_host(addr.ip()) && self.ports.contains(addr.port())
    }

    /// Whether `ip` is one of this grant's hosts.
    pub fn matches_host(&self, ip: IpAddr) -> bool {
        match &self.hosts {
            Hosts::Any => true,
            Hosts::Ips(ips) => ips.contains(&ip.to_canonical()),
        }
    }

    /// Whether the grant includes port 0, the "any free port" of a bind.
    pub(crate) fn allows_ephemeral(&self) -> bool {
        self.ports.contains(0)
    }

    fn parse(entry: &str) -> Result<NetRule, NetRuleError> {
        let err = |reason: &str| NetRuleError {
            entry: entry.to_owned(),
            reason: reason.to_owned(),
        };
        let entry_t = entry.trim();
        if entry_t.is_empty() {
            return Err(err("empty entry"));
        }
        // Split HOST and the optional PORT.
        let (host, port) = if let Some(rest) = entry_t.strip_prefix('[') {
            let (v6, after) = rest
                .split_once(']')
                .ok_or_else(|| err("missing ']' after an IPv6 address"))?;
            let port = match after {
                "" => None,
                _ => Some(
                    after
                        .strip_prefix(':')
                        .ok_or_else(|| err("expected ':' after ']'"))?,
                ),
            };
            let ip: std::net::Ipv6Addr = v6.parse().map_err(|_| err("not an IPv6 address"))?;
            (HostSpec::Ip(IpAddr::V6(ip)), port)
        } else {
            let (host, port) = match entry_t.split_once(':') {
                Some((h, p)) => {
                    if p.contains(':') {
                        return Err(err("write IPv6 addresses in brackets: [::1]:8080"));
                    }
                    (h, Some(p))
                }
                None => (entry_t, None),
            };
            let spec = if host == "*" {
                HostSpec::Any
            } else if let Ok(ip) = host.parse::<IpAddr>() {
                HostSpec::Ip(ip)
            } else if host.is_empty() {
                return Err(err("no host"));
            } else {
                HostSpec::Name(host)
            };
            (spec, port)
        };
        let ports = match port {
            None | Some("*") => Ports::ALL,
            Some(p) => parse_ports(p).ok_or_else(|| {
                err("the port must be a number 0-65535, a range FIRST-LAST, or *")
            })?,
        };
        let hosts = match host {
            HostSpec::Any => Hosts::Any,
            HostSpec::Ip(ip) => Hosts::Ips(vec![ip.to_canonical()]),
            HostSpec::Name(name) => {
                let mut ips: Vec<IpAddr> = (name, 0)
                    .to_socket_addrs()
                    .map_err(|e| err(&format!("cannot resolve {name}: {e}")))?
                    .map(|a| a.ip().to_canonical())
                    .collect();
                ips.sort();
                ips.dedup();
                if ips.is_empty() {
                    return Err(err(&format!("{name} resolves to no address")));
                }
                Hosts::Ips(ips)
            }
        };
        Ok(NetRule {
            asked: entry_t.to_owned(),
            hosts,
            ports,
        })
    }
}

enum HostSpec<'a> {
    Any,
    Ip(IpAddr),
    Name(&'a str),
}

fn parse_ports(p: &str) -> Option<Ports> {
    let port = |s: &str| -> Option<u16> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    match p.split_once('-') {
        Some((a, b)) => {
            let (lo, hi) = (port(a)?, port(b)?);
            (lo <= hi).then_some(Ports { lo, hi })
        }
        None => port(p).map(|n| Ports { lo: n, hi: n }),
    }
}

impl FromStr for NetRule {
    type Err = NetRuleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NetRule::parse(s)
    }
}

impl fmt::Display for NetRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.asked)
    }
}

/// `addr` as a grant would name it: `1.2.3.4:80`, `[::1]:80`.
pub(crate) fn spec_of(addr: SocketAddr) -> String {
    SocketAddr::new(addr.ip().to_canonical(), addr.port()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(s: &str) -> NetRule {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn one_address() {
        let r = rule("127.0.0.1:8080");
        assert!(r.matches(addr("127.0.0.1:8080")));
        assert!(!r.matches(addr("127.0.0.1:8081")));
        assert!(!r.matches(addr("127.0.0.2:8080")));
        // The IPv4-mapped form of the same address.
        assert!(r.matches(addr("[::ffff:127.0.0.1]:8080")));
    }

    #[test]
    fn ranges_and_wildcards() {
        let r = rule("10.0.0.1:8000-8002");
        assert!(r.matches(addr("10.0.0.1:8000")));
        assert!(r.matches(addr("10.0.0.1:8002")));
        assert!(!r.matches(addr("10.0.0.1:8003")));
        assert!(!r.matches(addr("10.0.0.1:7999")));
        let any_port = rule("10.0.0.1:*");
        assert!(any_port.matches(addr("10.0.0.1:1")));
        assert_eq!(
            any_port,
            NetRule {
                asked: "10.0.0.1:*".into(),
                ..rule("10.0.0.1")
            }
        );
        let any_host = rule("*:443");
        assert!(any_host.matches(addr("[2001:db8::1]:443")));
        assert!(!any_host.matches(addr("1.1.1.1:80")));
        assert!(rule("*").matches(addr("1.1.1.1:80")));
        assert!(rule("*:0").allows_ephemeral());
        assert!(!rule("*:1-10").allows_ephemeral());
    }

    #[test]
    fn ipv6() {
        let r = rule("[::1]:53");
        assert!(r.matches(addr("[::1]:53")));
        assert!(!r.matches(addr("127.0.0.1:53")));
        assert!(rule("[::1]").matches(addr("[::1]:9")));
    }

    #[test]
    fn names_resolve_when_granted() {
        let r = rule("localhost:7000");
        assert!(r.matches(addr("127.0.0.1:7000")), "{r:?}");
        assert!(!r.matches(addr("127.0.0.1:7001")));
        assert_eq!(r.to_string(), "localhost:7000");
    }

    #[test]
    fn bad_entries_say_why() {
        for (entry, why) in [
            ("", "empty"),
            ("127.0.0.1:", "port must be"),
            ("127.0.0.1:65536", "port must be"),
            ("127.0.0.1:9-1", "port must be"),
            ("127.0.0.1:+1", "port must be"),
            ("127.0.0.1:a-b", "port must be"),
            ("::1", "brackets"),
            ("[::1:80", "missing ']'"),
            ("[::1]80", "expected ':'"),
            ("[127.0.0.1]:80", "not an IPv6"),
            (":80", "no host"),
            (
                "no-such-host.invalid:80",
                "cannot resolve no-such-host.invalid",
            ),
        ] {
            let e = entry.parse::<NetRule>().unwrap_err().to_string();
            assert!(e.contains(why), "{entry:?}: {e}");
            assert!(e.contains("expected HOST:PORT"), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn spec_of_addresses() {
        assert_eq!(spec_of(addr("[::ffff:10.0.0.1]:5")), "10.0.0.1:5");
        assert_eq!(spec_of(addr("[::1]:5")), "[::1]:5");
    }
}

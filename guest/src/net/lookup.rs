//! Name lookup: asyncio's `loop.getaddrinfo` and `loop.getnameinfo`, over
//! `wasi:sockets/ip-name-lookup`. What WASI can answer, and so what each
//! hint and flag does here, is in the [`net`](super) module docs.
//!
//! The lookup itself (`resolve_name`) is the only part that asks the
//! host; the rest (`numeric`, `local`, `socket_kinds`, `select`) is
//! plain logic, tested natively below and in `guest/tests/net.rs`.

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::host_call;
use crate::bindings::wasi::sockets::ip_name_lookup as wasi;
use crate::bindings::wasi::sockets::types as wit;
use crate::debug::AwaitCheck;
use crate::errors::{Error, ErrorKind, Result};
use crate::runtime;

/// An address family (Python's `socket.AddressFamily`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressFamily {
    /// IPv4, `AF_INET`.
    #[doc(alias = "AF_INET")]
    Inet,
    /// IPv6, `AF_INET6`.
    #[doc(alias = "AF_INET6")]
    Inet6,
}

impl AddressFamily {
    /// The family of `addr`.
    pub fn of(addr: &SocketAddr) -> AddressFamily {
        match addr {
            SocketAddr::V4(_) => AddressFamily::Inet,
            SocketAddr::V6(_) => AddressFamily::Inet6,
        }
    }
}

/// A socket type (Python's `socket.SocketKind`). WASI has TCP and UDP
/// sockets only, so there is no `SOCK_RAW`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SocketKind {
    /// A TCP socket, `SOCK_STREAM`.
    #[doc(alias = "SOCK_STREAM")]
    Stream,
    /// A UDP socket, `SOCK_DGRAM`.
    #[doc(alias = "SOCK_DGRAM")]
    Dgram,
}

/// An IP protocol (Python's `proto`: `IPPROTO_TCP`, `IPPROTO_UDP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpProtocol {
    /// `IPPROTO_TCP` (6), the protocol of [`SocketKind::Stream`].
    #[doc(alias = "IPPROTO_TCP")]
    Tcp,
    /// `IPPROTO_UDP` (17), the protocol of [`SocketKind::Dgram`].
    #[doc(alias = "IPPROTO_UDP")]
    Udp,
}

impl SocketKind {
    /// The one protocol this socket type uses here.
    pub fn protocol(self) -> IpProtocol {
        match self {
            SocketKind::Stream => IpProtocol::Tcp,
            SocketKind::Dgram => IpProtocol::Udp,
        }
    }
}

/// The `flags=` of [`getaddrinfo`] (Python's `socket.AI_*`), combined with
/// `|`. The values are Linux's. `AI_ADDRCONFIG` is not offered: WASI does
/// not say which addresses the machine has.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AddrInfoFlags(u32);

impl AddrInfoFlags {
    /// `AI_PASSIVE`: with no host, the wildcard addresses (`0.0.0.0`, `::`)
    /// to bind to, instead of the loopback ones. Ignored with a host, as
    /// in libc.
    #[doc(alias = "AI_PASSIVE")]
    pub const PASSIVE: AddrInfoFlags = AddrInfoFlags(0x1);
    /// `AI_CANONNAME`: the first entry's `canonname` is the host as given
    /// (WASI gives no canonical name). Needs a host.
    #[doc(alias = "AI_CANONNAME")]
    pub const CANONNAME: AddrInfoFlags = AddrInfoFlags(0x2);
    /// `AI_NUMERICHOST`: the host must be an IP literal; a name fails with
    /// `Io(NotFound)` and the host is never asked (so no grant is needed).
    #[doc(alias = "AI_NUMERICHOST")]
    pub const NUMERICHOST: AddrInfoFlags = AddrInfoFlags(0x4);
    /// `AI_V4MAPPED`: with [`AddressFamily::Inet6`], if there is no IPv6
    /// address, the IPv4 ones as IPv4-mapped IPv6 (`::ffff:a.b.c.d`).
    /// Ignored for other families, as in libc.
    #[doc(alias = "AI_V4MAPPED")]
    pub const V4MAPPED: AddrInfoFlags = AddrInfoFlags(0x8);
    /// `AI_ALL`: with [`V4MAPPED`](Self::V4MAPPED), the IPv6 addresses and
    /// the mapped IPv4 ones. Ignored without it.
    #[doc(alias = "AI_ALL")]
    pub const ALL: AddrInfoFlags = AddrInfoFlags(0x10);
    /// `AI_NUMERICSERV`: the port must be numeric, which it always is here
    /// (a `u16`; there is no services database in WASI).
    #[doc(alias = "AI_NUMERICSERV")]
    pub const NUMERICSERV: AddrInfoFlags = AddrInfoFlags(0x400);

    const NAMES: [(AddrInfoFlags, &'static str); 6] = [
        (Self::PASSIVE, "PASSIVE"),
        (Self::CANONNAME, "CANONNAME"),
        (Self::NUMERICHOST, "NUMERICHOST"),
        (Self::V4MAPPED, "V4MAPPED"),
        (Self::ALL, "ALL"),
        (Self::NUMERICSERV, "NUMERICSERV"),
    ];

    /// No flag (Python's `flags=0`).
    pub const fn empty() -> AddrInfoFlags {
        AddrInfoFlags(0)
    }

    /// The flags as Linux's `AI_*` bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// True if every flag of `other` is set.
    pub const fn contains(self, other: AddrInfoFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for AddrInfoFlags {
    type Output = AddrInfoFlags;
    fn bitor(self, other: AddrInfoFlags) -> AddrInfoFlags {
        AddrInfoFlags(self.0 | other.0)
    }
}

impl std::ops::BitOrAssign for AddrInfoFlags {
    fn bitor_assign(&mut self, other: AddrInfoFlags) {
        self.0 |= other.0;
    }
}

impl fmt::Debug for AddrInfoFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Self::NAMES
            .iter()
            .filter(|(flag, _)| self.contains(*flag))
            .map(|(_, name)| *name)
            .collect();
        if names.is_empty() {
            f.write_str("AddrInfoFlags(empty)")
        } else {
            write!(f, "AddrInfoFlags({})", names.join(" | "))
        }
    }
}

/// One answer of [`getaddrinfo`]: Python's
/// `(family, type, proto, canonname, sockaddr)` tuple.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AddrInfo {
    /// The family of `sockaddr`.
    pub family: AddressFamily,
    /// The socket type to use with `sockaddr` (Python's `type`).
    pub socktype: SocketKind,
    /// The protocol of `socktype`.
    pub proto: IpProtocol,
    /// With [`AddrInfoFlags::CANONNAME`], the host as given, on the first
    /// entry only; `None` otherwise (Python: `''`).
    pub canonname: Option<String>,
    /// The address and port.
    pub sockaddr: SocketAddr,
}

/// The hints: Python's `family=`, `type=`, `proto=`, `flags=`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Hints {
    family: Option<AddressFamily>,
    socktype: Option<SocketKind>,
    proto: Option<IpProtocol>,
    flags: AddrInfoFlags,
}

/// The addresses of `host` with `port` (asyncio's `loop.getaddrinfo`); see
/// the [`net` module docs](crate::net#name-lookup). `host` is a name, an IP
/// literal, or `None` (the local host). Filter with the methods of
/// [`GetAddrInfo`].
///
/// An IP literal and `None` never ask the host; a name is looked up
/// through `wasi:sockets/ip-name-lookup`, which the host allows only with
/// an `--allow-net` grant (`PermissionDenied` otherwise).
pub fn getaddrinfo<'a>(host: impl Into<Option<&'a str>>, port: u16) -> GetAddrInfo {
    GetAddrInfo {
        host: host.into().map(str::to_owned),
        port,
        hints: Hints::default(),
        running: None,
        check: AwaitCheck::new(),
    }
}

type Running = Pin<Box<dyn Future<Output = Result<Vec<AddrInfo>>>>>;

/// The future of [`getaddrinfo`]; its methods are Python's keyword
/// arguments, set before awaiting.
///
/// **Cancelled**, it returns `Err(Cancelled)` and the lookup is abandoned
/// (the host subtask is cancelled); **dropped**, the same without the
/// error. Nothing else changes.
#[must_use = "futures do nothing unless awaited"]
pub struct GetAddrInfo {
    host: Option<String>,
    port: u16,
    hints: Hints,
    /// Started at the first poll, so the hints apply.
    running: Option<Running>,
    check: AwaitCheck,
}

impl GetAddrInfo {
    /// Only addresses of `family` (Python's `family=`; unset: both).
    pub fn family(mut self, family: AddressFamily) -> GetAddrInfo {
        self.hints.family = Some(family);
        self
    }

    /// Only entries for sockets of type `kind` (Python's `type=`; unset:
    /// one entry per type).
    pub fn socktype(mut self, kind: SocketKind) -> GetAddrInfo {
        self.hints.socktype = Some(kind);
        self
    }

    /// Only entries of protocol `proto` (Python's `proto=`). With a
    /// [`socktype`](Self::socktype) of another protocol, `Err(Io(InvalidInput))`.
    pub fn proto(mut self, proto: IpProtocol) -> GetAddrInfo {
        self.hints.proto = Some(proto);
        self
    }

    /// The `AI_*` flags (Python's `flags=`); see [`AddrInfoFlags`].
    pub fn flags(mut self, flags: AddrInfoFlags) -> GetAddrInfo {
        self.hints.flags = flags;
        self
    }
}

impl Future for GetAddrInfo {
    type Output = Result<Vec<AddrInfo>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        this.check.polled();
        let running = this
            .running
            .get_or_insert_with(|| Box::pin(lookup(this.host.take(), this.port, this.hints)));
        running.as_mut().poll(cx)
    }
}

impl Drop for GetAddrInfo {
    fn drop(&mut self) {
        self.check.check("getaddrinfo()");
    }
}

impl fmt::Debug for GetAddrInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetAddrInfo")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("hints", &self.hints)
            .field("started", &self.running.is_some())
            .finish()
    }
}

/// The addresses to connect to or listen on, once each: what the streams
/// and transports need from `getaddrinfo`.
pub(crate) async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>> {
    let found = getaddrinfo(host, port).socktype(SocketKind::Stream).await?;
    Ok(found.into_iter().map(|info| info.sockaddr).collect())
}

fn io_error(kind: std::io::ErrorKind, message: String) -> Error {
    Error::from(std::io::Error::new(kind, message))
}

async fn lookup(host: Option<String>, port: u16, hints: Hints) -> Result<Vec<AddrInfo>> {
    if let Some(e) = runtime::take_cancel() {
        return Err(e);
    }
    let kinds = socket_kinds(hints)?;
    let flags = hints.flags;
    let Some(host) = host else {
        if flags.contains(AddrInfoFlags::CANONNAME) {
            return Err(io_error(
                std::io::ErrorKind::InvalidInput,
                "getaddrinfo: CANONNAME needs a host".into(),
            ));
        }
        return select("the local host", &local(flags), port, hints, &kinds, None);
    };
    let ips = match numeric(&host) {
        Some(ip) => vec![ip],
        None if flags.contains(AddrInfoFlags::NUMERICHOST) => {
            return Err(io_error(
                std::io::ErrorKind::NotFound,
                format!("cannot resolve {host}: not an IP address (NUMERICHOST)"),
            ));
        }
        None => resolve_name(&host, port).await?,
    };
    let canonname = flags
        .contains(AddrInfoFlags::CANONNAME)
        .then_some(host.as_str());
    select(&host, &ips, port, hints, &kinds, canonname)
}

/// The IP address `host` spells, if it is one (IPv6 also in brackets).
fn numeric(host: &str) -> Option<IpAddr> {
    let literal = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    literal.parse().ok()
}

/// No host: the loopback addresses, or the wildcard ones to bind to.
fn local(flags: AddrInfoFlags) -> [IpAddr; 2] {
    if flags.contains(AddrInfoFlags::PASSIVE) {
        [Ipv4Addr::UNSPECIFIED.into(), Ipv6Addr::UNSPECIFIED.into()]
    } else {
        [Ipv6Addr::LOCALHOST.into(), Ipv4Addr::LOCALHOST.into()]
    }
}

/// The socket types the hints ask for, in glibc's order.
fn socket_kinds(hints: Hints) -> Result<Vec<SocketKind>> {
    let kinds: Vec<SocketKind> = [SocketKind::Stream, SocketKind::Dgram]
        .into_iter()
        .filter(|k| hints.socktype.is_none_or(|t| t == *k))
        .filter(|k| hints.proto.is_none_or(|p| p == k.protocol()))
        .collect();
    if kinds.is_empty() {
        return Err(io_error(
            std::io::ErrorKind::InvalidInput,
            format!(
                "getaddrinfo: socket type {:?} does not go with protocol {:?}",
                hints.socktype.expect("a type"),
                hints.proto.expect("a protocol")
            ),
        ));
    }
    Ok(kinds)
}

/// The entries for `ips`: filtered by family (with V4MAPPED applied), one
/// per address and socket type; `canonname` on the first.
fn select(
    host: &str,
    ips: &[IpAddr],
    port: u16,
    hints: Hints,
    kinds: &[SocketKind],
    canonname: Option<&str>,
) -> Result<Vec<AddrInfo>> {
    let flags = hints.flags;
    let addresses: Vec<IpAddr> = match hints.family {
        None => ips.to_vec(),
        Some(AddressFamily::Inet) => ips.iter().copied().filter(IpAddr::is_ipv4).collect(),
        Some(AddressFamily::Inet6) => {
            let mut v6: Vec<IpAddr> = ips.iter().copied().filter(IpAddr::is_ipv6).collect();
            if flags.contains(AddrInfoFlags::V4MAPPED)
                && (v6.is_empty() || flags.contains(AddrInfoFlags::ALL))
            {
                v6.extend(ips.iter().filter_map(|ip| match ip {
                    IpAddr::V4(v4) => Some(IpAddr::V6(v4.to_ipv6_mapped())),
                    IpAddr::V6(_) => None,
                }));
            }
            v6
        }
    };
    if addresses.is_empty() {
        let family = match hints.family {
            Some(AddressFamily::Inet) => "IPv4 ",
            Some(AddressFamily::Inet6) => "IPv6 ",
            None => "",
        };
        return Err(io_error(
            std::io::ErrorKind::NotFound,
            format!("cannot resolve {host}: no {family}address"),
        ));
    }
    let mut canonname = canonname.map(str::to_owned);
    let mut found = Vec::with_capacity(addresses.len() * kinds.len());
    for ip in addresses {
        let sockaddr = SocketAddr::new(ip, port);
        for &socktype in kinds {
            found.push(AddrInfo {
                family: AddressFamily::of(&sockaddr),
                socktype,
                proto: socktype.protocol(),
                canonname: canonname.take(),
                sockaddr,
            });
        }
    }
    Ok(found)
}

/// Looks `host` up through the host's resolver.
async fn resolve_name(host: &str, port: u16) -> Result<Vec<IpAddr>> {
    let found = host_call("getaddrinfo", wasi::resolve_addresses(host.to_owned())).await?;
    let io = |kind, why: &str| io_error(kind, format!("cannot resolve {host}: {why}"));
    match found {
        Ok(ips) if ips.is_empty() => Err(io(std::io::ErrorKind::NotFound, "no address")),
        Ok(ips) => Ok(ips.into_iter().map(from_wit_ip).collect()),
        // wasmtime-wasi answers a lookup it does not allow with
        // permanent-resolver-failure; genuine failures are name-unresolvable.
        Err(wasi::ErrorCode::AccessDenied | wasi::ErrorCode::PermanentResolverFailure) => {
            Err(Error::new(ErrorKind::PermissionDenied(format!(
                "looking up {host} refused: name lookup needs an --allow-net grant (e.g. --allow-net={host}:{port})"
            ))))
        }
        Err(wasi::ErrorCode::NameUnresolvable) => {
            Err(io(std::io::ErrorKind::NotFound, "name unresolvable"))
        }
        Err(wasi::ErrorCode::InvalidArgument) => Err(io(
            std::io::ErrorKind::InvalidInput,
            "not a valid host name",
        )),
        Err(wasi::ErrorCode::TemporaryResolverFailure) => {
            Err(io(std::io::ErrorKind::Other, "temporary resolver failure"))
        }
        Err(wasi::ErrorCode::Other(m)) => Err(io(
            std::io::ErrorKind::Other,
            m.as_deref().unwrap_or("resolver failure"),
        )),
    }
}

fn from_wit_ip(ip: wit::IpAddress) -> IpAddr {
    match ip {
        wit::IpAddress::Ipv4((a, b, c, d)) => IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
        wit::IpAddress::Ipv6((s0, s1, s2, s3, s4, s5, s6, s7)) => {
            IpAddr::V6(Ipv6Addr::new(s0, s1, s2, s3, s4, s5, s6, s7))
        }
    }
}

/// The host and port of `addr` as text (asyncio's `loop.getnameinfo`),
/// always **numeric**: WASI 0.3 has no reverse lookup (no address-to-name
/// call in `wasi:sockets/ip-name-lookup`) and no services database, so the
/// result is what Python gives with `NI_NUMERICHOST | NI_NUMERICSERV`.
///
/// Async for asyncio's sake; it never waits. Cancelled, it returns
/// `Err(Cancelled)`.
///
/// ```no_run
/// # async fn demo() -> asyncio::Result<()> {
/// let (host, port) = asyncio::net::getnameinfo("[::1]:8080".parse().unwrap()).await?;
/// assert_eq!((host.as_str(), port.as_str()), ("::1", "8080"));
/// # Ok(()) }
/// ```
pub async fn getnameinfo(addr: SocketAddr) -> Result<(String, String)> {
    if let Some(e) = runtime::take_cancel() {
        return Err(e);
    }
    Ok((addr.ip().to_string(), addr.port().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hints(flags: AddrInfoFlags) -> Hints {
        Hints {
            flags,
            ..Hints::default()
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn numeric_hosts_with_and_without_brackets() {
        assert_eq!(numeric("127.0.0.1"), Some(ip("127.0.0.1")));
        assert_eq!(numeric("[::1]"), Some(ip("::1")));
        assert_eq!(numeric("::1"), Some(ip("::1")));
        assert_eq!(numeric("localhost"), None);
        assert_eq!(numeric("[127.0.0.1"), None);
    }

    #[test]
    fn flags_combine_and_print_their_names() {
        let f = AddrInfoFlags::PASSIVE | AddrInfoFlags::CANONNAME;
        assert!(f.contains(AddrInfoFlags::PASSIVE));
        assert!(!f.contains(AddrInfoFlags::NUMERICHOST));
        assert_eq!(f.bits(), 0x3);
        assert_eq!(format!("{f:?}"), "AddrInfoFlags(PASSIVE | CANONNAME)");
        assert_eq!(
            format!("{:?}", AddrInfoFlags::empty()),
            "AddrInfoFlags(empty)"
        );
    }

    #[test]
    fn v4mapped_only_for_inet6_and_only_when_no_ipv6_unless_all() {
        let ips = [ip("192.0.2.1"), ip("2001:db8::1")];
        let kinds = [SocketKind::Stream];
        let run = |family, flags| {
            let h = Hints {
                family,
                flags,
                ..Hints::default()
            };
            select("h", &ips, 1, h, &kinds, None)
                .map(|v| v.into_iter().map(|a| a.sockaddr.ip()).collect::<Vec<_>>())
        };
        let mapped = ip("::ffff:192.0.2.1");
        let v4mapped = AddrInfoFlags::V4MAPPED;
        // There is an IPv6 address: V4MAPPED adds nothing, ALL adds the rest.
        assert_eq!(
            run(Some(AddressFamily::Inet6), v4mapped).unwrap(),
            [ip("2001:db8::1")]
        );
        assert_eq!(
            run(Some(AddressFamily::Inet6), v4mapped | AddrInfoFlags::ALL).unwrap(),
            [ip("2001:db8::1"), mapped]
        );
        // Ignored for IPv4 and for both families.
        assert_eq!(
            run(Some(AddressFamily::Inet), v4mapped).unwrap(),
            [ip("192.0.2.1")]
        );
        assert_eq!(run(None, v4mapped).unwrap(), ips);
        // Only IPv4 found: mapped.
        let only4 = [ip("192.0.2.1")];
        let h = Hints {
            family: Some(AddressFamily::Inet6),
            flags: v4mapped,
            ..Hints::default()
        };
        let found = select("h", &only4, 1, h, &kinds, None).unwrap();
        assert_eq!(found[0].sockaddr.ip(), mapped);
        assert_eq!(found[0].family, AddressFamily::Inet6);
    }

    #[test]
    fn no_address_of_the_family_is_not_found() {
        let e = select(
            "example",
            &[ip("192.0.2.1")],
            1,
            Hints {
                family: Some(AddressFamily::Inet6),
                ..Hints::default()
            },
            &[SocketKind::Stream],
            None,
        )
        .unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Io(std::io::ErrorKind::NotFound));
        assert_eq!(e.to_string(), "cannot resolve example: no IPv6 address");
    }

    #[test]
    fn socket_kinds_follow_type_and_proto() {
        let both = socket_kinds(hints(AddrInfoFlags::empty())).unwrap();
        assert_eq!(both, [SocketKind::Stream, SocketKind::Dgram]);
        let udp = socket_kinds(Hints {
            proto: Some(IpProtocol::Udp),
            ..Hints::default()
        })
        .unwrap();
        assert_eq!(udp, [SocketKind::Dgram]);
        let e = socket_kinds(Hints {
            socktype: Some(SocketKind::Stream),
            proto: Some(IpProtocol::Udp),
            ..Hints::default()
        })
        .unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Io(std::io::ErrorKind::InvalidInput));
    }
}

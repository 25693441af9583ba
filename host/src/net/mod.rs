//! The guest's network: which addresses it may reach (`--allow-net`) and
//! listen on (`--allow-listen`), and the WASI 0.3 sockets behind them.
//!
//! TCP and UDP sockets are the host's own (`tcp`, `udp`, linked by `wasi`);
//! name lookup is wasmtime-wasi's. [`NetGrant`] holds the two lists of
//! [`NetRule`]s; `policy` decides each use of an address and `access`
//! audits the decisions. wasmtime-wasi's own sockets (its `socket_addr_check`,
//! and the WASI 0.2 sockets) are switched off: its check sees an address
//! and a use, and cannot tell an explicit bind from the one the system makes
//! before a send, nor one socket from another.
//!
//! | socket use | grant | audit capability |
//! |---|---|---|
//! | TCP connect | `--allow-net` | `net.connect` |
//! | TCP or UDP bind (any address, the wildcard `0.0.0.0:0` too) | `--allow-listen` | `net.bind` |
//! | TCP listen | `--allow-listen` | `net.listen` |
//! | accepting a client | (the listen grant) | `net.accept` (always allowed) |
//! | UDP send, UDP connect | `--allow-net`, or a reply from a socket bound under `--allow-listen` to a peer that sent to it | `net.send` |
//! | the host's bind before an unbound UDP socket's first send or its connect | (the send's grant) | `net.bind` (allowed) |
//! | UDP receive | a socket bound under `--allow-listen`: any peer; any other: peers an `--allow-net` rule names | `net.receive` (drops only, rate-limited) |
//! | name lookup | any `--allow-net` grant | not audited (wasmtime-wasi gives no hook) |
//! | creating a TCP or UDP socket | any network grant | `net.socket` (refusals only: with no grant, before any address is known) |
//!
//! The ephemeral bind the system makes at a TCP connect is allowed whenever
//! any network grant exists, and is not audited (the connect is). An
//! unbound UDP socket is bound by the host before its first send or its
//! connect, to the narrowest address that serves the destination: the
//! loopback address of its family for a loopback destination, else the
//! wildcard (the destination was granted by `--allow-net`, and such a
//! socket only hears the peers `--allow-net` names). Binding a port 0 (any
//! free port) needs a listen grant that includes port 0 (`127.0.0.1:0`,
//! `127.0.0.1:*`); the listen that follows on the port the system chose is
//! then allowed.
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

mod access;
pub(crate) mod mux;
mod policy;
mod rule;
mod share;
mod sys;
mod tcp;
#[cfg(test)]
mod testing;
#[cfg(feature = "tls")]
pub mod tls;
mod udp;
pub mod unix;
pub(crate) mod wasi;

pub(crate) use access::NetAccess;
pub use rule::{NetRule, NetRuleError};
pub use share::SharedPorts;

use std::net::SocketAddr;

/// The network a guest may use. Default: none (no TCP, no UDP, no name
/// lookup, every address refused).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetGrant {
    connect: Vec<NetRule>,
    listen: Vec<NetRule>,
}

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

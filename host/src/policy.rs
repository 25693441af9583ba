//! What a guest may use from the host: deny by default, grant explicitly.
//!
//! [`Grants`] lists every capability the host can give a guest, and its
//! default is always "nothing": no environment variables, no network, no
//! name lookup, no directories. A run gets exactly what its `Grants` say;
//! the `aio` command builds them from its `--allow-*` flags.
//!
//! Use the builder to open one thing at a time:
//!
//! ```
//! use aio_host::Grants;
//!
//! // The guest sees HOME and LANG (when set on the host), and nothing else.
//! let grants = Grants::new().allow_env_vars(["HOME", "LANG"]);
//! # let _ = grants;
//! ```
//!
//! An [`AuditHook`] sees each grant as it is used ([`AuditEvent`]), so an
//! embedder can log what a guest was given, and each network, Unix socket,
//! subprocess or file use or refusal, naming the grant that would allow it.

use crate::audit::CapabilityUse;
pub use crate::audit::{AuditEvent, AuditHook};
use crate::fs::{FsAccess, FsRule, FsRuleError};
use crate::net::unix::{UnixAccess, UnixRule, UnixRuleError};
use crate::net::{NetAccess, NetGrant, NetRule, NetRuleError, SharedPorts};
use crate::process::RunGrant;
use std::fmt;
use std::sync::Arc;
use wasmtime_wasi::WasiCtxBuilder;

/// The capabilities one run of a guest is given.
///
/// Defaults (what [`Grants::new`] and [`Default`] give):
///
/// - **Environment:** no variables ([`EnvGrant::None`]).
/// - **Network:** denied. TCP, UDP and `wasi:sockets/ip-name-lookup` are all
///   switched off, and every socket address is refused
///   ([`Grants::allow_net`], [`Grants::allow_listen`]; see [`crate::net`]).
/// - **Filesystem:** no directories, so no files ([`Grants::allow_read`],
///   [`Grants::allow_write`]; see [`crate::fs`]).
/// - **Subprocesses:** no program may run, and no shell ([`RunGrant`];
///   [`Grants::allow_run`], [`Grants::allow_shell`]).
/// - **Clocks and random:** always available (they grant no access to host
///   state).
/// - **Audit:** no hook.
#[derive(Clone, Default)]
pub struct Grants {
    env: EnvGrant,
    run: RunGrant,
    net: NetGrant,
    fs: Vec<FsRule>,
    unix: Vec<UnixRule>,
    #[cfg(feature = "tls")]
    tls: crate::net::tls::TlsGrant,
    audit: Option<AuditHook>,
    ports: Option<SharedPorts>,
}

/// Which host environment variables a guest sees.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum EnvGrant {
    /// None at all. The default.
    #[default]
    None,
    /// Every variable of the host process (`--allow-env`).
    All,
    /// Only these names, and only those that are set on the host
    /// (`--allow-env=HOME,LANG`).
    Only(Vec<String>),
}

impl Grants {
    /// No capabilities at all; see the type's docs for each default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Passes every host environment variable to the guest.
    pub fn allow_all_env(mut self) -> Self {
        self.env = EnvGrant::All;
        self
    }

    /// Passes only the named host environment variables, and only those that
    /// are set. Calling it again adds to the list.
    pub fn allow_env_vars<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut list = match self.env {
            EnvGrant::Only(list) => list,
            EnvGrant::None | EnvGrant::All => Vec::new(),
        };
        list.extend(names.into_iter().map(Into::into));
        self.env = EnvGrant::Only(list);
        self
    }

    /// Sets the environment grant directly.
    pub fn env(mut self, grant: EnvGrant) -> Self {
        self.env = grant;
        self
    }

    /// The environment grant.
    pub fn env_grant(&self) -> &EnvGrant {
        &self.env
    }

    /// Lets the guest run these programs: paths, or names looked up on the
    /// host's `PATH` now. Each covers its own name of the file it resolves
    /// to, and the child runs as granted (this path, `argv[0]` as written;
    /// see [`RunGrant`]). Calling it again adds to the list.
    pub fn allow_run<I, S>(mut self, programs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.run.add(programs);
        self
    }

    /// Lets the guest run shell commands (`/bin/sh -c`,
    /// `create_subprocess_shell`): the shell can run anything, so this is
    /// as good as granting every program.
    pub fn allow_shell(mut self) -> Self {
        self.run.set_shell(true);
        self
    }

    /// The subprocess grant.
    pub fn run_grant(&self) -> &RunGrant {
        &self.run
    }

    /// Lets the guest connect to (and send UDP datagrams to) these
    /// addresses, and look names up: `HOST:PORT` entries as
    /// `--allow-net` takes them ([`NetRule`]; a host name is resolved now).
    /// Calling it again adds to the list.
    pub fn allow_net<I, S>(mut self, entries: I) -> Result<Self, NetRuleError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let rules = parse_rules(entries)?;
        self.net.add_connect(rules);
        Ok(self)
    }

    /// Lets the guest bind and listen on these addresses (TCP and UDP):
    /// `ADDR:PORT` entries as `--allow-listen` takes them; port 0 (or a
    /// range with 0) allows any free port. Calling it again adds to the list.
    pub fn allow_listen<I, S>(mut self, entries: I) -> Result<Self, NetRuleError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let rules = parse_rules(entries)?;
        self.net.add_listen(rules);
        Ok(self)
    }

    /// Adds already parsed rules: `connect` as [`allow_net`](Self::allow_net),
    /// `listen` as [`allow_listen`](Self::allow_listen).
    pub fn allow_net_rules(
        mut self,
        connect: impl IntoIterator<Item = NetRule>,
        listen: impl IntoIterator<Item = NetRule>,
    ) -> Self {
        self.net.add_connect(connect);
        self.net.add_listen(listen);
        self
    }

    /// Makes this run's TCP listeners share their ports with the other
    /// runs given the same group: each bind sets `SO_REUSEPORT`, and a bind
    /// to port 0 gets the port the group's first such bind got
    /// ([`SharedPorts`]; what `aio run --instances N` does). Grants no
    /// address: every bind is still checked against the listen grant.
    pub fn share_ports(mut self, group: &SharedPorts) -> Self {
        self.ports = Some(group.clone());
        self
    }

    /// The network grant.
    pub fn net_grant(&self) -> &NetGrant {
        &self.net
    }

    /// Lets the guest read files and list directories under `dir`
    /// (`--allow-read=DIR`; see [`crate::fs`]). The directory must exist
    /// now. Calling it again adds to the list.
    pub fn allow_read(self, dir: impl AsRef<std::path::Path>) -> Result<Self, FsRuleError> {
        Ok(self.allow_fs_rules([FsRule::new(dir, FsAccess::Read)?]))
    }

    /// Lets the guest read, create, write, rename and remove files under
    /// `dir` (`--allow-write=DIR`; writing implies reading).
    pub fn allow_write(self, dir: impl AsRef<std::path::Path>) -> Result<Self, FsRuleError> {
        Ok(self.allow_fs_rules([FsRule::new(dir, FsAccess::Write)?]))
    }

    /// Adds already checked directory grants.
    pub fn allow_fs_rules(mut self, rules: impl IntoIterator<Item = FsRule>) -> Self {
        self.fs.extend(rules);
        self
    }

    /// The directory grants, as given.
    pub fn fs_rules(&self) -> &[FsRule] {
        &self.fs
    }

    /// Lets the guest connect to and listen on Unix sockets at these paths
    /// (`--allow-unix=PATH,...`): each a directory (any socket directly in
    /// it) or a socket path (its directory must exist now); see
    /// [`crate::net::unix`]. Calling it again adds to the list.
    pub fn allow_unix<I, S>(self, paths: I) -> Result<Self, UnixRuleError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::path::Path>,
    {
        let rules = paths
            .into_iter()
            .map(UnixRule::new)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.allow_unix_rules(rules))
    }

    /// Adds already checked Unix socket grants.
    pub fn allow_unix_rules(mut self, rules: impl IntoIterator<Item = UnixRule>) -> Self {
        self.unix.extend(rules);
        self
    }

    /// The Unix socket grants.
    pub fn unix_rules(&self) -> &[UnixRule] {
        &self.unix
    }

    /// The run's Unix socket access (`None`: nothing granted).
    pub(crate) fn unix_access(&self) -> Option<UnixAccess> {
        (!self.unix.is_empty()).then(|| UnixAccess::new(self.unix.clone(), self.audit_hook()))
    }

    /// Adds a TLS server identity (`--tls-cert NAME=CERT,KEY`): guests
    /// serve TLS under it by NAME; the key stays on the host. See
    /// [`crate::net::tls`].
    #[cfg(feature = "tls")]
    pub fn tls_cert(
        mut self,
        name: &str,
        cert: impl AsRef<std::path::Path>,
        key: impl AsRef<std::path::Path>,
    ) -> Result<Self, crate::net::tls::TlsGrantError> {
        self.tls.add_identity(name, cert, key)?;
        Ok(self)
    }

    /// Adds a CA bundle (`--tls-ca NAME=FILE`) a guest's TLS client may
    /// trust instead of the webpki roots, by NAME.
    #[cfg(feature = "tls")]
    pub fn tls_ca(
        mut self,
        name: &str,
        bundle: impl AsRef<std::path::Path>,
    ) -> Result<Self, crate::net::tls::TlsGrantError> {
        self.tls.add_ca(name, bundle)?;
        Ok(self)
    }

    /// The TLS identities and CA bundles.
    #[cfg(feature = "tls")]
    pub fn tls_grant(&self) -> &crate::net::tls::TlsGrant {
        &self.tls
    }

    /// Reports one capability use or refusal to the audit hook.
    pub(crate) fn report_use(&self, used: CapabilityUse) {
        self.report(AuditEvent::Capability(used));
    }

    /// Calls `hook` for every [`AuditEvent`] of a run.
    pub fn audit(mut self, hook: impl Fn(&AuditEvent) + Send + Sync + 'static) -> Self {
        self.audit = Some(Arc::new(hook));
        self
    }

    /// The audit hook a run reports to: the one set, with `tracing`
    /// events for each use when those are enabled ([`crate::audit`]).
    pub(crate) fn audit_hook(&self) -> Option<AuditHook> {
        crate::audit::traced(self.audit.as_ref())
    }

    fn report(&self, event: AuditEvent) {
        crate::audit::trace(&event);
        if let Some(hook) = &self.audit {
            hook(&event);
        }
    }

    /// Configures a WASI context builder with exactly these grants, reading
    /// the host environment of this process. Returns the run's network
    /// access (`None`: nothing granted), which the host's TCP uses too; an
    /// error if a granted directory cannot be opened now.
    pub(crate) fn apply(
        &self,
        builder: &mut WasiCtxBuilder,
    ) -> Result<Option<NetAccess>, FsRuleError> {
        // Reading the environment costs more than the rest of a plugin's
        // instantiation's grants: only when some of it is granted.
        if !matches!(self.env, EnvGrant::None) {
            let host_env: Vec<(String, String)> = std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect();
            for (name, value) in self.select_env(&host_env) {
                builder.env(name, value);
            }
        }
        for rule in crate::fs::apply(&self.fs, builder)? {
            let path = rule.guest_path().display().to_string();
            self.report_use(CapabilityUse::allowed(rule.access().capability(), path));
        }
        deny_network(builder);
        if self.net.is_empty() {
            return Ok(None);
        }
        let access = NetAccess::new(self.net.clone(), self.audit_hook(), self.ports.clone());
        #[cfg(feature = "tls")]
        let access = access.with_tls(self.tls.clone());
        open_network(builder, &access);
        Ok(Some(access))
    }

    /// The variables the guest sees, given the host's (UTF-8) environment.
    fn select_env<'a>(&self, host: &'a [(String, String)]) -> Vec<(&'a str, &'a str)> {
        let chosen: Vec<(&str, &str)> = match &self.env {
            EnvGrant::None => Vec::new(),
            EnvGrant::All => host.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
            EnvGrant::Only(names) => {
                let mut chosen = Vec::new();
                for name in names {
                    match host.iter().find(|(k, _)| k == name) {
                        Some((k, v)) if !chosen.iter().any(|(c, _)| c == k) => {
                            chosen.push((k.as_str(), v.as_str()))
                        }
                        Some(_) => {} // named twice
                        None => self.report(AuditEvent::EnvNotSet { name: name.clone() }),
                    }
                }
                chosen
            }
        };
        for (name, _) in &chosen {
            self.report(AuditEvent::EnvPassed {
                name: (*name).to_owned(),
            });
        }
        chosen
    }
}

impl fmt::Debug for Grants {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Grants");
        d.field("env", &self.env)
            .field("run", &self.run)
            .field("net", &self.net)
            .field("fs", &self.fs)
            .field("unix", &self.unix);
        #[cfg(feature = "tls")]
        d.field("tls", &self.tls);
        d.field("audit", &self.audit.as_ref().map(|_| "<hook>"))
            .field("shares_ports", &self.ports.is_some())
            .finish()
    }
}

fn parse_rules<I, S>(entries: I) -> Result<Vec<NetRule>, NetRuleError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    entries.into_iter().map(|e| e.as_ref().parse()).collect()
}

/// Opens wasmtime-wasi's name lookup when there is a connect grant, and
/// its WASI 0.2 TCP sockets under the run's grants
/// ([`NetAccess::open_wasi_p2_tcp`]).
fn open_network(builder: &mut WasiCtxBuilder, access: &NetAccess) {
    builder.allow_ip_name_lookup(access.grant().allows_name_lookup());
    access.open_wasi_p2_tcp(builder);
}

/// Switches every socket capability off explicitly. wasmtime-wasi 48's
/// defaults are off too, but its own docs disagree (`WasiCtxBuilder::new`
/// says TCP and UDP are allowed, denied only by address): saying it here
/// keeps an upgrade from opening anything.
fn deny_network(builder: &mut WasiCtxBuilder) {
    builder
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .socket_addr_check(|_addr, _use| Box::pin(async { false }));
}

/// What `aio inspect` says about an import: which grant governs it, for the
/// imports that reach host state.
pub fn grant_note(import: &str) -> Option<&'static str> {
    let interface = import.split('@').next().unwrap_or(import);
    Some(match interface {
        "wasi:cli/environment" => "environment: none unless --allow-env",
        "wasi:cli/stdin" | "wasi:cli/stdout" | "wasi:cli/stderr" => {
            "stdio: the host's, or captured"
        }
        "wasi:filesystem/preopens" | "wasi:filesystem/types" => {
            "filesystem: none unless --allow-read / --allow-write"
        }
        "wasi:sockets/types" | "wasi:sockets/tcp" | "wasi:sockets/udp" => {
            "network: denied unless --allow-net / --allow-listen"
        }
        "wasi:sockets/ip-name-lookup" => "name lookup: denied unless --allow-net",
        "aio:host/process" => "subprocesses: none unless --allow-run / --allow-shell",
        "aio:host/signals" => "signals: only those the host receives, when the guest asks",
        "aio:host/unix" => "Unix sockets: none unless --allow-unix",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn host() -> Vec<(String, String)> {
        [("FOO", "1"), ("BAR", "2"), ("HOME", "/h")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn no_env_by_default() {
        let host = host();
        assert!(Grants::new().select_env(&host).is_empty());
    }

    #[test]
    fn all_env() {
        let host = host();
        assert_eq!(Grants::new().allow_all_env().select_env(&host).len(), 3);
    }

    #[test]
    fn only_named_and_set_vars() {
        let host = host();
        let events = Arc::new(Mutex::new(Vec::new()));
        let seen = events.clone();
        let grants = Grants::new()
            .allow_env_vars(["FOO", "MISSING", "FOO"])
            .audit(move |e| seen.lock().unwrap().push(e.clone()));
        assert_eq!(grants.select_env(&host), vec![("FOO", "1")]);
        assert_eq!(
            *events.lock().unwrap(),
            vec![
                AuditEvent::EnvNotSet {
                    name: "MISSING".into()
                },
                AuditEvent::EnvPassed { name: "FOO".into() },
            ]
        );
    }

    #[test]
    fn allow_env_vars_accumulates() {
        let grants = Grants::new().allow_env_vars(["A"]).allow_env_vars(["B"]);
        assert_eq!(
            grants.env_grant(),
            &EnvGrant::Only(vec!["A".into(), "B".into()])
        );
    }

    #[test]
    fn notes_name_the_grant() {
        assert!(
            grant_note("wasi:cli/environment@0.3.0")
                .unwrap()
                .contains("--allow-env")
        );
        assert!(
            grant_note("wasi:sockets/types@0.3.0")
                .unwrap()
                .contains("denied")
        );
        assert_eq!(grant_note("wasi:clocks/monotonic-clock@0.3.0"), None);
    }
}

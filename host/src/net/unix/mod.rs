//! Unix domain stream sockets (`aio:host/unix`, wit/unix.wit), granted
//! with `--allow-unix=PATH` ([`UnixRule`], [`crate::Grants::allow_unix`]).
//!
//! WASI 0.3 has no Unix sockets, so they are the host's own interface. A
//! connected one is attached to the socket multiplexer as a TCP connection
//! is (the halves are the same code: `crate::net::tcp::unix_halves`), so
//! the SDK's readers, writers and transports work on it unchanged.
//!
//! **What a grant means.** An entry names a directory (any socket directly
//! inside it, not in its subdirectories) or a socket path (that path
//! only; it need not exist yet, its directory must). Both are made
//! absolute and resolved (symlinks followed) when the grant is made, so a
//! later change of a link does not move the grant.
//!
//! **How a guest's path is checked, without a race.** The directory part
//! of the path is opened (`O_PATH`, following symlinks), and the directory
//! that was really opened is read back from `/proc/self/fd`; that is what
//! the grants are matched against. The socket is then reached through
//! that open directory, never through the path again: connect goes
//! through an `O_PATH` descriptor of the socket file itself, opened with
//! `O_NOFOLLOW` (a symlink in a granted directory that points elsewhere is
//! refused, not followed), and bind creates the file in the open
//! directory. Whatever the guest, or anyone, renames or relinks between
//! the check and the use, the socket used is the one checked. This needs
//! Linux's `/proc`; elsewhere Unix sockets are refused.
//!
//! **Audit.** `unix.connect`, `unix.listen` and `unix.accept` (the
//! server's path), each allowed or refused; a refusal names the flag
//! that would allow it. A directory the guest may not use is refused as
//! "not granted" whether or not it exists, so a guest cannot probe the
//! host's tree with it.
//!
//! ```
//! use aio_host::Grants;
//!
//! // One socket path, and any socket in one directory.
//! let grants = Grants::new().allow_unix(["/tmp/api.sock", "/tmp"])?;
//! # let _ = grants;
//! # Ok::<(), aio_host::net::unix::UnixRuleError>(())
//! ```

mod socket;
#[cfg(test)]
mod tests;

pub use socket::{UnixConn, UnixListener};

use crate::audit::CapabilityUse;
use crate::audit::{AuditEvent, AuditHook};
use std::ffi::OsString;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// The flag that grants Unix socket paths.
pub(crate) const FLAG: &str = "--allow-unix";

/// One `--allow-unix` entry: a directory, or a socket path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixRule {
    /// The directory (absolute, resolved).
    dir: PathBuf,
    /// The socket's name in it; `None`: any socket directly in `dir`.
    name: Option<OsString>,
}

impl UnixRule {
    /// A grant of `path`: a directory that exists now (any socket directly
    /// in it), or a socket path whose directory exists now. A relative
    /// path is taken from the current directory.
    pub fn new(path: impl AsRef<Path>) -> Result<UnixRule, UnixRuleError> {
        let given = path.as_ref();
        let error = |why: &str| UnixRuleError {
            path: given.to_path_buf(),
            why: why.to_owned(),
        };
        if given.as_os_str().is_empty() {
            return Err(error("an empty path"));
        }
        let absolute = std::path::absolute(given).map_err(|e| error(&e.to_string()))?;
        if let Ok(real) = std::fs::canonicalize(&absolute) {
            if real.is_dir() {
                return Ok(UnixRule {
                    dir: real,
                    name: None,
                });
            }
            // An existing socket (or a link to one): its real place.
            let (Some(dir), Some(name)) = (real.parent(), real.file_name()) else {
                return Err(error("names no socket"));
            };
            return Ok(UnixRule {
                dir: dir.to_path_buf(),
                name: Some(name.to_owned()),
            });
        }
        let Some(Component::Normal(name)) = absolute.components().next_back() else {
            return Err(error("names no socket"));
        };
        let parent = absolute.parent().ok_or_else(|| error("names no socket"))?;
        let dir = std::fs::canonicalize(parent)
            .map_err(|e| error(&format!("its directory {}: {e}", parent.display())))?;
        if !dir.is_dir() {
            return Err(error("its directory is not a directory"));
        }
        Ok(UnixRule {
            dir,
            name: Some(name.to_owned()),
        })
    }

    /// Whether a socket named `name` in the (resolved) directory `dir` is
    /// granted by this rule.
    fn allows(&self, dir: &Path, name: &std::ffi::OsStr) -> bool {
        self.dir == dir && self.name.as_deref().is_none_or(|n| n == name)
    }
}

impl fmt::Display for UnixRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{}", self.dir.join(name).display()),
            None => write!(f, "{}/", self.dir.display()),
        }
    }
}

impl std::str::FromStr for UnixRule {
    type Err = UnixRuleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UnixRule::new(s)
    }
}

/// A path that cannot be granted (its directory does not exist, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixRuleError {
    path: PathBuf,
    why: String,
}

impl fmt::Display for UnixRuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One line, whatever the path holds.
        let path = crate::error::escape_controls(&self.path.display().to_string());
        let why = crate::error::escape_controls(&self.why);
        write!(f, "{FLAG}={path}: {why}")
    }
}

impl std::error::Error for UnixRuleError {}

/// A run's Unix socket grants and where their uses are audited. Cheap to
/// clone (every listener holds one).
#[derive(Clone)]
pub(crate) struct UnixAccess {
    shared: Arc<Shared>,
}

struct Shared {
    rules: Vec<UnixRule>,
    audit: Option<AuditHook>,
}

/// Why a Unix socket call failed (wit/unix.wit's `unix-error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UnixError {
    NotGranted(String),
    NotFound,
    ConnectionRefused,
    AddressInUse,
    InvalidPath(String),
    Other(String),
}

impl UnixError {
    fn invalid(why: &str) -> UnixError {
        UnixError::InvalidPath(why.to_owned())
    }

    fn os(e: impl Into<std::io::Error>) -> UnixError {
        UnixError::Other(e.into().to_string())
    }
}

impl UnixAccess {
    pub(crate) fn new(rules: Vec<UnixRule>, audit: Option<AuditHook>) -> UnixAccess {
        UnixAccess {
            shared: Arc::new(Shared { rules, audit }),
        }
    }

    pub(crate) fn audit(&self, used: CapabilityUse) {
        if let Some(hook) = &self.shared.audit {
            hook(&AuditEvent::Capability(used));
        }
    }

    /// Refuses `path` for `capability`, audited: the error names the flag.
    fn refuse(&self, capability: &'static str, path: &str, grant: &str) -> UnixError {
        let flag = format!("{FLAG}={grant}");
        self.audit(CapabilityUse::denied(capability, path, flag.clone()));
        UnixError::NotGranted(format!("Unix socket {path:?} is not granted (add {flag})"))
    }

    /// Whether the socket `name` in the resolved directory `dir` is granted.
    fn allows(&self, dir: &Path, name: &std::ffi::OsStr) -> bool {
        self.shared.rules.iter().any(|r| r.allows(dir, name))
    }
}

/// A guest's socket path split into its directory and name, both as the
/// guest wrote them (made absolute), after the checks that need no
/// system call.
fn split(path: &str) -> Result<(PathBuf, OsString), UnixError> {
    if path.is_empty() {
        return Err(UnixError::invalid("an empty path"));
    }
    if path.contains('\0') {
        return Err(UnixError::invalid(
            "a NUL in the path (abstract socket names are not supported)",
        ));
    }
    if path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..") || path == "." {
        return Err(UnixError::invalid("the path names a directory"));
    }
    let absolute = std::path::absolute(path).map_err(UnixError::os)?;
    let name = match absolute.components().next_back() {
        Some(Component::Normal(name)) => name.to_owned(),
        _ => return Err(UnixError::invalid("the path names no socket")),
    };
    let dir = absolute
        .parent()
        .ok_or_else(|| UnixError::invalid("the path names no socket"))?;
    Ok((dir.to_path_buf(), name))
}

//! Refused file operations in the audit log: one `fs.read` or `fs.write`
//! line, `"decision":"denied"`, for each path operation the host refuses.
//!
//! wasmtime-wasi refuses inside its filesystem implementation and reports
//! nothing, so [`super::wasi`] wraps the path operations of
//! `wasi:filesystem/types` (WASI 0.2 and 0.3): it notes what was asked
//! (a [`PathAttempt`], taken before the call, which consumes its
//! arguments), lets wasmtime-wasi do the operation, and reports an error
//! that means "not allowed" ([`Refusal`]) to the run's audit hook. This
//! module is the behaviour, without WIT types:
//!
//! ```text
//! {"time":"...","capability":"fs.read","target":"/srv/data/../secret.txt","decision":"denied","grant":"--allow-read","outcome":"not-permitted"}
//! {"time":"...","capability":"fs.write","target":"/srv/data/new.txt","decision":"denied","grant":"--allow-write=/srv/data","outcome":"not-permitted"}
//! ```
//!
//! - **capability**: `fs.write` for an open that writes, creates or
//!   truncates, and for creating, removing, renaming and linking;
//!   `fs.read` for the rest (opens for reading, `stat-at`, `readlink-at`).
//! - **target**: the path as the guest gave it, joined to the host path of
//!   the directory it was given relative to (read from
//!   `/proc/self/fd` on Linux; elsewhere the path alone). It is not
//!   normalised: `..` and symlinks stay as the guest wrote them, which is
//!   what the line is about. Two-path operations (rename, link) write
//!   `FROM -> TO`.
//! - **grant**: `--allow-write=DIR` when the refusal is a write in a
//!   directory granted read-only (DIR: the directory), as that grant
//!   would allow it. Otherwise just the flag: a path that leads out of its
//!   directory (`..` past the top, an absolute path, a symlink out) is
//!   refused whatever else is granted, since it is resolved beneath the
//!   directory the guest named it relative to; the guest must name the file
//!   under a granted directory instead.
//! - **outcome**: the WASI error code the guest got. `not-permitted` is
//!   aio's sandbox (out of the directory, or a write under a read grant);
//!   `access` and `read-only` come from the host itself (a file's mode, a
//!   read-only mount) inside a grant, and are logged too, since the guest
//!   was refused all the same.
//!
//! Other failures (`no-entry`, `exist`, ...) are not refusals and write no
//! line. The host does not resolve the refused path itself to say where it
//! led: that would touch the host filesystem outside the grants at the
//! guest's bidding, and the time it took would tell the guest whether a
//! path out there exists.
//!
//! **What never reaches the host is not logged.** A guest built with Rust's
//! `std` (wasi-libc) opens a path through the granted directory whose name
//! is its longest prefix; a path under no granted directory at all
//! (`std::fs::read("/etc/passwd")` with nothing covering `/etc`) fails
//! inside the guest with "not found", and the host never sees it. Only
//! paths given relative to a granted directory's descriptor reach
//! wasmtime-wasi, and every refusal among them is audited.
//! `host/tests/all/fs.rs` (`fs_refusals`, `fs_refusals_p3`) checks the
//! lines one by one, and that an allowed read, a missing file and a path
//! under no grant write none.

use super::FsAccess;
use crate::audit::CapabilityUse;
use crate::audit::{AuditEvent, AuditHook};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::FsPerms;
use wasmtime_wasi::filesystem::Descriptor;

/// An error code that means the operation was not allowed (as opposed to
/// one that failed: `no-entry`, `exist`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `not-permitted`: the path leads out of its directory, or a write
    /// under a read-only grant (or the host's `EPERM`).
    NotPermitted,
    /// `access`: the host's file permissions (`EACCES`).
    Access,
    /// `read-only`: a read-only file system on the host (`EROFS`).
    ReadOnly,
}

impl Refusal {
    /// The WASI error code's name.
    fn code(self) -> &'static str {
        match self {
            Refusal::NotPermitted => "not-permitted",
            Refusal::Access => "access",
            Refusal::ReadOnly => "read-only",
        }
    }
}

/// One path of an operation: the directory descriptor it is relative to,
/// and the path as the guest gave it.
#[derive(Debug)]
struct Place {
    /// The directory, when the descriptor is one (else the operation fails
    /// with `not-directory`, no refusal).
    dir: Option<Arc<std::fs::File>>,
    /// The directory was granted read-only.
    read_only: bool,
    path: String,
}

impl Place {
    fn new(table: &ResourceTable, fd: &Resource<Descriptor>, path: &str) -> Place {
        // A bad handle is left for wasmtime-wasi to refuse (or trap on),
        // exactly as it would without this wrapper.
        let dir = match table.get(fd) {
            Ok(Descriptor::Dir(dir)) => Some(dir),
            _ => None,
        };
        Place {
            read_only: dir.is_some_and(|d| d.perms == FsPerms::ReadOnly),
            dir: dir.map(|d| Arc::clone(&d.dir)),
            path: path.to_owned(),
        }
    }

    /// The path joined to the directory's host path, when known.
    fn target(&self, dir: Option<&Path>) -> String {
        match dir {
            Some(dir) => dir.join(&self.path).to_string_lossy().into_owned(),
            None => self.path.clone(),
        }
    }

    /// The path stays in its directory as far as its text shows: relative,
    /// without `..` (a symlink may still lead out).
    fn stays_inside(&self) -> bool {
        Path::new(&self.path)
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    }
}

/// A path operation about to be made, as much of it as its audit line
/// needs.
#[derive(Debug)]
pub(crate) struct PathAttempt {
    access: FsAccess,
    from: Place,
    /// The second path of a rename or a hard link.
    to: Option<Place>,
}

impl PathAttempt {
    /// An operation on `path` relative to the descriptor `fd`.
    pub(crate) fn new(
        table: &ResourceTable,
        access: FsAccess,
        fd: &Resource<Descriptor>,
        path: &str,
    ) -> PathAttempt {
        PathAttempt {
            access,
            from: Place::new(table, fd, path),
            to: None,
        }
    }

    /// Adds the second path of a rename or link (relative to `fd`).
    pub(crate) fn to(
        mut self,
        table: &ResourceTable,
        fd: &Resource<Descriptor>,
        path: &str,
    ) -> PathAttempt {
        self.to = Some(Place::new(table, fd, path));
        self
    }

    /// Writes the refusal's line to `hook` (none: nothing to do).
    pub(crate) fn report(&self, hook: Option<&AuditHook>, refusal: Refusal) {
        let Some(hook) = hook else { return };
        let from_dir = self.from.dir.as_deref().and_then(host_path);
        let to_dir = self
            .to
            .as_ref()
            .and_then(|to| to.dir.as_deref())
            .and_then(host_path);
        let to = self.to.as_ref().map(|to| (to, to_dir.as_deref()));
        let used = self.capability_use(from_dir.as_deref(), to, refusal);
        hook(&AuditEvent::Capability(used));
    }

    /// The audit line, given the host paths of the directories (`None`:
    /// not known).
    fn capability_use(
        &self,
        from_dir: Option<&Path>,
        to: Option<(&Place, Option<&Path>)>,
        refusal: Refusal,
    ) -> CapabilityUse {
        let mut target = self.from.target(from_dir);
        if let Some((place, dir)) = to {
            target = format!("{target} -> {}", place.target(dir));
        }
        // A write refused by a read-only grant and by nothing else its
        // paths show: that directory's write grant allows it. With two
        // paths, only when both are in that one directory.
        let by_read_only = self.access == FsAccess::Write
            && refusal == Refusal::NotPermitted
            && self.from.read_only
            && self.from.stays_inside()
            && to
                .is_none_or(|(to, to_dir)| to.read_only && to.stays_inside() && to_dir == from_dir);
        let flag = self.access.flag();
        let grant = match from_dir {
            Some(dir) if by_read_only => format!("{flag}={}", dir.display()),
            _ => flag.to_owned(),
        };
        CapabilityUse::denied(self.access.capability(), target, grant).outcome(refusal.code())
    }
}

/// The host path of an open directory: on Linux, its `/proc/self/fd` link
/// (procfs, no disk access); elsewhere unknown.
#[cfg(target_os = "linux")]
fn host_path(dir: &std::fs::File) -> Option<PathBuf> {
    use std::os::fd::AsRawFd;
    let path = std::fs::read_link(format!("/proc/self/fd/{}", dir.as_raw_fd())).ok()?;
    path.is_absolute().then_some(path)
}

#[cfg(not(target_os = "linux"))]
fn host_path(_dir: &std::fs::File) -> Option<PathBuf> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(path: &str, read_only: bool) -> Place {
        Place {
            dir: None,
            read_only,
            path: path.to_owned(),
        }
    }

    fn attempt(access: FsAccess, from: Place, to: Option<Place>) -> PathAttempt {
        PathAttempt { access, from, to }
    }

    fn line(attempt: &PathAttempt, dir: Option<&Path>, refusal: Refusal) -> String {
        let to = attempt.to.as_ref().map(|to| (to, dir));
        attempt
            .capability_use(dir, to, refusal)
            .to_json(std::time::UNIX_EPOCH)
    }

    const T: &str = r#"{"time":"1970-01-01T00:00:00.000Z","#;

    #[test]
    fn a_path_out_of_its_directory_names_the_flag() {
        let dir = Path::new("/srv/data");
        let read = attempt(FsAccess::Read, place("../secret.txt", true), None);
        assert_eq!(
            line(&read, Some(dir), Refusal::NotPermitted),
            format!(
                r#"{T}"capability":"fs.read","target":"/srv/data/../secret.txt","decision":"denied","grant":"--allow-read","outcome":"not-permitted"}}"#
            )
        );
        let write = attempt(FsAccess::Write, place("../x", false), None);
        assert!(
            line(&write, Some(dir), Refusal::NotPermitted)
                .contains(r#""grant":"--allow-write","outcome""#)
        );
        // An absolute path is not joined; no directory path: the path alone.
        let absolute = attempt(FsAccess::Read, place("/etc/passwd", true), None);
        assert!(
            line(&absolute, Some(dir), Refusal::NotPermitted).contains(r#""target":"/etc/passwd""#)
        );
        assert!(line(&read, None, Refusal::NotPermitted).contains(r#""target":"../secret.txt""#));
    }

    #[test]
    fn a_write_under_a_read_grant_names_the_directory() {
        let dir = Path::new("/srv/data");
        let create = attempt(FsAccess::Write, place("new.txt", true), None);
        assert!(
            line(&create, Some(dir), Refusal::NotPermitted)
                .contains(r#""capability":"fs.write","target":"/srv/data/new.txt","decision":"denied","grant":"--allow-write=/srv/data","outcome":"not-permitted"}"#)
        );
        // Not when the path also leaves the directory, nor for the host's
        // own refusals.
        let out = attempt(FsAccess::Write, place("a/../../x", true), None);
        assert!(
            line(&out, Some(dir), Refusal::NotPermitted).contains(r#""grant":"--allow-write","#)
        );
        assert!(
            line(&create, Some(dir), Refusal::Access)
                .contains(r#""grant":"--allow-write","outcome":"access"}"#)
        );
    }

    #[test]
    fn two_paths_are_both_written() {
        let dir = Path::new("/srv/data");
        let rename = attempt(
            FsAccess::Write,
            place("a.txt", true),
            Some(place("b.txt", true)),
        );
        assert!(
            line(&rename, Some(dir), Refusal::NotPermitted).contains(
                r#""target":"/srv/data/a.txt -> /srv/data/b.txt","decision":"denied","grant":"--allow-write=/srv/data""#
            )
        );
        let link = attempt(
            FsAccess::Write,
            place("../out.txt", false),
            Some(place("hard", false)),
        );
        assert!(
            line(&link, Some(dir), Refusal::NotPermitted)
                .contains(r#""target":"/srv/data/../out.txt -> /srv/data/hard","decision":"denied","grant":"--allow-write","#)
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_host_path_of_an_open_directory() {
        let dir = std::env::temp_dir().canonicalize().unwrap();
        let file = std::fs::File::open(&dir).unwrap();
        assert_eq!(host_path(&file), Some(dir));
    }
}

//! Directories a guest may read or write: `--allow-read=DIR` and
//! `--allow-write=DIR` (Deno's names), as WASI preopens.
//!
//! Each granted directory is opened when the run starts and handed to the
//! guest as a preopen; wasmtime-wasi reaches files only through it (with
//! cap-std, openat2's `RESOLVE_BENEATH` where Linux has it), so `..`,
//! absolute paths and symlinks that lead out of the directory are refused
//! by the host, whatever the guest's own path handling does. A read grant
//! opens the directory read-only (no file is opened for writing, nothing is
//! created, removed or renamed); a write grant opens it read-write (writing
//! implies reading, as in Deno).
//!
//! The guest sees each directory under its absolute path on the host
//! (symlinks in the granted path itself resolved), and, for a path given
//! relative, also under that name: `--allow-read=data` lets the guest open
//! `data/x.txt` and `/home/me/app/data/x.txt` alike. Where two grants
//! nest, the guest's C library picks the longest match, so
//! `--allow-read=/srv --allow-write=/srv/spool` writes under the spool only.
//!
//! Every path operation the host refuses (out of the directory, or a write
//! under a read grant) is audited: `fs/audit.rs` says what its line holds,
//! `fs/wasi.rs` how wasmtime-wasi's filesystem functions are wrapped to see it.
//! A path under no granted directory at all never reaches the host (the
//! guest's C library finds no directory for it and fails with "not found"),
//! so it cannot be audited.

pub(crate) mod audit;
pub(crate) mod wasi;

use std::fmt;
use std::path::{Component, Path, PathBuf};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// What a guest may do in one granted directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsAccess {
    /// Read files and list directories (`--allow-read`).
    Read,
    /// Also create, write, rename and remove (`--allow-write`).
    Write,
}

impl FsAccess {
    /// The audit log's capability name.
    pub(crate) fn capability(self) -> &'static str {
        match self {
            FsAccess::Read => "fs.read",
            FsAccess::Write => "fs.write",
        }
    }

    fn flag(self) -> &'static str {
        match self {
            FsAccess::Read => "--allow-read",
            FsAccess::Write => "--allow-write",
        }
    }
}

/// One granted directory, as given and as opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsRule {
    /// As the user wrote it.
    given: PathBuf,
    /// Absolute, symlinks resolved: what the guest sees it as.
    canonical: PathBuf,
    access: FsAccess,
}

impl FsRule {
    /// A directory grant; the directory must exist now (symlinks in its
    /// path are resolved now, so a later change of a link does not move
    /// the grant).
    pub fn new(path: impl AsRef<Path>, access: FsAccess) -> Result<FsRule, FsRuleError> {
        let given = path.as_ref().to_path_buf();
        let error = |why: String| FsRuleError {
            flag: access.flag(),
            path: given.clone(),
            why,
        };
        if given.as_os_str().is_empty() {
            return Err(error("an empty path".into()));
        }
        let canonical = std::fs::canonicalize(&given).map_err(|e| error(e.to_string()))?;
        if !canonical.is_dir() {
            return Err(error("not a directory".into()));
        }
        if canonical.to_str().is_none() {
            return Err(error("not UTF-8 (WASI paths are strings)".into()));
        }
        Ok(FsRule {
            given,
            canonical,
            access,
        })
    }

    /// The directory as the guest sees it.
    pub fn guest_path(&self) -> &Path {
        &self.canonical
    }

    /// Read or write.
    pub fn access(&self) -> FsAccess {
        self.access
    }

    /// The name the user gave, if it is relative (the guest sees the
    /// directory under it too), normalised (`./data/` is `data`, `.` is
    /// `.`); `None` for an absolute path or one with `..` in it.
    fn relative_name(&self) -> Option<String> {
        if self.given.is_absolute() {
            return None;
        }
        let mut parts = Vec::new();
        for c in self.given.components() {
            match c {
                Component::Normal(p) => parts.push(p.to_str()?),
                Component::CurDir => {}
                _ => return None,
            }
        }
        Some(if parts.is_empty() {
            ".".to_owned()
        } else {
            parts.join("/")
        })
    }
}

impl fmt::Display for FsRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.canonical.display())
    }
}

/// A directory that cannot be granted: missing, not a directory, ...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsRuleError {
    flag: &'static str,
    path: PathBuf,
    why: String,
}

impl fmt::Display for FsRuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={}: cannot grant it: {}",
            self.flag,
            crate::error::escape_controls(&self.path.display().to_string()),
            self.why
        )
    }
}

impl std::error::Error for FsRuleError {}

/// The preopens of a run: each directory once, with write winning over
/// read when both name it.
pub(crate) fn merged(rules: &[FsRule]) -> Vec<FsRule> {
    let mut out: Vec<FsRule> = Vec::new();
    for rule in rules {
        match out.iter_mut().find(|r| r.canonical == rule.canonical) {
            Some(r) => {
                if rule.access == FsAccess::Write {
                    r.access = FsAccess::Write;
                }
                if r.relative_name().is_none() {
                    r.given = rule.given.clone();
                }
            }
            None => out.push(rule.clone()),
        }
    }
    out
}

/// Opens every granted directory as a preopen; the grants as opened (each
/// directory once).
pub(crate) fn apply(
    rules: &[FsRule],
    builder: &mut WasiCtxBuilder,
) -> Result<Vec<FsRule>, FsRuleError> {
    let merged = merged(rules);
    for rule in &merged {
        let perms = match rule.access {
            FsAccess::Read => FsPerms::ReadOnly,
            FsAccess::Write => FsPerms::ReadWrite,
        };
        let failed = |e: wasmtime::Error| FsRuleError {
            flag: rule.access.flag(),
            path: rule.given.clone(),
            why: e.to_string(),
        };
        let absolute = rule.canonical.to_str().expect("checked to be UTF-8");
        builder
            .preopened_dir(&rule.canonical, absolute, perms)
            .map_err(failed)?;
        if let Some(name) = rule.relative_name() {
            builder
                .preopened_dir(&rule.canonical, name, perms)
                .map_err(failed)?;
        }
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_directory_or_a_file_is_refused_with_its_flag() {
        let e = FsRule::new("/no/such/dir", FsAccess::Read).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("--allow-read=/no/such/dir: cannot grant it: "),
            "{e}"
        );
        let file = std::env::current_exe().unwrap();
        let e = FsRule::new(&file, FsAccess::Write).unwrap_err();
        assert!(e.to_string().ends_with("not a directory"), "{e}");
        assert!(FsRule::new("", FsAccess::Read).is_err());
        // One line, whatever the path.
        let e = FsRule::new("/no/such\ndir", FsAccess::Read).unwrap_err();
        assert!(
            e.to_string().starts_with("--allow-read=/no/such\\ndir: "),
            "{e}"
        );
    }

    #[test]
    fn relative_names_are_normalised() {
        let dir = std::env::temp_dir();
        let cwd = std::env::current_dir().unwrap();
        let rule = FsRule::new(&dir, FsAccess::Read).unwrap();
        assert_eq!(rule.relative_name(), None);
        assert_eq!(rule.guest_path(), std::fs::canonicalize(&dir).unwrap());
        let dot = FsRule::new(".", FsAccess::Read).unwrap();
        assert_eq!(dot.relative_name().as_deref(), Some("."));
        assert_eq!(dot.guest_path(), std::fs::canonicalize(&cwd).unwrap());
        let up = FsRule::new("..", FsAccess::Read).unwrap();
        assert_eq!(up.relative_name(), None, "no guest name with ..");
    }

    #[test]
    fn write_wins_when_both_name_a_directory() {
        let dir = std::env::temp_dir();
        let rules = [
            FsRule::new(&dir, FsAccess::Read).unwrap(),
            FsRule::new(&dir, FsAccess::Write).unwrap(),
            FsRule::new(&dir, FsAccess::Read).unwrap(),
        ];
        let merged = merged(&rules);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].access, FsAccess::Write);
    }
}

//! Which programs a guest may run (`--allow-run`, `--allow-shell`).
//!
//! A grant names a program by path (`/usr/bin/cat`, `./tool`) or by name
//! (`cat`), which is looked up on the host's `PATH` when the grant is given.
//! What is allowed is the resolved path (symlinks resolved), so a guest may
//! ask for `cat`, `/bin/cat` or `/usr/bin/cat` alike: all that matters is
//! that its request resolves to a granted file. A name not found on `PATH`
//! allows nothing but is kept, so that asking for it gives "not found".

use std::path::{Path, PathBuf};

/// The programs a guest may run. Default: none, and no shell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunGrant {
    programs: Vec<GrantedProgram>,
    shell: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct GrantedProgram {
    /// As the grant was written.
    asked: String,
    /// Where it resolved (`None`: a name not on `PATH`).
    path: Option<PathBuf>,
}

/// Why a request to run a program was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunRefusal {
    /// Not granted: the resolved path, and the flag that would allow it.
    NotPermitted {
        /// What the request resolved to (or the name, if it did not).
        target: String,
        /// `--allow-run=...`.
        grant: String,
    },
    /// Granted, but there is no such program.
    NotFound,
}

impl RunGrant {
    /// Adds programs (paths or names on `PATH`).
    pub fn add<I, S>(&mut self, programs: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for asked in programs {
            let asked = asked.as_ref();
            if asked.is_empty() {
                continue;
            }
            let path = resolve(asked);
            self.programs.push(GrantedProgram {
                asked: asked.to_owned(),
                path,
            });
        }
    }

    /// Allows `spawn-shell` (`/bin/sh -c`).
    pub fn set_shell(&mut self, allowed: bool) {
        self.shell = allowed;
    }

    /// Whether the shell is granted.
    pub fn shell(&self) -> bool {
        self.shell
    }

    /// The resolved paths granted (names not found on `PATH` are left out).
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.programs.iter().filter_map(|p| p.path.as_deref())
    }

    /// Whether nothing at all is granted.
    pub fn is_empty(&self) -> bool {
        self.programs.is_empty() && !self.shell
    }

    /// The path to execute for a guest's request, or why not.
    pub fn check(&self, program: &str) -> Result<PathBuf, RunRefusal> {
        match resolve(program) {
            Some(path) => {
                if self.programs.iter().any(|p| p.path.as_ref() == Some(&path)) {
                    Ok(path)
                } else {
                    let shown = path.display().to_string();
                    Err(RunRefusal::NotPermitted {
                        grant: format!("--allow-run={shown}"),
                        target: shown,
                    })
                }
            }
            None if self.programs.iter().any(|p| p.asked == program) => Err(RunRefusal::NotFound),
            None => Err(RunRefusal::NotPermitted {
                target: program.to_owned(),
                grant: format!("--allow-run={program}"),
            }),
        }
    }
}

/// A path (made absolute, symlinks resolved when it exists), or a name
/// looked up on the host's `PATH`.
fn resolve(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let path = Path::new(program);
        let absolute = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir().ok()?.join(path)
        };
        return Some(std::fs::canonicalize(&absolute).unwrap_or(absolute));
    }
    let search = std::env::var_os("PATH")?;
    std::env::split_paths(&search)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
        .map(|found| std::fs::canonicalize(&found).unwrap_or(found))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_by_default() {
        let grant = RunGrant::default();
        assert!(matches!(
            grant.check("/bin/sh"),
            Err(RunRefusal::NotPermitted { .. })
        ));
    }

    #[test]
    fn names_and_paths_meet_at_the_resolved_path() {
        let mut grant = RunGrant::default();
        grant.add(["sh"]);
        let by_name = grant.check("sh").expect("sh is granted");
        assert_eq!(grant.check("/bin/sh"), Ok(by_name));
        let Err(RunRefusal::NotPermitted { grant: flag, .. }) = grant.check("/bin/true") else {
            panic!("true is not granted")
        };
        assert!(flag.starts_with("--allow-run=/"), "{flag}");
    }

    #[test]
    fn a_granted_missing_program_is_not_found() {
        let mut grant = RunGrant::default();
        grant.add(["/nonexistent/prog", "no-such-program-anywhere"]);
        assert_eq!(
            grant.check("/nonexistent/prog").ok(),
            Some("/nonexistent/prog".into())
        );
        assert_eq!(
            grant.check("no-such-program-anywhere"),
            Err(RunRefusal::NotFound)
        );
    }
}

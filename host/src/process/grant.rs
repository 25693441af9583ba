//! Which programs a guest may run (`--allow-run`, `--allow-shell`).
//!
//! A grant names a program by path (`/usr/bin/cat`, `./tool`) or by name
//! (`cat`), which is looked up on the host's `PATH` when the grant is given.
//! A grant covers **one name of one file**: the path it was found at (made
//! absolute, symlinks kept) and the file that path resolves to then.
//!
//! A guest's request is allowed when it resolves to a granted file *and*
//! has the same file name (basename) as that grant: `cat`, `/bin/cat` and
//! `/usr/bin/cat` all meet a grant of `cat`, but `/bin/sh` does not meet a
//! grant of `dash`, though both are the same file. The child is then started
//! **as granted**: the grant's own path is executed and `argv[0]` is the
//! grant as written, never the guest's spelling. Multi-call programs
//! (busybox, where `true` and `sh` are one file; git's dashed commands; a
//! script that looks at `$0`) choose what to be from exactly those two, so
//! a grant of one name never lets the guest run another name of the same
//! file. `process_multicall` (host/tests/all/process.rs) fails without it.
//!
//! A refusal names the program as the guest asked for it, the file it
//! resolves to where that differs, and the flag with the name the user
//! would write: `running /bin/sh (/usr/bin/dash) is not granted (allow it
//! with --allow-run=/bin/sh)`.
//!
//! A name not found on `PATH` allows nothing but is kept, so that asking
//! for it gives "not found". Paths are checked when the guest asks and
//! executed just after: whoever can change a granted path (or the links on
//! it) between the two can change what runs.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};

/// The programs a guest may run. Default: none, and no shell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunGrant {
    programs: Vec<GrantedProgram>,
    shell: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct GrantedProgram {
    /// As the grant was written: the child's `argv[0]`.
    asked: String,
    /// Where it was found, absolute, symlinks kept: what is executed
    /// (`None`: a name not on `PATH`).
    located: Option<PathBuf>,
    /// The file `located` resolved to when the grant was given (`None`: it
    /// does not exist).
    file: Option<PathBuf>,
}

/// What to start for an allowed request: the program as granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    /// The path to execute: the grant's own path (symlinks kept).
    pub program: PathBuf,
    /// `argv[0]`: the grant as written.
    pub arg0: String,
    /// The file both the request and the grant resolve to.
    pub file: PathBuf,
}

/// Why a request to run a program was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunRefusal {
    /// Not granted.
    NotPermitted {
        /// The program as the guest asked for it.
        asked: String,
        /// The file it resolves to (`None`: no such file). The message
        /// shows it where it differs from `asked`.
        resolved: Option<String>,
        /// Grants of the same file under other names (as written), which
        /// do not cover this one.
        other_names: Vec<String>,
        /// The flag that would allow it: `--allow-run=` + `asked`.
        grant: String,
    },
    /// Granted, but there is no such program.
    NotFound,
}

impl fmt::Display for RunRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunRefusal::NotPermitted {
                asked,
                resolved,
                other_names,
                grant,
            } => {
                write!(f, "running {asked}")?;
                if let Some(file) = resolved.as_ref().filter(|file| file != &asked) {
                    write!(f, " ({file})")?;
                }
                write!(f, " is not granted")?;
                if !other_names.is_empty() {
                    write!(
                        f,
                        "; that file is granted only as {}",
                        other_names.join(", ")
                    )?;
                }
                write!(f, " (allow it with {grant})")
            }
            RunRefusal::NotFound => write!(f, "no such program"),
        }
    }
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
            let located = locate(asked);
            let file = located
                .as_deref()
                .and_then(|p| std::fs::canonicalize(p).ok());
            self.programs.push(GrantedProgram {
                asked: asked.to_owned(),
                located,
                file,
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

    /// The files granted, symlinks resolved (names not found on `PATH` and
    /// paths that do not exist are left out).
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.programs.iter().filter_map(|p| p.file.as_deref())
    }

    /// Whether nothing at all is granted.
    pub fn is_empty(&self) -> bool {
        self.programs.is_empty() && !self.shell
    }

    /// What to start for a guest's request to run `program`, or why not.
    pub fn check(&self, program: &str) -> Result<Allowed, RunRefusal> {
        let Some(located) = locate(program) else {
            // A name not on PATH: "not found" if it was granted as such.
            if self.programs.iter().any(|p| p.asked == program) {
                return Err(RunRefusal::NotFound);
            }
            return Err(self.refusal(program, None, Vec::new()));
        };
        let Ok(file) = std::fs::canonicalize(&located) else {
            // No such file: "not found" if this very path was granted.
            if self
                .programs
                .iter()
                .any(|p| p.located.as_ref() == Some(&located))
            {
                return Err(RunRefusal::NotFound);
            }
            return Err(self.refusal(program, None, Vec::new()));
        };
        let same_file: Vec<&GrantedProgram> = self
            .programs
            .iter()
            .filter(|p| p.file.as_ref() == Some(&file))
            .collect();
        // The grant of this very path, or else of the same name.
        let chosen = same_file
            .iter()
            .find(|p| p.located.as_ref() == Some(&located))
            .or_else(|| {
                same_file
                    .iter()
                    .find(|p| file_name(p.located.as_deref()) == located.file_name())
            });
        let shown = Some(file.display().to_string());
        match chosen {
            Some(grant) => {
                let path = grant.located.clone().unwrap_or_default();
                // The grant's path must still lead to the file it was given
                // for (a link changed since then would run something else).
                if std::fs::canonicalize(&path).ok().as_ref() != Some(&file) {
                    return Err(self.refusal(program, shown, Vec::new()));
                }
                Ok(Allowed {
                    program: path,
                    arg0: grant.asked.clone(),
                    file,
                })
            }
            None => {
                let others = same_file.iter().map(|p| p.asked.clone()).collect();
                Err(self.refusal(program, shown, others))
            }
        }
    }

    fn refusal(&self, asked: &str, resolved: Option<String>, others: Vec<String>) -> RunRefusal {
        RunRefusal::NotPermitted {
            asked: asked.to_owned(),
            resolved,
            other_names: others,
            grant: format!("--allow-run={asked}"),
        }
    }
}

fn file_name(path: Option<&Path>) -> Option<&OsStr> {
    path.and_then(Path::file_name)
}

/// Where a program is: a path made absolute (symlinks kept), or a name
/// looked up on the host's `PATH`.
fn locate(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let path = Path::new(program);
        return if path.is_absolute() {
            Some(path.to_path_buf())
        } else {
            Some(std::env::current_dir().ok()?.join(path))
        };
    }
    let search = std::env::var_os("PATH")?;
    std::env::split_paths(&search)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A scratch directory with a multi-call layout: the file `real`, and
    /// the links `alias` and `other` to it.
    fn multicall(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("aio-grant-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("real"), "#!/bin/sh\n").unwrap();
        symlink("real", dir.join("alias")).unwrap();
        symlink("real", dir.join("other")).unwrap();
        dir
    }

    fn s(path: &Path) -> String {
        path.to_str().unwrap().to_owned()
    }

    #[test]
    fn nothing_by_default() {
        let grant = RunGrant::default();
        assert!(matches!(
            grant.check("/bin/sh"),
            Err(RunRefusal::NotPermitted { .. })
        ));
    }

    #[test]
    fn names_and_paths_meet_at_the_same_name_of_the_same_file() {
        let mut grant = RunGrant::default();
        grant.add(["sh"]);
        let by_name = grant.check("sh").expect("sh is granted");
        assert_eq!(by_name.arg0, "sh");
        assert_eq!(grant.check("/bin/sh"), Ok(by_name));
        let Err(refusal) = grant.check("true") else {
            panic!("true is not granted")
        };
        let RunRefusal::NotPermitted { grant: flag, .. } = &refusal else {
            panic!("{refusal:?}")
        };
        assert_eq!(flag, "--allow-run=true");
        assert!(
            refusal.to_string().starts_with("running true (/"),
            "{refusal}"
        );
    }

    #[test]
    fn a_refusal_names_the_request_and_where_it_leads() {
        let dir = multicall("refusal");
        let alias = s(&dir.join("alias"));
        let refusal = RunGrant::default().check(&alias).unwrap_err();
        let real = std::fs::canonicalize(dir.join("real")).unwrap();
        assert_eq!(
            refusal.to_string(),
            format!(
                "running {alias} ({}) is not granted (allow it with --allow-run={alias})",
                real.display()
            )
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_grant_covers_its_own_name_only() {
        let dir = multicall("own-name");
        let (alias, other) = (s(&dir.join("alias")), s(&dir.join("other")));
        let mut grant = RunGrant::default();
        grant.add([&alias]);
        let allowed = grant.check(&alias).expect("alias is granted");
        assert_eq!(allowed.program, dir.join("alias"), "the link is executed");
        assert_eq!(allowed.arg0, alias);
        assert_eq!(
            allowed.file,
            std::fs::canonicalize(dir.join("real")).unwrap()
        );
        for not_granted in [other, s(&dir.join("real"))] {
            let refusal = grant.check(&not_granted).unwrap_err();
            assert!(
                refusal.to_string().contains(&format!(
                    "granted only as {alias} (allow it with --allow-run={not_granted})"
                )),
                "{refusal}"
            );
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn two_grants_of_one_file_each_run_as_themselves() {
        let dir = multicall("two-grants");
        let (alias, other) = (s(&dir.join("alias")), s(&dir.join("other")));
        let mut grant = RunGrant::default();
        grant.add([&alias, &other]);
        assert_eq!(grant.check(&alias).unwrap().arg0, alias);
        assert_eq!(grant.check(&other).unwrap().arg0, other);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_relinked_grant_is_refused() {
        let dir = multicall("relinked");
        let alias = s(&dir.join("alias"));
        let mut grant = RunGrant::default();
        grant.add([&alias]);
        std::fs::create_dir(dir.join("sub")).unwrap();
        symlink("../real", dir.join("sub/alias")).unwrap();
        std::fs::remove_file(dir.join("alias")).unwrap();
        std::fs::write(dir.join("elsewhere"), "").unwrap();
        symlink("elsewhere", dir.join("alias")).unwrap();
        // Neither the grant's path (now another file) nor the same name
        // elsewhere (it would execute the relinked grant) runs.
        for asked in [alias, s(&dir.join("sub/alias"))] {
            assert!(
                matches!(grant.check(&asked), Err(RunRefusal::NotPermitted { .. })),
                "{asked}"
            );
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_granted_missing_program_is_not_found() {
        let mut grant = RunGrant::default();
        grant.add(["/nonexistent/prog", "no-such-program-anywhere"]);
        assert_eq!(grant.check("/nonexistent/prog"), Err(RunRefusal::NotFound));
        assert_eq!(
            grant.check("no-such-program-anywhere"),
            Err(RunRefusal::NotFound)
        );
        assert!(matches!(
            grant.check("/nonexistent/other"),
            Err(RunRefusal::NotPermitted { .. })
        ));
    }
}

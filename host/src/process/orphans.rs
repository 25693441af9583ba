//! Descendants that leave a run's process group, brought back and killed.
//!
//! A daemonising tool (or `setsid`) takes its process out of the run's
//! process group ([`group`](super::group)), so killing the group misses it.
//! When its parent dies, Linux hands such an orphan to the nearest
//! ancestor marked as a *child subreaper* (`PR_SET_CHILD_SUBREAPER`), or to
//! init. [`adopt_orphans`] marks this process: the orphans of every run then
//! become its own children, and at the end of each run the host kills and
//! reaps every child of this process that it did not start itself (a run's
//! child, a keeper), round after round until the run's group is empty and
//! no new orphan turns up, within the run's reaping patience. It reaps them
//! with `waitpid` on those exact pids, never `waitpid(-1)`, which would
//! steal the exit statuses tokio waits for.
//!
//! The subreaper mark is process-wide, so it is the embedder's choice: the
//! `aio` command calls [`adopt_orphans`] at start. An embedding program that
//! calls it promises that it starts no child processes of its own other
//! than through aio: the end of a run would kill them. Several runs at once
//! in one process cannot tell whose orphan is whose: each is killed by the
//! end of whichever run ends next after it was orphaned.
//!
//! A spawn holds [`spawning`] (shared) from the `fork` until the new pid is
//! [`track`]ed, and a sweep holds it exclusively, so a sweep never takes a
//! child that is just being started for an orphan.

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock, RwLockReadGuard};

static ADOPTING: AtomicBool = AtomicBool::new(false);
static SPAWNING: RwLock<()> = RwLock::new(());
/// The children this process started through aio (runs' children and
/// keepers), counted: a pid reused by a new child before the old one was
/// untracked stays tracked.
static TRACKED: Mutex<BTreeMap<libc::pid_t, u32>> = Mutex::new(BTreeMap::new());

/// Makes this process the child subreaper of every process it starts, so
/// that the orphans of a run's children come back to it, and the end of
/// each run kills them (see the module docs for what this asks of an
/// embedder). The `aio` command calls it at start.
pub fn adopt_orphans() -> io::Result<()> {
    // Safety: prctl(PR_SET_CHILD_SUBREAPER) takes plain integers.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    ADOPTING.store(true, Ordering::SeqCst);
    Ok(())
}

/// Whether [`adopt_orphans`] was called.
pub(crate) fn adopting() -> bool {
    ADOPTING.load(Ordering::SeqCst)
}

/// Held (shared) while a child is started and until it is tracked.
pub(crate) fn spawning() -> RwLockReadGuard<'static, ()> {
    SPAWNING.read().unwrap_or_else(|e| e.into_inner())
}

/// Records a child this process started through aio.
pub(crate) fn track(pid: libc::pid_t) {
    let mut tracked = TRACKED.lock().unwrap_or_else(|e| e.into_inner());
    *tracked.entry(pid).or_default() += 1;
}

/// Forgets a child once it is reaped.
pub(crate) fn untrack(pid: libc::pid_t) {
    let mut tracked = TRACKED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(count) = tracked.get_mut(&pid) {
        *count -= 1;
        if *count == 0 {
            tracked.remove(&pid);
        }
    }
}

fn is_tracked(pid: libc::pid_t) -> bool {
    let tracked = TRACKED.lock().unwrap_or_else(|e| e.into_inner());
    tracked.contains_key(&pid)
}

/// Orphans being killed, until they are reaped.
#[derive(Debug, Default)]
pub(crate) struct Sweep {
    dying: Vec<libc::pid_t>,
}

impl Sweep {
    /// One round: sends SIGKILL to every child of this process that aio did
    /// not start, reaps those that have died, and says whether anything is
    /// left to wait for: an orphan not yet reaped, or a process other than
    /// the keeper still in `group` (it may yet leave orphans behind). Does
    /// nothing unless [`adopt_orphans`] was called.
    pub(crate) fn round(&mut self, group: libc::pid_t) -> bool {
        if !adopting() {
            return false;
        }
        let me = std::process::id() as libc::pid_t;
        let mut group_busy = false;
        {
            let _no_spawn = SPAWNING.write().unwrap_or_else(|e| e.into_inner());
            for (pid, ppid, pgrp) in processes() {
                if pgrp == group && pid != group {
                    group_busy = true;
                }
                if ppid == me && !is_tracked(pid) && !self.dying.contains(&pid) {
                    // Safety: kill(2) has no memory-safety preconditions;
                    // the pid is our child and unreaped (only we wait for
                    // untracked children), so it is not recycled.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                    self.dying.push(pid);
                }
            }
        }
        self.dying.retain(|&pid| {
            let mut status = 0;
            // Safety: waitpid writes to a valid int; the pid is our child.
            let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            rc == 0
        });
        group_busy || !self.dying.is_empty()
    }
}

/// Every process as (pid, parent pid, process group), from /proc.
fn processes() -> Vec<(libc::pid_t, libc::pid_t, libc::pid_t)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|entry| {
            let pid: libc::pid_t = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let (ppid, pgrp) = parse_stat(&stat)?;
            Some((pid, ppid, pgrp))
        })
        .collect()
}

/// The parent pid and process group from a `/proc/PID/stat` line: `pid
/// (comm) state ppid pgrp ...`, where comm may hold spaces and parentheses.
fn parse_stat(stat: &str) -> Option<(libc::pid_t, libc::pid_t)> {
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_ascii_whitespace().skip(1);
    Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines() {
        assert_eq!(
            parse_stat("42 (a) b) (c) S 7 42 42 0 -1 4194560"),
            Some((7, 42))
        );
        assert_eq!(parse_stat("42 (sleep"), None);
        let me = std::process::id() as libc::pid_t;
        assert!(
            processes()
                .iter()
                .any(|&(pid, ppid, _)| pid == me && ppid > 0)
        );
    }

    #[test]
    fn tracking_counts_reuse() {
        track(-7);
        track(-7);
        untrack(-7);
        assert!(is_tracked(-7));
        untrack(-7);
        assert!(!is_tracked(-7));
    }
}

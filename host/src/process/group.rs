//! The process group of one run, and the keeper that kills it when the host
//! dies.
//!
//! Killing a run's children one by one misses their own children: a shell's
//! background job, a tool that forks a helper. So every child of a run
//! starts in one process group, and the run ends with one `kill(2)` of the
//! whole group, which the kernel makes atomic with `fork(2)`: a member
//! forking at that moment cannot leave an unkilled child behind.
//!
//! That covers a run that ends (returns, traps, times out, is dropped), but
//! not `aio` itself being SIGKILLed (the OOM killer, a supervisor). So the
//! group is led by a **keeper**, started at the first spawn of a run: a
//! `/bin/sh` that ignores the usual signals, reads a pipe whose only write
//! end the host holds, and when the read ends (the host closed the pipe, or
//! died and the kernel closed it) kills its own group, itself included.
//!
//! Why a shell, and not a `fork` of the host running a few raw system
//! calls: a forked keeper keeps a copy-on-write image of the whole host, so
//! every page the guest writes afterwards is copied. Measured with a guest
//! that fills 1 GiB and keeps writing it while it spawns: `aio` and its
//! children held 2.0 GiB (PSS) with a forked keeper, 1.0 GiB with this
//! one, as before there was a keeper. A shell is started by `posix_spawn`
//! (vfork-like), once per run, and holds nothing of the host; subprocesses
//! therefore need `/bin/sh`.
//!
//! One group per run, rather than one per child: one keeper watches it, one
//! `kill` ends it, and a run's group never mixes with another run's in the
//! same process. The host's own `kill` of the group happens before the
//! keeper is reaped, so the group id (the keeper's pid) cannot have been
//! reused by then. What leaves the group (`setsid`, `setpgid`) is not
//! covered here: see [`orphans`](super::orphans).

use std::io;
use std::process::{Child, Command, Stdio};

/// The keeper: ignore what a stray signal could end it with, wait for EOF,
/// then SIGKILL the process group (`0`: its own).
const KEEPER: &str = "trap '' HUP INT QUIT TERM; while read -r line; do :; done; kill -9 0";

/// One run's process group and its keeper.
#[derive(Debug)]
pub(crate) struct RunGroup {
    /// The keeper's pid: also the group's id.
    id: libc::pid_t,
    /// The keeper, never waited for before the group has been killed
    /// (`None`: reaped, or handed to a thread that reaps it).
    keeper: Option<Child>,
    /// The write end of the keeper's pipe: closing it (or dying) wakes it.
    wake: Option<io::PipeWriter>,
}

impl RunGroup {
    /// Starts the keeper, the leader of a new process group.
    pub(crate) fn start() -> io::Result<RunGroup> {
        use std::os::unix::process::CommandExt;
        // Both ends are close-on-exec: children never hold the write end.
        let (read, wake) = io::pipe()?;
        let keeper = Command::new("/bin/sh")
            .arg0("aio-keeper")
            .args(["-c", KEEPER])
            .env_clear()
            .current_dir("/")
            .stdin(read)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("/bin/sh: {e}")))?;
        let id = keeper.id() as libc::pid_t;
        super::orphans::track(id);
        Ok(RunGroup {
            id,
            keeper: Some(keeper),
            wake: Some(wake),
        })
    }

    /// The process group every child of the run joins.
    pub(crate) fn id(&self) -> libc::pid_t {
        self.id
    }

    /// Sends SIGKILL to every process still in the group, the keeper
    /// included, and closes the keeper's pipe.
    pub(crate) fn kill(&mut self) {
        if self.keeper.is_some() {
            // Safety: kill(2) has no memory-safety preconditions. The group
            // id is our unreaped keeper's pid, so it cannot be another
            // group's.
            unsafe { libc::kill(-self.id, libc::SIGKILL) };
        }
        self.wake = None;
    }

    /// Reaps the keeper if it has exited; whether it is reaped. Call only
    /// once the group has been killed: from then on its id may be reused.
    pub(crate) fn try_reap(&mut self) -> bool {
        if let Some(keeper) = &mut self.keeper
            && !matches!(keeper.try_wait(), Ok(None))
        {
            self.keeper = None;
            super::orphans::untrack(self.id);
        }
        self.keeper.is_none()
    }
}

impl Drop for RunGroup {
    /// Kills the group and reaps the keeper, on a thread of its own if it
    /// has not exited yet (it was just sent SIGKILL).
    fn drop(&mut self) {
        self.kill();
        if self.try_reap() {
            return;
        }
        let (id, keeper) = (self.id, self.keeper.take());
        // Without the thread, the keeper stays a zombie until this process
        // exits; nothing else is lost.
        let _ = std::thread::Builder::new()
            .name("aio keeper reaper".into())
            .spawn(move || {
                if let Some(mut keeper) = keeper {
                    let _ = keeper.wait();
                }
                super::orphans::untrack(id);
            });
    }
}

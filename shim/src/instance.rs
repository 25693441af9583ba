//! One container, as containerd's task API sees it (create, start, kill,
//! wait, delete), on runwasi's shimkit. The container runs as a child
//! process of the shim (`crate::guest`): a SIGKILL reaches it at once, it
//! dies with the shim's kill, and a guest that brings its host down
//! takes only its own process.

use crate::guest;
use crate::plan::Plan;
use chrono::{DateTime, Utc};
use containerd_shim::monitor::{ExitEvent, Subject, Subscription};
use containerd_shimkit::sandbox::{Error, Instance, InstanceConfig};
use rustix::process::{Pid, PidfdFlags, Signal};
use std::fs::OpenOptions;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;
use tokio::sync::watch;

/// Where compiled components are cached on the node (`AIO_CACHE_DIR` in
/// containerd's environment overrides it).
const DEFAULT_CACHE_DIR: &str = "/var/cache/aio";

type Exit = Option<(u32, DateTime<Utc>)>;

/// A container run by aio.
pub struct AioInstance {
    bundle: PathBuf,
    plan: Plan,
    stdin: PathBuf,
    stdout: PathBuf,
    stderr: PathBuf,
    /// The running child's pidfd: signals go to it, never to a reused PID.
    child: Mutex<Option<OwnedFd>>,
    exit: watch::Sender<Exit>,
}

impl Instance for AioInstance {
    async fn new(_id: String, cfg: &InstanceConfig) -> Result<Self, Error> {
        // The spec is read (and its annotations checked) now, so that a
        // bad grant fails `create` with its reason.
        let plan = match Plan::load(&cfg.bundle) {
            Ok(plan) => plan,
            Err(why) => {
                // shimkit mounted the image before asking; with no instance
                // there will be no delete to unmount it.
                let rootfs = cfg.bundle.join("rootfs");
                let _ = rustix::mount::unmount(&rootfs, rustix::mount::UnmountFlags::DETACH);
                return Err(Error::InvalidArgument(why));
            }
        };
        Ok(AioInstance {
            bundle: cfg.bundle.clone(),
            plan,
            stdin: cfg.stdin.clone(),
            stdout: cfg.stdout.clone(),
            stderr: cfg.stderr.clone(),
            child: Mutex::new(None),
            exit: watch::channel(None).0,
        })
    }

    async fn start(&self) -> Result<u32, Error> {
        let exe = std::env::current_exe()?;
        let cache_dir =
            std::env::var_os("AIO_CACHE_DIR").unwrap_or_else(|| DEFAULT_CACHE_DIR.into());
        let mut command = Command::new(exe);
        command
            .arg(guest::MODE)
            .arg(&self.bundle)
            .arg(cache_dir)
            .env_clear()
            .envs(self.plan.env.iter().map(|(k, v)| (k, v)))
            .stdin(open_fifo(&self.stdin, false)?)
            .stdout(open_fifo(&self.stdout, true)?)
            .stderr(open_fifo(&self.stderr, true)?);
        // The shim reaps every child (it is a subreaper, and waitpid(-1)
        // on SIGCHLD), so the exit status comes from its monitor, which
        // must be subscribed before the child can exit.
        let exits =
            containerd_shim::monitor::monitor_subscribe(containerd_shim::monitor::Topic::Pid)
                .map_err(|e| Error::Others(format!("cannot watch for the child's exit: {e}")))?;
        let mut child = command.spawn()?;
        let pid = child.id();
        let pidfd = Pid::from_raw(pid as i32)
            .ok_or_else(|| Error::Others("the child has no PID".into()))
            .and_then(|p| {
                rustix::process::pidfd_open(p, PidfdFlags::empty())
                    .map_err(|e| Error::Others(format!("pidfd_open: {e}")))
            })?;
        *self.child.lock().unwrap_or_else(|e| e.into_inner()) = Some(pidfd);
        let exit = self.exit.clone();
        std::thread::spawn(move || {
            let code = wait_for_exit(&mut child, &exits);
            exit.send_replace(Some((code, Utc::now())));
        });
        Ok(pid)
    }

    async fn kill(&self, signal: u32) -> Result<(), Error> {
        if self.exit.borrow().is_some() {
            return Ok(()); // already exited: nothing to signal
        }
        let signal = i32::try_from(signal)
            .ok()
            .and_then(Signal::from_named_raw)
            .ok_or_else(|| Error::InvalidArgument(format!("no signal {signal}")))?;
        let child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        let Some(pidfd) = child.as_ref() else {
            return Err(Error::FailedPrecondition(
                "the container has not started".into(),
            ));
        };
        match rustix::process::pidfd_send_signal(pidfd, signal) {
            // ESRCH: it exited meanwhile.
            Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
            Err(e) => Err(Error::Others(format!("cannot signal the container: {e}"))),
        }
    }

    async fn delete(&self) -> Result<(), Error> {
        if self
            .child
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
        {
            self.kill(libc::SIGKILL as u32).await?;
            self.wait().await;
        }
        // The shim mounted the image at create; nothing else will unmount it.
        let _ = rustix::mount::unmount(&self.plan.rootfs, rustix::mount::UnmountFlags::DETACH);
        Ok(())
    }

    async fn wait(&self) -> (u32, DateTime<Utc>) {
        let mut exit = self.exit.subscribe();
        match exit.wait_for(Option::is_some).await {
            Ok(exit) => exit.expect("waited for Some"),
            // The sender lives in `self`: unreachable while `self` does.
            Err(_) => (255, Utc::now()),
        }
    }
}

/// The child's exit status (128 + N after signal N): from the shim's
/// reaper, or, should this thread reap it first, from the child itself.
fn wait_for_exit(child: &mut std::process::Child, exits: &Subscription) -> u32 {
    let pid = child.id() as i32;
    loop {
        match exits.rx.recv_timeout(Duration::from_millis(500)) {
            Ok(ExitEvent {
                subject: Subject::Pid(p),
                exit_code,
            }) if p == pid => return exit_code as u32,
            Ok(_) => {}
            Err(RecvTimeoutError::Timeout) => match child.try_wait() {
                Ok(Some(status)) => return status_code(status),
                Ok(None) => {}
                // Reaped by the shim: its event is on the way.
                Err(_) => {}
            },
            Err(RecvTimeoutError::Disconnected) => {
                return child.wait().map_or(255, status_code);
            }
        }
    }
}

fn status_code(status: std::process::ExitStatus) -> u32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code as u32,
        (None, Some(signal)) => 128 + signal as u32,
        (None, None) => 255,
    }
}

/// Opens one of containerd's stdio FIFOs (an empty path: none, /dev/null).
/// The read side opens without blocking for a writer, then blocks as a
/// pipe should.
fn open_fifo(path: &Path, write: bool) -> Result<Stdio, Error> {
    if path.as_os_str().is_empty() {
        return Ok(Stdio::null());
    }
    let file = if write {
        OpenOptions::new().write(true).open(path)?
    } else {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)?;
        let flags = rustix::fs::fcntl_getfl(&file).map_err(std::io::Error::from)?;
        rustix::fs::fcntl_setfl(&file, flags - rustix::fs::OFlags::NONBLOCK)
            .map_err(std::io::Error::from)?;
        file
    };
    Ok(Stdio::from(file))
}

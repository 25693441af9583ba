//! One container, as containerd's task API sees it (create, start, kill,
//! wait, delete), on runwasi's shimkit. The container runs as a child
//! process of the shim (`crate::guest`): a SIGKILL reaches it at once, it
//! dies with the shim's kill, and a guest that brings its host down
//! takes only its own process.

use crate::guest;
use crate::plan::Plan;
use chrono::{DateTime, Utc};
use containerd_shimkit::sandbox::{Error, Instance, InstanceConfig};
use rustix::process::{Pid, PidfdFlags, Signal};
use std::fs::OpenOptions;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
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
        let plan = Plan::load(&cfg.bundle).map_err(Error::InvalidArgument)?;
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
            let code = match child.wait() {
                Ok(status) => match (status.code(), status.signal()) {
                    (Some(code), _) => code as u32,
                    (None, Some(signal)) => 128 + signal as u32,
                    (None, None) => 255,
                },
                Err(_) => 255,
            };
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

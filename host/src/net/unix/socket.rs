//! Connecting and listening, through a checked directory descriptor (see
//! the module above for why), and a listener that removes its socket file.

use super::{FLAG, UnixAccess, UnixError, split};
use crate::audit::CapabilityUse;
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use rustix::net::{self as rnet, AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// A connected Unix socket, until the multiplexer takes it
/// (`aio:host/unix`'s `unix-stream`; reached only through that import).
#[derive(Debug)]
pub struct UnixConn(pub(crate) UnixStream);

/// A guest's path, checked: the directory really opened, and the name.
struct Target {
    dir: OwnedFd,
    name: OsString,
    /// The real path (the resolved directory and the name): for the audit
    /// log and for messages.
    real: PathBuf,
}

impl Target {
    fn shown(&self) -> String {
        self.real.display().to_string()
    }
}

impl UnixAccess {
    /// Opens the directory of `path` and checks the socket in it against
    /// the grants (a refusal is audited as `capability`).
    fn resolve(&self, path: &str, capability: &'static str) -> Result<Target, UnixError> {
        let (dir_path, name) = split(path)?;
        let shown_given = || dir_path.join(&name).display().to_string();
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let dir = match rfs::open(&dir_path, flags, Mode::empty()) {
            Ok(dir) => dir,
            // Only a granted directory may be told apart from a missing
            // one: elsewhere the answer would tell the guest what exists.
            Err(_) if self.allows(&dir_path, &name) => return Err(UnixError::NotFound),
            Err(_) => return Err(self.refuse(capability, path, &shown_given())),
        };
        let real_dir = real_path(&dir).map_err(UnixError::os)?;
        let real = real_dir.join(&name);
        if !self.allows(&real_dir, &name) {
            return Err(self.refuse(capability, path, &real.display().to_string()));
        }
        Ok(Target { dir, name, real })
    }

    /// Connects to the socket at `path`; when the server's backlog is
    /// full, tries again (5 ms, doubling to 100 ms) until it is not, or
    /// until the caller gives up (dropping the future).
    pub(crate) async fn connect(&self, path: &str) -> Result<UnixConn, UnixError> {
        let target = self.resolve(path, "unix.connect")?;
        let shown = target.shown();
        let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let file =
            rfs::openat(&target.dir, &target.name, flags, Mode::empty()).map_err(|e| match e {
                Errno::NOENT => UnixError::NotFound,
                e => UnixError::os(e),
            })?;
        match FileType::from_raw_mode(rfs::fstat(&file).map_err(UnixError::os)?.st_mode) {
            FileType::Socket => {}
            FileType::Symlink => {
                let why = format!(
                    "a symlink, which is not followed (grant its target with {FLAG} and use that path)"
                );
                self.audit(CapabilityUse::denied(
                    "unix.connect",
                    shown.clone(),
                    format!("{FLAG} of the link's target"),
                ));
                return Err(UnixError::NotGranted(format!(
                    "Unix socket {path:?} is {why}"
                )));
            }
            _ => return Err(UnixError::ConnectionRefused),
        }
        // The socket file itself, as opened: renaming or relinking the
        // path after the check changes nothing.
        let addr = SocketAddrUnix::new(format!("/proc/self/fd/{}", file.as_raw_fd()))
            .map_err(UnixError::os)?;
        let mut wait = Duration::from_millis(5);
        loop {
            let sock = new_socket()?;
            match rnet::connect(&sock, &addr) {
                Ok(()) => {
                    drop(file);
                    self.audit(CapabilityUse::allowed("unix.connect", shown));
                    return Ok(UnixConn(UnixStream::from(sock)));
                }
                // The server's backlog is full.
                Err(Errno::AGAIN) => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_millis(100));
                }
                Err(Errno::CONNREFUSED) => return Err(UnixError::ConnectionRefused),
                Err(Errno::NOENT) => return Err(UnixError::NotFound),
                Err(e) => return Err(UnixError::os(e)),
            }
        }
    }

    /// Binds `path` and listens on it: a stale socket file there is
    /// removed first (asyncio's `create_unix_server` does the same), any
    /// other file is left and refused.
    pub(crate) fn listen(&self, path: &str, backlog: u32) -> Result<UnixListener, UnixError> {
        let target = self.resolve(path, "unix.listen")?;
        let shown = target.shown();
        match rfs::statat(&target.dir, &target.name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Socket => {
                rfs::unlinkat(&target.dir, &target.name, AtFlags::empty())
                    .map_err(UnixError::os)?;
            }
            Ok(_) => return Err(UnixError::AddressInUse),
            Err(Errno::NOENT) => {}
            Err(e) => return Err(UnixError::os(e)),
        }
        let at = proc_path(&target.dir, &target.name);
        let addr = SocketAddrUnix::new(at.as_os_str()).map_err(|_| {
            UnixError::invalid("the socket's name is too long for a socket address")
        })?;
        let sock = new_socket()?;
        rnet::bind(&sock, &addr).map_err(|e| match e {
            Errno::ADDRINUSE => UnixError::AddressInUse,
            Errno::NAMETOOLONG => UnixError::invalid("the path is too long"),
            e => UnixError::os(e),
        })?;
        // What was made: only that file is removed when the listener goes.
        let made = rfs::statat(&target.dir, &target.name, AtFlags::SYMLINK_NOFOLLOW)
            .map(|st| (st.st_dev, st.st_ino))
            .map_err(UnixError::os)?;
        let backlog = i32::try_from(backlog.max(1)).unwrap_or(i32::MAX);
        let listener = std::os::unix::net::UnixListener::from(sock);
        let cleanup = Cleanup {
            dir: target.dir,
            name: target.name,
            made,
        };
        rnet::listen(&listener, backlog).map_err(UnixError::os)?;
        let io = crate::net::tcp::register(listener)
            .map_err(|e| UnixError::Other(format!("cannot register the socket: {e:?}")))?;
        self.audit(CapabilityUse::allowed("unix.listen", shown.clone()));
        Ok(UnixListener {
            io,
            access: self.clone(),
            shown,
            _cleanup: cleanup,
        })
    }
}

/// A new non-blocking Unix stream socket.
fn new_socket() -> Result<OwnedFd, UnixError> {
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    rnet::socket_with(AddressFamily::UNIX, SocketType::STREAM, flags, None).map_err(UnixError::os)
}

/// The path through which `name` in the open directory `dir` is reached
/// (`/proc/self/fd/N/name`): the directory checked, whatever its path
/// names by now.
fn proc_path(dir: &OwnedFd, name: &OsStr) -> PathBuf {
    Path::new(&format!("/proc/self/fd/{}", dir.as_raw_fd())).join(name)
}

/// Where the open directory `dir` really is.
fn real_path(dir: &OwnedFd) -> io::Result<PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{}", dir.as_raw_fd()))
}

/// Removes a listener's socket file when dropped, if it is still the one
/// the listener made (asyncio 3.13's `cleanup_socket`).
struct Cleanup {
    dir: OwnedFd,
    name: OsString,
    made: (u64, u64),
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Ok(st) = rfs::statat(&self.dir, &self.name, AtFlags::SYMLINK_NOFOLLOW)
            && (st.st_dev, st.st_ino) == self.made
        {
            let _ = rfs::unlinkat(&self.dir, &self.name, AtFlags::empty());
        }
    }
}

/// A listening Unix socket (`aio:host/unix`'s `unix-listener`; reached
/// only through that import).
pub struct UnixListener {
    /// Dropped first (fields drop in order): the socket is closed before
    /// its file is removed.
    io: AsyncFd<std::os::unix::net::UnixListener>,
    access: UnixAccess,
    shown: String,
    _cleanup: Cleanup,
}

impl std::fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnixListener")
            .field("path", &self.shown)
            .finish_non_exhaustive()
    }
}

impl UnixListener {
    /// Accepts one client, waiting for one. Clients that went away before
    /// being accepted are skipped; an error the host ran into (out of
    /// descriptors) is the guest's to handle.
    pub(crate) fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<Result<UnixConn, UnixError>> {
        let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
        loop {
            let accepted = self.io.try_io(Interest::READABLE, |l| {
                rnet::accept_with(l, flags).map_err(io::Error::from)
            });
            match accepted {
                Ok(fd) => {
                    self.access
                        .audit(CapabilityUse::allowed("unix.accept", self.shown.clone()));
                    return Poll::Ready(Ok(UnixConn(UnixStream::from(fd))));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if Errno::from_io_error(&e) == Some(Errno::CONNABORTED) => continue,
                Err(e) => return Poll::Ready(Err(UnixError::os(e))),
            }
            if let Err(e) = ready!(self.io.poll_read_ready(cx)) {
                return Poll::Ready(Err(UnixError::os(e)));
            }
        }
    }
}

//! Subprocesses: asyncio's `create_subprocess_exec` / `_shell` and
//! `Process`, over the host's `aio:host/process` (granted with
//! `aio run --allow-run=PROGRAM` / `--allow-shell`).
//!
//! ```no_run
//! use asyncio::subprocess::{Options, Stdio, create_subprocess_exec};
//!
//! # async fn demo() -> asyncio::Result<()> {
//! let mut child = create_subprocess_exec(
//!     "cat",
//!     ["-"],
//!     Options::new().stdin(Stdio::Pipe).stdout(Stdio::Pipe),
//! )
//! .await?;
//! let (out, _err) = child.communicate(Some(b"hello")).await?;
//! assert_eq!(out, b"hello");
//! assert_eq!(child.returncode(), Some(0));
//! # Ok(()) }
//! ```
//!
//! The program is a path or a name the host looks up on its own `PATH`;
//! arguments reach it exactly as given (no shell); its environment is only
//! what [`Options::env`] sets (nothing by default: the host's never leaks).
//! A program the host did not grant fails with
//! [`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied) naming
//! it and the flag that would allow it.
//!
//! [`Loop::subprocess_exec`](crate::Loop::subprocess_exec) and
//! [`subprocess_shell`](crate::Loop::subprocess_shell) run a child with a
//! [`SubprocessProtocol`] instead (asyncio's low-level API), over the same
//! [`Process`] and pipes.
//!
//! **Cancellation and drop:** `wait` and `communicate` follow the SDK's
//! cancellation contract; cancelling them leaves the child running (as in
//! asyncio). Dropping a [`Process`] does not stop the child either; the host
//! kills every child still running when the guest ends.

mod process;
mod protocol;

pub use process::{Options, Process, Stdio, create_subprocess_exec, create_subprocess_shell};
pub use protocol::{PipeTransport, SubprocessProtocol, SubprocessTransport};

/// `signal.SIGINT`.
pub const SIGINT: i32 = 2;
/// `signal.SIGKILL`.
pub const SIGKILL: i32 = 9;
/// `signal.SIGTERM`.
pub const SIGTERM: i32 = 15;
/// `signal.SIGHUP`.
pub const SIGHUP: i32 = 1;

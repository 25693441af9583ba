//! `loop.subprocess_exec` / `loop.subprocess_shell` with a
//! [`SubprocessProtocol`]: the callbacks of asyncio's
//! `base_subprocess.BaseSubprocessTransport`, driven over the same
//! [`Process`] (and its stream pipes) that `create_subprocess_exec` gives.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::{Options, Process, create_subprocess_exec, create_subprocess_shell};
use crate::errors::{Error, Result};
use crate::events::Loop;
use crate::runtime::{self, task::Awaiting};
use crate::streams::{StreamReader, StreamWriter};
use crate::tasks::create_named_task;

/// How many chunks the driver hands to its protocol before it lets other
/// tasks run.
const BURST: usize = 16;

/// A subprocess protocol (asyncio's `SubprocessProtocol`): what a
/// [`SubprocessTransport`] calls as the child lives. `fd` is 0 (stdin), 1
/// (stdout) or 2 (stderr). The order:
///
/// ```text
/// connection_made
///   -> per piped fd: pipe_data_received(fd)* -> pipe_connection_lost(fd)   (exactly once)
///   -> process_exited                        (exactly once, as soon as the exit is known)
///   -> connection_lost                       (exactly once, last)
/// ```
///
/// As in asyncio, `process_exited` may come before the pipe callbacks of a
/// pipe still being read (the child exited, its last output is on the
/// way); `connection_lost` comes only once the child exited **and** every
/// pipe's `pipe_connection_lost` was called, and nothing comes after it.
/// Every method has a default that does nothing.
pub trait SubprocessProtocol: 'static {
    /// The child is running; keep `transport` to write to its stdin, to
    /// signal it and to close it.
    fn connection_made(&mut self, transport: SubprocessTransport) {
        let _ = transport;
    }

    /// The child wrote `data` (never empty) to `fd` (1 or 2).
    fn pipe_data_received(&mut self, fd: i32, data: &[u8]) {
        let _ = (fd, data);
    }

    /// Pipe `fd` is closed: `None` at its end (stdout/stderr at EOF, stdin
    /// closed after its bytes were written), `Some(error)` when it broke
    /// (stdin: the child exited with bytes still buffered) or the loop
    /// shut down (`Cancelled`). Once per piped fd.
    fn pipe_connection_lost(&mut self, fd: i32, error: Option<Error>) {
        let _ = (fd, error);
    }

    /// The child exited: [`SubprocessTransport::get_returncode`] has its
    /// code (`-N` for death by signal N).
    fn process_exited(&mut self) {}

    /// The child exited and every pipe is closed (`None`), or the loop shut
    /// down first (`Some(Cancelled)`). Called exactly once, last.
    fn connection_lost(&mut self, error: Option<Error>) {
        let _ = error;
    }
}

struct Inner {
    /// The child (its readers taken by the driver, its stdin moved below).
    process: RefCell<Process>,
    /// The stdin pipe while it is open.
    stdin: RefCell<Option<StreamWriter>>,
    pid: u32,
    returncode: Cell<Option<i32>>,
    /// `close()` was called.
    closing: Cell<bool>,
    driver: RefCell<Option<Waker>>,
    /// Taken when `connection_lost` is called (breaks the cycle).
    protocol: RefCell<Option<Rc<RefCell<dyn SubprocessProtocol>>>>,
}

impl Inner {
    fn wake_driver(&self) {
        if let Some(w) = self.driver.borrow_mut().take() {
            w.wake();
        }
    }

    /// Calls the protocol (not borrowed by anything else here meanwhile).
    fn call(&self, f: impl FnOnce(&mut dyn SubprocessProtocol)) {
        let protocol = self.protocol.borrow().clone();
        if let Some(p) = protocol {
            f(&mut *p.borrow_mut());
        }
    }
}

/// The transport of a child run with a [`SubprocessProtocol`] (asyncio's
/// `SubprocessTransport`). A cheap handle: clones are the same transport.
///
/// Dropping every handle changes nothing: the driver task (named
/// `subprocess transport`) goes on calling the protocol until
/// `connection_lost`.
#[derive(Clone)]
pub struct SubprocessTransport {
    inner: Rc<Inner>,
}

impl std::fmt::Debug for SubprocessTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubprocessTransport")
            .field("pid", &self.inner.pid)
            .field("returncode", &self.inner.returncode.get())
            .field("closing", &self.inner.closing.get())
            .finish()
    }
}

impl SubprocessTransport {
    /// The child's process id.
    pub fn get_pid(&self) -> u32 {
        self.inner.pid
    }

    /// The exit code once the child exited (from `process_exited` on):
    /// `-N` when signal N killed it.
    pub fn get_returncode(&self) -> Option<i32> {
        self.inner.returncode.get()
    }

    /// The transport of pipe `fd`: `Some` for 0 (stdin) while it is piped
    /// and open, `None` otherwise (stdout and stderr are read by the
    /// driver; their bytes reach `pipe_data_received`).
    pub fn get_pipe_transport(&self, fd: i32) -> Option<PipeTransport> {
        (fd == 0 && self.inner.stdin.borrow().is_some()).then(|| PipeTransport {
            inner: self.inner.clone(),
        })
    }

    /// Sends signal `signal` (nothing happens once the child has exited).
    pub fn send_signal(&self, signal: i32) -> Result<()> {
        self.inner.process.borrow().send_signal(signal)
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) -> Result<()> {
        self.send_signal(super::SIGTERM)
    }

    /// Sends SIGKILL.
    pub fn kill(&self) -> Result<()> {
        self.send_signal(super::SIGKILL)
    }

    /// Closes the transport, as asyncio's `close()`: stdin is closed
    /// (after its buffered bytes), stdout and stderr are no longer read
    /// (`pipe_connection_lost(fd, None)`), and a child still running is
    /// killed; `process_exited` and `connection_lost(None)` follow.
    /// Idempotent.
    pub fn close(&self) {
        if self.inner.closing.replace(true) {
            return;
        }
        if let Some(w) = self.inner.stdin.borrow_mut().as_mut() {
            w.close();
        }
        if self.inner.returncode.get().is_none() {
            let _ = self.kill();
        }
        self.inner.wake_driver();
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closing(&self) -> bool {
        self.inner.closing.get()
    }
}

/// The child's stdin, from
/// [`get_pipe_transport(0)`](SubprocessTransport::get_pipe_transport):
/// asyncio's write pipe transport. Writing buffers; a background task moves the bytes into the
/// pipe.
#[derive(Clone)]
pub struct PipeTransport {
    inner: Rc<Inner>,
}

impl std::fmt::Debug for PipeTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipeTransport")
            .field("fd", &0)
            .field("closing", &self.is_closing())
            .finish()
    }
}

impl PipeTransport {
    /// Buffers `data` for the child's stdin (never waits). Fails once the
    /// pipe is closing or closed, or broke.
    pub fn write(&self, data: &[u8]) -> Result<()> {
        match self.inner.stdin.borrow_mut().as_mut() {
            Some(w) => w.write(data),
            None => Err(Error::runtime("PipeTransport: write after close")),
        }
    }

    /// Closes stdin after the buffered bytes: the child reads EOF. Then
    /// `pipe_connection_lost(0, ..)`.
    pub fn write_eof(&self) {
        self.close();
    }

    /// Always true: closing the pipe is the end-of-file.
    pub fn can_write_eof(&self) -> bool {
        true
    }

    /// The same as [`write_eof`](Self::write_eof). Idempotent.
    pub fn close(&self) {
        if let Some(w) = self.inner.stdin.borrow_mut().as_mut() {
            w.close();
        }
        self.inner.wake_driver();
    }

    /// Whether it is closing or closed.
    pub fn is_closing(&self) -> bool {
        self.inner
            .stdin
            .borrow()
            .as_ref()
            .is_none_or(|w| w.is_closing())
    }

    /// Bytes written and not yet taken by the child's side of the pipe.
    pub fn get_write_buffer_size(&self) -> usize {
        self.inner
            .stdin
            .borrow()
            .as_ref()
            .map_or(0, |w| w.get_write_buffer_size())
    }
}

/// What only the driver task holds.
struct Driver {
    inner: Rc<Inner>,
    /// stdout (fd 1) and stderr (fd 2) while they are read.
    readers: [Option<StreamReader>; 2],
    /// `pipe_connection_lost(0, ..)` is still owed.
    stdin_open: bool,
    /// `process_exited` was called.
    exited: bool,
}

impl Driver {
    fn step(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let inner = self.inner.clone();
        *inner.driver.borrow_mut() = Some(cx.waker().clone());
        let mut burst = 0;
        loop {
            let mut progress = false;
            // stdin: closed (all written), or broke.
            if self.stdin_open {
                let flow = inner.stdin.borrow().as_ref().map(|w| {
                    w.watch(cx.waker());
                    w.flow()
                });
                if let Some(flow) = flow
                    && (flow.closed || flow.error.is_some())
                {
                    drop(inner.stdin.borrow_mut().take());
                    self.stdin_open = false;
                    inner.call(|p| p.pipe_connection_lost(0, flow.error));
                    progress = true;
                }
            }
            // stdout, stderr.
            for (i, fd) in [(0, 1), (1, 2)] {
                if inner.closing.get() && self.readers[i].take().is_some() {
                    inner.call(|p| p.pipe_connection_lost(fd, None));
                    progress = true;
                    continue;
                }
                let Some(reader) = self.readers[i].as_mut() else {
                    continue;
                };
                match reader.poll_fill(cx) {
                    Poll::Pending => {}
                    Poll::Ready(Ok(true)) => {
                        reader
                            .drain_buffered(|data| inner.call(|p| p.pipe_data_received(fd, data)));
                        progress = true;
                    }
                    Poll::Ready(Ok(false)) => {
                        self.readers[i] = None;
                        inner.call(|p| p.pipe_connection_lost(fd, None));
                        progress = true;
                    }
                    Poll::Ready(Err(e)) => {
                        self.readers[i] = None;
                        inner.call(|p| p.pipe_connection_lost(fd, Some(e)));
                        progress = true;
                    }
                }
            }
            // The exit status.
            if !self.exited {
                let polled = inner.process.borrow_mut().poll_exit(cx);
                if let Poll::Ready(code) = polled {
                    inner.returncode.set(Some(code));
                    self.exited = true;
                    // Nobody reads stdin any more: close it (an error
                    // follows if bytes were still buffered).
                    if let Some(w) = inner.stdin.borrow_mut().as_mut() {
                        w.close();
                    }
                    inner.call(|p| p.process_exited());
                    progress = true;
                }
            }
            if self.exited && !self.stdin_open && self.readers.iter().all(Option::is_none) {
                let protocol = inner.protocol.borrow_mut().take();
                if let Some(p) = protocol {
                    p.borrow_mut().connection_lost(None);
                }
                return Poll::Ready(());
            }
            if !progress {
                runtime::set_awaiting(Awaiting::Io {
                    what: "a subprocess's pipes and exit",
                });
                return Poll::Pending;
            }
            burst += 1;
            if burst == BURST {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
    }

    /// The loop is shutting down: the child is killed, every pipe still
    /// open and the protocol are told `Cancelled`.
    fn cancel(&mut self, e: &Error) {
        let inner = self.inner.clone();
        crate::debug::report_unclosed(&format!("subprocess transport (pid {})", inner.pid));
        if inner.returncode.get().is_none() {
            let _ = inner.process.borrow().kill();
        }
        if self.stdin_open {
            self.stdin_open = false;
            if let Some(mut w) = inner.stdin.borrow_mut().take() {
                w.abort();
            }
            inner.call(|p| p.pipe_connection_lost(0, Some(e.clone())));
        }
        for (i, fd) in [(0, 1), (1, 2)] {
            if self.readers[i].take().is_some() {
                inner.call(|p| p.pipe_connection_lost(fd, Some(e.clone())));
            }
        }
        let protocol = inner.protocol.borrow_mut().take();
        if let Some(p) = protocol {
            p.borrow_mut().connection_lost(Some(e.clone()));
        }
    }
}

/// Wraps a started child in a transport: `connection_made`, then the
/// driver task.
fn start<P: SubprocessProtocol>(
    mut process: Process,
    factory: impl FnOnce() -> P,
) -> (SubprocessTransport, Rc<RefCell<P>>) {
    let protocol = Rc::new(RefCell::new(factory()));
    let stdin = process.stdin.take();
    let stdin_open = stdin.is_some();
    let readers = [process.stdout.take(), process.stderr.take()];
    let dyn_protocol: Rc<RefCell<dyn SubprocessProtocol>> = protocol.clone();
    let inner = Rc::new(Inner {
        pid: process.pid(),
        process: RefCell::new(process),
        stdin: RefCell::new(stdin),
        returncode: Cell::new(None),
        closing: Cell::new(false),
        driver: RefCell::new(None),
        protocol: RefCell::new(Some(dyn_protocol)),
    });
    let transport = SubprocessTransport {
        inner: inner.clone(),
    };
    protocol.borrow_mut().connection_made(transport.clone());
    let mut driver = Driver {
        inner,
        readers,
        stdin_open,
        exited: false,
    };
    drop(create_named_task(
        "subprocess transport",
        std::future::poll_fn(move |cx| {
            if let Some(e) = runtime::take_cancel() {
                driver.cancel(&e);
                return Poll::Ready(Err::<(), Error>(e));
            }
            driver.step(cx).map(Ok)
        }),
    ));
    (transport, protocol)
}

impl Loop {
    /// Starts `program` with `args` and runs a protocol made by `factory`
    /// on it (asyncio's `loop.subprocess_exec`). When this returns,
    /// `connection_made` has been called. Returns the transport and the
    /// protocol (borrow it between callbacks, never across an `await`).
    ///
    /// `options` says which of stdin/stdout/stderr are pipes
    /// ([`Stdio::Pipe`](super::Stdio::Pipe)); unlike asyncio, whose
    /// default is `PIPE` for all three, [`Options::new`] inherits them.
    /// A program the host did not grant (`aio run --allow-run=PROGRAM`)
    /// fails with `PermissionDenied` and never runs; the factory is not
    /// called then. Cancelled (it never waits: the host starts the child
    /// at once), it returns `Err(Cancelled)` before starting anything.
    ///
    /// ```no_run
    /// use asyncio::subprocess::{Options, Stdio, SubprocessProtocol, SubprocessTransport};
    ///
    /// #[derive(Default)]
    /// struct Collect(Vec<u8>);
    /// impl SubprocessProtocol for Collect {
    ///     fn connection_made(&mut self, t: SubprocessTransport) {
    ///         let stdin = t.get_pipe_transport(0).unwrap();
    ///         stdin.write(b"hello").unwrap();
    ///         stdin.write_eof();
    ///     }
    ///     fn pipe_data_received(&mut self, _fd: i32, data: &[u8]) {
    ///         self.0.extend_from_slice(data);
    ///     }
    /// }
    ///
    /// # async fn demo() -> asyncio::Result<()> {
    /// let options = Options::new().stdin(Stdio::Pipe).stdout(Stdio::Pipe);
    /// let (transport, protocol) = asyncio::get_running_loop()
    ///     .subprocess_exec(Collect::default, "cat", ["-"], options)
    ///     .await?;
    /// # let _ = (transport, protocol); Ok(()) }
    /// ```
    pub async fn subprocess_exec<P, I, S>(
        &self,
        factory: impl FnOnce() -> P,
        program: &str,
        args: I,
        options: Options,
    ) -> Result<(SubprocessTransport, Rc<RefCell<P>>)>
    where
        P: SubprocessProtocol,
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let process = create_subprocess_exec(program, args, options).await?;
        Ok(start(process, factory))
    }

    /// [`subprocess_exec`](Self::subprocess_exec) for `command` run by the
    /// host's shell, `/bin/sh -c` (asyncio's `loop.subprocess_shell`); the
    /// host must grant `--allow-shell`.
    pub async fn subprocess_shell<P: SubprocessProtocol>(
        &self,
        factory: impl FnOnce() -> P,
        command: &str,
        options: Options,
    ) -> Result<(SubprocessTransport, Rc<RefCell<P>>)> {
        let process = create_subprocess_shell(command, options).await?;
        Ok(start(process, factory))
    }
}

//! `asyncio::Error`: the role Python's exceptions play in asyncio.
//!
//! Every asyncio exception has an [`ErrorKind`]; any other error converts
//! with `?` (like `raise`), so a task's body reads like the Python it came
//! from:
//!
//! ```no_run
//! # async fn f() -> asyncio::Result<u32> {
//! let n: u32 = "42".parse()?; // a ParseIntError becomes an asyncio::Error
//! asyncio::sleep(std::time::Duration::from_millis(10)).await?; // Err(Cancelled) propagates
//! # Ok(n) }
//! ```
//!
//! An `Error` is cheap to clone (one reference count): a task's error is
//! handed to every awaiter, to `Task::exception`, and to done callbacks, as
//! Python hands out the same exception object.
//!
//! Like `anyhow::Error`, `Error` does not implement `std::error::Error`
//! itself (that would conflict with the blanket `From` conversion); use
//! [`Error::source`] or convert it into `Box<dyn std::error::Error>`.

use std::fmt;
use std::sync::Arc;

/// `Result<T, asyncio::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong: one kind per asyncio exception, plus the sandbox's own.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `asyncio.CancelledError`: the task was asked to stop
    /// ([`Task::cancel`](crate::TaskRef::cancel)), with the optional message
    /// given to `cancel_with`.
    Cancelled {
        /// The message passed to `cancel_with`, if any.
        message: Option<String>,
    },
    /// `TimeoutError`: a `wait_for`, `timeout` or `as_completed` deadline
    /// passed (`wait` returns `(done, pending)` instead, as in asyncio).
    Timeout,
    /// `asyncio.InvalidStateError`: e.g. the result of a task that is not done.
    InvalidState(String),
    /// `asyncio.IncompleteReadError`: EOF before the expected bytes arrived.
    IncompleteRead {
        /// The bytes read before EOF.
        partial: Vec<u8>,
        /// How many bytes were expected (`None`: until a separator).
        expected: Option<usize>,
    },
    /// `asyncio.LimitOverrunError`: a separator was not found within the
    /// buffer limit; the data stay in the buffer.
    LimitOverrun {
        /// How many bytes may be consumed.
        consumed: usize,
    },
    /// `asyncio.QueueEmpty`.
    QueueEmpty,
    /// `asyncio.QueueFull`.
    QueueFull,
    /// `asyncio.QueueShutDown`.
    QueueShutDown,
    /// `asyncio.BrokenBarrierError`.
    BrokenBarrier,
    /// `asyncio.SendfileNotAvailableError`.
    SendfileNotAvailable,
    /// The host did not grant a capability; names what was refused.
    PermissionDenied(String),
    /// `ssl.SSLError` and its kinds: a TLS session failed, or could not
    /// start; the message names the cause (e.g. "certificate verify
    /// failed: certificate has expired").
    Ssl {
        /// How it failed.
        kind: crate::ssl::SslErrorKind,
        /// What failed, as OpenSSL (and so Python's `ssl`) words it.
        message: String,
    },
    /// An I/O error (`OSError` in Python).
    Io(std::io::ErrorKind),
    /// `RuntimeError`: the API was used wrongly (e.g. no running loop, a
    /// finished `TaskGroup`).
    Runtime(String),
    /// `ValueError`: a value out of range for the call, where asyncio raises
    /// `ValueError` (e.g. a [`BoundedSemaphore`](crate::BoundedSemaphore)
    /// released more times than it was acquired).
    Value(String),
    /// `KeyboardInterrupt`: SIGINT cancelled the main task of
    /// [`Runner::run`](crate::Runner::run) and it ended cancelled
    /// ([`signals`](crate::signals)); `#[asyncio::main]` exits with 130.
    KeyboardInterrupt,
    /// `ExceptionGroup` (from a [`TaskGroup`](crate::TaskGroup)): every
    /// error of the group, in the order they happened.
    Group(Vec<Error>),
    /// Any other error, converted with `?` or made with [`Error::msg`].
    Other,
}

/// The error of every asyncio operation; see the [module docs](self).
#[derive(Clone)]
pub struct Error {
    inner: Arc<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: Option<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// An error of the given kind.
    pub fn new(kind: ErrorKind) -> Error {
        Error {
            inner: Arc::new(Inner {
                kind,
                message: None,
                source: None,
            }),
        }
    }

    /// An error with a message (kind [`ErrorKind::Other`]), like
    /// `raise Exception("...")`.
    pub fn msg(message: impl fmt::Display) -> Error {
        Error {
            inner: Arc::new(Inner {
                kind: ErrorKind::Other,
                message: Some(message.to_string()),
                source: None,
            }),
        }
    }

    /// `CancelledError` with an optional message.
    pub fn cancelled(message: Option<String>) -> Error {
        Error::new(ErrorKind::Cancelled { message })
    }

    /// `TimeoutError`.
    pub fn timeout() -> Error {
        Error::new(ErrorKind::Timeout)
    }

    /// `InvalidStateError` with a message.
    pub fn invalid_state(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidState(message.into()))
    }

    /// `RuntimeError` with a message.
    pub fn runtime(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Runtime(message.into()))
    }

    /// An SSL error of `kind` (`ssl.SSLError`).
    pub fn ssl(kind: crate::ssl::SslErrorKind, message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Ssl {
            kind,
            message: message.into(),
        })
    }

    /// `ValueError` with a message.
    pub fn value(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Value(message.into()))
    }

    /// What kind of error this is.
    pub fn kind(&self) -> &ErrorKind {
        &self.inner.kind
    }

    /// True for `CancelledError`.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::Cancelled { .. })
    }

    /// True for `TimeoutError`.
    pub fn is_timeout(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::Timeout)
    }

    /// The message of a `CancelledError` (`None` for other kinds, or when
    /// `cancel` was called without one).
    pub fn cancel_message(&self) -> Option<&str> {
        match &self.inner.kind {
            ErrorKind::Cancelled { message } => message.as_deref(),
            _ => None,
        }
    }

    /// The errors of an error group (`ExceptionGroup.exceptions`).
    pub fn group_errors(&self) -> Option<&[Error]> {
        match &self.inner.kind {
            ErrorKind::Group(errors) => Some(errors),
            _ => None,
        }
    }

    /// The underlying error this one was converted from, if any.
    pub fn source(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.inner.source.as_deref()
    }

    /// The underlying error as a concrete type, if it is one.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.inner.source.as_ref()?.downcast_ref::<E>()
    }

    /// True when both values are the same error object (clones of one error),
    /// like Python's `is` on exceptions.
    pub fn same_as(&self, other: &Error) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner.kind {
            ErrorKind::Cancelled { message: None } => f.write_str("cancelled"),
            ErrorKind::Cancelled { message: Some(m) } => write!(f, "cancelled: {m}"),
            ErrorKind::Timeout => f.write_str("timed out"),
            ErrorKind::InvalidState(m) => write!(f, "invalid state: {m}"),
            ErrorKind::IncompleteRead { partial, expected } => match expected {
                Some(n) => write!(
                    f,
                    "{} bytes read on a total of {n} expected bytes",
                    partial.len()
                ),
                None => write!(
                    f,
                    "{} bytes read on a total of undefined expected bytes",
                    partial.len()
                ),
            },
            ErrorKind::LimitOverrun { consumed } => write!(
                f,
                "separator not found within the buffer limit ({consumed} bytes may be consumed)"
            ),
            ErrorKind::QueueEmpty => f.write_str("queue is empty"),
            ErrorKind::QueueFull => f.write_str("queue is full"),
            ErrorKind::QueueShutDown => f.write_str("queue is shut down"),
            ErrorKind::BrokenBarrier => f.write_str("barrier is broken"),
            ErrorKind::SendfileNotAvailable => f.write_str("sendfile is not available"),
            ErrorKind::PermissionDenied(what) => write!(f, "permission denied: {what}"),
            ErrorKind::Ssl { kind, message } => write!(f, "[SSL: {}] {message}", kind.reason()),
            ErrorKind::Runtime(m) | ErrorKind::Value(m) => f.write_str(m),
            ErrorKind::KeyboardInterrupt => f.write_str("interrupted (SIGINT)"),
            ErrorKind::Group(errors) => {
                write!(
                    f,
                    "unhandled errors in a TaskGroup ({} sub-exception{})",
                    errors.len(),
                    if errors.len() == 1 { "" } else { "s" }
                )?;
                for (i, e) in errors.iter().enumerate() {
                    write!(f, "; [{}] {e}", i + 1)?;
                }
                Ok(())
            }
            ErrorKind::Io(_) | ErrorKind::Other => {
                match (&self.inner.message, &self.inner.source) {
                    (Some(m), _) => f.write_str(m),
                    (None, Some(s)) => write!(f, "{s}"),
                    (None, None) => write!(f, "{:?}", self.inner.kind),
                }
            }
        }
    }
}

/// Two errors are equal when they are of the same kind with the same text
/// (use [`Error::same_as`] for identity).
impl PartialEq for Error {
    fn eq(&self, other: &Error) -> bool {
        self.same_as(other)
            || (self.kind() == other.kind() && self.to_string() == other.to_string())
    }
}

impl Eq for Error {}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind);
        if let Some(m) = &self.inner.message {
            d.field("message", m);
        }
        if let Some(s) = &self.inner.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl<E> From<E> for Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn from(error: E) -> Error {
        let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(error);
        let kind = match boxed.downcast_ref::<std::io::Error>() {
            Some(io) if io.kind() == std::io::ErrorKind::TimedOut => ErrorKind::Timeout,
            Some(io) => ErrorKind::Io(io.kind()),
            None => ErrorKind::Other,
        };
        Error {
            inner: Arc::new(Inner {
                kind,
                message: None,
                source: Some(boxed),
            }),
        }
    }
}

impl From<Error> for Box<dyn std::error::Error + Send + Sync + 'static> {
    fn from(error: Error) -> Self {
        Box::new(StdError(error))
    }
}

/// `asyncio::Error` seen through `std::error::Error` (see the module docs).
#[derive(Debug)]
struct StdError(Error);

impl fmt::Display for StdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for StdError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_keep_the_kind_and_the_source() {
        let e: Error = "x".parse::<u32>().unwrap_err().into();
        assert_eq!(e.kind(), &ErrorKind::Other);
        assert!(e.downcast_ref::<std::num::ParseIntError>().is_some());
        let io: Error = std::io::Error::from(std::io::ErrorKind::ConnectionReset).into();
        assert_eq!(
            io.kind(),
            &ErrorKind::Io(std::io::ErrorKind::ConnectionReset)
        );
    }

    #[test]
    fn clones_are_the_same_error() {
        let e = Error::msg("boom");
        let c = e.clone();
        assert!(e.same_as(&c));
        assert!(!e.same_as(&Error::msg("boom")));
        assert_eq!(c.to_string(), "boom");
    }

    #[test]
    fn cancelled_carries_its_message() {
        let e = Error::cancelled(Some("bye".into()));
        assert!(e.is_cancelled());
        assert_eq!(e.cancel_message(), Some("bye"));
        assert_eq!(e.to_string(), "cancelled: bye");
    }

    #[test]
    fn group_lists_every_error() {
        let g = Error::new(ErrorKind::Group(vec![Error::msg("a"), Error::msg("b")]));
        assert_eq!(g.group_errors().unwrap().len(), 2);
        assert_eq!(
            g.to_string(),
            "unhandled errors in a TaskGroup (2 sub-exceptions); [1] a; [2] b"
        );
    }
}

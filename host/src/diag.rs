//! The `aio` command's diagnostics on stderr: the `tracing` events of
//! aio-host and of this command, filtered as `RUST_LOG` filters.
//!
//! Without `AIO_LOG`, warnings are shown (`aio: warning: ...`), and with
//! `-v` also aio's `info` events: where compiled code came from, refused
//! capabilities, why `aio ps` cannot see a run. `AIO_LOG` takes
//! tracing-subscriber's `EnvFilter` directives and replaces that default:
//! `AIO_LOG=debug` adds compile-cache decisions, every capability use and
//! each instance's life (and other crates' debug events, wasmtime's among
//! them), `AIO_LOG=aio_host::cache=debug` only the cache's.
//!
//! The format is the command's own (one `aio:` line per event, the level
//! named for warnings, errors and debug output) rather than
//! tracing-subscriber's default, whose timestamps and colours would change
//! every message `aio` has always printed.

use std::fmt;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The variable that holds the filter.
pub(crate) const VARIABLE: &str = "AIO_LOG";

/// Installs the stderr subscriber: `AIO_LOG` if set (a bad one is reported
/// and the default used), else warnings, plus aio's `info` with `verbose`.
pub(crate) fn init(verbose: bool) {
    let default = if verbose {
        "warn,aio=info,aio_host=info"
    } else {
        "warn"
    };
    let (filter, bad) = match std::env::var(VARIABLE) {
        Ok(directives) if !directives.trim().is_empty() => {
            match EnvFilter::builder().parse(&directives) {
                Ok(filter) => (filter, None),
                Err(e) => (EnvFilter::new(default), Some(e)),
            }
        }
        _ => (EnvFilter::new(default), None),
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .event_format(Lines)
        .init();
    if let Some(e) = bad {
        tracing::warn!("{VARIABLE} ignored: {e}");
    }
}

/// `aio: MESSAGE k=v`, with `warning: `, `error: `, or `debug TARGET: `
/// (and `trace`) before the message, and the spans an event is in (an
/// instance's, a run's) before that.
struct Lines;

impl<S, N> FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        write!(writer, "aio: ")?;
        match *meta.level() {
            Level::ERROR => write!(writer, "error: ")?,
            Level::WARN => write!(writer, "warning: ")?,
            Level::INFO => {}
            Level::DEBUG => write!(writer, "debug {}: ", meta.target())?,
            Level::TRACE => write!(writer, "trace {}: ", meta.target())?,
        }
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                write!(writer, "{}", span.name())?;
                let extensions = span.extensions();
                if let Some(fields) =
                    extensions.get::<tracing_subscriber::fmt::FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    write!(writer, "{{{fields}}}")?;
                }
                write!(writer, ": ")?;
            }
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

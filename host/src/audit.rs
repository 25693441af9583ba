//! The audit log: one JSON line per capability a guest used or was refused.
//!
//! Every grant check reports an [`AuditEvent`](crate::AuditEvent) to the
//! run's [`AuditHook`](crate::AuditHook). [`AuditLog`] is the hook the `aio`
//! command installs for `--audit-log FILE`: it appends one line per event,
//!
//! ```text
//! {"time":"2026-07-01T12:00:00.123Z","capability":"process.spawn","target":"/bin/sh","resolved":"/usr/bin/dash","ran":"sh","decision":"allowed"}
//! {"time":"2026-07-01T12:00:00.130Z","capability":"process.spawn","target":"rm","resolved":"/usr/bin/rm","decision":"denied","grant":"--allow-run=rm"}
//! ```
//!
//! Capabilities are named `area.use` (`env.read`, `process.spawn`,
//! `process.shell`; the network adds `net.connect`, `net.listen`, ...),
//! `target` is what was asked for (a variable name, a program as the guest
//! named it, an address), and a denial names the grant that would have
//! allowed it. A program's lines add `resolved`, the file it resolves to
//! (symlinks followed), and once it started, `ran`: the grant it ran as,
//! as written in `--allow-run` (its `argv[0]`; see
//! [`RunGrant`](crate::process::RunGrant)).
//!
//! The REPL adds its own lines: `repl.start` (target: the plugin; the
//! analogue of Python's `cpython.run_stdin` audit event) and one
//! `repl.call` per call (target: the call in WAVE), with `outcome`: what it
//! returned (`returned "hello"`) or why it failed.
//!
//! Uses that strangers can cause in floods (datagrams dropped because their
//! sender is not granted, `net.receive`) are rate-limited: a line then adds
//! `"suppressed":N`, the number of such uses since the previous line that
//! got no line of their own.
//!
//! ```no_run
//! use aio_host::{audit::AuditLog, Grants};
//!
//! let log = AuditLog::create("audit.jsonl")?;
//! let grants = Grants::new().audit(move |event| log.record(event));
//! # let _ = grants;
//! # Ok::<(), std::io::Error>(())
//! ```

use serde::Serialize;
use std::fmt;
use std::fs::File;
use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// Something a guest was given or refused, reported to an [`AuditHook`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditEvent {
    /// An environment variable was passed to the guest (the name only: values
    /// may be secrets).
    EnvPassed {
        /// The variable's name.
        name: String,
    },
    /// A variable named in [`EnvGrant::Only`] is not set on the host (or is
    /// not UTF-8), so the guest does not see it.
    EnvNotSet {
        /// The variable's name.
        name: String,
    },
    /// A capability was used or refused (a program run, an address
    /// connected, ...); see [`crate::audit`].
    Capability(CapabilityUse),
}

impl AuditEvent {
    /// The event in the audit log's general form.
    pub fn capability_use(&self) -> CapabilityUse {
        match self {
            AuditEvent::EnvPassed { name } => CapabilityUse::allowed("env.read", name.clone()),
            AuditEvent::EnvNotSet { name } => {
                CapabilityUse::denied("env.read", name.clone(), format!("{name} set on the host"))
            }
            AuditEvent::Capability(used) => used.clone(),
        }
    }
}

impl fmt::Display for AuditEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditEvent::EnvPassed { name } => write!(f, "env: passed {name}"),
            AuditEvent::EnvNotSet { name } => {
                write!(f, "env: {name} is granted but not set on the host")
            }
            AuditEvent::Capability(used) => write!(f, "{used}"),
        }
    }
}

/// A callback that sees every [`AuditEvent`] of a run.
pub type AuditHook = Arc<dyn Fn(&AuditEvent) + Send + Sync>;

/// `hook`, wrapped so that every event is also [`trace`]d when tracing
/// is enabled. Decided when a run starts, so a run without a log or a
/// subscriber pays nothing.
pub(crate) fn traced(hook: Option<&AuditHook>) -> Option<AuditHook> {
    if !tracing::enabled!(tracing::Level::INFO) {
        return hook.cloned();
    }
    let hook = hook.cloned();
    Some(Arc::new(move |event: &AuditEvent| {
        trace(event);
        if let Some(hook) = &hook {
            hook(event);
        }
    }))
}

/// `event` as a `tracing` event (target `aio_host::audit`): a refusal at
/// `info` (what `aio -v` shows), an allowed use at `debug`
/// (`AIO_LOG=aio_host::audit=debug`).
pub(crate) fn trace(event: &AuditEvent) {
    match event {
        AuditEvent::Capability(CapabilityUse {
            decision: Decision::Denied { .. },
            ..
        })
        | AuditEvent::EnvNotSet { .. } => tracing::info!("{event}"),
        _ => tracing::debug!("{event}"),
    }
}

/// Whether a capability use was allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Granted; the use went ahead.
    Allowed,
    /// Refused; `grant` is the flag (or builder call) that would allow it.
    Denied {
        /// E.g. `--allow-run=/usr/bin/rm`.
        grant: String,
    },
}

/// One use (or refused use) of a capability, in the form the log writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapabilityUse {
    /// `area.use`: `env.read`, `process.spawn`, `process.shell`, ...
    pub capability: &'static str,
    /// What was asked for: a variable name, a program as named, an address.
    pub target: String,
    /// For a program: the file `target` resolves to, when it resolves.
    pub resolved: Option<String>,
    /// For a program that started: the grant it ran as (its `argv[0]`).
    pub ran: Option<String>,
    /// Allowed, or denied with the grant that would allow it.
    pub decision: Decision,
    /// How many more uses like it (the same capability, decision and
    /// kind) were left out of the log since the previous line for that
    /// capability: a rate limit keeps a flood of them from writing a line
    /// each (`net.receive`, see `crate::net`). Written only when not 0.
    pub suppressed: u64,
    /// How the use ended, where that is part of the record: the REPL's
    /// `repl.call` lines say what the call returned or why it failed.
    pub outcome: Option<String>,
}

impl CapabilityUse {
    /// An allowed use.
    pub fn allowed(capability: &'static str, target: impl Into<String>) -> Self {
        CapabilityUse {
            capability,
            target: target.into(),
            resolved: None,
            ran: None,
            decision: Decision::Allowed,
            suppressed: 0,
            outcome: None,
        }
    }

    /// A refused use, naming the grant that would allow it.
    pub fn denied(
        capability: &'static str,
        target: impl Into<String>,
        grant: impl Into<String>,
    ) -> Self {
        CapabilityUse {
            capability,
            target: target.into(),
            resolved: None,
            ran: None,
            decision: Decision::Denied {
                grant: grant.into(),
            },
            suppressed: 0,
            outcome: None,
        }
    }

    /// Adds the file the target resolves to (`None`: leaves it out).
    pub fn resolved(mut self, file: Option<String>) -> Self {
        self.resolved = file;
        self
    }

    /// Adds how the use ended.
    pub fn outcome(mut self, outcome: impl Into<String>) -> Self {
        self.outcome = Some(outcome.into());
        self
    }

    /// Adds what the target ran as.
    pub fn ran(mut self, ran: impl Into<String>) -> Self {
        self.ran = Some(ran.into());
        self
    }

    /// The JSON object (one line, no newline) for `time`.
    pub fn to_json(&self, time: SystemTime) -> String {
        let (decision, grant) = match &self.decision {
            Decision::Allowed => ("allowed", None),
            Decision::Denied { grant } => ("denied", Some(grant.as_str())),
        };
        let line = Line {
            time: &rfc3339(time),
            capability: self.capability,
            target: &self.target,
            resolved: self.resolved.as_deref(),
            ran: self.ran.as_deref(),
            decision,
            grant,
            suppressed: self.suppressed,
            outcome: self.outcome.as_deref(),
        };
        // Serializing strings and integers into a String cannot fail.
        serde_json::to_string(&line).expect("an audit line serializes")
    }
}

/// One line of the log, in the order its fields are written.
#[derive(Serialize)]
struct Line<'a> {
    time: &'a str,
    capability: &'a str,
    target: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    resolved: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ran: Option<&'a str>,
    decision: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    grant: Option<&'a str>,
    #[serde(skip_serializing_if = "is_zero")]
    suppressed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'a str>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl fmt::Display for CapabilityUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.decision {
            Decision::Allowed => "allowed",
            Decision::Denied { .. } => "denied",
        };
        write!(f, "{}: {verb} {}", self.capability, self.target)?;
        if let Some(resolved) = &self.resolved {
            write!(f, " ({resolved})")?;
        }
        if let Some(ran) = &self.ran {
            write!(f, " as {ran}")?;
        }
        match &self.decision {
            Decision::Allowed => {}
            Decision::Denied { grant } => write!(f, " (allow it with {grant})")?,
        }
        if self.suppressed > 0 {
            write!(f, " ({} more not logged)", self.suppressed)?;
        }
        if let Some(outcome) = &self.outcome {
            write!(f, ": {outcome}")?;
        }
        Ok(())
    }
}

/// An append-only JSON-lines audit file, shared by every run that records to
/// it. Write errors are reported once (a `tracing` error event, which `aio`
/// prints) and then ignored (an audit log must never stop a guest).
#[derive(Debug, Clone)]
pub struct AuditLog {
    file: Arc<Mutex<LogFile>>,
}

#[derive(Debug)]
struct LogFile {
    file: File,
    failed: bool,
}

impl AuditLog {
    /// Opens `path` for appending (creating it).
    pub fn create(path: impl AsRef<Path>) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(AuditLog {
            file: Arc::new(Mutex::new(LogFile {
                file,
                failed: false,
            })),
        })
    }

    /// Appends one line for `event`.
    pub fn record(&self, event: &crate::AuditEvent) {
        let line = event.capability_use().to_json(SystemTime::now()) + "\n";
        let mut log = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = log.file.write_all(line.as_bytes())
            && !log.failed
        {
            log.failed = true;
            tracing::error!("cannot write the audit log: {e}");
        }
    }
}

/// `time` as RFC 3339 in UTC with milliseconds.
///
/// Written here rather than taken from a date crate: it is this one
/// format, from `SystemTime`, and a dozen lines of well-known arithmetic
/// (tested below against known instants); no date crate is in the tree.
fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn json_line() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(
            CapabilityUse::denied("process.spawn", "/bin/r\"m", "--allow-run=/bin/r\"m").to_json(t),
            r#"{"time":"2023-11-14T22:13:20.123Z","capability":"process.spawn","target":"/bin/r\"m","decision":"denied","grant":"--allow-run=/bin/r\"m"}"#
        );
        assert_eq!(
            CapabilityUse::allowed("env.read", "HOME").to_json(UNIX_EPOCH),
            r#"{"time":"1970-01-01T00:00:00.000Z","capability":"env.read","target":"HOME","decision":"allowed"}"#
        );
        let spawn = CapabilityUse::allowed("process.spawn", "/bin/sh")
            .resolved(Some("/usr/bin/dash".into()))
            .ran("sh");
        assert_eq!(
            spawn.to_json(UNIX_EPOCH),
            r#"{"time":"1970-01-01T00:00:00.000Z","capability":"process.spawn","target":"/bin/sh","resolved":"/usr/bin/dash","ran":"sh","decision":"allowed"}"#
        );
        assert_eq!(
            spawn.to_string(),
            "process.spawn: allowed /bin/sh (/usr/bin/dash) as sh"
        );
        let mut flood =
            CapabilityUse::denied("net.receive", "10.0.0.9:5", "--allow-net=10.0.0.9:5");
        flood.suppressed = 41;
        assert_eq!(
            flood.to_json(UNIX_EPOCH),
            r#"{"time":"1970-01-01T00:00:00.000Z","capability":"net.receive","target":"10.0.0.9:5","decision":"denied","grant":"--allow-net=10.0.0.9:5","suppressed":41}"#
        );
        assert_eq!(
            flood.to_string(),
            "net.receive: denied 10.0.0.9:5 (allow it with --allow-net=10.0.0.9:5) (41 more not logged)"
        );
    }
}

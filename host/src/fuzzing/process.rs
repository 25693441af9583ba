//! The host side of `aio:host/process` and `aio:host/signals`, called
//! directly: the WIT glue (process/host.rs, signals/host.rs) only converts
//! types and calls these.
//!
//! The first byte picks one of:
//!
//! - **spawn**: a guest's spawn request (arguments, environment, working
//!   directory, redirections) checked and set up as for a real start, up
//!   to the fork, which is not done (a fork per input would make the
//!   fuzzer slow and leave it children to reap). Refused exactly when the
//!   request is unusable: a NUL byte, an empty or `=` environment name, or
//!   stdin or stdout sent "to stdout".
//! - **program**: which program a guest asks to run, against a fixed
//!   `--allow-run` grant. An allowed request runs the grant's own path,
//!   with the requested file name, and the file both resolve to.
//! - **signals**: host signals and the guest's `set-disposition` and
//!   `next` calls in any order, against a model of the rules in
//!   `crate::signals`: what is queued, in what order, and which signal
//!   ends the run. The grace period is an hour, so no deadline passes.
//!
//! `send-signal`'s number goes to kill(2) for the guest's own unreaped
//! child (EINVAL is the guest's `invalid-argument`); that needs a child,
//! so it is not here.

use crate::process::RunGrant;
use crate::process::child::{Redirect, SpawnError, SpawnRequest};
use crate::signals::{Disposition, RunSignals, Signal};
use std::path::Path;
use std::pin::pin;
use std::sync::LazyLock;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// Drives one of the three; see the module docs.
pub fn process_signals(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => spawn(rest),
        1 => program(&String::from_utf8_lossy(rest)),
        _ => signals(rest),
    }
}

/// A request from `0xff`-separated fields: redirections (one byte), then
/// `a` + an argument, `e` + NAME `0xfe` VALUE, or `c` + a working directory.
fn spawn(data: &[u8]) {
    let mut fields = data.split(|&b| b == 0xff);
    let redirects = fields.next().and_then(|f| f.first()).copied().unwrap_or(0);
    let redirect = |shift: u8| match (redirects >> shift) & 3 {
        0 => Redirect::Pipe,
        1 => Redirect::Null,
        2 => Redirect::Inherit,
        _ => Redirect::Stdout,
    };
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let mut request = SpawnRequest {
        program: "/bin/true".into(),
        arg0: "true".into(),
        args: Vec::new(),
        env: Vec::new(),
        cwd: None,
        stdin: redirect(0),
        stdout: redirect(2),
        stderr: redirect(4),
    };
    for field in fields {
        match field.split_first() {
            Some((b'a', arg)) => request.args.push(text(arg)),
            Some((b'e', var)) => {
                let mut parts = var.splitn(2, |&b| b == 0xfe);
                let name = text(parts.next().unwrap_or_default());
                request
                    .env
                    .push((name, text(parts.next().unwrap_or_default())));
            }
            Some((b'c', dir)) => request.cwd = Some(text(dir)),
            _ => request.arg0 = text(field),
        }
    }
    let nul = |s: &String| s.contains('\0');
    let usable = !nul(&request.arg0)
        && !request.args.iter().any(nul)
        && !request.cwd.as_ref().is_some_and(nul)
        && request
            .env
            .iter()
            .all(|(k, v)| !k.is_empty() && !k.contains(['=', '\0']) && !nul(v))
        && request.stdin != Redirect::Stdout
        && request.stdout != Redirect::Stdout;
    match crate::process::child::command(&request, 0) {
        Ok(_) => assert!(usable, "{request:?} was accepted"),
        Err(SpawnError::InvalidArgument(why)) => {
            assert!(!usable, "{request:?} was refused: {why}");
            super::assert_one_line(&why);
        }
        Err(other) => panic!("{request:?}: {other:?}"),
    }
}

/// The `--allow-run` grant the program requests are checked against: names
/// on `PATH`, a path that is a link on most systems (`/bin/sh` to `dash`),
/// and a path that does not exist.
static GRANT: LazyLock<RunGrant> = LazyLock::new(|| {
    let mut grant = RunGrant::default();
    grant.add(["true", "/bin/sh", "env", "./no-such-tool"]);
    grant
});

fn program(program: &str) {
    match GRANT.check(program) {
        Ok(allowed) => {
            let name = |path: &Path| path.file_name().map(ToOwned::to_owned);
            assert_eq!(name(&allowed.program), name(Path::new(program)));
            let resolved = std::fs::canonicalize(&allowed.program).ok();
            assert_eq!(resolved.as_ref(), Some(&allowed.file), "{program:?}");
        }
        // The refusal names the program as the guest wrote it, which is
        // the guest's own business: it may be more than one line.
        Err(refusal) => {
            let _ = refusal.to_string();
        }
    }
}

/// The documented rules, for the model.
#[derive(Default)]
struct Model {
    disposition: [Disposition; 6],
    graceful_seen: [bool; 6],
    pending: Vec<Signal>,
    ending: Option<Signal>,
}

impl Model {
    fn deliver(&mut self, signal: Signal, i: usize) {
        match self.disposition[i] {
            Disposition::Default if signal.ends_run_by_default() => self.end(signal),
            Disposition::Default => {}
            Disposition::Handle => self.queue(signal),
            Disposition::Graceful if self.graceful_seen[i] => self.end(signal),
            Disposition::Graceful => {
                self.graceful_seen[i] = true;
                self.queue(signal);
            }
        }
    }

    fn end(&mut self, signal: Signal) {
        self.ending.get_or_insert(signal);
    }

    /// Pending signals coalesce.
    fn queue(&mut self, signal: Signal) {
        if !self.pending.contains(&signal) {
            self.pending.push(signal);
        }
    }
}

/// Two bytes an operation: which (deliver, set-disposition, next, is the
/// run ending), and a signal and disposition.
fn signals(data: &[u8]) {
    let _tokio = super::tokio().enter();
    let mut cx = Context::from_waker(Waker::noop());
    let run = RunSignals::new(Duration::from_secs(3600));
    let mut model = Model::default();
    for op in data.chunks(2) {
        let arg = op.get(1).copied().unwrap_or(0);
        let i = usize::from(arg) % 6;
        let signal = Signal::ALL[i];
        match op[0] % 4 {
            0 => {
                run.deliver(signal);
                model.deliver(signal, i);
            }
            1 => {
                let disposition = [
                    Disposition::Default,
                    Disposition::Handle,
                    Disposition::Graceful,
                ][usize::from(arg / 6) % 3];
                run.set_disposition(signal, disposition);
                model.disposition[i] = disposition;
                if disposition != Disposition::Graceful {
                    model.graceful_seen[i] = false;
                }
            }
            2 => {
                let next = pin!(run.next()).poll(&mut cx);
                let expected = match model.pending.is_empty() {
                    true => Poll::Pending,
                    false => Poll::Ready(model.pending.remove(0)),
                };
                assert_eq!(next, expected);
            }
            _ => {
                let ended = pin!(run.until_ended()).poll(&mut cx);
                let ended = ended.map(|ending| {
                    super::assert_one_line(&ending.message);
                    ending.signal
                });
                assert_eq!(ended, model.ending.map_or(Poll::Pending, Poll::Ready));
            }
        }
    }
}

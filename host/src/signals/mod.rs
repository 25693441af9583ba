//! Signals: the host's SIGINT, SIGTERM, ... delivered to a running guest
//! (`aio:host/signals`).
//!
//! A [`Signals`] handle is what an embedder (or the `aio` command) sends
//! signals through; give it to a run with
//! [`RunOptions::signals`](crate::RunOptions::signals). Each run keeps its
//! own state: for each [`Signal`] the guest says how it wants it treated
//! (a [`Disposition`]), and awaits the ones it asked for.
//!
//! What a signal does:
//!
//! - [`Disposition::Default`] (nothing asked): SIGINT, SIGTERM, SIGHUP,
//!   SIGUSR1 and SIGUSR2 end the run at once (status 128 + the signal's
//!   number; children are killed and reaped as for any ending); SIGWINCH is
//!   ignored. These are the POSIX default actions.
//! - [`Disposition::Handle`] (the guest has a handler): every one is
//!   delivered to the guest, which decides what happens, as in asyncio;
//!   except that the operator keeps a way out: once a SIGINT or SIGTERM has
//!   been delivered to a handler, a SIGINT or SIGTERM that arrives the grace
//!   period ([`Signals::grace_period`]) or more after it, with the guest
//!   still running, ends the run (status 128 + that signal's number). A
//!   guest that handles SIGTERM to shut down cleanly has the grace period to
//!   do it; one that ignores it is stopped by the next SIGTERM after that.
//!   SIGHUP, SIGUSR1 and SIGUSR2 (reload, rotate logs, ...) never escalate.
//! - [`Disposition::Graceful`] (asyncio.run's own SIGINT behaviour: the
//!   guest cancels its main task and cleans up): the first one is delivered;
//!   a second one, or the guest still running after the grace period
//!   ([`Signals::grace_period`], 5 s by default), ends the run.
//!
//! ```no_run
//! use aio_host::{RunOptions, Runtime, Signal, Signals};
//!
//! # async fn demo() -> Result<(), aio_host::Error> {
//! let program = Runtime::new()?.load("server.wasm")?;
//! let signals = Signals::new();
//! let run = program.run(RunOptions::new().signals(&signals));
//! // ... later, from anywhere (it is `Send + Sync`):
//! signals.send(Signal::Terminate);
//! let outcome = run.await;
//! # Ok(()) }
//! ```
//!
//! [`Signals::forward_host_signals`] installs handlers for the host
//! process's own signals and sends each one on (what `aio run` does).

pub(crate) mod host;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::Notify;

/// The signals the host forwards to guests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Signal {
    /// SIGHUP.
    Hangup,
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGUSR1.
    User1,
    /// SIGUSR2.
    User2,
    /// SIGTERM.
    Terminate,
    /// SIGWINCH (terminal resized).
    WindowChange,
}

impl Signal {
    /// Every signal the host forwards.
    pub const ALL: [Signal; 6] = [
        Signal::Hangup,
        Signal::Interrupt,
        Signal::User1,
        Signal::User2,
        Signal::Terminate,
        Signal::WindowChange,
    ];

    /// Its number on this operating system (SIGINT is 2).
    pub fn number(self) -> i32 {
        match self {
            Signal::Hangup => libc::SIGHUP,
            Signal::Interrupt => libc::SIGINT,
            Signal::User1 => libc::SIGUSR1,
            Signal::User2 => libc::SIGUSR2,
            Signal::Terminate => libc::SIGTERM,
            Signal::WindowChange => libc::SIGWINCH,
        }
    }

    /// The signal with this number, if the host forwards it.
    pub fn from_number(number: i32) -> Option<Signal> {
        Signal::ALL.into_iter().find(|s| s.number() == number)
    }

    /// Its name: `"SIGINT"`, ...
    pub fn name(self) -> &'static str {
        match self {
            Signal::Hangup => "SIGHUP",
            Signal::Interrupt => "SIGINT",
            Signal::User1 => "SIGUSR1",
            Signal::User2 => "SIGUSR2",
            Signal::Terminate => "SIGTERM",
            Signal::WindowChange => "SIGWINCH",
        }
    }

    /// True if its default action ends the run (all but SIGWINCH).
    pub fn ends_run_by_default(self) -> bool {
        self != Signal::WindowChange
    }

    /// True for the signals an operator sends to stop a program (SIGINT,
    /// SIGTERM): a guest that handles them is stopped by a later one (see
    /// the [module docs](self)).
    pub fn asks_to_stop(self) -> bool {
        matches!(self, Signal::Interrupt | Signal::Terminate)
    }

    fn index(self) -> usize {
        Signal::ALL
            .iter()
            .position(|s| *s == self)
            .expect("every signal is in ALL")
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How a guest asked for a signal to be treated (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Disposition {
    /// The default action.
    #[default]
    Default,
    /// Delivered to the guest, every time.
    Handle,
    /// The first delivered; a second one or the grace period ends the run.
    Graceful,
}

/// The default grace period after a graceful signal.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(5);

/// Sends signals to the runs it was given to; cheap to clone, `Send + Sync`.
///
/// One handle may serve several runs at once (every live run gets each
/// signal) or runs one after another.
#[derive(Clone)]
pub struct Signals {
    runs: Arc<Mutex<Vec<Weak<RunSignals>>>>,
    grace: Duration,
}

impl Default for Signals {
    fn default() -> Self {
        Signals::new()
    }
}

impl std::fmt::Debug for Signals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signals")
            .field("runs", &self.live_runs())
            .field("grace", &self.grace)
            .finish()
    }
}

impl Signals {
    /// A handle attached to no run yet, with the default grace period.
    pub fn new() -> Signals {
        Signals {
            runs: Arc::new(Mutex::new(Vec::new())),
            grace: DEFAULT_GRACE_PERIOD,
        }
    }

    /// How long a guest may keep running after a graceful signal (asyncio's
    /// SIGINT: cancel main, clean up) before the run is ended. Applies to
    /// runs started after this call.
    pub fn grace_period(mut self, grace: Duration) -> Signals {
        self.grace = grace;
        self
    }

    /// Delivers `signal` to every run this handle was given to that is still
    /// going; returns how many runs got it.
    pub fn send(&self, signal: Signal) -> usize {
        let runs: Vec<Arc<RunSignals>> = {
            let mut runs = lock(&self.runs);
            runs.retain(|r| r.strong_count() > 0);
            runs.iter().filter_map(Weak::upgrade).collect()
        };
        for run in &runs {
            run.deliver(signal);
        }
        runs.len()
    }

    /// How many runs are attached and still going.
    pub fn live_runs(&self) -> usize {
        lock(&self.runs)
            .iter()
            .filter(|r| r.strong_count() > 0)
            .count()
    }

    /// Installs handlers for this process's SIGHUP, SIGINT, SIGTERM,
    /// SIGUSR1, SIGUSR2 and SIGWINCH and sends each one received to this
    /// handle's runs, until the returned guard is dropped. Needs a tokio
    /// runtime (the forwarding tasks run on it).
    ///
    /// The process keeps the handlers after the guard is dropped (tokio
    /// never uninstalls them): from then on these signals are ignored.
    pub fn forward_host_signals(&self) -> std::io::Result<Forwarding> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut tasks = Vec::new();
        for sig in Signal::ALL {
            let mut stream = signal(SignalKind::from_raw(sig.number()))?;
            let signals = self.clone();
            tasks.push(tokio::spawn(async move {
                while stream.recv().await.is_some() {
                    signals.send(sig);
                }
            }));
        }
        Ok(Forwarding { tasks })
    }

    /// The state of one new run, attached to this handle.
    pub(crate) fn attach(&self) -> Arc<RunSignals> {
        let run = Arc::new(RunSignals::new(self.grace));
        let mut runs = lock(&self.runs);
        runs.retain(|r| r.strong_count() > 0);
        runs.push(Arc::downgrade(&run));
        run
    }
}

/// Forwards the process's signals while it lives
/// ([`Signals::forward_host_signals`]).
#[derive(Debug)]
pub struct Forwarding {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Forwarding {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Nothing here panics while holding a lock; recover anyway.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Why the host ended a run because of a signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignalEnding {
    pub(crate) signal: Signal,
    pub(crate) message: String,
}

/// One run's signal state.
#[derive(Debug)]
pub(crate) struct RunSignals {
    state: Mutex<State>,
    /// Wakes `next` (a signal was queued).
    queued: Notify,
    /// Wakes `until_ended` (an ending or a grace deadline was set).
    changed: Notify,
    grace: Duration,
}

#[derive(Debug, Default)]
struct State {
    disposition: [Disposition; 6],
    pending: VecDeque<Signal>,
    /// Graceful signals delivered once already.
    graceful_seen: [bool; 6],
    /// The run must end (now) because of this.
    ending: Option<SignalEnding>,
    /// The run must end at this time unless it ended before.
    grace_deadline: Option<(tokio::time::Instant, SignalEnding)>,
    /// The first SIGINT or SIGTERM delivered to a guest's handler, and when.
    stop_handled: Option<(tokio::time::Instant, Signal)>,
}

impl RunSignals {
    pub(crate) fn new(grace: Duration) -> RunSignals {
        RunSignals {
            state: Mutex::new(State::default()),
            queued: Notify::new(),
            changed: Notify::new(),
            grace,
        }
    }

    /// A signal arrived for this run.
    pub(crate) fn deliver(&self, signal: Signal) {
        let i = signal.index();
        let mut state = lock(&self.state);
        match state.disposition[i] {
            Disposition::Default => {
                if signal.ends_run_by_default() && state.ending.is_none() {
                    let verb = if signal == Signal::Interrupt {
                        "interrupted"
                    } else {
                        "terminated"
                    };
                    state.ending = Some(SignalEnding {
                        signal,
                        message: format!("{verb} by {signal} (the guest does not handle it)"),
                    });
                    self.changed.notify_one();
                }
            }
            Disposition::Handle if signal.asks_to_stop() => {
                let now = tokio::time::Instant::now();
                match state.stop_handled {
                    Some((first, first_signal)) if now >= first + self.grace => {
                        if state.ending.is_none() {
                            state.ending = Some(SignalEnding {
                                signal,
                                message: format!(
                                    "stopped by {signal}: the guest handles {first_signal} but was still running {} after it",
                                    crate::units::format_duration(now - first)
                                ),
                            });
                            self.changed.notify_one();
                        }
                    }
                    Some(_) => self.queue(&mut state, signal),
                    None => {
                        state.stop_handled = Some((now, signal));
                        self.queue(&mut state, signal);
                    }
                }
            }
            Disposition::Handle => self.queue(&mut state, signal),
            Disposition::Graceful if state.graceful_seen[i] => {
                if state.ending.is_none() {
                    state.ending = Some(SignalEnding {
                        signal,
                        message: format!("{signal} again while the guest was shutting down"),
                    });
                    self.changed.notify_one();
                }
            }
            Disposition::Graceful => {
                state.graceful_seen[i] = true;
                if state.grace_deadline.is_none() {
                    let deadline = tokio::time::Instant::now() + self.grace;
                    let ending = SignalEnding {
                        signal,
                        message: format!(
                            "the guest was still running {} after {signal}",
                            crate::units::format_duration(self.grace)
                        ),
                    };
                    state.grace_deadline = Some((deadline, ending));
                    self.changed.notify_one();
                }
                self.queue(&mut state, signal);
            }
        }
    }

    fn queue(&self, state: &mut State, signal: Signal) {
        // Pending signals coalesce, as in POSIX: the queue stays small.
        if !state.pending.contains(&signal) {
            state.pending.push_back(signal);
        }
        self.queued.notify_one();
    }

    /// The guest's `set-disposition`.
    pub(crate) fn set_disposition(&self, signal: Signal, disposition: Disposition) {
        let i = signal.index();
        let mut state = lock(&self.state);
        state.disposition[i] = disposition;
        if disposition != Disposition::Graceful {
            // The guest has dealt with it (its loop ended, or it installed
            // a handler): no pending escalation.
            state.graceful_seen[i] = false;
            if matches!(&state.grace_deadline, Some((_, e)) if e.signal == signal) {
                state.grace_deadline = None;
                self.changed.notify_one();
            }
        }
    }

    /// The guest's `next`: the next delivered signal. Cancel-safe: a signal
    /// is taken off the queue only when this returns it.
    pub(crate) async fn next(&self) -> Signal {
        loop {
            let queued = self.queued.notified();
            if let Some(signal) = lock(&self.state).pending.pop_front() {
                return signal;
            }
            queued.await;
        }
    }

    /// Resolves when a signal must end the run.
    pub(crate) async fn until_ended(&self) -> SignalEnding {
        loop {
            let changed = self.changed.notified();
            let deadline = {
                let state = lock(&self.state);
                if let Some(ending) = &state.ending {
                    return ending.clone();
                }
                state.grace_deadline.clone()
            };
            match deadline {
                Some((at, ending)) => {
                    tokio::select! {
                        () = changed => {}
                        () = tokio::time::sleep_until(at) => return ending,
                    }
                }
                None => changed.await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ended_now(run: &RunSignals) -> Option<SignalEnding> {
        lock(&run.state).ending.clone()
    }

    #[test]
    fn numbers_and_names() {
        assert_eq!(Signal::Interrupt.number(), 2);
        assert_eq!(Signal::Terminate.number(), 15);
        assert_eq!(Signal::from_number(1), Some(Signal::Hangup));
        assert_eq!(Signal::from_number(9), None);
        for s in Signal::ALL {
            assert_eq!(Signal::from_number(s.number()), Some(s));
            assert_eq!(Signal::ALL[s.index()], s);
        }
        assert_eq!(Signal::WindowChange.to_string(), "SIGWINCH");
    }

    #[test]
    fn default_actions() {
        let run = RunSignals::new(DEFAULT_GRACE_PERIOD);
        run.deliver(Signal::WindowChange);
        assert_eq!(ended_now(&run), None);
        run.deliver(Signal::Terminate);
        let ending = ended_now(&run).expect("SIGTERM ends the run");
        assert_eq!(ending.signal, Signal::Terminate);
        // The first ending is the one reported.
        run.deliver(Signal::Interrupt);
        assert_eq!(ended_now(&run).unwrap().signal, Signal::Terminate);
        assert!(lock(&run.state).pending.is_empty());
    }

    #[test]
    fn handled_signals_queue_and_coalesce() {
        let run = RunSignals::new(DEFAULT_GRACE_PERIOD);
        run.set_disposition(Signal::Interrupt, Disposition::Handle);
        run.set_disposition(Signal::User1, Disposition::Handle);
        run.deliver(Signal::Interrupt);
        run.deliver(Signal::User1);
        run.deliver(Signal::Interrupt);
        assert_eq!(ended_now(&run), None);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(run.next()), Signal::Interrupt);
        assert_eq!(rt.block_on(run.next()), Signal::User1);
        assert!(lock(&run.state).pending.is_empty());
    }

    #[test]
    fn graceful_escalates_on_the_second_or_after_the_grace_period() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let grace = Duration::from_millis(100);
        rt.block_on(async {
            let run = RunSignals::new(grace);
            run.set_disposition(Signal::Interrupt, Disposition::Graceful);
            run.deliver(Signal::Interrupt);
            assert_eq!(run.next().await, Signal::Interrupt);
            assert_eq!(ended_now(&run), None);
            run.deliver(Signal::Interrupt);
            assert!(ended_now(&run).unwrap().message.contains("again"));

            let run = RunSignals::new(grace);
            run.set_disposition(Signal::Interrupt, Disposition::Graceful);
            run.deliver(Signal::Interrupt);
            let start = std::time::Instant::now();
            let ending = run.until_ended().await;
            assert!(start.elapsed() >= grace);
            assert!(
                ending.message.contains("still running 100ms after SIGINT"),
                "{}",
                ending.message
            );

            // Dealt with in time (the guest's loop ended and reset it): no
            // escalation.
            let run = RunSignals::new(grace);
            run.set_disposition(Signal::Interrupt, Disposition::Graceful);
            run.deliver(Signal::Interrupt);
            run.set_disposition(Signal::Interrupt, Disposition::Default);
            let waited = tokio::time::timeout(grace * 3, run.until_ended()).await;
            assert!(waited.is_err(), "ended: {waited:?}");
        });
    }

    #[test]
    fn a_handled_stop_signal_escalates_only_after_the_grace_period() {
        let grace = Duration::from_millis(100);
        let run = RunSignals::new(grace);
        for sig in Signal::ALL {
            run.set_disposition(sig, Disposition::Handle);
        }
        run.deliver(Signal::Terminate);
        run.deliver(Signal::Interrupt);
        assert_eq!(ended_now(&run), None, "within the grace period");
        std::thread::sleep(grace);
        // Reload-style signals never escalate.
        for _ in 0..3 {
            run.deliver(Signal::Hangup);
            run.deliver(Signal::User1);
        }
        assert_eq!(ended_now(&run), None);
        run.deliver(Signal::Interrupt);
        let ending = ended_now(&run).expect("a later SIGINT stops it");
        assert_eq!(ending.signal, Signal::Interrupt);
        assert!(
            ending
                .message
                .starts_with("stopped by SIGINT: the guest handles SIGTERM but was still running"),
            "{}",
            ending.message
        );
        let pending: Vec<Signal> = lock(&run.state).pending.iter().copied().collect();
        assert_eq!(
            pending,
            [
                Signal::Terminate,
                Signal::Interrupt,
                Signal::Hangup,
                Signal::User1
            ]
        );
    }

    #[test]
    fn a_handle_reaches_every_live_run() {
        let signals = Signals::new();
        let a = signals.attach();
        let b = signals.attach();
        assert_eq!(signals.send(Signal::Terminate), 2);
        assert!(ended_now(&a).is_some() && ended_now(&b).is_some());
        drop(a);
        assert_eq!(signals.live_runs(), 1);
        drop(b);
        assert_eq!(signals.send(Signal::Terminate), 0);
    }
}

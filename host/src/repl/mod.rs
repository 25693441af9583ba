//! `aio repl`: asyncio's REPL (`python -m asyncio`) for a sandboxed plugin.
//!
//! One instance lives for the session; each line calls one of its exports
//! (WAVE syntax, `await` optional) and prints the result in WAVE. The
//! instance's loop runs on between lines, so tasks a call started go on in
//! the background. A trailing `&` starts a call without waiting for it
//! (its result is printed when it comes); Ctrl-C cancels the call being
//! awaited with asyncio cancellation and waits for the guest's cleanup; a
//! second Ctrl-C stops waiting. docs/repl.md is the user's guide.
//!
//! This module is part of the `aio` command, not of the library: it only
//! uses the library's public plugin API.

mod editor;
mod line;

use aio_host::audit::{AuditLog, CapabilityUse};
use aio_host::plugin::{CallOptions, CancelToken, InstanceOptions, format_call, format_results};
use aio_host::{AuditEvent, Error, ErrorKind, Instance, Plugin};
use editor::{Editor, Printer, Read};
use line::{COMMANDS, Command, Input};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::signal::unix::{SignalKind, signal};

pub(crate) use editor::default_history;

/// What `aio repl` was given.
pub(crate) struct Setup {
    pub(crate) plugin: Plugin,
    /// Whether it is the built-in playground.
    pub(crate) playground: bool,
    pub(crate) options: InstanceOptions,
    pub(crate) audit: Option<AuditLog>,
    pub(crate) history: Option<PathBuf>,
}

/// Runs the REPL until `.exit`, Ctrl-D or SIGTERM/SIGHUP; returns the exit
/// status.
pub(crate) async fn run(setup: Setup) -> Result<u8, Error> {
    let Setup {
        plugin,
        playground,
        options,
        audit,
        history,
    } = setup;
    let mut names: Vec<String> = plugin
        .exports()
        .iter()
        .map(|e| e.func().to_owned())
        .collect();
    names.sort();
    names.dedup();
    // Put the terminal back as it was however the session ends: SIGTERM
    // may come while the editor holds it in raw mode.
    let _terminal = editor::SavedTerminal::save();
    let mut editor =
        Editor::start(names, history).map_err(|e| Error::from(std::io::Error::other(e)))?;
    // From now on Ctrl-C (SIGINT) cancels the awaited call instead of
    // ending aio; SIGTERM and SIGHUP end the session cleanly.
    let mut interrupts;
    let _ctrl_c_is_ours = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    // `aio ps PID` asks whichever instance is live.
    let published: Published = Arc::new(Mutex::new(None));
    let asked = published.clone();
    let _listening = crate::ps::listen(Arc::new(move || {
        let instance = asked.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Box::pin(async move {
            match instance {
                Some(instance) => instance.task_table().await.map(|t| vec![t]),
                None => Err(Error::new(
                    ErrorKind::Closed,
                    "the REPL has no live instance (.restart makes one)",
                )),
            }
        })
    }));
    let mut session = Session {
        out: editor.printer(),
        published,
        instance: None,
        plugin,
        options,
        audit,
        jobs: Arc::new(Mutex::new(BTreeMap::new())),
        next_job: 1,
    };
    session.record(CapabilityUse::allowed("repl.start", session.plugin.name()));
    session.start().await;
    banner(&session.plugin, playground);
    let status = loop {
        let read = tokio::select! {
            read = editor.read(">>> ") => read,
            _ = terminate.recv() => break 143,
            _ = hangup.recv() => break 129,
        };
        match read {
            Read::Line(text) => match line::parse(&text) {
                Ok(Input::Nothing) => {}
                Ok(Input::Call { expr, background }) => {
                    // Signals that came while at the prompt are not for
                    // this call.
                    interrupts = signal(SignalKind::interrupt())?;
                    if background {
                        session.start_background(&expr);
                    } else {
                        let ended = session
                            .call(&expr, &mut interrupts, &mut terminate, &mut hangup)
                            .await;
                        if let Some(status) = ended {
                            break status;
                        }
                    }
                }
                Ok(Input::Command(Command::Exit)) => break 0,
                Ok(Input::Command(command)) => session.command(command).await,
                Err(why) => eprintln!("error: {why}"),
            },
            // Python's REPL drops the line on Ctrl-C and prompts again.
            Read::Interrupted => {}
            Read::Eof => break 0,
            Read::Failed(why) => {
                eprintln!("aio: {why}");
                break 70;
            }
        }
    };
    session.close().await;
    Ok(status)
}

fn banner(plugin: &Plugin, playground: bool) {
    let what = if playground {
        "the playground".to_owned()
    } else {
        plugin.name().to_owned()
    };
    println!(
        "aio repl: {what}, {} export(s). A line is a call, e.g. {}; `await` is optional.",
        plugin.exports().len(),
        example_call(plugin, playground)
    );
    println!(
        "End a line with & to run it in the background. .help for more, .exit or Ctrl-D to leave."
    );
}

fn example_call(plugin: &Plugin, playground: bool) -> String {
    if playground {
        return "await sleep(10, \"hello\")".into();
    }
    match plugin.exports().first() {
        Some(export) => format!("{}(...)", export.func()),
        None => "export(args)".into(),
    }
}

/// A background call in flight.
struct Job {
    call: String,
    started: Instant,
    token: CancelToken,
}

type Jobs = Arc<Mutex<BTreeMap<u64, Job>>>;

/// The instance `aio ps` sees.
type Published = Arc<Mutex<Option<Instance>>>;

struct Session {
    plugin: Plugin,
    options: InstanceOptions,
    instance: Option<Instance>,
    published: Published,
    audit: Option<AuditLog>,
    out: Printer,
    jobs: Jobs,
    next_job: u64,
}

impl Session {
    /// Instantiates the plugin (at start and on `.restart`).
    async fn start(&mut self) {
        match self.plugin.instantiate(self.options.clone()).await {
            Ok(instance) => {
                *self.published.lock().unwrap_or_else(|e| e.into_inner()) = Some(instance.clone());
                self.instance = Some(instance);
            }
            Err(e) => {
                eprintln!("error: cannot instantiate {}: {e}", self.plugin.name());
                eprintln!("(fix the cause, then .restart)");
                self.instance = None;
            }
        }
    }

    async fn close(&mut self) {
        for job in lock(&self.jobs).values() {
            job.token.cancel();
        }
        self.published
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(instance) = self.instance.take() {
            instance.close().await;
        }
    }

    fn record(&self, event: CapabilityUse) {
        if let Some(log) = &self.audit {
            log.record(&AuditEvent::Capability(event));
        }
    }

    /// The live instance, or a line saying why there is none.
    fn live(&self) -> Option<Instance> {
        match &self.instance {
            Some(instance) => match instance.error() {
                None => Some(instance.clone()),
                Some(e) => {
                    eprintln!("error: the instance is dead ({e}); .restart starts a new one");
                    None
                }
            },
            None => {
                eprintln!("error: no instance; .restart starts one");
                None
            }
        }
    }

    /// Parses `expr` against the plugin's exports: the export's shortest
    /// unambiguous name and the arguments, or a line saying what is wrong.
    fn parse(&self, expr: &str) -> Option<(String, Vec<wasmtime::component::Val>)> {
        match self.plugin.parse_call(expr) {
            Ok((export, params)) => Some((name_of(&self.plugin, &export.name()), params)),
            Err(e) => {
                eprintln!("error: {e}");
                None
            }
        }
    }

    /// An awaited call; Ctrl-C cancels it. `Some(status)`: the session
    /// must end (SIGTERM or SIGHUP came).
    async fn call(
        &mut self,
        expr: &str,
        interrupts: &mut tokio::signal::unix::Signal,
        terminate: &mut tokio::signal::unix::Signal,
        hangup: &mut tokio::signal::unix::Signal,
    ) -> Option<u8> {
        let (name, params) = self.parse(expr)?;
        let instance = self.live()?;
        let shown = format_call(&name, &params);
        let token = CancelToken::new();
        let options = CallOptions::new().cancel_token(&token);
        let call = instance.call_with(&name, &params, options);
        let mut call = std::pin::pin!(call);
        let mut cancelling = false;
        let result = loop {
            tokio::select! {
                result = &mut call => break result,
                _ = interrupts.recv() => {
                    if cancelling {
                        break Err(Error::from(std::io::Error::other(format!(
                            "{shown}: stopped waiting for its cleanup; it runs on in the instance"
                        ))));
                    }
                    cancelling = true;
                    token.cancel();
                    eprintln!("^C: cancelling {shown} (Ctrl-C again to stop waiting for its cleanup)");
                }
                _ = terminate.recv() => return Some(143),
                _ = hangup.recv() => return Some(129),
            }
        };
        self.report(&shown, &result, &instance);
        None
    }

    /// Starts a call in the background and prints its number.
    fn start_background(&mut self, expr: &str) {
        let Some((name, params)) = self.parse(expr) else {
            return;
        };
        let Some(instance) = self.live() else {
            return;
        };
        let id = self.next_job;
        self.next_job += 1;
        let shown = format_call(&name, &params);
        let token = CancelToken::new();
        lock(&self.jobs).insert(
            id,
            Job {
                call: shown.clone(),
                started: Instant::now(),
                token: token.clone(),
            },
        );
        println!("[{id}] started {shown}");
        let jobs = self.jobs.clone();
        let out = self.out.clone();
        let audit = self.audit.clone();
        tokio::spawn(async move {
            let options = CallOptions::new().cancel_token(&token);
            let result = instance.call_with(&name, &params, options).await;
            lock(&jobs).remove(&id);
            let line = outcome_line(&result);
            out.print(format!("[{id}] {shown} -> {line}"));
            if let Err(e) = &result
                && instance.error().is_some()
            {
                out.print(died_line(e));
            }
            if let Some(log) = audit {
                log.record(&AuditEvent::Capability(call_event(&shown, &result)));
            }
        });
    }

    /// Prints a call's outcome and records it.
    fn report(
        &self,
        shown: &str,
        result: &Result<Vec<wasmtime::component::Val>, Error>,
        instance: &Instance,
    ) {
        match result {
            Ok(values) if values.is_empty() => {}
            Ok(values) => println!("{}", format_results(values)),
            Err(e) => {
                eprintln!("error: {e}");
                if instance.error().is_some() {
                    eprintln!("{}", died_line(e));
                }
            }
        }
        self.record(call_event(shown, result));
    }

    async fn command(&mut self, command: Command) {
        match command {
            Command::Help => help(&self.plugin),
            Command::Exports => {
                for export in self.plugin.exports() {
                    println!("{}", export.signature());
                }
            }
            Command::Tasks => self.tasks().await,
            Command::Cancel(id) => match lock(&self.jobs).get(&id) {
                Some(job) => {
                    job.token.cancel();
                    println!("[{id}] cancelling {}", job.call);
                }
                None => eprintln!("error: no background call [{id}] in flight (see .tasks)"),
            },
            Command::Restart => {
                self.close().await;
                self.start().await;
                if self.instance.is_some() {
                    println!("a new instance of {} is running", self.plugin.name());
                }
            }
            Command::Exit => {}
        }
    }

    async fn tasks(&self) {
        {
            let jobs = lock(&self.jobs);
            if jobs.is_empty() {
                println!("no background calls in flight");
            } else {
                println!("background calls in flight:");
                for (id, job) in jobs.iter() {
                    println!(
                        "  [{id}] {} ({:.1} s)",
                        job.call,
                        job.started.elapsed().as_secs_f64()
                    );
                }
            }
        }
        let Some(instance) = self.live() else {
            return;
        };
        // The tree of who awaits whom; a plugin of an older SDK has only
        // the flat dump.
        match instance.task_table().await {
            Ok(tasks) => {
                println!("the guest's tasks ({}):", tasks.len());
                print!("{}", aio_host::introspect::format_pstree(&tasks));
                return;
            }
            Err(e) if e.kind() == ErrorKind::NoSuchExport => {}
            Err(e) => {
                eprintln!("error: {e}");
                return;
            }
        }
        match instance.task_dump().await {
            Ok(dump) => print!("the guest's tasks: {dump}"),
            Err(e) if e.kind() == ErrorKind::NoSuchExport => {
                println!("(no task dump: the plugin was not built with the asyncio SDK)")
            }
            Err(e) => eprintln!("error: {e}"),
        }
    }
}

fn help(plugin: &Plugin) {
    println!("A line is a call of an export, arguments in WAVE (WebAssembly Value Encoding):");
    println!("  await sleep(10, \"hello\")   strings in quotes, lists [1, 2], records {{a: 1}},");
    println!("                             options some(x)/none, results ok(x)/err(e)");
    println!(
        "  sleep(5000, \"later\") &     in the background: prints [N] now, the result when it comes"
    );
    println!("Ctrl-C cancels the awaited call (asyncio cancellation; its cleanup runs).");
    println!("Commands:");
    for (command, what) in COMMANDS {
        println!("  {command:<12} {what}");
    }
    println!("Exports of {}:", plugin.name());
    for export in plugin.exports() {
        println!("  {}", export.signature());
    }
}

/// The short name a user typed, for messages: the export's own name when
/// it is unambiguous, else its full name.
fn name_of(plugin: &Plugin, full: &str) -> String {
    let short = plugin
        .exports()
        .iter()
        .find(|e| e.name() == full)
        .map(|e| e.func().to_owned());
    match short {
        Some(short) if plugin.export(&short).is_ok() => short,
        _ => full.to_owned(),
    }
}

fn outcome_line(result: &Result<Vec<wasmtime::component::Val>, Error>) -> String {
    match result {
        Ok(values) if values.is_empty() => "done".into(),
        Ok(values) => format_results(values),
        Err(e) => format!("error: {e}"),
    }
}

fn died_line(e: &Error) -> String {
    format!(
        "the instance died ({}); .restart starts a new one",
        e.kind()
    )
}

fn call_event(shown: &str, result: &Result<Vec<wasmtime::component::Val>, Error>) -> CapabilityUse {
    let outcome = match result {
        Ok(values) => format!("returned {}", format_results(values)),
        Err(e) => format!("failed ({}): {e}", e.kind()),
    };
    CapabilityUse::allowed("repl.call", shown).outcome(outcome)
}

fn lock(jobs: &Jobs) -> std::sync::MutexGuard<'_, BTreeMap<u64, Job>> {
    jobs.lock().unwrap_or_else(|e| e.into_inner())
}

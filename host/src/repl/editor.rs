//! The line editor: rustyline on a thread of its own, so the REPL's tokio
//! loop (and the instance's calls) keep running while a line is typed.
//!
//! Editing and history are rustyline's; completion offers the REPL's
//! commands and the plugin's export names. History is kept in a file and
//! appended after every line, so a REPL that is killed loses nothing.

use super::line;
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::FileHistory;
use rustyline::validate::Validator;
use rustyline::{Config, Context, Helper};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc as std_mpsc};
use tokio::sync::mpsc;

/// What reading one line gave.
#[derive(Debug)]
pub(crate) enum Read {
    Line(String),
    /// Ctrl-C at the prompt.
    Interrupted,
    /// Ctrl-D, or the end of a piped stdin.
    Eof,
    /// The terminal failed; the REPL ends with this message.
    Failed(String),
}

/// The editor's thread, driven from async code.
pub(crate) struct Editor {
    prompts: std_mpsc::Sender<String>,
    lines: mpsc::UnboundedReceiver<Read>,
    printer: Printer,
}

/// Prints a line without breaking the one being typed: above the prompt
/// while the editor reads, plainly otherwise. Cloned into background calls.
#[derive(Clone)]
pub(crate) struct Printer {
    reading: Arc<AtomicBool>,
    external: Arc<Mutex<Option<Box<dyn rustyline::ExternalPrinter + Send>>>>,
}

impl Printer {
    /// Prints `text` (one or more lines) on stdout.
    pub(crate) fn print(&self, text: String) {
        if self.reading.load(Ordering::SeqCst) {
            let mut external = self.external.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(printer) = external.as_mut()
                && printer.print(format!("{text}\n")).is_ok()
            {
                return;
            }
        }
        println!("{text}");
    }
}

impl Editor {
    /// Starts the editor's thread; `names` are completed after the prompt.
    pub(crate) fn start(names: Vec<String>, history: Option<PathBuf>) -> Result<Editor, String> {
        let config = Config::builder()
            .auto_add_history(false)
            .max_history_size(10_000)
            .map_err(|e| e.to_string())?
            .history_ignore_dups(true)
            .map_err(|e| e.to_string())?
            .build();
        let mut editor: rustyline::Editor<Completion, FileHistory> =
            rustyline::Editor::with_config(config)
                .map_err(|e| format!("cannot start the line editor: {e}"))?;
        editor.set_helper(Some(Completion { names }));
        if let Some(path) = &history {
            prepare_history(path)?;
            if path.exists() {
                editor
                    .load_history(path)
                    .map_err(|e| format!("cannot read the REPL history {}: {e}", path.display()))?;
            }
        }
        let external = editor
            .create_external_printer()
            .ok()
            .map(|p| Box::new(p) as Box<dyn rustyline::ExternalPrinter + Send>);
        let printer = Printer {
            reading: Arc::new(AtomicBool::new(false)),
            external: Arc::new(Mutex::new(external)),
        };
        let (prompts, prompt_rx) = std_mpsc::channel::<String>();
        let (line_tx, lines) = mpsc::unbounded_channel();
        let reading = printer.reading.clone();
        std::thread::Builder::new()
            .name("aio-repl-editor".into())
            .spawn(move || {
                for prompt in prompt_rx {
                    reading.store(true, Ordering::SeqCst);
                    let read = editor.readline(&prompt);
                    reading.store(false, Ordering::SeqCst);
                    let read = match read {
                        Ok(text) => {
                            remember(&mut editor, history.as_ref(), &text);
                            Read::Line(text)
                        }
                        Err(ReadlineError::Interrupted) => Read::Interrupted,
                        Err(ReadlineError::Eof) => Read::Eof,
                        Err(e) => Read::Failed(format!("cannot read a line: {e}")),
                    };
                    if line_tx.send(read).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| format!("cannot start the line editor's thread: {e}"))?;
        Ok(Editor {
            prompts,
            lines,
            printer,
        })
    }

    /// Reads one line after `prompt`.
    pub(crate) async fn read(&mut self, prompt: &str) -> Read {
        if self.prompts.send(prompt.to_owned()).is_err() {
            return Read::Failed("the line editor stopped".into());
        }
        self.lines
            .recv()
            .await
            .unwrap_or_else(|| Read::Failed("the line editor stopped".into()))
    }

    pub(crate) fn printer(&self) -> Printer {
        self.printer.clone()
    }
}

/// Adds a typed line to the history and appends it to the file (a failure
/// to write is said once, and history goes on in memory).
fn remember(
    editor: &mut rustyline::Editor<Completion, FileHistory>,
    file: Option<&PathBuf>,
    text: &str,
) {
    if text.trim().is_empty() {
        return;
    }
    if !editor.add_history_entry(text).unwrap_or(false) {
        return;
    }
    if let Some(path) = file
        && let Err(e) = editor.append_history(path)
    {
        eprintln!("aio: cannot write the REPL history {}: {e}", path.display());
    }
}

/// Makes the history file's directory (owner-only: history may hold
/// arguments that are secrets).
fn prepare_history(path: &std::path::Path) -> Result<(), String> {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    if dir.is_dir() {
        return Ok(());
    }
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| {
            format!(
                "cannot create the REPL history's directory {}: {e}",
                dir.display()
            )
        })
}

/// The default history file: `$XDG_STATE_HOME/aio/repl_history`, else
/// `~/.local/state/aio/repl_history`; none without either.
pub(crate) fn default_history() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| PathBuf::from(home).join(".local/state"))
        })?;
    Some(state.join("aio").join("repl_history"))
}

/// Completes commands and export names (see [`line::complete`]).
struct Completion {
    names: Vec<String>,
}

impl Completer for Completion {
    type Candidate = Pair;

    fn complete(
        &self,
        text: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, found) = line::complete(&text[..pos], self.names.iter().map(String::as_str));
        let pairs = found
            .into_iter()
            .map(|c| Pair {
                display: c.clone(),
                replacement: c,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for Completion {
    type Hint = String;
}
impl Highlighter for Completion {}
impl Validator for Completion {}
impl Helper for Completion {}

/// The terminal's settings when the REPL started, restored on drop (the
/// editor's thread may be inside `readline`, in raw mode, when the
/// session ends on a signal).
pub(crate) struct SavedTerminal(Option<libc::termios>);

impl SavedTerminal {
    /// Saves stdin's settings, if it is a terminal.
    pub(crate) fn save() -> SavedTerminal {
        let mut saved = std::mem::MaybeUninit::<libc::termios>::uninit();
        // SAFETY: `tcgetattr` writes a `termios` through a valid pointer and
        // reports failure (not a terminal) with -1, when it is left unread.
        let ok = unsafe { libc::tcgetattr(libc::STDIN_FILENO, saved.as_mut_ptr()) } == 0;
        // SAFETY: initialised by the successful call above.
        SavedTerminal(ok.then(|| unsafe { saved.assume_init() }))
    }
}

impl Drop for SavedTerminal {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            // SAFETY: restores settings read from this same descriptor.
            unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, saved) };
        }
    }
}

//! What one REPL line asks for: a call (awaited, or started in the
//! background with a trailing `&`), a dot command, or nothing.

/// One line, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Input {
    /// A blank line (or only a comment).
    Nothing,
    /// A call of an export in WAVE syntax, `await` already removed.
    Call {
        /// `greet("world")`.
        expr: String,
        /// Written with a trailing `&`: start it and go on.
        background: bool,
    },
    /// A dot command.
    Command(Command),
}

/// The REPL's own commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    Help,
    Exports,
    Tasks,
    /// `.cancel N`: cancel background call N.
    Cancel(u64),
    Restart,
    Exit,
}

/// The commands with their help lines, for `.help` and completion.
pub(crate) const COMMANDS: &[(&str, &str)] = &[
    (".help", "this help"),
    (".exports", "the plugin's exports with their WIT signatures"),
    (".tasks", "calls in flight and the guest's asyncio tasks"),
    (
        ".cancel N",
        "cancel background call N (asyncio cancellation)",
    ),
    (
        ".restart",
        "a new instance (after a trap, or to start afresh)",
    ),
    (".exit", "leave (Ctrl-D too)"),
];

/// Parses one line (see the module docs); `Err` is a one-line message.
pub(crate) fn parse(line: &str) -> Result<Input, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with("//") {
        return Ok(Input::Nothing);
    }
    if let Some(command) = line.strip_prefix('.') {
        return parse_command(command).map(Input::Command);
    }
    let (line, background) = match line.strip_suffix('&') {
        Some(rest) => (rest.trim_end(), true),
        None => (line, false),
    };
    let expr = match line.strip_prefix("await") {
        Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => rest.trim_start(),
        _ => line,
    };
    if expr.is_empty() {
        return Err("nothing to call: write EXPORT(ARGS...), e.g. greet(\"world\")".into());
    }
    Ok(Input::Call {
        expr: expr.to_owned(),
        background,
    })
}

fn parse_command(text: &str) -> Result<Command, String> {
    let mut words = text.split_whitespace();
    let name = words.next().unwrap_or("");
    let arg = words.next();
    if let Some(extra) = words.next() {
        return Err(format!(".{name}: unexpected `{extra}`"));
    }
    let no_arg = |command: Command| match arg {
        None => Ok(command),
        Some(arg) => Err(format!(".{name} takes no argument (got `{arg}`)")),
    };
    match name {
        "help" | "h" | "?" => no_arg(Command::Help),
        "exports" => no_arg(Command::Exports),
        "tasks" => no_arg(Command::Tasks),
        "restart" => no_arg(Command::Restart),
        "exit" | "quit" | "q" => no_arg(Command::Exit),
        "cancel" => match arg.map(|a| a.trim_start_matches('#').parse::<u64>()) {
            Some(Ok(id)) => Ok(Command::Cancel(id)),
            Some(Err(_)) | None => {
                Err(".cancel needs the number of a background call (see .tasks)".into())
            }
        },
        _ => Err(format!("unknown command .{name} (.help lists them)")),
    }
}

/// Completion candidates for `line` up to the cursor: the commands after a
/// leading `.`, else export names for the word being typed. Returns where
/// the completed word starts, and the candidates.
pub(crate) fn complete<'a>(
    line: &str,
    names: impl Iterator<Item = &'a str>,
) -> (usize, Vec<String>) {
    let trimmed = line.trim_start();
    let lead = line.len() - trimmed.len();
    if trimmed.starts_with('.') {
        let found = COMMANDS
            .iter()
            .map(|(c, _)| c.split(' ').next().unwrap_or(c))
            .filter(|c| c.starts_with(trimmed))
            .map(str::to_owned)
            .collect();
        return (lead, found);
    }
    // Only the call's name is completed: the word before any `(`.
    if trimmed.contains('(') {
        return (line.len(), Vec::new());
    }
    let start = line.rfind(|c: char| c.is_whitespace()).map_or(0, |i| i + 1);
    let word = &line[start..];
    let mut found: Vec<String> = names
        .filter(|n| n.starts_with(word))
        .map(|n| format!("{n}("))
        .collect();
    found.sort();
    found.dedup();
    (start, found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(expr: &str, background: bool) -> Input {
        Input::Call {
            expr: expr.into(),
            background,
        }
    }

    #[test]
    fn calls_with_and_without_await_and_in_the_background() {
        assert_eq!(parse("greet(\"x\")"), Ok(call("greet(\"x\")", false)));
        assert_eq!(
            parse("  await sleep(10, \"hello\")  "),
            Ok(call("sleep(10, \"hello\")", false))
        );
        assert_eq!(parse("ticker(100) &"), Ok(call("ticker(100)", true)));
        assert_eq!(parse("await ticker(100)&"), Ok(call("ticker(100)", true)));
        // A function named awaitable is not `await` + `able()`.
        assert_eq!(parse("awaitable()"), Ok(call("awaitable()", false)));
        assert_eq!(parse(""), Ok(Input::Nothing));
        assert_eq!(parse("   // a note"), Ok(Input::Nothing));
        assert!(parse("await").unwrap_err().contains("nothing to call"));
        assert!(parse("&").unwrap_err().contains("nothing to call"));
        assert!(parse("await  &").unwrap_err().contains("nothing to call"));
    }

    #[test]
    fn commands_and_their_errors() {
        assert_eq!(parse(".help"), Ok(Input::Command(Command::Help)));
        assert_eq!(parse(" .exit "), Ok(Input::Command(Command::Exit)));
        assert_eq!(parse(".cancel 3"), Ok(Input::Command(Command::Cancel(3))));
        assert_eq!(parse(".cancel #3"), Ok(Input::Command(Command::Cancel(3))));
        assert!(parse(".cancel").unwrap_err().contains("number"));
        assert!(parse(".cancel x").unwrap_err().contains("number"));
        assert!(parse(".tasks now").unwrap_err().contains("no argument"));
        assert!(
            parse(".bogus")
                .unwrap_err()
                .contains("unknown command .bogus")
        );
    }

    #[test]
    fn completion_of_commands_and_export_names() {
        let names = ["sleep", "gather", "greet", "api.greet"];
        let (at, found) = complete(".ta", [].into_iter());
        assert_eq!((at, found), (0, vec![".tasks".to_string()]));
        let (at, found) = complete("g", names.iter().copied());
        assert_eq!((at, found), (0, vec!["gather(".into(), "greet(".into()]));
        let (at, found) = complete("await sl", names.iter().copied());
        assert_eq!((at, found), (6, vec!["sleep(".into()]));
        let (_, found) = complete("sleep(1", names.iter().copied());
        assert!(found.is_empty());
    }
}

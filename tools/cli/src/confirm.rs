//! The `yes` prompt before a change that cannot be taken back casually.
//!
//! The answer is read from the controlling terminal (`/dev/tty`), not stdin: in a pipeline
//! stdin carries the record. Without a terminal there is nobody to ask, and the caller must
//! refuse unless the operator said yes in advance (`--yes`, `RESTORE_SKIP_CONFIRM=1`).

use std::io::{BufRead, BufReader, IsTerminal, Write};

/// The variable the runbook's drills set to skip the prompt.
pub const SKIP_CONFIRM_VAR: &str = "RESTORE_SKIP_CONFIRM";

/// What the operator said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    /// Said in advance: `--yes` or `RESTORE_SKIP_CONFIRM=1`; names which.
    Given(&'static str),
    /// Typed `yes` at the prompt.
    Typed,
    /// Typed something else (or nothing); holds what.
    Refused(String),
    /// No terminal to ask on, and no advance yes.
    NoTerminal,
}

impl Confirmation {
    pub fn is_yes(&self) -> bool {
        matches!(self, Self::Given(_) | Self::Typed)
    }
}

/// Whether `RESTORE_SKIP_CONFIRM` says yes: `1`, `yes` or `true`.
pub fn skip_confirm_from_env() -> bool {
    std::env::var(SKIP_CONFIRM_VAR)
        .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "yes" | "true"))
}

/// Asks `question` and waits for `yes` unless `yes_flag` or the variable already said it.
/// The prompt goes to the terminal: `[WARN ] <question>` then `Type 'yes' to proceed: `.
pub fn confirm(question: &str, yes_flag: bool) -> Confirmation {
    if yes_flag {
        return Confirmation::Given("--yes");
    }
    if skip_confirm_from_env() {
        return Confirmation::Given(SKIP_CONFIRM_VAR);
    }
    // A terminal on stderr says a person is watching; /dev/tty is where they type.
    if !std::io::stderr().is_terminal() {
        return Confirmation::NoTerminal;
    }
    let Ok(tty) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
    else {
        return Confirmation::NoTerminal;
    };
    let mut writer = &tty;
    if write!(writer, "[WARN ] {question}\nType 'yes' to proceed: ")
        .and_then(|()| writer.flush())
        .is_err()
    {
        return Confirmation::NoTerminal;
    }
    let mut answer = String::new();
    if BufReader::new(&tty).read_line(&mut answer).is_err() {
        return Confirmation::Refused(String::new());
    }
    let answer = answer.trim();
    if answer == "yes" {
        Confirmation::Typed
    } else {
        Confirmation::Refused(answer.to_owned())
    }
}

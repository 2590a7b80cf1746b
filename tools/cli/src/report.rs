//! People's output on stderr, in the runbook's style: `[INFO ]`, `[ OK ]`, `[WARN ]`, `[FAIL ]`.

use clap::{Args, ValueEnum};
use record::{Check, Status};
use std::cell::Cell;
use std::io::{IsTerminal, Write};

/// When to colour stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ColorChoice {
    /// Colour when stderr is a terminal and NO_COLOR is unset.
    #[default]
    Auto,
    Always,
    Never,
}

/// Flags every tool has for its stderr output.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Print only failures on stderr.
    #[arg(short, long)]
    pub quiet: bool,

    /// Colour the stderr messages.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

impl OutputArgs {
    pub fn reporter(&self) -> Reporter {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match self.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => !no_color && std::io::stderr().is_terminal(),
        };
        Reporter::new(self.quiet, color)
    }
}

/// The one place a tool writes for people. It remembers whether anything failed.
#[derive(Debug)]
pub struct Reporter {
    quiet: bool,
    color: bool,
    failed: Cell<bool>,
}

#[derive(Debug, Clone, Copy)]
enum Level {
    Info,
    Ok,
    Warn,
    Fail,
    Skip,
}

impl Reporter {
    pub fn new(quiet: bool, color: bool) -> Self {
        Self { quiet, color, failed: Cell::new(false) }
    }

    pub fn info(&self, message: impl AsRef<str>) {
        self.emit(Level::Info, message.as_ref());
    }

    pub fn ok(&self, message: impl AsRef<str>) {
        self.emit(Level::Ok, message.as_ref());
    }

    pub fn warn(&self, message: impl AsRef<str>) {
        self.emit(Level::Warn, message.as_ref());
    }

    pub fn fail(&self, message: impl AsRef<str>) {
        self.emit(Level::Fail, message.as_ref());
    }

    /// Prints a check as a line: its status tag and its detail.
    pub fn check(&self, check: &Check) {
        let level = match check.status {
            Status::Ok => Level::Ok,
            Status::Warn => Level::Warn,
            Status::Fail => Level::Fail,
            Status::Skip => Level::Skip,
        };
        self.emit(level, &check.detail);
    }

    /// Whether anything failed was reported.
    pub fn any_failed(&self) -> bool {
        self.failed.get()
    }

    fn emit(&self, level: Level, message: &str) {
        if matches!(level, Level::Fail) {
            self.failed.set(true);
        } else if self.quiet {
            return;
        }
        let (tag, style) = match level {
            Level::Info => ("[INFO ]", anstyle::Style::new().bold()),
            Level::Ok => ("[ OK ]", anstyle::AnsiColor::Green.on_default().bold()),
            Level::Warn => ("[WARN ]", anstyle::AnsiColor::Yellow.on_default().bold()),
            Level::Fail => ("[FAIL ]", anstyle::AnsiColor::Red.on_default().bold()),
            Level::Skip => ("[SKIP ]", anstyle::AnsiColor::BrightBlack.on_default()),
        };
        let line = if self.color {
            format!("{}{tag}{} {message}\n", style.render(), style.render_reset())
        } else {
            format!("{tag} {message}\n")
        };
        // stderr going away is no reason to stop a restore.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

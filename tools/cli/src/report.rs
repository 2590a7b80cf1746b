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

/// Flags every tool has for its output: messages on stderr, the record on stdout.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Print only failures on stderr.
    #[arg(short, long)]
    pub quiet: bool,

    /// Colour the stderr messages.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// Write the record indented, one key per line, as it is when stdout is a terminal;
    /// otherwise it is one line.
    #[arg(long)]
    pub pretty: bool,
}

impl OutputArgs {
    /// Applies the flags: the record's layout on stdout (see [`crate::write_record`]), and
    /// returns the reporter for stderr.
    pub fn start(&self) -> Reporter {
        let pretty = self.pretty || std::io::stdout().is_terminal();
        crate::output::set_layout(if pretty {
            record::Layout::Pretty
        } else {
            record::Layout::Compact
        });
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match self.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => !no_color && std::io::stderr().is_terminal(),
        };
        let mut reporter = Reporter::new(self.quiet, color);
        reporter.progress = !self.quiet && std::io::stderr().is_terminal();
        reporter
    }
}

/// The one place a tool writes for people. It remembers whether anything failed.
#[derive(Debug)]
pub struct Reporter {
    quiet: bool,
    color: bool,
    /// Progress is drawn only on a terminal, and never with --quiet.
    progress: bool,
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
        Self {
            quiet,
            color,
            progress: false,
            failed: Cell::new(false),
        }
    }

    /// A spinner with elapsed time for work whose size is not known in advance; a hidden one
    /// when stderr is not a terminal. Call `finish_and_clear` when done.
    pub fn spinner(&self, message: impl Into<String>) -> indicatif::ProgressBar {
        if !self.progress {
            return indicatif::ProgressBar::hidden();
        }
        let bar = indicatif::ProgressBar::new_spinner().with_message(message.into());
        if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    }

    /// A bar for work of known size (rows restored...); a hidden one when stderr is not a
    /// terminal. Call `finish_and_clear` when done.
    pub fn bar(&self, total: u64, message: impl Into<String>) -> indicatif::ProgressBar {
        if !self.progress {
            return indicatif::ProgressBar::hidden();
        }
        let bar = indicatif::ProgressBar::new(total).with_message(message.into());
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {human_pos}/{human_len} rows ({elapsed}, {eta} left)",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        bar
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
            format!(
                "{}{tag}{} {message}\n",
                style.render(),
                style.render_reset()
            )
        } else {
            format!("{tag} {message}\n")
        };
        // stderr going away is no reason to stop a restore.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

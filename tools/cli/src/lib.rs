//! The process edge every schema-restore tool shares: parse the command line, run, turn the
//! outcome into an exit code, print for people on stderr and one JSON document on stdout.
//!
//! Tools write `fn main() -> std::process::ExitCode { cli::main::<Args>(TOOL, tool::run) }`.

mod confirm;
mod error;
mod output;
mod report;
mod stop;
pub mod values;
pub mod when;

pub use confirm::{Confirmation, SKIP_CONFIRM_VAR, confirm, skip_confirm_from_env};
pub use error::{ToolError, ToolResult};
pub use output::{InputArgs, read_stdin_record, write_input_failure, write_record, write_refusal};
pub use report::{ColorChoice, OutputArgs, Reporter};
pub use stop::{defer_signals, on_stop, output_of, signal_received};

use clap::Parser;
use record::ExitCode;

/// Parses arguments as clap defines them, runs the tool, and returns its exit code.
///
/// SIGINT, SIGTERM and SIGHUP end the tool with its record written (see [`on_stop`]).
/// A usage error prints one line and `Try '<tool> --help'`, and exits 2. An error returned by
/// `run` prints `<tool>: <message>` and exits with the error's code. Libraries never exit.
pub fn main<A: Parser>(
    tool: &str,
    run: impl FnOnce(&A) -> ToolResult<ExitCode>,
) -> std::process::ExitCode {
    let args = match A::try_parse() {
        Ok(args) => args,
        Err(error) => return usage_error(tool, &error),
    };
    stop::watch(tool);
    let outcome = run(&args);
    // A signal came while the tool ended: its record and exit code are the stop's.
    stop::yield_to_stop();
    match outcome {
        Ok(code) => code.into(),
        Err(error) => {
            eprintln!("{tool}: {error}");
            if error.code() == ExitCode::Usage {
                eprintln!("Try '{tool} --help' for more information.");
            }
            error.code().into()
        }
    }
}

fn usage_error(tool: &str, error: &clap::Error) -> std::process::ExitCode {
    use clap::error::ErrorKind;
    match error.kind() {
        // --help and --version go to stdout and succeed, as everywhere.
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = error.print();
            ExitCode::Success.into()
        }
        // A bare invocation of a tool that needs arguments shows help on stderr.
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = error.print();
            ExitCode::Usage.into()
        }
        _ => {
            // clap's message is several lines with usage; ours is one line and a pointer.
            eprintln!("{tool}: {}", one_line(&error.render().to_string()));
            eprintln!("Try '{tool} --help' for more information.");
            ExitCode::Usage.into()
        }
    }
}

/// clap's first line, and when it ends in a colon the indented lines after it that name what
/// it means ("the following required arguments were not provided: --schema <NAME>").
fn one_line(rendered: &str) -> String {
    let mut lines = rendered.lines().skip_while(|l| l.trim().is_empty());
    let first = lines
        .next()
        .unwrap_or("invalid arguments")
        .trim_start_matches("error: ")
        .to_owned();
    if !first.ends_with(':') {
        return first;
    }
    let named: Vec<&str> = lines
        .take_while(|l| l.starts_with(' ') && !l.trim().is_empty())
        .map(str::trim)
        .collect();
    if named.is_empty() {
        first
    } else {
        format!("{first} {}", named.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn a_missing_argument_is_named() {
        let rendered = "error: the following required arguments were not provided:\n  --schema <NAME>\n  --dump <FILE>\n\nUsage: x --schema <NAME>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            one_line(rendered),
            "the following required arguments were not provided: --schema <NAME>, --dump <FILE>"
        );
    }

    #[test]
    fn a_plain_error_keeps_its_first_line() {
        assert_eq!(
            one_line("error: unexpected argument '--x' found\n\nUsage: x\n"),
            "unexpected argument '--x' found"
        );
    }
}

//! The process edge every schema-restore tool shares: parse the command line, run, turn the
//! outcome into an exit code, print for people on stderr and one JSON document on stdout.
//!
//! Tools write `fn main() -> std::process::ExitCode { cli::main::<Args>(TOOL, tool::run) }`.

mod confirm;
mod error;
mod output;
mod report;
pub mod values;
pub mod when;

pub use confirm::{Confirmation, SKIP_CONFIRM_VAR, confirm, skip_confirm_from_env};
pub use error::{ToolError, ToolResult};
pub use output::{read_stdin_record, write_input_failure, write_record};
pub use report::{ColorChoice, OutputArgs, Reporter};

use clap::Parser;
use record::ExitCode;

/// Parses arguments as clap defines them, runs the tool, and returns its exit code.
///
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
    match run(&args) {
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
            let rendered = error.render().to_string();
            let first = rendered
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid arguments")
                .trim_start_matches("error: ");
            eprintln!("{tool}: {first}");
            eprintln!("Try '{tool} --help' for more information.");
            ExitCode::Usage.into()
        }
    }
}

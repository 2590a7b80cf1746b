//! stdin and stdout: the record in, the record out.

use crate::ToolError;
use record::Record;
use std::io::{IsTerminal, Write};

/// Reads the record a previous tool wrote, if stdin holds one. A terminal on stdin, or empty
/// input, means this tool starts the record.
pub fn read_stdin_record() -> Result<Option<Record>, ToolError> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(None);
    }
    let record = Record::read_from(stdin.lock(), "stdin")?;
    if let Some(record) = &record {
        crate::stop::remember_input(record);
    }
    Ok(record)
}

/// Writes the record to stdout and flushes it. A reader that went away (broken pipe) is not an
/// error worth a message: the tool ends quietly with the exit code it already had.
pub fn write_record(record: &Record) -> Result<(), ToolError> {
    match crate::stop::write_once(|| write_record_unlocked(record)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(ToolError::could_not_run(format!(
            "writing the record to stdout: {e}"
        ))),
    }
}

/// Writes the record to stdout, ignoring whether a stop wrote one: only for the stop itself.
pub(crate) fn write_record_unlocked(record: &Record) -> std::io::Result<()> {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    record.write_to(&mut lock).and_then(|()| lock.flush())
}

/// For a tool that could not read the record on stdin: writes a new record holding only its
/// section, failed with an `input` check that says why, so the tools after it in a pipeline
/// stop rather than start afresh. `fill` adds the keys the section must always have.
/// Returns the usage exit code.
pub fn write_input_failure(
    section_name: &str,
    mut section: record::SectionBuilder,
    error: &ToolError,
    reporter: &crate::Reporter,
    fill: impl FnOnce(&mut record::SectionBuilder),
) -> Result<record::ExitCode, ToolError> {
    let check = record::Check::fail("input", error.message().to_owned());
    reporter.check(&check);
    section.push_check(check);
    fill(&mut section);
    let mut out = Record::new();
    out.put_section(section_name, &section.finish());
    write_record(&out)?;
    Ok(record::ExitCode::Usage)
}

//! stdin and stdout: the record in, the record out.

use crate::ToolError;
use record::Record;
use std::io::{IsTerminal, Read as _, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// How a tool that reads a record takes its stdin.
#[derive(Debug, Clone, clap::Args)]
pub struct InputArgs {
    /// Start a new record even though stdin is an empty pipe. Without it an empty pipe means
    /// the tool before this one wrote nothing (it failed or was stopped), and this tool stops
    /// with exit 3. A terminal or /dev/null on stdin always starts a new record.
    #[arg(long)]
    pub new_record: bool,

    /// The largest record read on stdin; a larger one is refused (exit 2) before it is
    /// parsed. Records are kilobytes to a few megabytes even for thousands of tables.
    #[arg(long, value_name = "SIZE", default_value = "64MiB")]
    pub max_record: crate::values::ByteSize,
}

/// Reads the record a previous tool wrote, if stdin holds one, at most `--max-record` bytes.
/// A terminal or empty input that is not a pipe (a file, /dev/null) means this tool starts
/// the record; an empty pipe or FIFO means the tool before wrote nothing: exit 3, unless
/// `--new-record`.
pub fn read_stdin_record(input: &InputArgs) -> Result<Option<Record>, ToolError> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(None);
    }
    let limit = input.max_record.0;
    let mut counted = CountingReader {
        inner: stdin.lock().take(limit.saturating_add(1)),
        count: 0,
    };
    let parsed = Record::read_from(&mut counted, "stdin");
    // Checked first: a record cut at the limit fails to parse, and the size is the reason.
    if counted.count > limit {
        // A suggestion written as the flag takes it.
        let suggested_mib = limit.saturating_mul(4).div_ceil(1 << 20);
        return Err(ToolError::usage(format!(
            "the record on stdin is larger than --max-record {}: nothing was done; if it really is a record, raise the limit (e.g. --max-record {suggested_mib}MiB)",
            input.max_record,
        )));
    }
    let Some(record) = parsed? else {
        if stdin_is_pipe() && !input.new_record {
            return Err(ToolError::upstream(
                "stdin is an empty pipe: the tool before this one wrote no record (it failed or was stopped: see its messages); nothing was done. Give --new-record to start a new record from an empty pipe",
            ));
        }
        return Ok(None);
    };
    crate::stop::remember_input(record.clone());
    Ok(Some(record))
}

/// Counts the bytes read through it, so that the limit can be told apart from bad JSON.
struct CountingReader<R> {
    inner: R,
    count: u64,
}

impl<R: std::io::Read> std::io::Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// True when stdin is a pipe or a FIFO (where an empty read means a writer that wrote nothing).
fn stdin_is_pipe() -> bool {
    use std::os::fd::AsFd as _;
    use std::os::unix::fs::FileTypeExt as _;
    std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(|file| file.metadata())
        .is_ok_and(|meta| meta.file_type().is_fifo())
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

/// Whether records are written indented: set once from the flags, read by every write (the
/// stop's included, which has no flags at hand).
static PRETTY: AtomicBool = AtomicBool::new(false);

pub(crate) fn set_layout(layout: record::Layout) {
    PRETTY.store(layout == record::Layout::Pretty, Ordering::Relaxed);
}

/// Writes the record to stdout, ignoring whether a stop wrote one: only for the stop itself.
pub(crate) fn write_record_unlocked(record: &Record) -> std::io::Result<()> {
    let layout = if PRETTY.load(Ordering::Relaxed) {
        record::Layout::Pretty
    } else {
        record::Layout::Compact
    };
    // Buffered: a compact record is one long line, which stdout's line buffer would pass on
    // in small writes.
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    record.write_to(&mut out, layout).and_then(|()| out.flush())
}

/// For a tool that could not read the record on stdin: writes a new record holding only its
/// section, failed with an `input` check that says why, so the tools after it in a pipeline
/// stop rather than start afresh. `fill` adds the keys the section must always have.
/// Returns the error's exit code: 2 for bad input, 3 for an empty pipe.
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
    if error.code() == record::ExitCode::UpstreamFailed {
        section.mark_upstream_failed();
    }
    fill(&mut section);
    let mut out = Record::new();
    out.put_section(section_name, &section.finish());
    write_record(&out)?;
    Ok(error.code())
}

/// For a tool that read the record but whose flags, taken with it, make nothing it can do
/// (a missing `--schema`, a bad name): the record still goes on, with this tool's section
/// failed by a `usage` check, so the tools after it stop too. When an earlier section had
/// failed already, that is the verdict instead (a `skip`, exit 3): this tool would have done
/// nothing anyway. `fill` adds the keys the section must always have.
///
/// Returns the error for `cli::main` to print (exit 2), or exit 3 from the gate.
pub fn write_refusal(
    record: &mut Record,
    section_name: &str,
    mut section: record::SectionBuilder,
    error: ToolError,
    reporter: &crate::Reporter,
    fill: impl FnOnce(&mut record::SectionBuilder),
) -> Result<record::ExitCode, ToolError> {
    let upstream_ok = record.gate(section_name, &mut section);
    if upstream_ok {
        // Not reported here: `cli::main` prints the error itself.
        section.push_check(record::Check::fail("usage", error.message().to_owned()));
    } else {
        for check in section.checks() {
            reporter.check(check);
        }
    }
    fill(&mut section);
    let section = section.finish();
    record.put_section(section_name, &section);
    write_record(record)?;
    if upstream_ok {
        Err(error)
    } else {
        Ok(section.exit_code())
    }
}

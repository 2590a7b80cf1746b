//! snapshot-pick: the newest restic snapshot strictly older than the time a schema was
//! damaged (runbook step 1), with the checks an operator would make by eye.

mod filter;
mod input;
mod pick;
mod verify;

use clap::Parser;
use cli::values::{ByteSize, Duration, TimeZone};
use cli::{OutputArgs, Reporter, ToolError, ToolResult};
use filter::Filter;
use input::Snapshot;
use record::{Check, ExitCode, Record, Section, SectionBuilder};
use serde_json::{Value, json};
use std::io::IsTerminal;
use std::path::PathBuf;

pub const TOOL: &str = "snapshot-pick";
const SECTION: &str = "snapshot";

/// Pick the newest restic snapshot strictly older than the time a schema was damaged.
///
/// Reads 'restic snapshots --json' (plain or --group-by) from stdin or --from, and starts a
/// record with its 'snapshot' section on stdout. Messages for people go to stderr.
#[derive(Debug, Parser)]
#[command(name = TOOL, version, about, after_help = EXIT_CODES)]
pub struct Args {
    /// The time the damage happened: RFC 3339, 'YYYY-MM-DD HH:MM[:SS]' (in --tz), '90m ago', or 'now'.
    #[arg(long, value_name = "TIME", default_value = "now")]
    pub before: String,

    /// Time zone for a wall-clock --before (IANA name or offset); default the local zone.
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<TimeZone>,

    /// Read restic's snapshot list from FILE instead of stdin.
    #[arg(long, value_name = "FILE")]
    pub from: Option<PathBuf>,

    /// The largest snapshot list read; a larger one is refused (exit 2). A list takes about
    /// 1 KB per snapshot: 1GiB is a million snapshots.
    #[arg(long, value_name = "SIZE", default_value = "1GiB")]
    pub max_input: ByteSize,

    /// Only snapshots of this host (repeatable: any of them).
    #[arg(long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,

    /// Only snapshots with all these tags, 'a,b' (repeatable: any of the lists).
    #[arg(long = "tag", value_name = "TAG[,TAG]")]
    pub tags: Vec<String>,

    /// Only snapshots that include this absolute path (repeatable: all of them).
    #[arg(long = "path", value_name = "PATH")]
    pub paths: Vec<String>,

    /// Pass over this snapshot (short or full id), e.g. one whose dump was found bad (repeatable).
    #[arg(long = "skip", value_name = "ID")]
    pub skip: Vec<String>,

    /// Expected time between snapshots; a pick or a gap much longer than this warns.
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    pub cadence: Duration,

    /// How far back before the time to look for gaps in the cadence.
    #[arg(long, value_name = "DURATION", default_value = "7d")]
    pub window: Duration,

    /// Fail when the newest snapshot is older than this (a check of the backup timer).
    #[arg(long, value_name = "DURATION")]
    pub max_age: Option<Duration>,

    /// Confirm with 'restic ls' that the pick holds this file (absolute path in the snapshot);
    /// otherwise fall back to the next older snapshot.
    #[arg(long, value_name = "PATH")]
    pub verify_file: Option<String>,

    /// With --verify-file: the smallest size that counts as a real dump.
    #[arg(long, value_name = "SIZE", default_value = "1KiB")]
    pub min_size: ByteSize,

    /// The restic binary for --verify-file (it reads RESTIC_REPOSITORY and the password from its environment).
    #[arg(
        long,
        value_name = "PATH",
        default_value = "restic",
        env = "RESTIC_BIN"
    )]
    pub restic: PathBuf,

    #[command(flatten)]
    pub output: OutputArgs,
}

const EXIT_CODES: &str = "Exit codes:
  0  all checks ok (warnings allowed)
  1  a check failed (nothing older than the time, stale backups, no snapshot holds the file)
  2  usage or input error (bad flag, unreadable or invalid snapshot list)
  3  not used: snapshot-pick starts a pipeline, no earlier section can fail
  4  could not run (restic failed for --verify-file)
  129, 130, 143  stopped by SIGHUP, SIGINT, SIGTERM: the record is written, with a failed
     'interrupted' check";

/// Runs the tool: reads the list, picks, writes the record.
pub fn run(args: &Args) -> ToolResult<ExitCode> {
    let reporter = args.output.start();
    let now = jiff::Timestamp::now();
    let tz = args.tz.clone().unwrap_or_else(TimeZone::system);
    let before = cli::when::parse_before(&args.before, &tz, now).map_err(ToolError::usage)?;
    let filter = Filter::new(&args.hosts, &args.tags, &args.paths).map_err(ToolError::usage)?;
    pick::validate_skip_ids(&args.skip).map_err(ToolError::usage)?;
    if let Some(path) = &args.verify_file {
        if !path.starts_with('/') {
            return Err(ToolError::usage(format!(
                "--verify-file '{path}' is not absolute: give the file's path inside the snapshot, e.g. /var/lib/postgres-dumps/gordon-trading.dump"
            )));
        }
    }

    on_stop(&before, &filter);
    let mut section = Section::builder(TOOL, env!("CARGO_PKG_VERSION"));
    section.insert_data("before", before_value(&before));
    section.insert_data("filters", filter.to_value());
    let listed = open_input(args.from.as_ref()).and_then(|(reader, source)| {
        input::read_snapshots(reader, &source, args.max_input.0, "--max-input")
            .map(|list| (list, source))
            .map_err(ToolError::usage)
    });
    let (snapshots, source) = match listed {
        Ok(listed) => listed,
        Err(error) => {
            let message = error.message().to_owned();
            // Failure is data: the next tool of a pipeline sees a failed section, not nothing.
            let check = Check::fail("input", message);
            reporter.check(&check);
            section.push_check(check);
            section.insert_data("pick", Value::Null);
            section.insert_data("considered", json!(0));
            section.insert_data("candidates", json!(0));
            emit(&section.finish())?;
            return Ok(ExitCode::Usage);
        }
    };
    reporter.info(format!(
        "Read {} from {source}",
        pick::plural(snapshots.len(), "snapshot")
    ));

    let selection =
        pick::select(&snapshots, &filter, &args.skip, &before, now).map_err(ToolError::usage)?;
    for check in &selection.checks {
        reporter.check(check);
        section.push_check(check.clone());
    }

    let (pick, passed_over, verified) = match &args.verify_file {
        None => (
            selection.candidates.first().copied().cloned(),
            Vec::new(),
            None,
        ),
        Some(file) => {
            match verify_candidates(args, file, &selection.candidates, &reporter, &mut section) {
                Ok(found) => found,
                Err(message) => {
                    let check = Check::fail("verify_file", message);
                    reporter.check(&check);
                    section.push_check(check);
                    section.mark_could_not_run();
                    (None, Vec::new(), None)
                }
            }
        }
    };

    let checks = [
        pick::pick_check(&selection, pick.as_ref(), &before),
        pick::pick_age_check(pick.as_ref(), &before, args.cadence.0),
    ];
    let (gaps, gap_check) = pick::gaps(&selection.matching, &before, args.cadence.0, args.window.0);
    let age_check = pick::newest_age_check(&selection.matching, now, args.max_age.map(|d| d.0));
    for check in checks.into_iter().chain([gap_check, age_check]) {
        reporter.check(&check);
        section.push_check(check);
    }

    section.insert_data(
        "pick",
        pick.as_ref().map_or(Value::Null, Snapshot::to_value),
    );
    section.insert_data("considered", json!(selection.considered));
    section.insert_data("candidates", json!(selection.candidates.len()));
    section.insert_data("skipped", json!(selection.skipped));
    section.insert_data("passed_over", Value::Array(passed_over));
    insert_bounded_lists(&mut section, &selection.future, &gaps);
    section.insert_data(
        "newest",
        selection
            .matching
            .first()
            .map_or(Value::Null, |s| s.to_value()),
    );
    section.insert_data("verified_file", verified.unwrap_or(Value::Null));

    let section = section.finish();
    if let Some(pick) = &pick {
        if section.ok() {
            reporter.ok(format!("Snapshot {} ({})", pick.short_id, pick.id));
        }
    }
    emit(&section)?;
    Ok(section.exit_code())
}

/// The future-dated snapshots and the gaps, bounded and counted in full beside (see
/// pick::RECORD_LIST): the newest future snapshots, newest first, and the gaps nearest the
/// time, in time order.
fn insert_bounded_lists(section: &mut SectionBuilder, future: &[&Snapshot], gaps: &[pick::Gap]) {
    section.insert_data(
        "future",
        Value::Array(
            future
                .iter()
                .take(pick::RECORD_LIST)
                .map(|s| s.to_value())
                .collect(),
        ),
    );
    section.insert_data("future_count", json!(future.len()));
    section.insert_data(
        "gaps",
        Value::Array(
            gaps.iter()
                .skip(gaps.len().saturating_sub(pick::RECORD_LIST))
                .map(pick::Gap::to_value)
                .collect(),
        ),
    );
    section.insert_data("gap_count", json!(gaps.len()));
}

type Verified = (Option<Snapshot>, Vec<Value>, Option<Value>);

/// Walks the candidates newest first until one holds the file at or above --min-size.
fn verify_candidates(
    args: &Args,
    file: &str,
    candidates: &[&Snapshot],
    reporter: &Reporter,
    section: &mut SectionBuilder,
) -> Result<Verified, String> {
    let mut passed_over = Vec::new();
    for candidate in candidates {
        let reason = match verify::file_size(&args.restic, &candidate.id, file).map_err(|e| e.0)? {
            Some(size) if size >= args.min_size.0 => {
                let check = Check::ok(
                    "verify_file",
                    format!("{} holds {file} ({})", candidate.describe(), ByteSize(size)),
                );
                reporter.check(&check);
                section.push_check(check);
                if !passed_over.is_empty() {
                    let check = Check::warn(
                        "passed_over",
                        format!(
                            "passed over {} without a usable {file}",
                            pick::plural(passed_over.len(), "newer snapshot")
                        ),
                    );
                    reporter.check(&check);
                    section.push_check(check);
                }
                let verified = json!({ "path": file, "size": size });
                return Ok((Some((*candidate).clone()), passed_over, Some(verified)));
            }
            Some(size) => format!(
                "{file} is {}, under --min-size {}",
                ByteSize(size),
                args.min_size
            ),
            None => format!("{file} is not in the snapshot"),
        };
        reporter.warn(format!("Passing over {}: {reason}", candidate.describe()));
        passed_over
            .push(json!({ "id": candidate.id, "time": candidate.time_text, "reason": reason }));
    }
    let check = Check::fail(
        "verify_file",
        if candidates.is_empty() {
            format!("no snapshot to look for {file} in")
        } else {
            format!(
                "none of the {} snapshots before the time holds {file} of at least {}",
                candidates.len(),
                args.min_size
            )
        },
    );
    reporter.check(&check);
    section.push_check(check);
    Ok((None, passed_over, None))
}

fn before_value(before: &cli::when::Before) -> Value {
    let mut value = json!({ "given": before.given, "utc": before.instant.to_string() });
    if let Some(zone) = &before.zone {
        value["zone"] = json!(zone);
    }
    value
}

/// A stop (SIGTERM...) writes the section with the keys it always has, and no pick.
fn on_stop(before: &cli::when::Before, filter: &Filter) {
    let (before, filters) = (before_value(before), filter.to_value());
    cli::on_stop(
        SECTION,
        Section::builder(TOOL, env!("CARGO_PKG_VERSION")),
        |s| {
            s.insert_data("before", before);
            s.insert_data("filters", filters);
            s.insert_data("pick", Value::Null);
            s.insert_data("considered", json!(0));
            s.insert_data("candidates", json!(0));
        },
    );
}

/// Where the snapshot list comes from: --from, or stdin unless it is a terminal.
fn open_input(from: Option<&PathBuf>) -> ToolResult<(Box<dyn std::io::Read>, String)> {
    if let Some(path) = from {
        let source = format!("'{}'", path.display());
        let file = std::fs::File::open(path)
            .map_err(|e| ToolError::usage(format!("reading {source}: {e}")))?;
        return Ok((Box::new(file), source));
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(ToolError::usage(
            "no snapshot list: pipe 'restic snapshots --json' in, or give --from FILE",
        ));
    }
    Ok((Box::new(stdin.lock()), "stdin".to_owned()))
}

fn emit(section: &Section) -> ToolResult<()> {
    let mut record = Record::new();
    record.put_section(SECTION, section);
    cli::write_record(&record)
}

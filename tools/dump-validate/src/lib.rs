//! dump-validate: is this pg_dump archive whole, of the right kind, and holding the schema's
//! objects? Runbook steps 2 and 5, answered by reading the archive itself: header, table of
//! contents and every data block, with exact row counts, before anyone drops anything.

mod inspect;
pub mod objects;
pub mod size;
mod table;
pub mod timing;

use clap::{Parser, ValueEnum};
use cli::values::{ByteSize, TimeZone};
use cli::{OutputArgs, ToolError, ToolResult};
use record::{ExitCode, Section};
use std::path::PathBuf;

pub const TOOL: &str = "dump-validate";
const SECTION: &str = "dump";

/// How the result is printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// The record, with this tool's 'dump' section (for pipelines).
    Json,
    /// A table for people: header, tables and row counts, checks.
    Table,
}

/// Prove a pg_dump archive is whole, of the right kind, and holds the schema's objects.
///
/// Reads the custom (-Fc) or directory (-Fd) archive natively, pg_dump 12 to 18, any
/// compression: every data block of the schema's tables is decompressed and its rows counted,
/// without a database and without pg_restore. Reads a record on stdin when one is piped in
/// (the corruption time from snapshot-pick's section), and writes it on with a 'dump' section.
#[derive(Debug, Parser)]
#[command(name = TOOL, version, about, after_help = EXIT_CODES)]
pub struct Args {
    /// The dump: a custom-format file or a directory-format directory.
    #[arg(value_name = "DUMP")]
    pub dump: PathBuf,

    /// The schema that must be in the dump (repeatable); default the record's schema.
    #[arg(long = "schema", value_name = "NAME")]
    pub schemas: Vec<String>,

    /// A table that must be present with rows: NAME in the schema, or SCHEMA.NAME (repeatable).
    #[arg(long = "require-table", value_name = "NAME")]
    pub require_tables: Vec<String>,

    /// Smaller than this is no dump at all (fail).
    #[arg(long, value_name = "SIZE", default_value = "1KiB")]
    pub min_size: ByteSize,

    /// The size range healthy dumps have, e.g. 500KiB..5MiB (warn outside it).
    #[arg(long, value_name = "MIN..MAX")]
    pub expect_size: Option<size::SizeRange>,

    /// The corruption time: the dump must be older (RFC 3339, 'YYYY-MM-DD HH:MM[:SS]' in --tz,
    /// '90m ago'); default the time in the record's snapshot section.
    #[arg(long, value_name = "TIME")]
    pub before: Option<String>,

    /// Time zone for a wall-clock --before; default the local zone.
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<TimeZone>,

    /// The zone of the host that ran pg_dump: the archive keeps its local time without one.
    #[arg(long, value_name = "ZONE")]
    pub dump_tz: Option<TimeZone>,

    /// Read the header and table of contents only; skip the data blocks and row counts.
    #[arg(long)]
    pub quick: bool,

    /// Threads that read data blocks; default the number of cores.
    #[arg(long, value_name = "N")]
    pub jobs: Option<std::num::NonZeroUsize>,

    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Json)]
    pub format: OutputFormat,

    #[command(flatten)]
    pub input: cli::InputArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

const EXIT_CODES: &str = "Exit codes:
  0  all checks ok (warnings allowed)
  1  a check failed (truncated or corrupt data, no objects of the schema, missing table,
     dump written after the damage...)
  2  usage or input error (bad flag, invalid record on stdin)
  3  an earlier section of the record failed, or stdin is an empty pipe (the tool before
     wrote nothing); nothing was done
  4  could not run
  129, 130, 143  stopped by SIGHUP, SIGINT, SIGTERM: the record is written, with a failed
     'interrupted' check";

/// The keys the section always has, for a run that read nothing of the dump.
fn empty_data(section: &mut record::SectionBuilder, args: &Args) {
    section.insert_data("path", serde_json::json!(args.dump.display().to_string()));
    section.insert_data("schemas", serde_json::json!(args.schemas));
    section.insert_data("tables", serde_json::json!([]));
    section.insert_data("roles", serde_json::json!([]));
}

pub fn run(args: &Args) -> ToolResult<ExitCode> {
    let reporter = args.output.start();
    let now = jiff::Timestamp::now();
    let before = args
        .before
        .as_deref()
        .map(|text| {
            cli::when::parse_before(text, args.tz.as_ref().unwrap_or(&TimeZone::system()), now)
        })
        .transpose()
        .map_err(ToolError::usage)?;
    let (path, schemas) = (args.dump.display().to_string(), args.schemas.clone());
    cli::on_stop(
        SECTION,
        Section::builder(TOOL, env!("CARGO_PKG_VERSION")),
        |s| {
            s.insert_data("path", serde_json::json!(path));
            s.insert_data("schemas", serde_json::json!(schemas));
            s.insert_data("tables", serde_json::json!([]));
            s.insert_data("roles", serde_json::json!([]));
        },
    );
    let mut record = match cli::read_stdin_record(&args.input) {
        Ok(record) => record.unwrap_or_default(),
        Err(error) => {
            let section = Section::builder(TOOL, env!("CARGO_PKG_VERSION"));
            return cli::write_input_failure(SECTION, section, &error, &reporter, |s| {
                empty_data(s, args);
            });
        }
    };
    let schemas = if !args.schemas.is_empty() {
        args.schemas.clone()
    } else if let Some(schema) = record.schema() {
        vec![schema.to_owned()]
    } else {
        let error = ToolError::usage(
            "no schema to look for: give --schema NAME (or pipe in a record that names one)",
        );
        let section = Section::builder(TOOL, env!("CARGO_PKG_VERSION"));
        return cli::write_refusal(&mut record, SECTION, section, error, &reporter, |s| {
            empty_data(s, args);
        });
    };
    if record.schema().is_none() {
        record.set_schema(&schemas[0]);
    }

    let mut section = Section::builder(TOOL, env!("CARGO_PKG_VERSION"));
    let plan = inspect::Plan {
        path: args.dump.clone(),
        schemas,
        require_tables: args.require_tables.clone(),
        min_size: args.min_size,
        expect_size: args.expect_size,
        damage: timing::damage_time(before.as_ref(), Some(&record)),
        dump_tz: args.dump_tz.clone().unwrap_or_else(TimeZone::system),
        quick: args.quick,
        jobs: args.jobs.map_or_else(
            || std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            std::num::NonZeroUsize::get,
        ),
    };
    if record.gate(SECTION, &mut section) {
        inspect::inspect(&plan, &mut section, &reporter);
    } else {
        for check in section.checks() {
            reporter.check(check);
        }
        inspect::empty_data(&plan, &mut section);
    }
    let section = section.finish();
    record.put_section(SECTION, &section);
    match args.format {
        OutputFormat::Json => cli::write_record(&record)?,
        OutputFormat::Table => table::print(&record.section(SECTION).cloned().unwrap_or_default())?,
    }
    if section.ok() {
        reporter.ok(format!("Dump {} is usable", args.dump.display()));
    }
    Ok(section.exit_code())
}

//! rowcount-report: row counts per table, for the runbook's close-out (step 7) and the
//! postmortem: exact counts from one consistent snapshot over several connections, or the
//! planner's estimates, stored under a label, compared with another label, the dump, or an
//! earlier report. Read-only: it never writes to the database.
//!
//! # The `rowcounts` section
//!
//! One object per label, each shaped like a section of its own:
//!
//! ```json
//! "rowcounts": {
//!   "tool": "rowcount-report", "version": "0.1.0", "ok": true, "started_at": "...", "elapsed_ms": 41,
//!   "checks": [ "...the checks of the latest run..." ],
//!   "pre":  { "tool": "rowcount-report", "version": "0.1.0", "ok": true, "started_at": "...",
//!             "elapsed_ms": 40, "checks": [...], "label": "pre", "mode": "exact",
//!             "database": "gordon", "schemas": ["trading"], "tables": [{"schema": "trading",
//!             "name": "orders", "rows": 1200, "exact": true}], "total_rows": 1200,
//!             "snapshot": "00000003-0000001B-1", "taken_at": "...", "connections": 2, "compare": null },
//!   "post": { ... "compare": {"against": "dump", "source": "dump", "summary": {...}, "tables": [...]} }
//! }
//! ```
//!
//! The common fields at the top describe the latest run, so a failed count stops the tools
//! after it. A run replaces its own label and keeps the others. Labels cannot be the names of
//! the common fields.

mod compare;
mod count;
mod diff;
mod format;
mod scope;
mod snapshot;

use clap::{Parser, ValueEnum};
use cli::{OutputArgs, Reporter, ToolError, ToolResult};
use compare::{Against, Baseline, Diff};
use count::{CountError, Counts};
use pg::{ConnArgs, Ident};
use record::{Check, ExitCode, Record, Section, SectionBuilder};
use scope::{Scope, TablePattern};
use serde_json::{Map, Value, json};
use std::num::NonZeroUsize;

pub const TOOL: &str = "rowcount-report";
const SECTION: &str = "rowcounts";
/// The section's common fields: no label may be called this.
const RESERVED: [&str; 6] = [
    "tool",
    "version",
    "ok",
    "started_at",
    "elapsed_ms",
    "checks",
];

/// How the result is printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// The record, with the counts under .rowcounts.<label> (for pipelines).
    Json,
    /// schema,table,rows,exact[,compare_rows,difference,status] (readable again by --compare FILE).
    Csv,
    /// The postmortem's table.
    Markdown,
    /// An aligned table for people.
    Table,
}

/// Count the rows of every table of a schema, exactly from one consistent snapshot or from
/// planner estimates, and compare them with earlier counts or the dump.
///
/// Connects as libpq programs do (--dsn, PG* variables, ~/.pgpass) and only reads. Reads a
/// record on stdin when one is piped in (the schema, the database, earlier labels, the dump
/// section) and writes it on with the counts under .rowcounts.<label>; works alone against
/// any database too. Messages for people go to stderr.
#[derive(Debug, Parser)]
#[command(name = TOOL, version, about, after_help = EXIT_CODES)]
pub struct Args {
    /// Count every table of this schema (repeatable); default the record's schema.
    #[arg(long = "schema", value_name = "NAME")]
    pub schemas: Vec<String>,

    /// Count only tables matching [SCHEMA.]NAME, with * and ? wildcards and "..." for literal
    /// names (repeatable). Without SCHEMA: in the --schema(s), else in every schema.
    #[arg(long = "table", value_name = "PATTERN")]
    pub tables: Vec<TablePattern>,

    /// Exact counts, SELECT count(*) (the default).
    #[arg(long, conflicts_with = "estimate")]
    pub exact: bool,

    /// Planner estimates (pg_class.reltuples) instead of counting: instant, labelled as estimates.
    #[arg(long)]
    pub estimate: bool,

    /// Connections counting in parallel, all in one snapshot; default the number of cores.
    #[arg(long, value_name = "N")]
    pub jobs: Option<NonZeroUsize>,

    /// Store the counts under .rowcounts.<LABEL>, e.g. pre or post.
    #[arg(long, value_name = "LABEL", default_value = "counts")]
    pub label: String,

    /// Compare with another label of the record, 'dump' (the dump section's counts), or FILE
    /// (an earlier record or CSV of this tool). A value is a FILE when it names an existing
    /// file, contains a '/', or ends in .json or .csv.
    #[arg(long, value_name = "LABEL|dump|FILE")]
    pub compare: Option<String>,

    /// With --compare FILE holding a record with several labels: the one to compare with.
    #[arg(long, value_name = "LABEL", requires = "compare")]
    pub compare_label: Option<String>,

    /// Compare the rows of --schema with those of the schema OTHER, table by table: the rows
    /// only in one, only in the other, and changed (same key, different row), by primary key
    /// (or a unique key of NOT NULL columns; else by whole rows, each with its multiplicity),
    /// exactly, from one snapshot, over --jobs connections. After a swap, the live schema
    /// against its <schema>_prev_<time> says which writes the restore set aside.
    #[arg(long, value_name = "OTHER", conflicts_with_all = ["compare", "estimate"])]
    pub diff_schema: Option<String>,

    /// Fail when any table differs from --compare (added, removed, changed or unknown), or
    /// with --diff-schema when any row or table differs.
    #[arg(long)]
    pub expect_equal: bool,

    /// The database to count in; default the record's database, else the connection's.
    #[arg(long, value_name = "NAME")]
    pub database: Option<String>,

    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Json)]
    pub format: OutputFormat,

    #[command(flatten)]
    pub conn: ConnArgs,

    #[command(flatten)]
    pub input: cli::InputArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

const EXIT_CODES: &str = "Exit codes:
  0  counted (warnings allowed: a schema that does not exist, differences without --expect-equal)
  1  a check failed (counting failed, or --expect-equal and a table or row differs)
  2  usage or input error (bad flag or label, invalid record on stdin, unreadable --compare)
  3  an earlier section of the record failed, or stdin is an empty pipe (the tool before
     wrote nothing); nothing was counted
  4  could not run (server unreachable, or it refused the login)
  129, 130, 143  stopped by SIGHUP, SIGINT, SIGTERM: the record is written, with a failed
     'interrupted' check";

fn valid_label(label: &str) -> Result<(), ToolError> {
    let shape = !label.is_empty()
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !shape {
        return Err(ToolError::usage(format!(
            "--label '{label}': use letters, digits, '_' and '-'"
        )));
    }
    if RESERVED.contains(&label) {
        return Err(ToolError::usage(format!(
            "--label '{label}' is a field every section has: choose another"
        )));
    }
    Ok(())
}

pub fn run(args: &Args) -> ToolResult<ExitCode> {
    let reporter = args.output.start();
    valid_label(&args.label)?;
    cli::on_stop(
        SECTION,
        Section::builder(TOOL, env!("CARGO_PKG_VERSION")),
        |_| {},
    );
    let mut record = match cli::read_stdin_record(&args.input) {
        Ok(record) => record.unwrap_or_default(),
        Err(error) => {
            let section = Section::builder(TOOL, env!("CARGO_PKG_VERSION"));
            return cli::write_input_failure(SECTION, section, &error, &reporter, |_| {});
        }
    };
    // The section's own clock runs for the whole run; the label's for its counting.
    let outer = Section::builder(TOOL, env!("CARGO_PKG_VERSION"));
    let Job {
        scope,
        baseline,
        settings,
        database,
    } = match job(args, &record, &reporter) {
        Ok(job) => job,
        Err(refusal) => return refuse(args, outer, &mut record, refusal, &reporter),
    };
    if record.schema().is_none() {
        if let [only] = scope.schemas.as_slice() {
            record.set_schema(only);
        }
    }
    if record.database().is_none() {
        record.set_database(&database);
    }

    if let Some(other) = &args.diff_schema {
        return diff_report(
            args,
            outer,
            &mut record,
            &scope,
            &settings,
            &database,
            other,
            &reporter,
        );
    }
    let (label, outcome) = count_label(
        args,
        &record,
        &scope,
        &settings,
        &database,
        baseline.as_ref(),
        &reporter,
    )?;
    let section = rowcounts_section(outer, &record, &args.label, &label);
    record.put_section(SECTION, &section);
    emit(args, &record, outcome.as_ref(), baseline.as_ref())?;
    Ok(label.exit_code())
}

/// What a run counts, where, and against what.
struct Job {
    scope: Scope,
    baseline: Option<Baseline>,
    settings: pg::ConnSettings,
    database: String,
}

/// Why the flags and the record make no job: a `--compare` that cannot be read, or another
/// usage (or connection settings) error.
enum Refusal {
    Compare(String),
    Error(ToolError),
}

impl From<ToolError> for Refusal {
    fn from(error: ToolError) -> Self {
        Self::Error(error)
    }
}

/// The flags, with what the record says, as a job; refused before connecting.
fn job(args: &Args, record: &Record, reporter: &Reporter) -> Result<Job, Refusal> {
    let schemas = if args.schemas.is_empty() && args.tables.is_empty() {
        vec![record.schema().map(str::to_owned).ok_or_else(|| {
            ToolError::usage("nothing to count: give --schema NAME or --table PATTERN (or pipe in a record that names a schema)")
        })?]
    } else {
        args.schemas.clone()
    };
    for schema in &schemas {
        Ident::new(schema.clone()).map_err(|e| ToolError::usage(format!("--schema: {e}")))?;
    }
    if args.expect_equal && args.compare.is_none() && args.diff_schema.is_none() {
        return Err(ToolError::usage(
            "--expect-equal needs something to be equal to: give --compare or --diff-schema",
        )
        .into());
    }
    if let Some(other) = &args.diff_schema {
        Ident::new(other.clone()).map_err(|e| ToolError::usage(format!("--diff-schema: {e}")))?;
        if schemas.len() != 1 || schemas[0] == *other {
            return Err(ToolError::usage(format!(
                "--diff-schema {other} compares one --schema with it: give exactly one --schema NAME, not {other} itself"
            ))
            .into());
        }
    }
    let scope = Scope {
        schemas,
        patterns: args.tables.clone(),
    };
    let baseline = match &args.compare {
        Some(text) => Some(
            compare::load(
                &Against::parse(text),
                record,
                &args.label,
                args.compare_label.as_deref(),
            )
            .map_err(Refusal::Compare)?,
        ),
        None => None,
    };
    let settings = pg::settings_for(&args.conn, None, TOOL).map_err(|e| connect_error(&e))?;
    for warning in settings.warnings() {
        reporter.warn(warning);
    }
    let database = args
        .database
        .clone()
        .or_else(|| record.database().map(str::to_owned))
        .unwrap_or_else(|| settings.dbname().to_owned());
    Ident::new(database.clone()).map_err(|e| ToolError::usage(format!("--database: {e}")))?;
    let settings =
        pg::settings_for(&args.conn, Some(&database), TOOL).map_err(|e| connect_error(&e))?;
    Ok(Job {
        scope,
        baseline,
        settings,
        database,
    })
}

/// Counts (unless an earlier section failed) into this label's section.
fn count_label(
    args: &Args,
    record: &Record,
    scope: &Scope,
    settings: &pg::ConnSettings,
    database: &str,
    baseline: Option<&Baseline>,
    reporter: &Reporter,
) -> ToolResult<(Section, Option<Outcome>)> {
    let mut label = Section::builder(TOOL, env!("CARGO_PKG_VERSION"));
    label.insert_data("label", json!(args.label));
    label.insert_data(
        "mode",
        json!(if args.estimate { "estimate" } else { "exact" }),
    );
    label.insert_data("database", json!(database));
    label.insert_data("schemas", json!(scope.schemas));
    let patterns: Vec<String> = args.tables.iter().map(ToString::to_string).collect();
    label.insert_data("table_patterns", json!(patterns));
    if !record.gate(SECTION, &mut label) {
        for check in label.checks() {
            reporter.check(check);
        }
        label.insert_data("tables", json!([]));
        return Ok((label.finish(), None));
    }
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
        NonZeroUsize::get,
    );
    let how = if args.estimate {
        "planner estimates".to_owned()
    } else {
        format!("exact, up to {jobs} connections, one snapshot")
    };
    reporter.info(format!(
        "Counting rows of {} in {database} ({how})",
        scope.describe()
    ));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ToolError::could_not_run(format!("starting the async runtime: {e}")))?;
    let counted = runtime.block_on(async {
        if args.estimate {
            count::estimate(settings, scope).await
        } else {
            count::exact(settings, scope, jobs).await
        }
    });
    let outcome = record_counts(args, scope, counted, baseline, &mut label, reporter);
    Ok((label.finish(), outcome))
}

/// `--diff-schema`: the rows that differ between --schema and OTHER, into the label's
/// section, and out in the chosen format.
#[allow(clippy::too_many_arguments)] // the parts of a run, as count_label takes them
fn diff_report(
    args: &Args,
    outer: SectionBuilder,
    record: &mut Record,
    scope: &Scope,
    settings: &pg::ConnSettings,
    database: &str,
    other: &str,
    reporter: &Reporter,
) -> ToolResult<ExitCode> {
    let schema = scope.schemas[0].clone();
    let mut label = Section::builder(TOOL, env!("CARGO_PKG_VERSION"));
    label.insert_data("label", json!(args.label));
    label.insert_data("mode", json!("diff"));
    label.insert_data("database", json!(database));
    label.insert_data("schemas", json!([schema]));
    let mut diffed = None;
    if record.gate(SECTION, &mut label) {
        let jobs = args.jobs.map_or_else(
            || std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
            NonZeroUsize::get,
        );
        reporter.info(format!(
            "Comparing the rows of {schema} with {other} in {database} (exact, up to {jobs} connections, one snapshot)"
        ));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ToolError::could_not_run(format!("starting the async runtime: {e}")))?;
        let result = runtime.block_on(diff::diff(settings, &schema, other, jobs, |name| {
            scope.includes(&schema, name)
        }));
        diffed = record_diff(args, result, &mut label, reporter);
    } else {
        for check in label.checks() {
            reporter.check(check);
        }
    }
    if diffed.is_none() {
        label.insert_data("tables", json!([]));
        label.insert_data("diff", Value::Null);
    }
    let label = label.finish();
    let section = rowcounts_section(outer, record, &args.label, &label);
    record.put_section(SECTION, &section);
    let text = |s: String| {
        move |mut out: std::io::StdoutLock<'static>| {
            out.write_all(s.as_bytes()).map_err(|e| e.to_string())
        }
    };
    match (args.format, &diffed) {
        (OutputFormat::Json, _) => cli::write_record(record)?,
        (_, None) => {}
        (OutputFormat::Csv, Some(d)) => print(|out| format::diff_csv(d, out))?,
        (OutputFormat::Markdown, Some(d)) => print(text(format::diff_markdown(d)))?,
        (OutputFormat::Table, Some(d)) => print(text(format::diff_table(d)))?,
    }
    Ok(label.exit_code())
}

/// The diff's tables, counts and checks into the label's section.
fn record_diff(
    args: &Args,
    result: Result<diff::SchemaDiff, CountError>,
    label: &mut SectionBuilder,
    reporter: &Reporter,
) -> Option<diff::SchemaDiff> {
    let push = |label: &mut SectionBuilder, check: Check| {
        reporter.check(&check);
        label.push_check(check);
    };
    let d = match result {
        Ok(d) => d,
        Err(e) => {
            if matches!(e, CountError::Connect(ref c) if c.is_could_not_run()) {
                label.mark_could_not_run();
            }
            push(label, Check::fail("diff", e.to_string()));
            return None;
        }
    };
    let tables: Vec<Value> = d
        .tables
        .iter()
        .map(|t| json!({ "schema": d.schema, "name": t.name, "rows": t.rows_in_schema, "exact": true }))
        .collect();
    label.insert_data("tables", Value::Array(tables));
    label.insert_data(
        "total_rows",
        json!(d.tables.iter().map(|t| t.rows_in_schema).sum::<u64>()),
    );
    label.insert_data("snapshot", json!(d.snapshot));
    label.insert_data("taken_at", json!(d.taken_at));
    label.insert_data("connections", json!(d.connections));
    label.insert_data("diff", d.to_value());
    let differing: Vec<String> = d
        .tables
        .iter()
        .filter(|t| t.differs())
        .map(|t| {
            format!(
                "{} ({} only in {}, {} only in {}, {} changed)",
                t.name,
                t.only_in_schema,
                d.schema,
                t.only_in_other,
                d.other,
                t.changed.map_or_else(|| "-".to_owned(), |n| n.to_string())
            )
        })
        .chain(
            d.tables_only_in_schema
                .iter()
                .map(|n| format!("{n} (only in {})", d.schema)),
        )
        .chain(
            d.tables_only_in_other
                .iter()
                .map(|n| format!("{n} (only in {})", d.other)),
        )
        .collect();
    let check = if differing.is_empty() {
        Check::ok(
            "diff",
            format!(
                "{} tables of {} and {} hold the same rows",
                d.tables.len(),
                d.schema,
                d.other
            ),
        )
    } else {
        let detail = format!(
            "{} of {} tables differ between {} and {}: {}",
            differing.len(),
            d.tables.len() + d.tables_only_in_schema.len() + d.tables_only_in_other.len(),
            d.schema,
            d.other,
            differing.join("; ")
        );
        if args.expect_equal {
            Check::fail("diff", detail)
        } else {
            Check::warn("diff", detail)
        }
    };
    push(label, check);
    Some(d)
}

/// Writes stdout in the chosen format.
fn emit(
    args: &Args,
    record: &Record,
    outcome: Option<&Outcome>,
    baseline: Option<&Baseline>,
) -> ToolResult<()> {
    let tables = outcome.map_or(&[][..], |(c, _)| c.tables.as_slice());
    let diffs = outcome.and_then(|(_, d)| d.as_deref());
    let column = baseline.map_or("", |b| b.column.as_str());
    let report = format::Report {
        label: &args.label,
        exact: !args.estimate,
        tables,
        compare: diffs.map(|d| (column, d)),
    };
    let text = |s: String| {
        move |mut out: std::io::StdoutLock<'static>| {
            out.write_all(s.as_bytes()).map_err(|e| e.to_string())
        }
    };
    match args.format {
        OutputFormat::Json => cli::write_record(record),
        OutputFormat::Csv => print(|out| format::csv(&report, out)),
        OutputFormat::Markdown => print(text(format::markdown(&report))),
        OutputFormat::Table => print(text(format::table(&report))),
    }
}

use std::io::Write as _;

fn print(write: impl FnOnce(std::io::StdoutLock<'static>) -> Result<(), String>) -> ToolResult<()> {
    match write(std::io::stdout().lock()) {
        Ok(()) => Ok(()),
        Err(e) if e.contains("Broken pipe") => Ok(()),
        Err(e) => Err(ToolError::could_not_run(format!("writing to stdout: {e}"))),
    }
}

/// Writes the record on for a run that has no job (see [`Refusal`]): the label failed by a
/// `compare`, `usage` or `connection` check, or, when an earlier section had failed already, skipped as
/// the gate skips it (exit 3).
fn refuse(
    args: &Args,
    outer: SectionBuilder,
    record: &mut Record,
    refusal: Refusal,
    reporter: &Reporter,
) -> ToolResult<ExitCode> {
    let mut label = Section::builder(TOOL, env!("CARGO_PKG_VERSION"));
    let (check, code) = match refusal {
        Refusal::Compare(message) => (Check::fail("compare", message), ExitCode::Usage),
        Refusal::Error(error) => {
            let name = if error.code() == ExitCode::Usage {
                "usage"
            } else {
                "connection"
            };
            (Check::fail(name, error.message().to_owned()), error.code())
        }
    };
    let code = if record.gate(SECTION, &mut label) {
        reporter.check(&check);
        label.push_check(check);
        code
    } else {
        for check in label.checks() {
            reporter.check(check);
        }
        ExitCode::UpstreamFailed
    };
    label.insert_data("label", json!(args.label));
    label.insert_data("tables", json!([]));
    let section = rowcounts_section(outer, record, &args.label, &label.finish());
    record.put_section(SECTION, &section);
    if args.format == OutputFormat::Json {
        cli::write_record(record)?;
    }
    Ok(code)
}

fn connect_error(error: &pg::ConnectError) -> ToolError {
    if error.is_usage() {
        ToolError::usage(error.to_string())
    } else {
        ToolError::could_not_run(error.to_string())
    }
}

type Outcome = (Counts, Option<Vec<Diff>>);

/// Adds the counts, the checks and the comparison to the label's section.
fn record_counts(
    args: &Args,
    scope: &Scope,
    counted: Result<Counts, CountError>,
    baseline: Option<&Baseline>,
    label: &mut SectionBuilder,
    reporter: &Reporter,
) -> Option<Outcome> {
    let push = |label: &mut SectionBuilder, check: Check| {
        reporter.check(&check);
        label.push_check(check);
    };
    let counts = match counted {
        Ok(counts) => counts,
        Err(e) => {
            if matches!(e, CountError::Connect(ref c) if c.is_could_not_run()) {
                label.mark_could_not_run();
            }
            push(label, Check::fail("count", e.to_string()));
            label.insert_data("tables", json!([]));
            label.insert_data("compare", Value::Null);
            return None;
        }
    };
    let exact = !args.estimate;
    let total: u64 = counts.tables.iter().filter_map(|t| t.rows).sum();
    label.insert_data(
        "tables",
        Value::Array(counts.tables.iter().map(|t| t.to_value(exact)).collect()),
    );
    label.insert_data("total_rows", json!(total));
    label.insert_data("snapshot", json!(counts.snapshot));
    label.insert_data("taken_at", json!(counts.taken_at));
    label.insert_data("connections", json!(counts.connections));
    for schema in &counts.missing_schemas {
        push(
            label,
            Check::warn(
                "schema_exists",
                format!("schema '{schema}' does not exist: nothing to count in it"),
            ),
        );
    }
    if counts.tables.is_empty() && !scope.patterns.is_empty() {
        push(
            label,
            Check::warn(
                "tables_matched",
                format!("no table matches {}", scope.describe()),
            ),
        );
    }
    let how = if exact {
        format!(
            "exact, from one snapshot over {}",
            plural(counts.connections, "connection")
        )
    } else {
        "estimated from planner statistics (pg_class.reltuples), not counted".to_owned()
    };
    push(
        label,
        Check::ok(
            "count",
            format!(
                "{} with {total} rows in {} ({how})",
                plural(counts.tables.len(), "table"),
                scope.describe()
            ),
        ),
    );
    if !exact {
        let unknown: Vec<String> = counts
            .tables
            .iter()
            .filter(|t| t.estimate_source != Some("reltuples"))
            .map(|t| format!("{}.{}", t.schema, t.name))
            .collect();
        if !unknown.is_empty() {
            push(
                label,
                Check::warn(
                    "statistics",
                    format!(
                        "never analyzed, estimated from the statistics collector: {}",
                        unknown.join(", ")
                    ),
                ),
            );
        }
    }
    let Some(baseline) = baseline else {
        label.insert_data("compare", Value::Null);
        return Some((counts, None));
    };
    let diffs = compare_counts(args, scope, &counts, baseline, label, reporter);
    Some((counts, Some(diffs)))
}

/// Adds the comparison with `baseline` and its check.
fn compare_counts(
    args: &Args,
    scope: &Scope,
    counts: &Counts,
    baseline: &Baseline,
    label: &mut SectionBuilder,
    reporter: &Reporter,
) -> Vec<Diff> {
    let diffs = compare::diff(&counts.tables, baseline, scope);
    let differing: Vec<String> = diffs
        .iter()
        .filter(|d| d.status != compare::Status::Equal)
        .map(|d| match d.difference {
            Some(n) => format!("{}.{} {} ({n:+})", d.schema, d.name, d.status.as_str()),
            None => format!("{}.{} {}", d.schema, d.name, d.status.as_str()),
        })
        .collect();
    label.insert_data(
        "compare",
        json!({
            "against": args.compare, "source": baseline.source, "expect_equal": args.expect_equal,
            "summary": compare::summary(&diffs),
            "tables": diffs.iter().map(Diff::to_value).collect::<Vec<_>>(),
        }),
    );
    let check = if differing.is_empty() {
        Check::ok(
            "compare",
            format!(
                "all {} equal to {}",
                plural(diffs.len(), "table"),
                baseline.source
            ),
        )
    } else {
        let detail = format!(
            "{} of {} differ from {}: {}",
            differing.len(),
            plural(diffs.len(), "table"),
            baseline.source,
            differing.join(", ")
        );
        if args.expect_equal {
            Check::fail("compare", detail)
        } else {
            Check::warn("compare", detail)
        }
    };
    reporter.check(&check);
    label.push_check(check);
    diffs
}

/// The whole `rowcounts` section: the latest run's common fields, the other labels as they
/// were, this label in its place.
fn rowcounts_section(
    mut section: SectionBuilder,
    record: &Record,
    own: &str,
    label: &Section,
) -> Section {
    for check in label.checks() {
        section.push_check(check.clone());
    }
    if label.exit_code() == ExitCode::UpstreamFailed {
        section.mark_upstream_failed();
    } else if label.exit_code() == ExitCode::CouldNotRun {
        section.mark_could_not_run();
    }
    let earlier: Map<String, Value> = record
        .section(SECTION)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut placed = false;
    for (key, value) in earlier {
        if RESERVED.contains(&key.as_str()) {
            continue;
        }
        if key == own {
            section.insert_data(own, label.to_value());
            placed = true;
        } else {
            section.insert_data(&key, value);
        }
    }
    if !placed {
        section.insert_data(own, label.to_value());
    }
    section.finish()
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

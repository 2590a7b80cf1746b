//! schema-swap: replace a schema from a pg_dump archive in one transaction, verified before
//! commit (runbook step 5, without its window of no schema and without its CASCADE).
//!
//! In one transaction on one session: take an advisory lock for the schema, rename the live
//! schema aside to `<schema>_prev_<UTC time>`, apply the schema's entries of the archive as
//! the real pg_restore writes them (in two runs, before and after the data) while the tables'
//! rows are loaded straight from the archive reader, in COPY's binary form where every column's
//! type allows (module `load`), check that every table holds exactly the rows the archive
//! reader counted in the dump, then commit. Services read the old schema until the commit and
//! the new one after it; any failure, signal, kill or lost connection leaves the database as it
//! was. The previous schema is kept for `--rollback` until `--drop-previous` or `--prune`.

mod load;
mod plan;
mod previous;
mod restore;
pub mod script;
mod swap;
mod tables;

use clap::{ArgGroup, Parser};
use cli::values::{ByteSize, Duration};
use cli::{OutputArgs, ToolError, ToolResult};
use pg::{ConnArgs, Ident};
use record::{ExitCode, Section, SectionBuilder};
use std::path::PathBuf;

pub const TOOL: &str = "schema-swap";
const SECTION: &str = "swap";

/// Replace a schema from a pg_dump archive in one transaction, verified before commit.
///
/// Renames the live schema aside (<schema>_prev_<UTC time>), restores the dump's objects of
/// the schema with the real pg_restore through its own session, loads the tables' rows from the
/// archive (converted to COPY's binary form where it can), checks every table's row count
/// against the archive, and commits only if all hold. Any failure, Ctrl-C, kill or lost
/// connection leaves the database exactly as before. Extensions living in the schema move into
/// the restored one; where the dump does not create the schema (public), it gets the live
/// schema's owner, privileges and comment (initdb's when there is none); partitions, children
/// and publications across its border are carried over. Reads a record on stdin when one is piped
/// in (schema, database, and the dump section's file and row counts) and writes it on with a
/// 'swap' section. Asks 'yes' on a terminal; --yes or RESTORE_SKIP_CONFIRM=1 skip the prompt,
/// and without a terminal and without either it refuses.
#[allow(clippy::struct_excessive_bools)] // clap flags: each bool is one switch of the command line
#[derive(Debug, Parser)]
#[command(name = TOOL, version, about, after_help = AFTER_HELP)]
#[command(group(ArgGroup::new("mode").args(["rollback", "list", "prune"])))]
pub struct Args {
    /// The schema to replace; default the record's schema.
    #[arg(long, value_name = "NAME")]
    pub schema: Option<String>,

    /// The dump: a custom-format file or a directory-format directory; default the record's
    /// dump section.
    #[arg(long, value_name = "FILE")]
    pub dump: Option<PathBuf>,

    /// Replace only this table of the live schema (repeatable), with everything that belongs
    /// to it (indexes, constraints, triggers, rules, policies, owned sequences and their
    /// values, statistics, comments, grants, partitions and children) and its rows; foreign
    /// keys of other tables that pointed to it and views that read it are re-created on the
    /// restored table. Every other object of the schema stays as it is live. The live table is
    /// set aside into <schema>_prev_<UTC time>.
    #[arg(long = "table", value_name = "NAME")]
    pub tables: Vec<String>,

    /// Restore the dump's schema (or, with --table, only those tables) as a new schema NAME
    /// beside the live one, to look before touching or to take rows back by hand. The live
    /// schema is not changed and no session ever sees it missing; NAME must not exist.
    /// Function bodies are text: a copied function that names the schema still reads the
    /// live one.
    #[arg(long, value_name = "NAME")]
    pub into: Option<String>,

    /// With --table: put back the dump's rows that are missing live, by primary key (or a
    /// unique key whose columns are NOT NULL), with their original values, identity and
    /// serial columns included; no live row is changed or deleted, sequences are advanced
    /// past what came back, and foreign keys, checks and triggers apply as to any insert. The
    /// cure for an accidental DELETE. A table without such a key is refused.
    #[arg(long, requires = "tables")]
    pub merge_missing: bool,

    /// With --table: a re-created foreign key that live rows violate (rows written after the
    /// dump that reference rows the dump lacks) is made NOT VALID, with a warning that counts
    /// them, instead of rolling the restore back.
    #[arg(long, requires = "tables")]
    pub fk_not_valid: bool,

    /// Skip the confirmation prompt (as RESTORE_SKIP_CONFIRM=1 does).
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Print the plan (what is renamed, restored and counted) and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// After a verified commit, drop the previous schema (kept when anything outside depends on it).
    #[arg(long)]
    pub drop_previous: bool,

    /// Recreate views outside the schema that read it, so they read the restored schema
    /// (in the same transaction); without it they keep reading the previous one.
    #[arg(long)]
    pub repoint_dependents: bool,

    /// Swap the newest previous schema back in, in one transaction (the current one is set aside).
    #[arg(long)]
    pub rollback: bool,

    /// List the previous schemas kept, with their times and sizes.
    #[arg(long)]
    pub list: bool,

    /// Drop previous schemas: those beyond --keep, or older than --older-than.
    #[arg(long)]
    pub prune: bool,

    /// With --prune: how many of the newest previous schemas to keep.
    #[arg(long, value_name = "N", requires = "prune")]
    pub keep: Option<usize>,

    /// With --prune: drop previous schemas set aside longer ago than this, e.g. 7d.
    #[arg(long, value_name = "DURATION", requires = "prune")]
    pub older_than: Option<Duration>,

    /// How long any statement that takes a lock (the swap, --drop-previous, --prune,
    /// --rollback) waits for it before giving up. At least 1ms: 0 is refused, since
    /// PostgreSQL reads a lock_timeout of 0 as "wait for ever".
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub lock_timeout: Duration,

    /// maintenance_work_mem for the restore's session (index and key builds).
    #[arg(long, value_name = "SIZE", default_value = "512MiB")]
    pub maintenance_work_mem: ByteSize,

    /// work_mem for the restore's session (foreign key validation, materialized view refresh).
    #[arg(long, value_name = "SIZE", default_value = "256MiB")]
    pub work_mem: ByteSize,

    /// Load tables with plain COPY instead of COPY FREEZE.
    #[arg(long)]
    pub no_freeze: bool,

    /// How table data goes to the server: `auto` converts the dump's COPY text to COPY's
    /// binary form, which the server takes with far less work, for every table whose column
    /// types schema-swap knows, in UTF-8 dumps on PostgreSQL 12 and later (other tables go as
    /// text, and so does a table holding a value the converter is not sure of); `text` sends
    /// the dump's text as it is.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = CopyFormat::Auto)]
    pub copy_format: CopyFormat,

    /// Threads that count the dump's rows when the record has no counts; default the cores.
    #[arg(long, value_name = "N")]
    pub jobs: Option<std::num::NonZeroUsize>,

    /// Look for pg_restore only in this directory (repeatable); default PATH,
    /// /usr/lib/postgresql/*/bin and /opt/schema-restore/pg/*/bin.
    #[arg(long = "pg-bindir", value_name = "DIR")]
    pub pg_bindirs: Vec<PathBuf>,

    #[command(flatten)]
    pub conn: ConnArgs,

    #[command(flatten)]
    pub input: cli::InputArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

const AFTER_HELP: &str = "Examples:
  The schema replaced from the dump:
    schema-swap --schema trading --dump /tmp/gordon-trading.dump
  A table dropped by mistake, back with what belongs to it; other tables keep their writes:
    schema-swap --schema trading --dump /tmp/gordon-trading.dump --table orders
  Rows deleted by mistake put back, no live row changed:
    schema-swap --schema trading --dump /tmp/gordon-trading.dump --table orders --merge-missing
  Look before touching: the dump's schema beside the live one:
    schema-swap --schema trading --dump /tmp/gordon-trading.dump --into trading_at_1100

Exit codes:
  0  the schema (or --table's tables) was replaced and verified, the rows put back
     (--merge-missing) or the copy made (--into); or --dry-run, --list, --rollback, --prune
     succeeded
  1  a check failed or the restore failed and was rolled back: the database is as it was;
     also a refused prompt, an extension that cannot move, objects the dump needs that the
     target lacks, live rows a re-created foreign key rejects (without --fk-not-valid)
  2  usage or input error (bad flag, invalid record, no dump, no confirmation without a terminal,
     a system schema, a schema name over 42 bytes for a swap or rollback, a --table that is no
     table of the dump's schema, a table --merge-missing cannot key, an --into schema that
     exists)
  3  an earlier section of the record failed, or stdin is an empty pipe (the tool before
     wrote nothing); nothing was done
  4  could not run (server unreachable, no fitting pg_restore, another swap of the schema
     running, or the commit's outcome unknown because the connection was lost during it)
  129, 130, 143  stopped by SIGHUP, SIGINT, SIGTERM before the swap began (during it, a
     signal rolls it back: exit 1, or the commit finishes first); the record is written";

/// What the operator asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Swap,
    Rollback,
    List,
    Prune,
}

impl Mode {
    /// The flag that chose the mode, for messages.
    fn flag(self) -> &'static str {
        match self {
            Self::Swap => "a swap",
            Self::Rollback => "--rollback",
            Self::List => "--list",
            Self::Prune => "--prune",
        }
    }
}

impl Args {
    fn mode(&self) -> Mode {
        if self.rollback {
            Mode::Rollback
        } else if self.list {
            Mode::List
        } else if self.prune {
            Mode::Prune
        } else {
            Mode::Swap
        }
    }
}

/// `--copy-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CopyFormat {
    Auto,
    Text,
}

/// Everything the tool needs, validated at the edge.
#[allow(clippy::struct_excessive_bools)] // the switches of Args, validated
#[derive(Debug)]
pub struct Job {
    pub mode: Mode,
    pub schema: Ident,
    pub settings: pg::ConnSettings,
    /// The dump, for a swap.
    pub dump: Option<PathBuf>,
    /// `--into`: restore as this new schema instead of replacing the live one.
    pub into: Option<Ident>,
    /// `--table`: restore only these tables of the schema.
    pub tables: Vec<String>,
    pub fk_not_valid: bool,
    pub merge_missing: bool,
    /// The dump section of the record, if any: its row counts spare a second read.
    pub dump_section: Option<serde_json::Value>,
    pub yes: bool,
    pub dry_run: bool,
    pub drop_previous: bool,
    pub repoint_dependents: bool,
    pub keep: Option<usize>,
    pub older_than: Option<jiff::SignedDuration>,
    pub lock_timeout: std::time::Duration,
    pub maintenance_work_mem: u64,
    pub work_mem: u64,
    pub no_freeze: bool,
    pub copy_format: CopyFormat,
    pub jobs: usize,
    pub pg_bindirs: Vec<PathBuf>,
}

pub fn run(args: &Args) -> ToolResult<ExitCode> {
    let reporter = args.output.start();
    cli::on_stop(
        SECTION,
        Section::builder(TOOL, env!("CARGO_PKG_VERSION")),
        empty_data,
    );
    let mut record = match cli::read_stdin_record(&args.input) {
        Ok(record) => record.unwrap_or_default(),
        Err(error) => {
            let section = Section::builder(TOOL, env!("CARGO_PKG_VERSION"));
            return cli::write_input_failure(SECTION, section, &error, &reporter, empty_data);
        }
    };
    let job = match job(args, &record) {
        Ok(job) => job,
        Err(error) => {
            let section = Section::builder(TOOL, env!("CARGO_PKG_VERSION"));
            return cli::write_refusal(&mut record, SECTION, section, error, &reporter, empty_data);
        }
    };
    for warning in job.settings.warnings() {
        reporter.warn(warning);
    }
    if record.schema().is_none() {
        record.set_schema(job.schema.as_str());
    }
    if record.database().is_none() {
        record.set_database(job.settings.dbname());
    }

    let mut section = Section::builder(TOOL, env!("CARGO_PKG_VERSION"));
    // Listing changes nothing, so an earlier failure does not stop it.
    if job.mode == Mode::List || record.gate(SECTION, &mut section) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| ToolError::could_not_run(format!("starting the async runtime: {e}")))?;
        let outcome = runtime.block_on(async {
            match job.mode {
                Mode::Swap if !job.tables.is_empty() => {
                    tables::run(&job, &mut section, &reporter).await
                }
                Mode::Swap => swap::run(&job, &mut section, &reporter).await,
                Mode::Rollback => previous::rollback(&job, &mut section, &reporter).await,
                Mode::List => previous::list(&job, &mut section, &reporter).await,
                Mode::Prune => previous::prune(&job, &mut section, &reporter).await,
            }
        });
        // The restore's reader thread may still be blocked on pg_restore: do not wait for it.
        runtime.shutdown_background();
        if let Err(usage) = outcome {
            // Refused for want of a confirmation (or a --table the dump lacks, whose check
            // is in already): say so in the record too.
            if section
                .checks()
                .iter()
                .all(|c| c.status != record::Status::Fail)
            {
                section.push_check(record::Check::fail("confirm", usage.message().to_owned()));
            }
            finish(&mut record, section)?;
            return Err(usage);
        }
    } else {
        for check in section.checks() {
            reporter.check(check);
        }
        empty_data(&mut section);
    }
    finish(&mut record, section)
}

fn finish(record: &mut record::Record, section: SectionBuilder) -> ToolResult<ExitCode> {
    let section = section.finish();
    let code = section.exit_code();
    record.put_section(SECTION, &section);
    cli::write_record(record)?;
    Ok(code)
}

/// Validates the flags and the record into a [`Job`].
fn job(args: &Args, record: &record::Record) -> ToolResult<Job> {
    let schema_name = args
        .schema
        .clone()
        .or_else(|| record.schema().map(str::to_owned))
        .ok_or_else(|| {
            ToolError::usage("no schema: give --schema NAME (or pipe in a record that names one)")
        })?;
    let mode = args.mode();
    // System schemas are never acted on; a swap and a rollback set the schema aside, so its
    // set-aside name must fit PostgreSQL's 63 bytes too. Both refused before connecting.
    let schema = match mode {
        Mode::Swap | Mode::Rollback => readiness::names::swappable_schema(&schema_name),
        Mode::List | Mode::Prune => readiness::names::user_schema(&schema_name),
    }
    .map_err(|e| ToolError::usage(format!("--schema: {e}")))?;
    let settings = pg::settings_for(&args.conn, record.database(), TOOL).map_err(|e| {
        if e.is_usage() {
            ToolError::usage(e.to_string())
        } else {
            ToolError::could_not_run(e.to_string())
        }
    })?;
    let dump_section = record.section("dump").cloned();
    let dump = args.dump.clone().or_else(|| {
        dump_section
            .as_ref()
            .and_then(|d| d.get("path"))
            .and_then(serde_json::Value::as_str)
            .map(PathBuf::from)
    });
    if mode == Mode::Swap && dump.is_none() {
        return Err(ToolError::usage(
            "no dump: give --dump FILE (or pipe in dump-validate's record)",
        ));
    }
    if mode == Mode::Prune && args.keep.is_none() && args.older_than.is_none() {
        return Err(ToolError::usage(
            "--prune needs --keep N or --older-than DURATION: say which previous schemas to drop",
        ));
    }
    if args.lock_timeout.0 < jiff::SignedDuration::from_millis(1) {
        return Err(ToolError::usage(format!(
            "--lock-timeout {}: PostgreSQL would read it as \"wait for ever\"; give at least 1ms, e.g. 30s",
            args.lock_timeout
        )));
    }
    if mode != Mode::Swap {
        // Flags of a swap given to another mode would be ignored in silence: refuse them.
        let swap_only = [
            (args.dump.is_some(), "--dump"),
            (args.drop_previous, "--drop-previous"),
            (args.repoint_dependents, "--repoint-dependents"),
            (!args.tables.is_empty(), "--table"),
            (args.into.is_some(), "--into"),
        ];
        if let Some((_, flag)) = swap_only.iter().find(|(given, _)| *given) {
            return Err(ToolError::usage(format!(
                "{flag} goes with a swap, not with {}: leave it out",
                mode.flag()
            )));
        }
    }
    check_table_flags(args)?;
    if args.dry_run && args.drop_previous {
        return Err(ToolError::usage(
            "--dry-run and --drop-previous contradict each other: a dry run drops nothing",
        ));
    }
    let older_than = older_than(args)?;
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        std::num::NonZeroUsize::get,
    );
    let into = into_name(args, &schema)?;
    Ok(Job {
        mode,
        into,
        schema,
        settings,
        dump,
        tables: args.tables.clone(),
        fk_not_valid: args.fk_not_valid,
        merge_missing: args.merge_missing,
        dump_section,
        yes: args.yes,
        dry_run: args.dry_run,
        drop_previous: args.drop_previous,
        repoint_dependents: args.repoint_dependents,
        keep: args.keep,
        older_than,
        lock_timeout: args.lock_timeout.0.unsigned_abs(),
        maintenance_work_mem: args.maintenance_work_mem.0,
        work_mem: args.work_mem.0,
        no_freeze: args.no_freeze,
        copy_format: args.copy_format,
        jobs,
        pg_bindirs: args.pg_bindirs.clone(),
    })
}

/// `--older-than`, which cannot be negative.
fn older_than(args: &Args) -> ToolResult<Option<jiff::SignedDuration>> {
    match args.older_than {
        Some(d) if d.0.is_negative() => Err(ToolError::usage(
            "--older-than: a duration cannot be negative",
        )),
        other => Ok(other.map(|d| d.0)),
    }
}

/// `--into NAME`: a user schema's name that is not the schema's own, and nothing that would
/// touch the live schema or a previous one.
fn into_name(args: &Args, schema: &Ident) -> ToolResult<Option<Ident>> {
    let Some(name) = &args.into else {
        return Ok(None);
    };
    let into = readiness::names::user_schema(name)
        .map_err(|e| ToolError::usage(format!("--into: {e}")))?;
    if into.as_str() == schema.as_str() {
        return Err(ToolError::usage(format!(
            "--into {name}: that is the schema itself; name a new schema to restore the copy as, e.g. {}_copy",
            schema.as_str()
        )));
    }
    let contradictions = [
        (args.drop_previous, "--drop-previous"),
        (args.repoint_dependents, "--repoint-dependents"),
        (args.fk_not_valid, "--fk-not-valid"),
    ];
    if let Some((_, flag)) = contradictions.iter().find(|(given, _)| *given) {
        return Err(ToolError::usage(format!(
            "{flag} changes the live schema, and --into leaves it as it is: leave one out"
        )));
    }
    Ok(Some(into))
}

/// `--table` goes with the flags of a table restore, and names what can be a table.
fn check_table_flags(args: &Args) -> ToolResult<()> {
    if !args.tables.is_empty() && args.repoint_dependents {
        return Err(ToolError::usage(
            "--repoint-dependents goes with a whole-schema swap: --table re-creates the views that read the table anyway; leave it out",
        ));
    }
    if args.merge_missing {
        let contradictions = [
            (args.into.is_some(), "--into"),
            (args.fk_not_valid, "--fk-not-valid"),
            (args.drop_previous, "--drop-previous"),
        ];
        if let Some((_, flag)) = contradictions.iter().find(|(given, _)| *given) {
            return Err(ToolError::usage(format!(
                "{flag} goes with replacing tables, and --merge-missing only adds rows back: leave one out"
            )));
        }
    }
    if let Some(bad) = args
        .tables
        .iter()
        .find(|t| Ident::new((*t).clone()).is_err())
    {
        return Err(ToolError::usage(format!(
            "--table {bad:?}: not a table name (empty, over 63 bytes, or holding a NUL byte)"
        )));
    }
    Ok(())
}

/// The keys the section always has, so readers need not test for them.
fn empty_data(section: &mut SectionBuilder) {
    for key in ["dump", "previous", "pg_restore"] {
        section.insert_data(key, serde_json::Value::Null);
    }
    section.insert_data("committed", serde_json::Value::Bool(false));
    section.insert_data("tables", serde_json::Value::Array(Vec::new()));
}

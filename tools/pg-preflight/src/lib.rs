//! pg-preflight: is the target PostgreSQL ready for a schema restore? Runbook step 4 as one
//! command: the server is up (waiting a bounded time for one that is starting), the database
//! exists (or is created), the roles the dump needs exist, the connecting role may create and
//! rename the schema, a pg_restore fits both the archive and the server, and what a
//! `DROP SCHEMA ... CASCADE` would silently take along or be blocked by is listed.
//!
//! Read-only, except `--create-database`, the one write this tool can do.

use pg::catalog;
pub mod conn;
pub mod dump;
mod preflight;

use clap::Parser;
use cli::values::Duration;
use cli::{OutputArgs, ToolError, ToolResult};
use pg::{ConnArgs, Ident};
use record::{ExitCode, Section};
use std::path::PathBuf;

pub const TOOL: &str = "pg-preflight";
const SECTION: &str = "preflight";

/// Check that a PostgreSQL server is ready to have a schema restored into it.
///
/// Connects as libpq programs do (--dsn, PG* variables, ~/.pgpass), first to the maintenance
/// database (to see, and with --create-database create, the target database), then to the
/// target. Reads a record on stdin when one is piped in (the schema, the database and the
/// dump section's roles, archive version and source server version) and writes it on with a
/// 'preflight' section. Messages for people go to stderr.
#[derive(Debug, Parser)]
#[command(name = TOOL, version, about, after_help = EXIT_CODES)]
pub struct Args {
    /// The schema to be restored; default the record's schema.
    #[arg(long, value_name = "NAME")]
    pub schema: Option<String>,

    /// The target database; default the record's database, else the connection's (--dsn, PGDATABASE).
    #[arg(long, value_name = "NAME")]
    pub database: Option<String>,

    /// A role the restored objects need (repeatable); default the dump section's roles.
    #[arg(long = "role", value_name = "NAME")]
    pub roles: Vec<String>,

    /// Create the target database when it does not exist (the only write this tool does).
    #[arg(long)]
    pub create_database: bool,

    /// How long to keep retrying a server that is not accepting connections yet, e.g. 30s.
    #[arg(long, value_name = "DURATION", default_value = "0s")]
    pub wait: Duration,

    /// The database to connect to for checking and creating the target.
    #[arg(long, value_name = "NAME", default_value = "postgres")]
    pub maintenance_db: String,

    /// The dump to be restored, read for what it needs of the target (extensions, objects of
    /// other schemas, publications); default the record's dump section.
    #[arg(long, value_name = "FILE")]
    pub dump: Option<PathBuf>,

    /// The restore will replace only this table (schema-swap --table; repeatable): check
    /// that the dump holds it as a table of the schema.
    #[arg(long = "table", value_name = "NAME")]
    pub tables: Vec<String>,

    /// With --table: the restore will put missing rows back (schema-swap --merge-missing):
    /// check that each table is live with a primary key or a unique key of NOT NULL columns.
    #[arg(long, requires = "tables")]
    pub merge_missing: bool,

    /// The restore will make a copy as the new schema NAME (schema-swap --into): check that
    /// NAME is free.
    #[arg(long, value_name = "NAME")]
    pub into: Option<String>,

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

const EXIT_CODES: &str = "Exit codes:
  0  all checks ok (warnings allowed: dependents outside the schema, sessions holding locks)
  1  a check failed (missing database or roles, missing privileges, no fitting pg_restore,
     a schema name too long to set aside, an extension that cannot move, objects the dump
     needs that the target lacks)
  2  usage or input error (bad flag, invalid record on stdin, bad connection settings, a
     system schema)
  3  an earlier section of the record failed, or stdin is an empty pipe (the tool before
     wrote nothing); nothing was done
  4  could not run (server unreachable, or it refused the login)
  129, 130, 143  stopped by SIGHUP, SIGINT, SIGTERM: the record is written, with a failed
     'interrupted' check";

/// What preflight was asked to check, validated.
#[derive(Debug, Clone)]
pub struct Plan {
    pub schema: Ident,
    pub database: Ident,
    pub maintenance_db: Ident,
    pub roles: Vec<String>,
    pub roles_from: &'static str,
    pub create_database: bool,
    pub wait: std::time::Duration,
    pub pg_bindirs: Vec<PathBuf>,
    pub dump: dump::DumpFacts,
    /// What kind of restore to check for: `--table`, `--merge-missing`, `--into`.
    pub tables: Vec<String>,
    pub merge_missing: bool,
    pub into: Option<Ident>,
}

pub fn run(args: &Args) -> ToolResult<ExitCode> {
    let reporter = args.output.start();
    cli::on_stop(
        SECTION,
        Section::builder(TOOL, env!("CARGO_PKG_VERSION")),
        preflight::empty_data,
    );
    let mut record = match cli::read_stdin_record(&args.input) {
        Ok(record) => record.unwrap_or_default(),
        Err(error) => {
            let section = Section::builder(TOOL, env!("CARGO_PKG_VERSION"));
            return cli::write_input_failure(
                SECTION,
                section,
                &error,
                &reporter,
                preflight::empty_data,
            );
        }
    };
    let plan = match plan(args, &record, &reporter) {
        Ok(plan) => plan,
        Err(error) => {
            let section = Section::builder(TOOL, env!("CARGO_PKG_VERSION"));
            return cli::write_refusal(
                &mut record,
                SECTION,
                section,
                error,
                &reporter,
                preflight::empty_data,
            );
        }
    };
    if record.schema().is_none() {
        record.set_schema(plan.schema.as_str());
    }
    if record.database().is_none() {
        record.set_database(plan.database.as_str());
    }

    let mut section = Section::builder(TOOL, env!("CARGO_PKG_VERSION"));
    if record.gate(SECTION, &mut section) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ToolError::could_not_run(format!("starting the async runtime: {e}")))?;
        runtime.block_on(preflight::run(&plan, &args.conn, &mut section, &reporter));
    } else {
        for check in section.checks() {
            reporter.check(check);
        }
        preflight::empty_data(&mut section);
    }
    let section = section.finish();
    record.put_section(SECTION, &section);
    cli::write_record(&record)?;
    if section.ok() {
        reporter.ok(format!(
            "{} is ready for schema {}",
            plan.database, plan.schema
        ));
    }
    Ok(section.exit_code())
}

/// The flags, with what the record says, as a plan; refused before connecting.
fn plan(args: &Args, record: &record::Record, reporter: &cli::Reporter) -> ToolResult<Plan> {
    let schema_name = args
        .schema
        .clone()
        .or_else(|| record.schema().map(str::to_owned))
        .ok_or_else(|| {
            ToolError::usage(
                "no schema to check: give --schema NAME (or pipe in a record that names one)",
            )
        })?;
    // A system schema is refused before connecting, as schema-swap refuses it.
    let schema = readiness::names::user_schema(&schema_name)
        .map_err(|e| ToolError::usage(format!("--schema: {e}")))?;
    let settings = conn::settings_for(&args.conn, None, TOOL).map_err(|e| connect_error(&e))?;
    for warning in settings.warnings() {
        reporter.warn(warning);
    }
    let database_name = args
        .database
        .clone()
        .or_else(|| record.database().map(str::to_owned))
        .unwrap_or_else(|| settings.dbname().to_owned());
    let database =
        Ident::new(database_name).map_err(|e| ToolError::usage(format!("--database: {e}")))?;
    let maintenance_db = Ident::new(args.maintenance_db.clone())
        .map_err(|e| ToolError::usage(format!("--maintenance-db: {e}")))?;
    for role in &args.roles {
        Ident::new(role.clone()).map_err(|e| ToolError::usage(format!("--role: {e}")))?;
    }
    let mut dump = dump::DumpFacts::from_section(record.section("dump"));
    if let Some(path) = &args.dump {
        dump.path = Some(path.clone());
    }
    let (roles, roles_from) = if args.roles.is_empty() {
        (
            dump.roles.clone(),
            if dump.present { "the dump" } else { "nowhere" },
        )
    } else {
        (args.roles.clone(), "--role")
    };
    Ok(Plan {
        schema,
        database,
        maintenance_db,
        roles: dedup_roles(roles),
        roles_from,
        create_database: args.create_database,
        wait: args.wait.0.unsigned_abs(),
        pg_bindirs: args.pg_bindirs.clone(),
        dump,
        tables: args.tables.clone(),
        merge_missing: args.merge_missing,
        into: args
            .into
            .as_ref()
            .map(|name| {
                readiness::names::user_schema(name)
                    .map_err(|e| ToolError::usage(format!("--into: {e}")))
            })
            .transpose()?,
    })
}

/// Turns a settings error into the tool's error: bad settings are a usage error.
fn connect_error(error: &pg::ConnectError) -> ToolError {
    if error.is_usage() {
        ToolError::usage(error.to_string())
    } else {
        ToolError::could_not_run(error.to_string())
    }
}

/// PUBLIC is a keyword, not a role; duplicates are checked once.
fn dedup_roles(roles: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for role in roles {
        if !role.is_empty() && !role.eq_ignore_ascii_case("public") && !out.contains(&role) {
            out.push(role);
        }
    }
    out
}

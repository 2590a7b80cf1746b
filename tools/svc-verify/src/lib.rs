//! svc-verify: do the services see the restored data? Runbook step 6 as declared checks: each
//! endpoint answers the expected status with JSON whose array length or value equals a
//! number, a row count from the record, a SQL value, or another check's measurement. Read-only:
//! it sends the requests the checks name and reads from Postgres only when a check needs SQL.
//!
//! # The `services` section
//!
//! ```json
//! "services": {
//!   "tool": "svc-verify", "version": "0.1.0", "ok": true, "started_at": "...", "elapsed_ms": 35,
//!   "checks": [{"name": "bots", "status": "ok", "detail": "bots: GET http://127.0.0.1:8083/api/bots answered 200, 3 items, as expected (rows of trading.bots in .rowcounts.post) [1 attempt, 4 ms]"}],
//!   "wait_ms": 60000, "timeout_ms": 10000, "database": null, "vars": {},
//!   "endpoints": [{"name": "bots", "method": "GET", "url": "http://127.0.0.1:8083/api/bots",
//!                  "expected_status": 200, "status": 200, "measure": "length", "measured": 3,
//!                  "expected": 3, "expected_from": "rows of trading.bots in .rowcounts.post",
//!                  "headers": ["Authorization"], "attempts": 1, "latency_ms": 4, "ok": true,
//!                  "detail": "..."}]
//! }
//! ```
//!
//! URLs are shown without userinfo and with secret query values masked; header values are
//! never written; anything that came from a secret is masked in every message.

mod http;
mod redact;
mod spec;
mod sql;

use clap::Parser;
use cli::values::{ByteSize, Duration};
use cli::{OutputArgs, Reporter, ToolError, ToolResult};
use http::{Clients, Defaults, Outcome, Want};
use pg::ConnArgs;
use record::{Check, ExitCode, Record, Section, SectionBuilder};
use redact::Scrubber;
use serde_json::{Map, Value, json};
use spec::{Expectation, Plan, ServiceCheck, Source};
use std::path::PathBuf;
use std::time::Instant;

pub const TOOL: &str = "svc-verify";
const SECTION: &str = "services";

/// Check that the services answer with the restored data: HTTP checks whose answers must
/// match row counts from the record, values from Postgres, or numbers.
///
/// Checks come from --checks FILE and --check SPEC. The file is JSON:
/// {"vars": {"NAME": "SQL"}, "checks": [{"name", "method", "url", "status", "headers",
/// "body", "json", "pointer", "length", "value", "regex", "timeout", "max_body",
/// "follow_redirects"}]}; see scripts/services.example.json. "length" and "value" take a number
/// or JSON value, or {"rowcount": "SCHEMA.TABLE"} (from .rowcounts.post, else .dump.tables of
/// the record on stdin), {"sql": "QUERY"} (one value) or {"check": "NAME"} (what another check
/// measured). A URL may hold {NAME} placeholders filled from "vars" (or --var), e.g.
/// /api/equity?run_id={latest_run_id}. Header values may use ${ENV_VAR}: they are sent, never
/// shown or recorded.
///
/// All checks run at once; a failing one is retried with backoff until --wait has passed.
/// Reads a record on stdin when one is piped in and writes it on with a 'services' section.
/// Connects to Postgres (as libpq programs do: --dsn, PG* variables, ~/.pgpass) only when a
/// check needs SQL. Messages for people go to stderr.
#[derive(Debug, Parser)]
#[command(name = TOOL, version, about, after_help = EXIT_CODES)]
pub struct Args {
    /// A JSON file of checks (and vars).
    #[arg(long, value_name = "FILE")]
    pub checks: Option<PathBuf>,

    /// One ad hoc check: [METHOD] URL [KEY=VALUE ...] (repeatable); see --help for the keys.
    #[arg(long = "check", value_name = "SPEC", long_help = spec::CHECK_SYNTAX)]
    pub check_specs: Vec<String>,

    /// A URL placeholder {NAME} filled by a SQL query returning one value (repeatable),
    /// e.g. --var 'latest_run_id=SELECT max(id) FROM trading.runs'.
    #[arg(long = "var", value_name = "NAME=SQL")]
    pub vars: Vec<String>,

    /// Keep retrying failing checks, with backoff, for this long, e.g. 60s (services
    /// restarting after a restore); 0s tries each once.
    #[arg(long, value_name = "DURATION", default_value = "0s")]
    pub wait: Duration,

    /// The time limit of one attempt of a check (connect, answer and body), unless the check
    /// sets its own.
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub timeout: Duration,

    /// The largest body read, unless the check sets its own max_body; a larger one fails.
    #[arg(long, value_name = "SIZE", default_value = "1MiB")]
    pub max_body: ByteSize,

    /// Also trust the CA certificates in this PEM file (the system's roots are always trusted).
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,

    /// Follow redirects (up to 10), unless a check says otherwise. By default a redirect is
    /// the answer, and fails a check that expects 200.
    #[arg(long)]
    pub follow_redirects: bool,

    /// The label of the row counts in the record to compare with (.rowcounts.<LABEL>); the
    /// dump section's counts are used for tables it does not hold.
    #[arg(long, value_name = "LABEL", default_value = "post")]
    pub rowcount_label: String,

    /// The database SQL values are read from; default the record's database, else the
    /// connection's.
    #[arg(long, value_name = "NAME")]
    pub database: Option<String>,

    #[command(flatten)]
    pub conn: ConnArgs,

    #[command(flatten)]
    pub input: cli::InputArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

const EXIT_CODES: &str = "Exit codes:
  0  every check passed
  1  a check failed (wrong status or count, not JSON, connection refused, timed out, a row count
     or SQL value to compare with is missing)
  2  usage or input error (bad flag, bad checks file or --check, unreadable --cacert, invalid
     record on stdin)
  3  an earlier section of the record failed, or stdin is an empty pipe (the tool before
     wrote nothing); nothing was requested
  4  could not run (Postgres unreachable although a check needs a SQL value)
  129, 130, 143  stopped by SIGHUP, SIGINT, SIGTERM: the record is written, with a failed
     'interrupted' check";

/// Keys the section always has, so a reader finds them even when nothing ran.
fn empty_data(section: &mut SectionBuilder) {
    section.insert_data("vars", json!({}));
    section.insert_data("endpoints", json!([]));
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
    let mut section = Section::builder(TOOL, env!("CARGO_PKG_VERSION"));
    let (plan, clients) = match prepare(args) {
        Ok(prepared) => prepared,
        Err(message) => return refuse_checks(&mut record, section, message, &reporter),
    };
    let defaults = Defaults {
        timeout: args.timeout.0.unsigned_abs(),
        max_body: args.max_body.0,
        follow_redirects: args.follow_redirects,
    };
    let wait = args.wait.0.unsigned_abs();
    section.insert_data("wait_ms", json!(millis(wait)));
    section.insert_data("timeout_ms", json!(millis(defaults.timeout)));
    if !record.gate(SECTION, &mut section) {
        for check in section.checks() {
            reporter.check(check);
        }
        empty_data(&mut section);
        let section = section.finish();
        record.put_section(SECTION, &section);
        cli::write_record(&record)?;
        return Ok(section.exit_code());
    }
    let database = if plan.needs_sql() {
        match sql_settings(args, &record, &reporter) {
            Ok(database) => Some(database),
            Err(error) => {
                return cli::write_refusal(
                    &mut record,
                    SECTION,
                    section,
                    error,
                    &reporter,
                    empty_data,
                );
            }
        }
    } else {
        None
    };
    section.insert_data(
        "database",
        database
            .as_ref()
            .map_or(Value::Null, |(name, _)| json!(name)),
    );
    reporter.info(format!(
        "Checking {} ({}, each attempt at most {}{})",
        plural(plan.checks.len(), "endpoint"),
        if wait.is_zero() {
            "one attempt each".to_owned()
        } else {
            format!("retrying for up to {}", http::human(wait))
        },
        http::human(defaults.timeout),
        if database.is_some() {
            ", values from Postgres"
        } else {
            ""
        }
    ));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ToolError::could_not_run(format!("starting the async runtime: {e}")))?;
    let context = Context {
        plan: &plan,
        clients: &clients,
        record: &record,
        defaults,
        wait,
        rowcount_label: &args.rowcount_label,
    };
    let verified = runtime.block_on(verify(&context, database.as_ref().map(|(_, s)| s)));
    let scrubber = Scrubber::new(plan.secrets());
    fill_section(&mut section, &plan, &verified, &scrubber, &reporter);
    let section = section.finish();
    record.put_section(SECTION, &section);
    cli::write_record(&record)?;
    Ok(section.exit_code())
}

/// A bad checks file is an input error, but the record goes on with a failed section, so
/// that later tools stop too; an earlier section's failure is the verdict first (exit 3).
fn refuse_checks(
    record: &mut record::Record,
    mut section: SectionBuilder,
    message: String,
    reporter: &Reporter,
) -> ToolResult<ExitCode> {
    let code = if record.gate(SECTION, &mut section) {
        let check = Check::fail("checks", message);
        reporter.check(&check);
        section.push_check(check);
        ExitCode::Usage
    } else {
        for check in section.checks() {
            reporter.check(check);
        }
        ExitCode::UpstreamFailed
    };
    empty_data(&mut section);
    record.put_section(SECTION, &section.finish());
    cli::write_record(record)?;
    Ok(code)
}

/// Reads the checks and the CA file and sets up the HTTP clients; any error is an input error.
fn prepare(args: &Args) -> Result<(Plan, Clients), String> {
    let file = match &args.checks {
        Some(path) => {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("reading --checks '{shown}': {e}"))?;
            Some((shown, text))
        }
        None => None,
    };
    let env = |name: &str| std::env::var(name).ok();
    let plan = spec::load(
        file.as_ref().map(|(p, t)| (p.as_str(), t.as_str())),
        &args.check_specs,
        &args.vars,
        &env,
    )?;
    let roots = match &args.cacert {
        Some(path) => {
            let shown = path.display();
            let pem =
                std::fs::read(path).map_err(|e| format!("reading --cacert '{shown}': {e}"))?;
            let roots = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|_| format!("--cacert '{shown}' does not hold PEM certificates"))?;
            if roots.is_empty() {
                return Err(format!("--cacert '{shown}' does not hold PEM certificates"));
            }
            roots
        }
        None => Vec::new(),
    };
    let clients = Clients::new(&roots)?;
    Ok((plan, clients))
}

/// The connection settings for SQL values, aimed at the database to read.
fn sql_settings(
    args: &Args,
    record: &Record,
    reporter: &Reporter,
) -> ToolResult<(String, pg::ConnSettings)> {
    let settings = pg::settings_for(&args.conn, None, TOOL).map_err(|e| connect_error(&e))?;
    for warning in settings.warnings() {
        reporter.warn(warning);
    }
    let database = args
        .database
        .clone()
        .or_else(|| record.database().map(str::to_owned))
        .unwrap_or_else(|| settings.dbname().to_owned());
    pg::Ident::new(database.clone()).map_err(|e| ToolError::usage(format!("--database: {e}")))?;
    let settings =
        pg::settings_for(&args.conn, Some(&database), TOOL).map_err(|e| connect_error(&e))?;
    Ok((database, settings))
}

fn connect_error(error: &pg::ConnectError) -> ToolError {
    if error.is_usage() {
        ToolError::usage(error.to_string())
    } else {
        ToolError::could_not_run(error.to_string())
    }
}

struct Context<'a> {
    plan: &'a Plan,
    clients: &'a Clients,
    record: &'a Record,
    defaults: Defaults,
    wait: std::time::Duration,
    rowcount_label: &'a str,
}

/// One check's result, in plan order.
struct Verified {
    results: Vec<Result<Done, String>>,
    /// The URL and expectation of each check, as far as they could be resolved.
    prepared: Vec<Prepared>,
    vars: Map<String, Value>,
    /// Why Postgres could not be reached, when a check needed it.
    could_not_run: Option<String>,
}

struct Done {
    outcome: Outcome,
}

#[derive(Default, Clone)]
struct Prepared {
    url: Option<String>,
    want: Option<Want>,
}

/// Resolves vars and expectations, runs every check at once, then the comparisons between
/// checks.
async fn verify(context: &Context<'_>, settings: Option<&pg::ConnSettings>) -> Verified {
    let plan = context.plan;
    let mut could_not_run = None;
    let session = match settings {
        Some(settings) => match sql::Session::open(settings, context.defaults.timeout).await {
            Ok(session) => Some(session),
            Err(e) => {
                could_not_run = Some(e.to_string());
                None
            }
        },
        None => None,
    };
    let sql_value = async |query: &str| -> Result<Value, String> {
        match &session {
            Some(session) => session
                .value(query)
                .await
                .map_err(|e| format!("query '{query}': {e}")),
            None => Err(format!(
                "could not verify: no Postgres connection for query '{query}' ({})",
                could_not_run.as_deref().unwrap_or("not connected")
            )),
        }
    };
    let mut vars = Map::new();
    let mut var_values: Vec<(String, Result<String, String>)> = Vec::new();
    for (name, query) in &plan.vars {
        let value = sql_value(query).await;
        vars.insert(name.clone(), value.clone().unwrap_or(Value::Null));
        let text = value.and_then(|v| {
            sql::url_text(&v).map_err(|e| format!("query '{query}' {e}: nothing to put in the URL"))
        });
        var_values.push((name.clone(), text.map_err(|e| format!("var '{name}': {e}"))));
    }

    let (mut prepared, ready) = prepare_checks(context, &var_values, &sql_value).await;
    drop(session);

    let deadline = Instant::now() + context.wait;
    let mut tasks = tokio::task::JoinSet::new();
    for (index, (check, item)) in plan.checks.iter().zip(&ready).enumerate() {
        let Ok((url, want)) = item else { continue };
        let (clients, check, url, want) = (
            context.clients.clone(),
            check.clone(),
            url.clone(),
            want.clone(),
        );
        let defaults = context.defaults;
        tasks.spawn(async move {
            let outcome =
                http::probe(&clients, &check, &url, want.as_ref(), defaults, deadline).await;
            (index, outcome)
        });
    }
    let mut outcomes: Vec<Option<Outcome>> = vec![None; plan.checks.len()];
    while let Some(joined) = tasks.join_next().await {
        if let Ok((index, outcome)) = joined {
            outcomes[index] = Some(outcome);
        }
    }
    let mut results: Vec<Result<Done, String>> = ready
        .into_iter()
        .zip(outcomes)
        .map(|(item, outcome)| match (item, outcome) {
            (Err(e), _) => Err(e),
            (Ok(_), Some(outcome)) => Ok(Done { outcome }),
            (Ok(_), None) => Err("the check's task ended without a result".to_owned()),
        })
        .collect();
    compare_between_checks(plan, &mut results, &mut prepared);
    Verified {
        results,
        prepared,
        vars,
        could_not_run,
    }
}

/// Each check's URL (placeholders filled) and expected value, or why it cannot be had.
async fn prepare_checks(
    context: &Context<'_>,
    var_values: &[(String, Result<String, String>)],
    sql_value: &impl AsyncFn(&str) -> Result<Value, String>,
) -> (Vec<Prepared>, Vec<Ready>) {
    let mut prepared = Vec::new();
    let mut ready: Vec<Ready> = Vec::new();
    for check in &context.plan.checks {
        let mut url = check.url.clone();
        let mut problem = None;
        for var in check.url_vars() {
            match var_values.iter().find(|(n, _)| *n == var) {
                Some((_, Ok(text))) => url = url.replace(&format!("{{{var}}}"), text),
                Some((_, Err(e))) => problem = problem.or_else(|| Some(e.clone())),
                None => problem = problem.or_else(|| Some(format!("var '{var}' is not defined"))),
            }
        }
        let want = match &check.expect {
            Some(Expectation { source, .. }) => match source {
                Source::Literal(value) => Ok(Some(Want {
                    value: value.clone(),
                    from: "as written in the check".to_owned(),
                })),
                Source::RowCount { schema, table } => rowcount(
                    context.record,
                    context.rowcount_label,
                    schema.as_deref(),
                    table,
                )
                .map(Some),
                Source::Sql(query) => sql_value(query).await.map(|value| {
                    Some(Want {
                        value,
                        from: "from SQL".to_owned(),
                    })
                }),
                // Compared once every check has run.
                Source::Check(_) => Ok(None),
            },
            None => Ok(None),
        };
        let shown = problem.is_none().then(|| redact::display_url_text(&url));
        let parsed = match problem {
            Some(e) => Err(e),
            None => reqwest::Url::parse(&url)
                .map_err(|e| format!("the URL is not valid once filled: {e}")),
        };
        let item = match (parsed, want) {
            (Ok(url), Ok(want)) => Ok((url, want)),
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
        prepared.push(Prepared {
            url: match &item {
                Ok((url, _)) => Some(redact::display_url(url)),
                Err(_) => shown,
            },
            want: item.as_ref().ok().and_then(|(_, w)| w.clone()),
        });
        ready.push(item);
    }
    (prepared, ready)
}

type Ready = Result<(reqwest::Url, Option<Want>), String>;

/// Checks whose expected value is another check's measurement, compared now that all ran.
fn compare_between_checks(
    plan: &Plan,
    results: &mut [Result<Done, String>],
    prepared: &mut [Prepared],
) {
    for (index, check) in plan.checks.iter().enumerate() {
        let Some(Expectation {
            measure,
            source: Source::Check(other),
        }) = &check.expect
        else {
            continue;
        };
        let Some(other_index) = plan.checks.iter().position(|c| &c.name == other) else {
            continue;
        };
        let theirs = match &results[other_index] {
            Ok(done) => done.outcome.measured.clone(),
            Err(_) => None,
        };
        let from = format!("what check '{other}' measured");
        prepared[index].want = theirs.clone().map(|value| Want {
            value,
            from: from.clone(),
        });
        let Ok(done) = &mut results[index] else {
            continue;
        };
        let outcome = &mut done.outcome;
        if outcome.failure.is_some() {
            continue;
        }
        match (&outcome.measured, theirs) {
            (_, None) => {
                outcome.failure = Some(format!(
                    "could not verify: check '{other}' measured nothing to compare with (it failed)"
                ));
            }
            (Some(mine), Some(theirs)) if !http::equal(mine, &theirs) => {
                outcome.failure = Some(format!(
                    "{}, expected {theirs} ({from})",
                    http::describe(*measure, mine)
                ));
            }
            _ => {}
        }
    }
}

/// The expected row count of a table from the record: `.rowcounts.<label>`, else `.dump`.
fn rowcount(
    record: &Record,
    label: &str,
    schema: Option<&str>,
    table: &str,
) -> Result<Want, String> {
    let schema = schema.or_else(|| record.schema()).ok_or_else(|| {
        format!("could not verify: rowcount '{table}' names no schema and the record names none: write SCHEMA.TABLE")
    })?;
    let places = [
        (
            record
                .section("rowcounts")
                .and_then(|s| s.get(label))
                .and_then(|l| l.get("tables")),
            format!(".rowcounts.{label}"),
        ),
        (
            record.section("dump").and_then(|s| s.get("tables")),
            ".dump.tables".to_owned(),
        ),
    ];
    for (tables, place) in places {
        let Some(found) = tables.and_then(Value::as_array).and_then(|tables| {
            tables
                .iter()
                .find(|t| t["schema"] == schema && t["name"] == table)
        }) else {
            continue;
        };
        return match found["rows"].as_u64() {
            Some(rows) => Ok(Want {
                value: Value::from(rows),
                from: format!("rows of {schema}.{table} in {place}"),
            }),
            None => Err(format!(
                "could not verify: the row count of {schema}.{table} in {place} is unknown"
            )),
        };
    }
    Err(format!(
        "could not verify: the record holds no row count for {schema}.{table} (looked in .rowcounts.{label} and .dump.tables): pipe in the output of rowcount-report --label {label}, or compare with sql:"
    ))
}

/// The checks, the endpoints and the vars into the section, and a line each for people.
fn fill_section(
    section: &mut SectionBuilder,
    plan: &Plan,
    verified: &Verified,
    scrubber: &Scrubber,
    reporter: &Reporter,
) {
    if let Some(reason) = &verified.could_not_run {
        let check = Check::fail("database", scrubber.text(reason));
        reporter.check(&check);
        section.push_check(check);
        section.mark_could_not_run();
    }
    let mut endpoints = Vec::new();
    for ((check, result), prepared) in plan
        .checks
        .iter()
        .zip(&verified.results)
        .zip(&verified.prepared)
    {
        let (entry, status) = endpoint(check, result, prepared);
        let detail = scrubber.text(entry["detail"].as_str().unwrap_or_default());
        let check = Check::new(check.name.clone(), status, detail);
        reporter.check(&check);
        section.push_check(check);
        endpoints.push(scrubber.value(&entry));
    }
    section.insert_data(
        "vars",
        scrubber.value(&Value::Object(verified.vars.clone())),
    );
    section.insert_data("endpoints", Value::Array(endpoints));
}

/// One endpoint's entry in the record and its check status.
fn endpoint(
    check: &ServiceCheck,
    result: &Result<Done, String>,
    prepared: &Prepared,
) -> (Value, record::Status) {
    let url = prepared
        .url
        .clone()
        .unwrap_or_else(|| redact::display_url_text(&check.url));
    let headers: Vec<&str> = check.headers.iter().map(|h| h.name.as_str()).collect();
    let measure = check.expect.as_ref().map(|e| e.measure.as_str());
    let (expected, expected_from) = match &prepared.want {
        Some(want) => (want.value.clone(), Value::from(want.from.clone())),
        None => (Value::Null, Value::Null),
    };
    let method = check.method.as_str();
    let (status, measured, attempts, latency_ms, failure, detail) = match result {
        Ok(Done { outcome }) => {
            let tries = format!(
                "[{}, {} ms]",
                plural(outcome.attempts as usize, "attempt"),
                outcome.latency_ms
            );
            let detail = if let Some(reason) = &outcome.failure {
                format!("{}: {method} {url}: {reason} {tries}", check.name)
            } else {
                let matched = prepared
                    .want
                    .as_ref()
                    .map(|want| format!(", as expected ({})", want.from))
                    .unwrap_or_default();
                format!(
                    "{}: {method} {url} answered {}{matched} {tries}",
                    check.name, outcome.seen
                )
            };
            (
                outcome.status,
                outcome.measured.clone(),
                outcome.attempts,
                outcome.latency_ms,
                outcome.failure.clone(),
                detail,
            )
        }
        Err(reason) => (
            None,
            None,
            0,
            0,
            Some(reason.clone()),
            format!("{}: {method} {url}: {reason}", check.name),
        ),
    };
    let ok = failure.is_none();
    let entry = json!({
        "name": check.name,
        "method": method,
        "url": url,
        "expected_status": check.status,
        "status": status,
        "measure": measure,
        "measured": measured,
        "expected": expected,
        "expected_from": expected_from,
        "headers": headers,
        "attempts": attempts,
        "latency_ms": latency_ms,
        "ok": ok,
        "detail": detail,
    });
    let status = if ok {
        record::Status::Ok
    } else {
        record::Status::Fail
    };
    (entry, status)
}

fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

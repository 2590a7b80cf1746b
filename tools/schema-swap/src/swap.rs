//! The swap: plan, checks that need the server, the prompt, then one transaction that sets
//! the live schema aside, restores, verifies and commits, or leaves everything as it was.

use crate::load::{self, Encoding, LoadError, Loaded};
use crate::plan::{self, Plan};
use crate::previous;
use crate::restore::Feed;
use crate::script::Item;
use crate::{CopyFormat, Job, TOOL};
use cli::{Reporter, ToolError};
use futures_util::SinkExt;
use pg::tokio_postgres::{Client, Error as PgError};
use pg::{Ident, catalog};
use record::{Check, SectionBuilder};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Instant;

/// Everything a swap learnt, for the record.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Per table of the plan: rows sent to the server, rows the server took (COPY), rows
    /// counted in the end, and the COPY format that loaded them.
    pub(crate) sent: Vec<Option<u64>>,
    pub(crate) copied: Vec<Option<u64>>,
    pub(crate) counted: Vec<Option<u64>>,
    pub(crate) formats: Vec<Option<&'static str>>,
    /// Tables that could not go in binary form, and why.
    pub(crate) as_text: Vec<String>,
    pub(crate) statements: u64,
    /// The statements that carried ties across the schema's border over (readiness::links).
    pub(crate) carried: Vec<String>,
    /// The dump's ATTACH PARTITION of the schema's tables to parents outside it, run after
    /// the restore (readiness::outside_attach).
    pub(crate) attach_later: Vec<String>,
    /// Settings pg_restore wrote that the server lacks, left out.
    pub(crate) left_out: BTreeSet<String>,
    /// Whether pg_init_privs got the restored schema's initial privileges (when there were).
    pub(crate) initial_privileges_written: bool,
    pub(crate) restore_ms: u64,
    pub(crate) verify_ms: u64,
}

/// Why the transaction did not commit.
#[derive(Debug)]
pub(crate) enum Failure {
    /// A check failed, or a statement: the check's name and why.
    Failed(&'static str, String),
    /// Another swap of the schema holds the lock.
    Locked(String),
    /// The connection went away before COMMIT: the server rolls back.
    Lost(String),
    /// SIGINT or SIGTERM before COMMIT.
    Interrupted(&'static str),
}

#[allow(clippy::too_many_lines)] // the swap's steps read top to bottom, as the runbook's do
pub async fn run(
    job: &Job,
    section: &mut SectionBuilder,
    reporter: &Reporter,
) -> Result<(), ToolError> {
    crate::empty_data(section);
    let Some(dump) = job.dump.as_deref() else {
        return Err(ToolError::usage("no dump to restore"));
    };
    section.insert_data("dump", json!(dump.display().to_string()));
    let schema = &job.schema;

    // 1. The archive: what will be restored, and how many rows each table must get.
    let started = Instant::now();
    let spinner = reporter.spinner(format!("Reading '{}'", dump.display()));
    let planned = plan::make(dump, schema.as_str(), job.dump_section.as_ref(), job.jobs);
    spinner.finish_and_clear();
    let mut plan = match planned {
        Ok(plan) => plan,
        Err(e) => {
            push(section, reporter, Check::fail(e.check, e.message));
            return Ok(());
        }
    };
    push(
        section,
        reporter,
        Check::ok(
            "dump",
            format!(
                "dump '{}': {} entries of schema {schema}, {} tables, {} rows (counted by {}, {} ms)",
                dump.display(),
                plan.entry_ids.len(),
                plan.tables.len(),
                plan.total_rows(),
                plan.counts_from,
                started.elapsed().as_millis()
            ),
        ),
    );

    // 2. The server: reachable, a pg_restore that fits it, the roles the dump names.
    let (client, connection) = match pg::connect(&job.settings).await {
        Ok(found) => found,
        Err(e) => {
            push(section, reporter, Check::fail("server", e.to_string()));
            section.mark_could_not_run();
            return Ok(());
        }
    };
    let Some(ready) = preflight(job, &plan, &client, section, reporter).await else {
        return Ok(());
    };
    let Some(aside) = previous::free_aside_name_or_fail(&client, schema, section, reporter).await
    else {
        return Ok(());
    };
    if let Some(into) = &job.into {
        if !copy_possible(&client, into, &ready, section, reporter).await? {
            return Ok(());
        }
        // Foreign keys to tables of other schemas would tie live tables to the copy.
        let leaving = plan::foreign_keys_leaving(&plan);
        if !leaving.is_empty() {
            push(
                section,
                reporter,
                Check::warn(
                    "foreign_keys",
                    format!(
                        "the copy has no foreign keys to tables outside {schema} (they would tie live tables to it): {}",
                        leaving
                            .iter()
                            .map(|(_, name)| name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
            );
            plan.leave_out(&leaving.iter().map(|(id, _)| *id).collect());
        }
    }
    // With --into the live schema is out of the way only inside the transaction: no
    // previous schema is kept.
    let previous_name = (ready.exists && job.into.is_none()).then(|| aside.clone());
    section.insert_data("previous", json!(previous_name.as_ref().map(Ident::as_str)));
    section.insert_data("into", json!(job.into.as_ref().map(Ident::as_str)));
    section.insert_data("tables", tables_value(&plan, &Stats::default()));

    let what = match (&job.into, &previous_name) {
        (Some(into), _) => format!("restore the dump's {schema} as {into} beside the live one:"),
        (None, Some(aside)) => format!("set {schema} aside as {aside}, then restore"),
        (None, None) => format!("{schema} does not exist: create it and restore"),
    };
    let summary = format!(
        "{what} {} entries ({} tables, {} rows) from '{}' with pg_restore {} in database {}",
        plan.entry_ids.len(),
        plan.tables.len(),
        plan.total_rows(),
        dump.display(),
        ready.pg_restore.version,
        job.settings.dbname()
    );
    if job.dry_run {
        push(
            section,
            reporter,
            Check::ok("plan", format!("dry run, nothing changed: would {summary}")),
        );
        return Ok(());
    }

    // 3. The operator's yes.
    let question = match &job.into {
        Some(into) => format!(
            "About to restore schema {schema} as the new schema {into} in {} ({}); the live {schema} stays as it is",
            job.settings.dbname(),
            job.settings.describe()
        ),
        None => format!(
            "About to replace schema {schema} in {} ({}): services keep the old one until the commit",
            job.settings.dbname(),
            job.settings.describe()
        ),
    };
    if !previous::ask(job, &question, section, reporter)? {
        return Ok(());
    }

    // 4. The transaction. From here a signal must not end the process before the record
    // says whether the transaction rolled back or committed: this tool handles it.
    cli::defer_signals();
    reporter.info(format!(
        "{}: {summary}",
        if job.into.is_some() {
            "Copying"
        } else {
            "Replacing"
        }
    ));
    let mut stats = Stats {
        sent: vec![None; plan.tables.len()],
        copied: vec![None; plan.tables.len()],
        counted: vec![None; plan.tables.len()],
        formats: vec![None; plan.tables.len()],
        ..Stats::default()
    };
    let lists = write_list_file(&plan.before_data, "before the data")
        .and_then(|before| Ok((before, write_list_file(&plan.after_data, "after the data")?)));
    let (before_data, after_data) = match lists {
        Ok(files) => files,
        Err(e) => {
            push(section, reporter, Check::fail("pg_restore", e));
            section.mark_could_not_run();
            return Ok(());
        }
    };
    let transaction = swap_transaction(
        job,
        &plan,
        &client,
        &ready,
        ready.exists.then_some(&aside),
        [before_data.path(), after_data.path()],
        &mut stats,
        reporter,
    );
    let outcome = tokio::select! {
        outcome = transaction => outcome,
        signal = interrupted() => Err(Failure::Interrupted(signal)),
    };
    section.insert_data("tables", tables_value(&plan, &stats));
    section.insert_data(
        "timings_ms",
        json!({ "restore": stats.restore_ms, "verify": stats.verify_ms }),
    );
    section.insert_data("statements", json!(stats.statements));
    section.insert_data("settings_left_out", json!(stats.left_out));
    section.insert_data("carried_over", json!(stats.carried));
    if let Some(meta) = &ready.assessment.metadata {
        let mut value = meta.to_value();
        value["initial_privileges_written"] = json!(stats.initial_privileges_written);
        section.insert_data("schema_metadata", value);
    }
    if !stats.left_out.is_empty() {
        let names: Vec<&str> = stats.left_out.iter().map(String::as_str).collect();
        push(
            section,
            reporter,
            Check::warn(
                "settings",
                format!(
                    "left out the settings pg_restore {} writes and PostgreSQL {} does not have: {}",
                    ready.pg_restore.version,
                    ready.server_major,
                    names.join(", ")
                ),
            ),
        );
    }
    if !stats.as_text.is_empty() {
        push(
            section,
            reporter,
            Check::warn(
                "copy_format",
                format!(
                    "loaded as text instead of binary: {}",
                    stats.as_text.join("; ")
                ),
            ),
        );
    }
    if let Err(failure) = outcome {
        roll_back(client, failure, section, reporter).await;
        connection.abort();
        return Ok(());
    }

    if let Some(meta) = &ready.assessment.metadata {
        if meta.initial_privileges.is_some() && !stats.initial_privileges_written {
            push(
                section,
                reporter,
                Check::warn(
                    "schema_metadata",
                    format!(
                        "{} got the privileges of the {} schema, but not its initial privileges (pg_init_privs), which only a superuser may write: later dumps will write its default grants out in full",
                        job.schema,
                        meta.source.name()
                    ),
                ),
            );
        }
    }

    // 5. The commit: not raced with signals, its outcome must be known.
    let commit_started = Instant::now();
    let how_to_tell = format!(
        "run '{TOOL} --list --schema {}' to see whether {aside} exists",
        shell_word(schema.as_str())
    );
    if !commit(&client, &how_to_tell, section, reporter).await {
        return Ok(());
    }
    section.insert_data("committed", json!(true));
    if let Some(into) = &job.into {
        let copied = format!(
            "{schema} of '{}' restored as {into}: {} tables, {} rows, verified; the live {schema} is as it was; committed in {} ms",
            dump.display(),
            plan.tables.len(),
            plan.total_rows(),
            commit_started.elapsed().as_millis()
        );
        push(section, reporter, Check::ok("swap", copied));
        return Ok(());
    }
    let restored = format!(
        "{schema} restored from '{}': {} tables, {} rows, verified; committed in {} ms",
        dump.display(),
        plan.tables.len(),
        plan.total_rows(),
        commit_started.elapsed().as_millis()
    );
    push(section, reporter, Check::ok("swap", restored));
    if let Some(aside) = &previous_name {
        section.insert_data(
            "rollback",
            json!({
                "command": format!("{TOOL} --rollback --schema {}", shell_word(schema.as_str())),
                "sql": format!(
                    "BEGIN; ALTER SCHEMA {schema} RENAME TO {}; ALTER SCHEMA {aside} RENAME TO {schema}; COMMIT;",
                    Ident::new(format!("{}_failed", aside.as_str())).map_or_else(|_| aside.quoted(), |i| i.quoted())
                ),
            }),
        );
        if job.drop_previous {
            let check = previous::drop_one(&client, aside, job.lock_timeout).await;
            push(section, reporter, check);
        } else {
            reporter.info(format!(
                "Previous schema kept as {aside}; roll back with: {TOOL} --rollback --schema {}",
                shell_word(schema.as_str())
            ));
        }
    }
    Ok(())
}

/// Whether `--into NAME` can make its copy: NAME is free (a usage error otherwise, exit 2),
/// and no extension lives in the schema (the copy's objects would need it in the copy, and
/// an extension exists once per database).
pub(crate) async fn copy_possible(
    client: &Client,
    into: &Ident,
    ready: &Ready,
    section: &mut SectionBuilder,
    reporter: &Reporter,
) -> Result<bool, ToolError> {
    match catalog::schema(client, into.as_str()).await {
        Ok(None) => {}
        Ok(Some(_)) => {
            let message = format!(
                "--into {into}: that schema exists; name a new one (or drop it first, if it is an earlier copy)"
            );
            push(section, reporter, Check::fail("into", message.clone()));
            return Err(ToolError::usage(message));
        }
        Err(e) => {
            push(
                section,
                reporter,
                Check::fail(
                    "into",
                    format!("looking up schema {into}: {}", db_message(&e)),
                ),
            );
            return Ok(false);
        }
    }
    let moved: Vec<&str> = ready
        .assessment
        .extensions
        .iter()
        .filter(|e| e.action == readiness::extensions::Action::Move)
        .map(|e| e.name.as_str())
        .collect();
    if !moved.is_empty() {
        push(
            section,
            reporter,
            Check::fail(
                "extensions",
                format!(
                    "extensions live in {}: {}; a copy beside it would need them in the copy, and an extension exists once per database: restore into another database to look at it",
                    ready.assessment.schema,
                    moved.join(", ")
                ),
            ),
        );
        return Ok(false);
    }
    Ok(true)
}

/// Ends a transaction that did not get to COMMIT and says why in the record: in every case
/// the database is as it was.
pub(crate) async fn roll_back(
    client: Client,
    failure: Failure,
    section: &mut SectionBuilder,
    reporter: &Reporter,
) {
    let check = match failure {
        Failure::Failed(name, why) => {
            // Ends the aborted transaction; if this fails too the connection is gone,
            // and the server rolls back on its own.
            let _ = client.batch_execute("ROLLBACK").await;
            Check::fail(name, format!("{why}; rolled back, nothing changed"))
        }
        Failure::Locked(why) => {
            let _ = client.batch_execute("ROLLBACK").await;
            section.mark_could_not_run();
            Check::fail("lock", format!("{why}; nothing changed"))
        }
        Failure::Lost(why) => Check::fail(
            "connection",
            format!("{why}: the server rolls the unfinished transaction back, nothing changed"),
        ),
        Failure::Interrupted(signal) => Check::fail(
            "interrupted",
            format!(
                "interrupted by {signal} before the commit: the transaction was abandoned and rolls back, nothing changed"
            ),
        ),
    };
    push(section, reporter, check);
}

/// COMMIT, not raced with signals: its outcome must be known. False when it did not commit
/// (or may not have: then the record says how to find out and the exit is 4).
pub(crate) async fn commit(
    client: &Client,
    how_to_tell: &str,
    section: &mut SectionBuilder,
    reporter: &Reporter,
) -> bool {
    match client.batch_execute("COMMIT").await {
        Ok(()) => {}
        Err(e) if e.as_db_error().is_some() => {
            push(
                section,
                reporter,
                Check::fail(
                    "commit",
                    format!(
                        "COMMIT failed: {}; rolled back, nothing changed",
                        db_message(&e)
                    ),
                ),
            );
            return false;
        }
        Err(e) => {
            push(
                section,
                reporter,
                Check::fail(
                    "commit",
                    format!(
                        "the connection was lost during COMMIT ({e}): whether it committed is unknown; {how_to_tell}"
                    ),
                ),
            );
            section.mark_could_not_run();
            return false;
        }
    }
    true
}

/// What the server-side checks found.
pub(crate) struct Ready {
    pub(crate) pg_restore: pg::PgRestore,
    pub(crate) server_major: u32,
    pub(crate) superuser: bool,
    /// Whether the schema exists now.
    pub(crate) exists: bool,
    /// Views outside the schema to recreate (`--repoint-dependents`): name and definition.
    pub(crate) repoint: Vec<(String, String)>,
    /// The extensions to move and the metadata to give the schema, from readiness.
    pub(crate) assessment: readiness::Assessment,
    /// The server's settings: a `SET` pg_restore writes for another is left out.
    pub(crate) settings: BTreeSet<String>,
    /// For a dump from a newer major than the server, what a failed statement's message
    /// adds; empty otherwise.
    pub(crate) newer_dump_hint: String,
}

/// The server's version and role, a pg_restore that fits both the dump and the server, and
/// the roles the dump names: what any restore needs of the server.
pub(crate) async fn server_checks(
    job: &Job,
    plan: &Plan,
    client: &Client,
    section: &mut SectionBuilder,
    reporter: &Reporter,
) -> Option<(catalog::Server, pg::PgRestore)> {
    let server = match catalog::server(client).await {
        Ok(server) => server,
        Err(e) => {
            push(
                section,
                reporter,
                Check::fail(
                    "server",
                    format!("reading the server version: {}", db_message(&e)),
                ),
            );
            section.mark_could_not_run();
            return None;
        }
    };
    let requirement = pg::Requirement {
        min_major: pgdump::readable_by_pg_restore(plan.archive.header().version).map(|r| r.start),
        server_major: Some(server.major()),
    };
    let pg_restore = match pg::find_pg_restore(&job.pg_bindirs, requirement) {
        Ok((found, _)) => found,
        Err(no_fit) => {
            push(
                section,
                reporter,
                Check::fail("pg_restore", no_fit.to_string()),
            );
            section.mark_could_not_run();
            return None;
        }
    };
    section.insert_data(
        "pg_restore",
        json!({ "path": pg_restore.path.display().to_string(), "version": pg_restore.version, "major": pg_restore.major }),
    );
    let mut roles: Vec<String> = plan.owners.iter().cloned().collect();
    if let Some(listed) = job
        .dump_section
        .as_ref()
        .and_then(|d| d.get("roles"))
        .and_then(Value::as_array)
    {
        roles.extend(listed.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    roles.sort();
    roles.dedup();
    roles.retain(|r| !r.eq_ignore_ascii_case("public"));
    match catalog::missing_roles(client, &roles).await {
        Ok(missing) if missing.is_empty() => {}
        Ok(missing) => {
            let create: Vec<String> = missing
                .iter()
                .filter_map(|r| Ident::new(r.clone()).ok())
                .map(|r| format!("CREATE ROLE {r};"))
                .collect();
            push(
                section,
                reporter,
                Check::fail(
                    "roles",
                    format!(
                        "roles the dump needs do not exist: {}; create them first ({}) or run the migrations that do",
                        missing.join(", "),
                        create.join(" ")
                    ),
                ),
            );
            return None;
        }
        Err(e) => {
            push(
                section,
                reporter,
                Check::fail("roles", format!("listing roles: {}", db_message(&e))),
            );
            return None;
        }
    }
    Some((server, pg_restore))
}

#[allow(clippy::too_many_lines)] // one check after another, each with its own message
async fn preflight(
    job: &Job,
    plan: &Plan,
    client: &Client,
    section: &mut SectionBuilder,
    reporter: &Reporter,
) -> Option<Ready> {
    let (server, pg_restore) = server_checks(job, plan, client, section, reporter).await?;
    let exists = match catalog::schema(client, job.schema.as_str()).await {
        Ok(info) => info.is_some(),
        Err(e) => {
            push(
                section,
                reporter,
                Check::fail(
                    "schema",
                    format!("looking up schema {}: {}", job.schema, db_message(&e)),
                ),
            );
            return None;
        }
    };
    // What the dump needs of the target and what the swap does with extensions and the
    // schema's own metadata: the same assessment pg-preflight makes.
    let part = readiness::Part::of(&plan.archive, job.schema.as_str());
    let assessed = readiness::assess(client, &part, server.major()).await;
    let settings = client
        .query("SELECT name FROM pg_settings", &[])
        .await
        .map(|rows| rows.iter().map(|r| r.get::<_, String>(0)).collect());
    let (assessment, settings) = match (assessed, settings) {
        (Ok(a), Ok(s)) => (a, s),
        (Err(e), _) | (_, Err(e)) => {
            push(
                section,
                reporter,
                Check::fail(
                    "prerequisites",
                    format!(
                        "reading what the dump needs of the target: {}",
                        db_message(&e)
                    ),
                ),
            );
            return None;
        }
    };
    section.insert_data("extensions", assessment.extensions_value());
    section.insert_data("schema_metadata", assessment.metadata_value());
    let mut refused = false;
    let mut checks: Vec<Check> = assessment.extensions_check().into_iter().collect();
    checks.push(assessment.prerequisites_check(part.entries.len()));
    for check in checks {
        refused |= check.status == record::Status::Fail;
        push(section, reporter, check);
    }
    if refused {
        return None;
    }
    let mut repoint = Vec::new();
    // A copy beside the live schema (--into) leaves what depends on it alone.
    if exists && job.into.is_none() {
        let dependents = match catalog::dependents(client, job.schema.as_str()).await {
            Ok(found) => found,
            Err(e) => {
                push(
                    section,
                    reporter,
                    Check::fail(
                        "dependents",
                        format!("listing dependents: {}", db_message(&e)),
                    ),
                );
                return None;
            }
        };
        section.insert_data(
            "dependents",
            Value::Array(
                dependents
                    .iter()
                    .map(catalog::Dependent::to_value)
                    .collect(),
            ),
        );
        if !dependents.is_empty() {
            let views: Vec<&catalog::Dependent> =
                dependents.iter().filter(|d| d.kind == "view").collect();
            if job.repoint_dependents && !views.is_empty() {
                match view_definitions(client, &views).await {
                    Ok(found) => repoint = found,
                    Err(e) => {
                        push(
                            section,
                            reporter,
                            Check::fail(
                                "dependents",
                                format!("reading view definitions: {}", db_message(&e)),
                            ),
                        );
                        return None;
                    }
                }
            }
            let names: Vec<&str> = dependents.iter().map(|d| d.object.as_str()).collect();
            let detail = if repoint.is_empty() {
                format!(
                    "{} objects outside {} depend on it and will keep pointing to the set-aside schema: {} (--repoint-dependents recreates views)",
                    dependents.len(),
                    job.schema,
                    names.join(", ")
                )
            } else {
                format!(
                    "{} objects outside {} depend on it: {}; {} views will be recreated on the restored schema",
                    dependents.len(),
                    job.schema,
                    names.join(", "),
                    repoint.len()
                )
            };
            push(section, reporter, Check::warn("dependents", detail));
        }
    }
    Some(Ready {
        pg_restore,
        server_major: server.major(),
        superuser: server.superuser,
        exists,
        repoint,
        assessment,
        settings,
        newer_dump_hint: newer_dump_hint(plan, server.major()),
    })
}

/// For a dump made from a newer major than the server: a failed statement probably uses
/// what the server lacks, and the cure is a newer server.
pub(crate) fn newer_dump_hint(plan: &Plan, server_major: u32) -> String {
    let source = plan
        .archive
        .header()
        .server_version
        .as_ref()
        .map(|v| v.to_string_lossy().into_owned());
    let Some(source) = source else {
        return String::new();
    };
    let major: Option<u32> = source
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok();
    match major {
        Some(major) if major > server_major => format!(
            " (the dump comes from PostgreSQL {source} and this server is PostgreSQL {server_major}: its definitions use what {server_major} lacks; restore it into PostgreSQL {major} or newer, with pg_restore {major} or newer)"
        ),
        _ => String::new(),
    }
}

/// Definitions of views, fully qualified (read with an empty search_path), to be recreated
/// after the restore by `CREATE OR REPLACE VIEW`.
async fn view_definitions(
    client: &Client,
    views: &[&catalog::Dependent],
) -> Result<Vec<(String, String)>, PgError> {
    client.batch_execute("SET search_path = pg_catalog").await?;
    let mut out = Vec::new();
    for view in views {
        let row = client
            .query_one(
                "SELECT format('%I.%I', n.nspname, c.relname), pg_get_viewdef(c.oid)
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = $1 AND format('%I.%I', n.nspname, c.relname) = $2",
                &[&view.schema, &view.name],
            )
            .await?;
        out.push((row.get(0), row.get(1)));
    }
    client.batch_execute("RESET search_path").await?;
    Ok(out)
}

pub(crate) fn write_list_file(ids: &[u32], what: &str) -> Result<tempfile::NamedTempFile, String> {
    use std::io::Write;
    let mut file = tempfile::Builder::new()
        .prefix("schema-swap-")
        .suffix(".list")
        .tempfile()
        .map_err(|e| format!("writing pg_restore's list file: {e}"))?;
    file.write_all(plan::list_file(ids, what).as_bytes())
        .and_then(|()| file.flush())
        .map_err(|e| format!("writing pg_restore's list file: {e}"))?;
    Ok(file)
}

/// Opens a restore's transaction: BEGIN with the lock timeout, the check for a dead client
/// (14 and later), the schema's advisory lock (another swap of it refuses at once), and the
/// session's memory for index builds, key validation and refreshes.
pub(crate) async fn begin_locked(
    client: &Client,
    job: &Job,
    server_major: u32,
) -> Result<(), Failure> {
    let schema = &job.schema;
    let step = |what: &'static str| move |e: PgError| step_failure(client, what, &e);
    client
        .batch_execute(&format!(
            "BEGIN; SET LOCAL lock_timeout = '{}ms'",
            job.lock_timeout.as_millis()
        ))
        .await
        .map_err(step("starting the transaction"))?;
    if server_major >= 14 {
        // A killed client is noticed within seconds even while a long statement runs.
        client
            .batch_execute("SET LOCAL client_connection_check_interval = '2s'")
            .await
            .map_err(step("setting client_connection_check_interval"))?;
    }
    let key = previous::lock_key(schema);
    let locked: bool = client
        .query_one(previous::TRY_LOCK_SQL, &[&key])
        .await
        .map_err(step("taking the advisory lock"))?
        .get(0);
    if !locked {
        let holder = previous::lock_holder(client, &key).await;
        return Err(Failure::Locked(format!(
            "another schema-swap of {schema} is running{holder}: wait for it, then look again"
        )));
    }
    // pg_restore runs with the server's defaults (64 MB and 4 MB): more memory for this one
    // session makes its index builds, key validation and refreshes sort in memory.
    client
        .batch_execute(&format!(
            "SET LOCAL maintenance_work_mem = '{}kB'; SET LOCAL work_mem = '{}kB'",
            (job.maintenance_work_mem / 1024).max(1024),
            (job.work_mem / 1024).max(64)
        ))
        .await
        .map_err(step("setting maintenance_work_mem and work_mem"))
}

/// A failed statement of a transaction: the connection lost (the server rolls back), or the
/// server's reason.
pub(crate) fn step_failure(client: &Client, what: &str, e: &PgError) -> Failure {
    if e.as_db_error().is_none() && client.is_closed() {
        Failure::Lost(format!("the connection was lost while {what}: {e}"))
    } else {
        Failure::Failed("swap", format!("{what}: {}", db_message(e)))
    }
}

/// Everything up to COMMIT, in one transaction.
#[allow(clippy::too_many_arguments, clippy::too_many_lines)] // one call site; the transaction reads top to bottom
async fn swap_transaction(
    job: &Job,
    plan: &Plan,
    client: &Client,
    ready: &Ready,
    aside: Option<&Ident>,
    [before_data, after_data]: [&std::path::Path; 2],
    stats: &mut Stats,
    reporter: &Reporter,
) -> Result<(), Failure> {
    let schema = &job.schema;
    let step = |what: String| move |e: PgError| step_failure(client, &what, &e);
    begin_locked(client, job, ready.server_major).await?;
    if let Some(aside) = aside {
        client
            .batch_execute(&format!("ALTER SCHEMA {schema} RENAME TO {aside}"))
            .await
            .map_err(step(format!("setting {schema} aside as {aside}")))?;
        if job.into.is_some() {
            reporter.ok(format!(
                "{schema} out of the way as {aside} while the copy is restored (only in this transaction, renamed back before the commit)"
            ));
        } else {
            reporter.ok(format!(
                "{schema} set aside as {aside} (until the commit, only in this transaction)"
            ));
        }
    }
    // The schema is created here, not by the dump's CREATE SCHEMA (left out when it comes),
    // so that what must be in it before anything is restored can be put there first.
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .map_err(step(format!("creating schema {schema}")))?;
    if let Some(meta) = &ready.assessment.metadata {
        let written = readiness::metadata::apply(client, schema, meta, ready.superuser)
            .await
            .map_err(step(format!(
                "giving the new {schema} the {} schema's owner, privileges and comment",
                meta.source.name()
            )))?;
        stats.initial_privileges_written = written;
        reporter.ok(format!(
            "the new {schema} has the {} schema's {}",
            meta.source.name(),
            meta.describe()
        ));
    }
    for extension in &ready.assessment.extensions {
        if extension.action != readiness::extensions::Action::Move {
            continue;
        }
        let name = Ident::new(extension.name.clone())
            .map_err(|e| Failure::Failed("extensions", e.to_string()))?;
        client
            .batch_execute(&format!("ALTER EXTENSION {name} SET SCHEMA {schema}"))
            .await
            .map_err(step(format!(
                "moving extension {name} into the restored {schema}"
            )))?;
        reporter.ok(format!(
            "extension {name} moved into the restored {schema} (the set-aside schema's objects keep using it)"
        ));
    }

    // A copy (--into) leaves the live schema's ties across its border as they are.
    let carry = job.into.is_none();
    if let Some(aside) = aside.filter(|_| carry) {
        let untied = readiness::links::untie_from_outside_parents(
            client,
            &ready.assessment.links,
            schema.as_str(),
            aside.as_str(),
        )
        .await
        .map_err(step(format!(
            "untying {aside}'s tables from their parents outside it"
        )))?;
        stats.carried.extend(untied.statements);
    }

    let restore_started = Instant::now();
    let freeze = !job.no_freeze;
    if !plan.before_data.is_empty() {
        run_pg_restore(client, ready, before_data, plan, freeze, stats, reporter).await?;
    }
    load_tables(client, job, plan, ready.server_major, stats, reporter).await?;
    if !plan.after_data.is_empty() {
        run_pg_restore(client, ready, after_data, plan, freeze, stats, reporter).await?;
    }
    let attach_later = std::mem::take(&mut stats.attach_later);
    if !carry && !attach_later.is_empty() {
        reporter.warn(format!(
            "the copy's partitions of tables outside {schema} were not attached (the live ones are): {}",
            attach_later.join("; ")
        ));
    }
    for sql in attach_later.into_iter().filter(|_| carry) {
        client.batch_execute(&sql).await.map_err(step(format!(
            "attaching a restored partition to its parent outside {schema}"
        )))?;
        stats.carried.push(sql);
    }
    stats.restore_ms = millis(restore_started);
    reporter.ok(format!(
        "restored: {} statements, {} tables in {:.1} s",
        stats.statements,
        plan.tables.len(),
        restore_started.elapsed().as_secs_f64()
    ));

    let verify_started = Instant::now();
    verify(client, plan, stats).await?;
    stats.verify_ms = millis(verify_started);
    reporter.ok(format!(
        "row counts verified: {} tables hold exactly the dump's {} rows",
        plan.tables.len(),
        plan.total_rows()
    ));

    if let Some(aside) = aside.filter(|_| carry) {
        let carried = readiness::links::carry_over(
            client,
            &ready.assessment.links,
            &ready.assessment.memberships,
            schema.as_str(),
            aside.as_str(),
            ready.server_major,
        )
        .await
        .map_err(step(format!(
            "carrying {aside}'s partitions, children and publications over to the restored {schema}"
        )))?;
        for statement in &carried.statements {
            reporter.ok(format!("carried over: {statement}"));
        }
        stats.carried.extend(carried.statements);
    }

    if let Some(into) = &job.into {
        client
            .batch_execute(&format!("ALTER SCHEMA {schema} RENAME TO {into}"))
            .await
            .map_err(step(format!("naming the restored copy {into}")))?;
        if let Some(aside) = aside {
            client
                .batch_execute(&format!("ALTER SCHEMA {aside} RENAME TO {schema}"))
                .await
                .map_err(step(format!("naming {aside} {schema} again")))?;
        }
        reporter.ok(format!(
            "the restored copy is {into}; the live {schema} has its name back"
        ));
    }
    for (view, definition) in &ready.repoint {
        client
            .batch_execute(&format!("CREATE OR REPLACE VIEW {view} AS {definition}"))
            .await
            .map_err(|e| {
                Failure::Failed(
                    "repoint",
                    format!(
                        "recreating view {view} on the restored schema: {}",
                        db_message(&e)
                    ),
                )
            })?;
        reporter.ok(format!("view {view} now reads the restored {schema}"));
    }
    Ok(())
}

/// Runs pg_restore on one list of entries and applies its script.
pub(crate) async fn run_pg_restore(
    client: &Client,
    ready: &Ready,
    list_file: &std::path::Path,
    plan: &Plan,
    freeze: bool,
    stats: &mut Stats,
    reporter: &Reporter,
) -> Result<(), Failure> {
    let mut feed =
        Feed::start(&ready.pg_restore.path, list_file, plan.archive.path()).map_err(|e| {
            Failure::Failed(
                "pg_restore",
                format!("starting {}: {e}", ready.pg_restore.path.display()),
            )
        })?;
    let applied = apply(client, &mut feed, plan, ready, freeze, stats, reporter).await;
    if let Err(failure) = applied {
        let said = feed.stderr_after_kill();
        return Err(match failure {
            Failure::Failed(name, why) if !said.is_empty() => {
                Failure::Failed(name, format!("{why} (pg_restore said: {said})"))
            }
            other => other,
        });
    }
    feed.finish()
        .await
        .map_err(|e| Failure::Failed("pg_restore", e))
}

/// Loads every table's COPY data from the archive, in binary form where it can.
pub(crate) async fn load_tables(
    client: &Client,
    job: &Job,
    plan: &Plan,
    server_major: u32,
    stats: &mut Stats,
    reporter: &Reporter,
) -> Result<(), Failure> {
    let bar = reporter.bar(
        plan.total_rows(),
        format!("Loading {} tables", plan.tables.len()),
    );
    let failed = |what: String, e: &PgError| {
        if e.as_db_error().is_none() && client.is_closed() {
            Failure::Lost(format!("the connection was lost while {what}: {e}"))
        } else {
            Failure::Failed("restore", format!("{what} failed: {}", db_message(e)))
        }
    };
    for (index, table) in plan.tables.iter().enumerate() {
        let Some(copy_sql) = &table.copy_sql else {
            continue;
        };
        let name = format!("{}.{}", table.schema, table.name);
        // Before 12 the server read a real through double precision, rounding twice; the
        // converter rounds once, as 12 and later do.
        let binary = job.copy_format == CopyFormat::Auto
            && plan.binary_safe_encoding()
            && server_major >= 12;
        let target = load::target(client, copy_sql, (&table.schema, &table.name), binary)
            .await
            .map_err(|e| failed(format!("looking up the columns of {name}"), &e))?;
        let freeze = !job.no_freeze && target.plain;
        let mut encoding = target.encoding.clone();
        loop {
            let sql = load::copy_statement(copy_sql, &encoding, freeze);
            stats.statements += 1;
            let loaded = load::copy_rows(
                client,
                &plan.archive,
                table.dump_id,
                &sql,
                &encoding,
                |rows| bar.inc(rows),
            )
            .await;
            match loaded {
                Ok(Loaded::Done { sent, copied }) => {
                    stats.sent[index] = Some(sent);
                    stats.copied[index] = Some(copied);
                    stats.formats[index] = Some(encoding.name());
                    break;
                }
                Ok(Loaded::Unconvertible { error, sent }) => {
                    let why = target.explain(&error);
                    bar.set_position(bar.position().saturating_sub(sent));
                    let Some(truncate) = &target.truncate_sql else {
                        return Err(Failure::Failed(
                            "restore",
                            format!(
                                "{name}: {why}, and the table cannot be emptied to load it again as text"
                            ),
                        ));
                    };
                    client
                        .batch_execute(truncate)
                        .await
                        .map_err(|e| failed(format!("emptying {name} to load it as text"), &e))?;
                    reporter.warn(format!("{name}: {why}: loading it as text instead"));
                    stats.as_text.push(format!("{name} ({why})"));
                    encoding = Encoding::Text;
                }
                Err(LoadError::Server(e)) => {
                    return Err(failed(format!("loading {name}"), &e));
                }
                Err(LoadError::Data(why)) => {
                    return Err(Failure::Failed(
                        "data_blocks",
                        format!("{why}; pick another snapshot"),
                    ));
                }
                Err(LoadError::Internal(why)) => {
                    return Err(Failure::Failed("restore", format!("loading {name}: {why}")));
                }
            }
        }
    }
    bar.finish_and_clear();
    Ok(())
}

/// A COPY under way: where its data goes, and which table and entry it fills.
struct Copying {
    sink: std::pin::Pin<Box<pg::tokio_postgres::CopyInSink<bytes::Bytes>>>,
    table: Option<usize>,
    entry: String,
    sql: String,
}

/// Whether COPY may load `table` frozen: a plain table (not a partitioned one, which COPY
/// FREEZE refuses). Every table of the schema was created in this transaction, which FREEZE
/// needs; a lookup that fails just means no FREEZE.
async fn is_plain_table(client: &Client, table: &crate::plan::Table) -> bool {
    client
        .query_opt(
            "SELECT c.relkind = 'r' FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relname = $2",
            &[&table.schema, &table.name],
        )
        .await
        .ok()
        .flatten()
        .is_some_and(|row| row.get::<_, bool>(0))
}

/// Applies the script as it arrives. With `freeze`, tables are loaded with COPY FREEZE: rows
/// written frozen by the transaction that created their table, so the index builds, key
/// checks, refreshes and counts after it skip per-row visibility work. Nobody else can see the
/// tables before the commit either way.
#[allow(clippy::too_many_lines)] // one match over the script's items
async fn apply(
    client: &Client,
    feed: &mut Feed,
    plan: &Plan,
    ready: &Ready,
    freeze: bool,
    stats: &mut Stats,
    reporter: &Reporter,
) -> Result<(), Failure> {
    let bar = reporter.bar(
        plan.total_rows(),
        format!("Restoring {} tables", plan.tables.len()),
    );
    let failed = |entry: &str, sql: &str, e: &PgError| {
        if e.as_db_error().is_none() && client.is_closed() {
            Failure::Lost(format!(
                "the connection was lost while restoring {entry}: {e}"
            ))
        } else {
            let first_line = sql.lines().next().unwrap_or("");
            Failure::Failed(
                "restore",
                format!(
                    "restoring {entry} failed at '{first_line}': {}{}",
                    db_message(e),
                    ready.newer_dump_hint
                ),
            )
        }
    };
    let mut copy: Option<Copying> = None;
    while let Some(message) = feed.items.recv().await {
        let item = message.map_err(|e| Failure::Failed("pg_restore", e.to_string()))?;
        match item {
            Item::Statement { sql, entry } => {
                // The swap created the schema itself, before the restore.
                if readiness::is_create_schema(&sql, &ready.assessment.schema) {
                    continue;
                }
                if let Some(name) = readiness::unknown_setting(&sql, &ready.settings) {
                    stats.left_out.insert(name);
                    continue;
                }
                match readiness::outside_attach(&sql, &ready.assessment.schema) {
                    Some(readiness::OutsideAttach::Table) => {
                        stats.attach_later.push(sql);
                        continue;
                    }
                    // The table's ATTACH, run later, attaches the restored indexes.
                    Some(readiness::OutsideAttach::Index) => continue,
                    None => {}
                }
                stats.statements += 1;
                client
                    .batch_execute(&sql)
                    .await
                    .map_err(|e| failed(&entry, &sql, &e))?;
            }
            Item::CopyStart { sql, entry } => {
                stats.statements += 1;
                let table = plan.table_for_copy(&sql);
                let copy_sql = match table {
                    Some(index) if freeze && is_plain_table(client, &plan.tables[index]).await => {
                        format!("{sql} WITH (FREEZE)")
                    }
                    _ => sql.clone(),
                };
                let sink = client
                    .copy_in::<_, bytes::Bytes>(copy_sql.as_str())
                    .await
                    .map_err(|e| failed(&entry, &sql, &e))?;
                copy = Some(Copying {
                    sink: Box::pin(sink),
                    table,
                    entry,
                    sql,
                });
            }
            Item::CopyData { data, rows } => {
                let Some(c) = copy.as_mut() else {
                    return Err(Failure::Failed(
                        "pg_restore",
                        "COPY data outside a COPY".into(),
                    ));
                };
                c.sink
                    .send(bytes::Bytes::from(data))
                    .await
                    .map_err(|e| failed(&c.entry, &c.sql, &e))?;
                bar.inc(rows);
            }
            Item::CopyEnd { rows } => {
                let Some(mut c) = copy.take() else {
                    return Err(Failure::Failed(
                        "pg_restore",
                        "end of COPY data outside a COPY".into(),
                    ));
                };
                let copied = c
                    .sink
                    .as_mut()
                    .finish()
                    .await
                    .map_err(|e| failed(&c.entry, &c.sql, &e))?;
                let (table, entry) = (c.table, c.entry);
                match table {
                    Some(index) => {
                        stats.sent[index] = Some(rows);
                        stats.copied[index] = Some(copied);
                    }
                    None => {
                        return Err(Failure::Failed(
                            "restore",
                            format!(
                                "pg_restore wrote data for {entry}, which the archive's table of contents does not list for this schema"
                            ),
                        ));
                    }
                }
            }
            Item::Skipped(_) => {}
        }
    }
    bar.finish_and_clear();
    if copy.is_some() {
        return Err(Failure::Failed(
            "pg_restore",
            "pg_restore's output ended inside COPY data".into(),
        ));
    }
    Ok(())
}

/// Every table must hold exactly what the archive reader counted: as sent, as taken by COPY,
/// and as counted now in the transaction.
pub(crate) async fn verify(client: &Client, plan: &Plan, stats: &mut Stats) -> Result<(), Failure> {
    let mut wrong = Vec::new();
    for (index, table) in plan.tables.iter().enumerate() {
        if table.copy_sql.is_none() {
            continue;
        }
        let (Ok(schema), Ok(name)) = (
            Ident::new(table.schema.clone()),
            Ident::new(table.name.clone()),
        ) else {
            wrong.push(format!(
                "{}.{}: name cannot be queried",
                table.schema, table.name
            ));
            continue;
        };
        // ONLY: the table's own rows. A parent's count would include its inheritance
        // children's, which the dump counts under each child.
        let sql = format!("SELECT count(*) FROM ONLY {schema}.{name}");
        let counted: i64 = client
            .query_one(sql.as_str(), &[])
            .await
            .map_err(|e| {
                if e.as_db_error().is_none() && client.is_closed() {
                    Failure::Lost(format!(
                        "the connection was lost while counting {}.{}: {e}",
                        table.schema, table.name
                    ))
                } else {
                    Failure::Failed(
                        "verify",
                        format!(
                            "counting {}.{}: {}",
                            table.schema,
                            table.name,
                            db_message(&e)
                        ),
                    )
                }
            })?
            .get(0);
        let counted = u64::try_from(counted).unwrap_or(0);
        stats.counted[index] = Some(counted);
        let expected = table.expected_rows;
        let all = [stats.sent[index], stats.copied[index], Some(counted)];
        if all.iter().any(|n| *n != expected) {
            wrong.push(format!(
                "{}.{}: dump {}, sent {}, copied {}, counted {counted}",
                table.schema,
                table.name,
                show(expected),
                show(stats.sent[index]),
                show(stats.copied[index]),
            ));
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(Failure::Failed(
            "verify",
            format!("row counts differ from the dump: {}", wrong.join("; ")),
        ))
    }
}

fn show(n: Option<u64>) -> String {
    n.map_or_else(|| "none".to_owned(), |n| n.to_string())
}

pub(crate) fn tables_value(plan: &Plan, stats: &Stats) -> Value {
    Value::Array(
        plan.tables
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let get = |v: &Vec<Option<u64>>| v.get(i).copied().flatten();
                let counted = get(&stats.counted);
                json!({
                    "schema": t.schema, "name": t.name,
                    "expected_rows": t.expected_rows,
                    "written_rows": get(&stats.sent),
                    "copied_rows": get(&stats.copied),
                    "copy_format": stats.formats.get(i).copied().flatten(),
                    "counted_rows": counted,
                    "verified": counted.is_some() && counted == t.expected_rows
                        && get(&stats.copied) == t.expected_rows && get(&stats.sent) == t.expected_rows,
                })
            })
            .collect(),
    )
}

/// Resolves when SIGINT, SIGTERM or SIGHUP arrives (or arrived since the tool deferred
/// signals, before these handlers existed); names it. Never resolves if the handlers cannot
/// be installed (then cli's watcher stays deferred, and a kill still rolls back).
pub(crate) async fn interrupted() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return std::future::pending().await;
    };
    if let Some(name) = cli::signal_received() {
        return name;
    }
    tokio::select! {
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
        _ = hup.recv() => "SIGHUP",
    }
}

/// The server's message with its detail and hint, or the client error.
pub fn db_message(e: &PgError) -> String {
    match e.as_db_error() {
        Some(db) => {
            let detail = db.detail().map(|d| format!(" ({d})")).unwrap_or_default();
            let hint = db
                .hint()
                .map(|h| format!("; hint: {h}"))
                .unwrap_or_default();
            format!("{}{detail}{hint}", db.message())
        }
        None => e.to_string(),
    }
}

pub(crate) fn millis(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A word for a shell command line, quoted when it needs to be.
pub(crate) fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

pub fn push(section: &mut SectionBuilder, reporter: &Reporter, check: Check) {
    reporter.check(&check);
    section.push_check(check);
}

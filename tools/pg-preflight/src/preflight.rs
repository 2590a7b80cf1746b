//! The checks, in the order an operator would make them, each one a named entry in `checks`.

use crate::catalog::{self, Dependent, SchemaLock, Server};
use crate::{Plan, TOOL, conn};
use cli::Reporter;
use cli::values::ByteSize;
use pg::ConnArgs;
use pg::tokio_postgres::Client;
use record::{Check, SectionBuilder};
use serde_json::{Value, json};

/// The section's data keys, empty, for a section that did nothing (input failure, gate).
pub fn empty_data(section: &mut SectionBuilder) {
    for key in [
        "server",
        "database",
        "schema",
        "roles",
        "privileges",
        "pg_restore",
        "space",
    ] {
        section.insert_data(key, Value::Null);
    }
    section.insert_data("dependents", json!([]));
    section.insert_data("sessions", json!([]));
    section.insert_data("extensions", json!([]));
    section.insert_data("prerequisites", Value::Null);
}

struct Checks<'a> {
    section: &'a mut SectionBuilder,
    reporter: &'a Reporter,
}

impl Checks<'_> {
    fn push(&mut self, check: Check) {
        self.reporter.check(&check);
        self.section.push_check(check);
    }
    fn data(&mut self, key: &str, value: Value) {
        self.section.insert_data(key, value);
    }
}

fn sql_error(what: &str, error: &pg::tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{what}: {}", db.message()),
        None => format!("{what}: {error}"),
    }
}

pub async fn run(
    plan: &Plan,
    conn_args: &ConnArgs,
    section: &mut SectionBuilder,
    reporter: &Reporter,
) {
    empty_data(section);
    let mut checks = Checks { section, reporter };
    let Some((maintenance, server)) = reach_server(plan, conn_args, &mut checks).await else {
        return;
    };
    source_version_check(plan, &server, &mut checks);
    let exists = database_check(plan, &maintenance, &mut checks).await;
    roles_check(plan, &maintenance, &mut checks).await;
    drop(maintenance);
    pg_restore_check(plan, &server, &mut checks);
    if !exists {
        for name in ["schema", "privileges", "dependents", "sessions", "space"] {
            checks.push(Check::skip(
                name,
                format!("database {} does not exist", plan.database),
            ));
        }
        return;
    }
    let settings = match conn::settings_for(conn_args, Some(plan.database.as_str()), TOOL) {
        Ok(settings) => settings,
        Err(e) => {
            checks.push(Check::fail("database", e.to_string()));
            return;
        }
    };
    let client = match conn::connect_waiting(&settings, std::time::Duration::ZERO, |_| {}).await {
        Ok((client, _)) => client,
        Err(e) => {
            checks.push(Check::fail("database_connect", e.to_string()));
            if e.is_could_not_run() {
                checks.section.mark_could_not_run();
            }
            return;
        }
    };
    in_database(plan, &client, &server, &mut checks).await;
}

/// Connects to the maintenance database, waiting up to --wait for a server still starting.
async fn reach_server(
    plan: &Plan,
    conn_args: &ConnArgs,
    checks: &mut Checks<'_>,
) -> Option<(Client, Server)> {
    let settings = match conn::settings_for(conn_args, Some(plan.maintenance_db.as_str()), TOOL) {
        Ok(s) => s,
        Err(e) => {
            checks.push(Check::fail("server", e.to_string()));
            checks.section.mark_could_not_run();
            return None;
        }
    };
    let reporter = checks.reporter;
    let waited = conn::connect_waiting(&settings, plan.wait, |e| {
        reporter.info(format!(
            "Waiting up to {} for the server ({})",
            cli::values::human_duration(
                jiff::SignedDuration::try_from(plan.wait).unwrap_or_default()
            ),
            e.message()
        ));
    })
    .await;
    let (client, waited) = match waited {
        Ok(found) => found,
        Err(e) => {
            let detail = if plan.wait.is_zero() || !conn::worth_retrying(&e) {
                e.to_string()
            } else {
                format!("{e} (still, after waiting {} s)", plan.wait.as_secs())
            };
            checks.push(Check::fail("server", detail));
            checks.section.mark_could_not_run();
            return None;
        }
    };
    let server = match catalog::server(&client).await {
        Ok(server) => server,
        Err(e) => {
            checks.push(Check::fail(
                "server",
                sql_error("reading the server version", &e),
            ));
            checks.section.mark_could_not_run();
            return None;
        }
    };
    let waited_ms = u64::try_from(waited.as_millis()).unwrap_or(u64::MAX);
    checks.data(
        "server",
        json!({
            "target": settings.describe(), "version": server.version, "version_num": server.version_num,
            "major": server.major(), "user": server.user, "superuser": server.superuser,
            "createdb": server.createdb, "waited_ms": waited_ms,
        }),
    );
    let after = if waited_ms >= 500 {
        format!(" after {:.1} s", waited.as_secs_f64())
    } else {
        String::new()
    };
    checks.push(Check::ok(
        "server",
        format!(
            "PostgreSQL {} reachable at {}{after}",
            server.version,
            settings.describe()
        ),
    ));
    Some((client, server))
}

fn source_version_check(plan: &Plan, server: &Server, checks: &mut Checks<'_>) {
    let check = match (plan.dump.source_major(), &plan.dump.server_version) {
        // pg_dump writes what restores into its own major and newer. Into an older server
        // the settings its pg_restore writes and the server lacks are left out by schema-swap;
        // definitions using what the server lacks fail the swap's transaction, which then
        // changes nothing.
        (Some(source), Some(text)) if server.major() < source => Check::warn(
            "server_version",
            format!(
                "PostgreSQL {} is older than the dump's source server {text}: the settings pg_restore writes that {} lacks are left out, and if a definition uses what {} lacks the swap is rolled back with nothing changed, naming it; the sure way is PostgreSQL {source} or newer",
                server.major(),
                server.major(),
                server.major()
            ),
        ),
        (Some(_), Some(text)) => Check::ok(
            "server_version",
            format!(
                "PostgreSQL {} is not older than the dump's source server {text}",
                server.major()
            ),
        ),
        _ => Check::skip(
            "server_version",
            "no dump section with the source server's version to compare with",
        ),
    };
    checks.push(check);
}

/// Whether the target database exists at the end (created or found).
async fn database_check(plan: &Plan, client: &Client, checks: &mut Checks<'_>) -> bool {
    let name = plan.database.as_str();
    let found = match catalog::database_exists(client, name).await {
        Ok(found) => found,
        Err(e) => {
            checks.push(Check::fail(
                "database",
                sql_error("looking up the database", &e),
            ));
            return false;
        }
    };
    let (check, existed, created) = match found {
        Some(true) => (
            Check::ok("database", format!("database {} exists", plan.database)),
            true,
            false,
        ),
        Some(false) => (
            Check::fail(
                "database",
                format!(
                    "database {} exists but does not allow connections (datallowconn is false)",
                    plan.database
                ),
            ),
            true,
            false,
        ),
        None if plan.create_database => {
            match catalog::create_database(client, &plan.database).await {
                Ok(()) => (
                    Check::ok(
                        "database",
                        format!("database {} created (--create-database)", plan.database),
                    ),
                    false,
                    true,
                ),
                Err(e) => (
                    Check::fail(
                        "database",
                        sql_error(&format!("creating database {}", plan.database), &e),
                    ),
                    false,
                    false,
                ),
            }
        }
        None => (
            Check::fail(
                "database",
                format!(
                    "database {0} does not exist: give --create-database, or run CREATE DATABASE {0};",
                    plan.database
                ),
            ),
            false,
            false,
        ),
    };
    checks.push(check);
    checks.data(
        "database",
        json!({ "name": name, "existed": existed, "created": created }),
    );
    found == Some(true) || created
}

async fn roles_check(plan: &Plan, client: &Client, checks: &mut Checks<'_>) {
    if plan.roles.is_empty() {
        checks.data(
            "roles",
            json!({ "source": plan.roles_from, "needed": [], "missing": [] }),
        );
        let why = if plan.roles_from == "nowhere" {
            "no roles to check: no dump section in the record and no --role"
        } else {
            "the dump names no roles"
        };
        checks.push(Check::skip("roles", why));
        return;
    }
    let missing = match catalog::missing_roles(client, &plan.roles).await {
        Ok(missing) => missing,
        Err(e) => {
            checks.push(Check::fail("roles", sql_error("looking up roles", &e)));
            return;
        }
    };
    checks.data(
        "roles",
        json!({ "source": plan.roles_from, "needed": plan.roles, "missing": missing }),
    );
    if missing.is_empty() {
        checks.push(Check::ok(
            "roles",
            format!(
                "all {} roles {} needs exist: {}",
                plan.roles.len(),
                plan.roles_from,
                plan.roles.join(", ")
            ),
        ));
    } else {
        let create: Vec<String> = missing
            .iter()
            .filter_map(|r| pg::Ident::new(r.clone()).ok())
            .map(|r| format!("CREATE ROLE {r};"))
            .collect();
        checks.push(Check::fail(
            "roles",
            format!(
                "{} of the roles {} needs missing: {}; create them (or run the migrations that do): {}",
                missing.len(),
                plan.roles_from,
                missing.join(", "),
                create.join(" ")
            ),
        ));
    }
}

fn pg_restore_check(plan: &Plan, server: &Server, checks: &mut Checks<'_>) {
    let requirement = pg::Requirement {
        min_major: plan.dump.min_pg_restore,
        server_major: Some(server.major()),
    };
    let archive = plan
        .dump
        .archive_version
        .as_deref()
        .map_or_else(String::new, |v| format!(" archive version {v},"));
    let bindirs = plan.pg_bindirs.clone();
    match pg::find_pg_restore(&bindirs, requirement) {
        Ok((chosen, found)) => {
            let reads = if plan.dump.min_pg_restore.is_some() {
                format!("reads the{archive} and ")
            } else {
                String::new()
            };
            checks.push(Check::ok(
                "pg_restore",
                format!(
                    "pg_restore {} ({}) {reads}writes what PostgreSQL {} accepts",
                    chosen.version,
                    chosen.path.display(),
                    server.major()
                ),
            ));
            checks.data(
                "pg_restore",
                pg_restore_value(Some(&chosen), &found, requirement),
            );
        }
        Err(none) => {
            checks.push(Check::fail("pg_restore", none.to_string()));
            checks.data(
                "pg_restore",
                pg_restore_value(None, &none.found, requirement),
            );
        }
    }
}

fn pg_restore_value(
    chosen: Option<&pg::PgRestore>,
    found: &[pg::PgRestore],
    requirement: pg::Requirement,
) -> Value {
    let one = |p: &pg::PgRestore| json!({ "path": p.path.display().to_string(), "version": p.version, "major": p.major });
    json!({
        "path": chosen.map(|p| p.path.display().to_string()),
        "version": chosen.map(|p| p.version.clone()),
        "major": chosen.map(|p| p.major),
        "min_major": requirement.min_major,
        "max_major": requirement.max_major(),
        "needed": requirement.describe(),
        "found": found.iter().map(one).collect::<Vec<_>>(),
    })
}

async fn in_database(plan: &Plan, client: &Client, server: &Server, checks: &mut Checks<'_>) {
    let schema = plan.schema.as_str();
    let info = match catalog::schema(client, schema).await {
        Ok(info) => info,
        Err(e) => {
            checks.push(Check::fail(
                "schema",
                sql_error("looking up the schema", &e),
            ));
            return;
        }
    };
    checks.data(
        "schema",
        json!({ "name": schema, "exists": info.is_some(), "owner": info.as_ref().map(|i| i.owner.clone()) }),
    );
    checks.push(Check::ok(
        "schema",
        match &info {
            Some(i) => format!(
                "schema {} exists in {} (owner {}): it will be replaced",
                plan.schema, plan.database, i.owner
            ),
            None => format!(
                "schema {} does not exist in {}: it will be created",
                plan.schema, plan.database
            ),
        },
    ));

    if let Err(problem) = readiness::names::swappable_schema(schema) {
        checks.push(Check::fail("schema_name", problem.to_string()));
    }
    readiness_checks(plan, client, server, checks).await;
    restore_mode_checks(plan, client, checks).await;
    privileges_check(plan, client, server, info.as_ref(), checks).await;
    if info.is_some() {
        dependents_check(plan, client, checks).await;
        sessions_check(plan, client, checks).await;
    } else {
        checks.push(Check::ok(
            "dependents",
            format!(
                "schema {} does not exist: nothing depends on it",
                plan.schema
            ),
        ));
        checks.push(Check::ok(
            "sessions",
            format!("schema {} does not exist: no session uses it", plan.schema),
        ));
    }
}

/// What `--table`, `--merge-missing` and `--into` need: the tables in the dump as tables of
/// the schema, each live with a key to tell rows apart by, a free name for the copy.
async fn restore_mode_checks(plan: &Plan, client: &Client, checks: &mut Checks<'_>) {
    if let Some(into) = &plan.into {
        match catalog::schema(client, into.as_str()).await {
            Ok(None) => checks.push(Check::ok(
                "into",
                format!("schema {into} is free for the copy"),
            )),
            Ok(Some(_)) => checks.push(Check::fail(
                "into",
                format!("schema {into} exists: name a new schema for the copy (or drop the earlier copy)"),
            )),
            Err(e) => checks.push(Check::fail("into", sql_error("looking up the copy's schema", &e))),
        }
    }
    if plan.tables.is_empty() {
        return;
    }
    let Some(path) = &plan.dump.path else {
        checks.push(Check::skip(
            "tables",
            "no dump to look in: give --dump FILE or pipe in dump-validate's record",
        ));
        return;
    };
    let archive = match pgdump::Archive::open(path) {
        Ok(archive) => archive,
        Err(e) => {
            checks.push(Check::fail(
                "tables",
                format!("reading dump '{}': {}", path.display(), e.kind()),
            ));
            return;
        }
    };
    let selection = match readiness::tables::select(&archive, plan.schema.as_str(), &plan.tables) {
        Ok(selection) => selection,
        Err(not_in_dump) => {
            checks.push(Check::fail("tables", not_in_dump.to_string()));
            return;
        }
    };
    let descendants = selection.tables.iter().filter(|t| !t.named).count();
    checks.push(Check::ok(
        "tables",
        format!(
            "{} {} of the dump's schema {}{}",
            plan.tables.join(", "),
            if plan.tables.len() == 1 {
                "is a table"
            } else {
                "are tables"
            },
            plan.schema,
            if descendants > 0 {
                format!(", with {descendants} partitions or children")
            } else {
                String::new()
            }
        ),
    ));
    if plan.merge_missing {
        merge_keys_check(plan, client, &archive, &selection, checks).await;
    }
}

/// `--merge-missing`: every table whose rows the dump holds is live, with a key.
async fn merge_keys_check(
    plan: &Plan,
    client: &Client,
    archive: &pgdump::Archive,
    selection: &readiness::tables::Selection,
    checks: &mut Checks<'_>,
) {
    let with_rows: Vec<&str> = selection
        .tables
        .iter()
        .filter(|t| {
            archive.entries().iter().any(|e| {
                e.is_table_data()
                    && e.has_data()
                    && e.dependencies.first().map(|d| d.0) == Some(t.dump_id)
            })
        })
        .map(|t| t.name.as_str())
        .collect();
    let mut problems = Vec::new();
    let mut keys = Vec::new();
    for name in with_rows {
        let oid = client
            .query_opt(
                "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'r'",
                &[&plan.schema.as_str(), &name],
            )
            .await;
        let oid: u32 = match oid {
            Ok(Some(row)) => row.get(0),
            Ok(None) => {
                problems.push(format!(
                    "{name} is not live (restore it whole with --table)"
                ));
                continue;
            }
            Err(e) => {
                problems.push(sql_error(&format!("looking up {name}"), &e));
                continue;
            }
        };
        match pg::catalog::row_key(client, oid).await {
            Ok(key) if key.is_empty() => problems.push(format!(
                "{name} has no primary key or unique key of NOT NULL columns"
            )),
            Ok(key) => keys.push(format!(
                "{name} by {}",
                key.iter()
                    .map(|k| k.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Err(e) => problems.push(sql_error(&format!("reading the key of {name}"), &e)),
        }
    }
    if problems.is_empty() {
        checks.push(Check::ok(
            "merge_keys",
            format!("missing rows can be told by key: {}", keys.join("; ")),
        ));
    } else {
        checks.push(Check::fail(
            "merge_keys",
            format!(
                "--merge-missing cannot tell missing rows: {}",
                problems.join("; ")
            ),
        ));
    }
}

/// What schema-swap will find about the dump and the target before changing anything:
/// extensions in the schema, and objects, publications and extensions' objects the dump's
/// definitions need. The same assessment the swap makes (crate readiness).
async fn readiness_checks(plan: &Plan, client: &Client, server: &Server, checks: &mut Checks<'_>) {
    checks.data("extensions", json!([]));
    checks.data("prerequisites", Value::Null);
    let Some(path) = &plan.dump.path else {
        for name in ["extensions", "prerequisites"] {
            checks.push(Check::skip(
                name,
                "no dump to read: give --dump FILE, or pipe in dump-validate's record",
            ));
        }
        return;
    };
    let archive = match pgdump::Archive::open(path) {
        Ok(archive) => archive,
        Err(e) => {
            checks.push(Check::fail(
                "prerequisites",
                format!(
                    "reading dump '{}' for what it needs: {}",
                    path.display(),
                    e.kind()
                ),
            ));
            return;
        }
    };
    let part = readiness::Part::of(&archive, plan.schema.as_str());
    let assessment = match readiness::assess(client, &part, server.major()).await {
        Ok(assessment) => assessment,
        Err(e) => {
            checks.push(Check::fail(
                "prerequisites",
                sql_error("reading what the dump needs of the target", &e),
            ));
            return;
        }
    };
    checks.data("extensions", assessment.extensions_value());
    checks.data(
        "prerequisites",
        json!({
            "missing": assessment.missing,
            "schema_metadata": assessment.metadata_value(),
            "carried_over": assessment.links_value(),
        }),
    );
    checks.push(assessment.extensions_check().unwrap_or_else(|| {
        Check::ok(
            "extensions",
            format!(
                "no extension lives in schema {} or is created in it by the dump",
                plan.schema
            ),
        )
    }));
    checks.push(assessment.prerequisites_check(part.entries.len()));
}

async fn privileges_check(
    plan: &Plan,
    client: &Client,
    server: &Server,
    info: Option<&catalog::SchemaInfo>,
    checks: &mut Checks<'_>,
) {
    let (create, size) = match catalog::database_facts(client).await {
        Ok(facts) => facts,
        Err(e) => {
            checks.push(Check::fail(
                "privileges",
                sql_error("reading privileges", &e),
            ));
            return;
        }
    };
    let owns = info.is_none_or(|i| i.owned) || server.superuser;
    let user =
        pg::Ident::new(server.user.clone()).map_or_else(|_| server.user.clone(), |u| u.to_string());
    let mut missing = Vec::new();
    if !create {
        missing.push(format!(
            "CREATE on database {0} (GRANT CREATE ON DATABASE {0} TO {user};)",
            plan.database
        ));
    }
    if !owns {
        let owner = info.map_or_else(String::new, |i| i.owner.clone());
        let quoted =
            pg::Ident::new(owner.clone()).map_or_else(|_| owner.clone(), |o| o.to_string());
        missing.push(format!(
            "ownership of schema {} (owned by {owner}): connect as its owner or a superuser, or GRANT {quoted} TO {user};",
            plan.schema
        ));
    }
    checks.data(
        "privileges",
        json!({ "user": server.user, "superuser": server.superuser, "create_on_database": create, "owns_schema": info.map(|i| i.owned || server.superuser) }),
    );
    if missing.is_empty() {
        checks.push(Check::ok(
            "privileges",
            format!(
                "role {user} may create and rename schemas in {}",
                plan.database
            ),
        ));
    } else {
        checks.push(Check::fail(
            "privileges",
            format!("role {user} lacks {}", missing.join(" and ")),
        ));
    }
    space_check(plan, size, checks);
}

fn space_check(plan: &Plan, database_size: i64, checks: &mut Checks<'_>) {
    let db_bytes = u64::try_from(database_size).unwrap_or(0);
    checks.data(
        "space",
        json!({ "dump_data_bytes": plan.dump.data_bytes, "database_size_bytes": db_bytes }),
    );
    let check = match plan.dump.data_bytes {
        Some(bytes) => Check::ok(
            "space",
            format!(
                "the dump's table data is {} uncompressed, database {} is {} now; free disk space is not visible over SQL: make sure the data directory has room for the new copy (plus indexes) while the old schema is kept",
                ByteSize(bytes),
                plan.database,
                ByteSize(db_bytes)
            ),
        ),
        None => Check::skip(
            "space",
            format!(
                "database {} is {}; no dump section with table sizes to compare with",
                plan.database,
                ByteSize(db_bytes)
            ),
        ),
    };
    checks.push(check);
}

async fn dependents_check(plan: &Plan, client: &Client, checks: &mut Checks<'_>) {
    let found: Vec<Dependent> = match catalog::dependents(client, plan.schema.as_str()).await {
        Ok(found) => found,
        Err(e) => {
            checks.push(Check::fail(
                "dependents",
                sql_error("reading dependencies", &e),
            ));
            return;
        }
    };
    checks.data(
        "dependents",
        Value::Array(found.iter().map(Dependent::to_value).collect()),
    );
    if found.is_empty() {
        checks.push(Check::ok(
            "dependents",
            format!("nothing outside schema {} depends on it", plan.schema),
        ));
        return;
    }
    let listed: Vec<String> = found
        .iter()
        .map(|d| format!("{} (on {})", d.object, d.depends_on.join(", ")))
        .collect();
    checks.push(Check::warn(
        "dependents",
        format!(
            "{} outside schema {} depend on it, and DROP SCHEMA ... CASCADE would drop them silently: {}",
            plural(found.len(), "object"),
            plan.schema,
            listed.join("; ")
        ),
    ));
}

async fn sessions_check(plan: &Plan, client: &Client, checks: &mut Checks<'_>) {
    let locks: Vec<SchemaLock> = match catalog::schema_locks(client, plan.schema.as_str()).await {
        Ok(locks) => locks,
        Err(e) => {
            checks.push(Check::fail("sessions", sql_error("reading locks", &e)));
            return;
        }
    };
    checks.data(
        "sessions",
        Value::Array(locks.iter().map(SchemaLock::to_value).collect()),
    );
    if locks.is_empty() {
        checks.push(Check::ok(
            "sessions",
            format!("no other session holds a lock on schema {}", plan.schema),
        ));
        return;
    }
    let mut by_session: Vec<(Option<i32>, String, Vec<String>)> = Vec::new();
    for lock in &locks {
        let what = format!(
            "{}{} on {}",
            lock.mode,
            if lock.granted { "" } else { " (waiting)" },
            lock.relation
        );
        if let Some((_, _, list)) = by_session.iter_mut().find(|(pid, _, _)| *pid == lock.pid) {
            list.push(what);
        } else {
            let who = match lock.pid {
                Some(pid) => format!(
                    "pid {pid} (application '{}', user {}, {})",
                    lock.application_name, lock.user, lock.state
                ),
                None => "a prepared transaction".to_owned(),
            };
            by_session.push((lock.pid, who, vec![what]));
        }
    }
    let listed: Vec<String> = by_session
        .iter()
        .map(|(_, who, list)| format!("{who}: {}", list.join(", ")))
        .collect();
    checks.push(Check::warn(
        "sessions",
        format!(
            "{} using schema {} would block the swap or be cut off: {}",
            plural(by_session.len(), "session"),
            plan.schema,
            listed.join("; ")
        ),
    ));
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

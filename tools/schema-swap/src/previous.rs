//! Previous schemas: the live schema set aside by a swap as `<schema>_prev_<UTC time>`, kept
//! for a rollback until dropped. Listing, rolling back, pruning, and the advisory lock that
//! keeps two changes of one schema from running at once.

use crate::swap::{db_message, push};
use crate::{Job, TOOL};
use cli::{Confirmation, Reporter, ToolError};
use pg::tokio_postgres::Client;
use pg::{Ident, catalog};
use record::{Check, SectionBuilder};
use serde_json::{Value, json};

/// The time (UTC) in a previous schema's name: `20260505_134102`. Lower case and digits, so
/// the name needs no quotes in psql.
use readiness::names::STAMP;

pub use readiness::names::aside_name;

/// A name to set `schema` aside under that no schema has yet: now, or a second later per
/// name already taken (two changes within one second).
pub async fn free_aside_name(
    client: &Client,
    schema: &Ident,
) -> Result<Ident, pg::tokio_postgres::Error> {
    let mut at = jiff::Timestamp::now();
    loop {
        let Ok(name) = aside_name(schema, at) else {
            // Checked when the job was made; a name that stops fitting is not worth a panic.
            return Ok(schema.clone());
        };
        if catalog::schema(client, name.as_str()).await?.is_none() {
            return Ok(name);
        }
        at += jiff::SignedDuration::from_secs(1);
    }
}

/// [`free_aside_name`], or a failed `previous` check in the section.
pub async fn free_aside_name_or_fail(
    client: &Client,
    schema: &Ident,
    section: &mut SectionBuilder,
    reporter: &Reporter,
) -> Option<Ident> {
    match free_aside_name(client, schema).await {
        Ok(name) => Some(name),
        Err(e) => {
            push(
                section,
                reporter,
                Check::fail(
                    "previous",
                    format!("choosing a name to set {schema} aside: {}", db_message(&e)),
                ),
            );
            None
        }
    }
}

/// When a previous schema of `schema` was set aside, read from its name.
pub fn set_aside_at(schema: &str, name: &str) -> Option<jiff::Timestamp> {
    let stamp = name.strip_prefix(schema)?.strip_prefix("_prev_")?;
    if stamp.len() != 15 {
        return None;
    }
    let civil = jiff::civil::DateTime::strptime(STAMP, stamp).ok()?;
    civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// The advisory lock's key: one per database and schema.
pub fn lock_key(schema: &Ident) -> String {
    format!("{TOOL} {}", schema.as_str())
}

/// Takes the transaction-level advisory lock for `$1` (the key), or says it could not.
pub const TRY_LOCK_SQL: &str =
    "SELECT pg_try_advisory_xact_lock(hashtextextended(current_database() || ' ' || $1, 0))";

/// ` (pid 123, application schema-swap, since ...)` for the session holding the lock, or empty.
pub async fn lock_holder(client: &Client, key: &str) -> String {
    let row = client
        .query_opt(
            "SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.xact_start::text, '')
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND ((l.classid::int8 << 32) | l.objid::int8)
                   = hashtextextended(current_database() || ' ' || $1, 0)
             LIMIT 1",
            &[&key],
        )
        .await;
    match row {
        Ok(Some(row)) => {
            let pid: i32 = row.get(0);
            let app: String = row.get(1);
            let since: String = row.get(2);
            format!(" (pid {pid}, application '{app}', since {since})")
        }
        _ => String::new(),
    }
}

/// A previous schema and what it holds.
#[derive(Debug, Clone)]
pub struct Previous {
    pub name: String,
    pub set_aside_at: jiff::Timestamp,
    pub bytes: i64,
    pub tables: i64,
    /// Holds only tables a table restore (`--table`) set aside, not a whole schema.
    pub tables_only: bool,
}

impl Previous {
    fn to_value(&self) -> Value {
        json!({
            "name": self.name, "set_aside_at": self.set_aside_at.to_string(),
            "size_bytes": self.bytes, "tables": self.tables, "tables_only": self.tables_only,
        })
    }
}

/// The previous schemas of `schema`, newest first.
pub async fn find(
    client: &Client,
    schema: &Ident,
) -> Result<Vec<Previous>, pg::tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT n.nspname::text,
                    coalesce(sum(pg_total_relation_size(c.oid)) FILTER (WHERE c.relkind IN ('r', 'm')), 0)::int8,
                    count(c.oid) FILTER (WHERE c.relkind IN ('r', 'p')),
                    coalesce(starts_with(obj_description(n.oid, 'pg_namespace'), $2), false)
             FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid
             WHERE starts_with(n.nspname, $1 || '_prev_')
             GROUP BY n.nspname, n.oid",
            &[&schema.as_str(), &crate::tables::ASIDE_COMMENT_PREFIX],
        )
        .await?;
    let mut found: Vec<Previous> = rows
        .iter()
        .filter_map(|row| {
            let name: String = row.get(0);
            Some(Previous {
                set_aside_at: set_aside_at(schema.as_str(), &name)?,
                name,
                bytes: row.get(1),
                tables: row.get(2),
                tables_only: row.get(3),
            })
        })
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.set_aside_at));
    Ok(found)
}

async fn connect(job: &Job, section: &mut SectionBuilder, reporter: &Reporter) -> Option<Client> {
    match pg::connect(&job.settings).await {
        Ok((client, _task)) => Some(client),
        Err(e) => {
            push(section, reporter, Check::fail("server", e.to_string()));
            section.mark_could_not_run();
            None
        }
    }
}

async fn find_or_fail(
    client: &Client,
    job: &Job,
    section: &mut SectionBuilder,
    reporter: &Reporter,
) -> Option<Vec<Previous>> {
    match find(client, &job.schema).await {
        Ok(found) => {
            section.insert_data(
                "previous_schemas",
                Value::Array(found.iter().map(Previous::to_value).collect()),
            );
            Some(found)
        }
        Err(e) => {
            push(
                section,
                reporter,
                Check::fail(
                    "previous",
                    format!("listing previous schemas: {}", db_message(&e)),
                ),
            );
            None
        }
    }
}

pub async fn list(
    job: &Job,
    section: &mut SectionBuilder,
    reporter: &Reporter,
) -> Result<(), ToolError> {
    crate::empty_data(section);
    let Some(client) = connect(job, section, reporter).await else {
        return Ok(());
    };
    let Some(found) = find_or_fail(&client, job, section, reporter).await else {
        return Ok(());
    };
    for p in &found {
        reporter.info(format!(
            "{}  set aside {}  {} tables  {}",
            p.name,
            p.set_aside_at,
            p.tables,
            cli::values::ByteSize(u64::try_from(p.bytes).unwrap_or(0))
        ));
    }
    push(
        section,
        reporter,
        Check::ok(
            "previous",
            format!("{} previous schemas of {}", found.len(), job.schema),
        ),
    );
    Ok(())
}

/// The operator's yes before a change: `Ok(false)` (with a failed `confirm` check) when the
/// answer is no; a usage error when there is no terminal to ask on and no --yes.
pub fn ask(
    job: &Job,
    question: &str,
    section: &mut SectionBuilder,
    reporter: &Reporter,
) -> Result<bool, ToolError> {
    match cli::confirm(question, job.yes) {
        Confirmation::Given(how) => {
            reporter.info(format!("confirmed by {how}"));
            Ok(true)
        }
        Confirmation::Typed => Ok(true),
        Confirmation::Refused(answer) => {
            push(
                section,
                reporter,
                Check::fail(
                    "confirm",
                    format!("not confirmed (answer '{answer}'): nothing changed"),
                ),
            );
            Ok(false)
        }
        Confirmation::NoTerminal => Err(ToolError::usage(format!(
            "refusing without confirmation ({question}): no terminal to ask on; pass --yes or set RESTORE_SKIP_CONFIRM=1"
        ))),
    }
}

/// Swaps the newest previous schema back in, in one transaction; the current schema is set
/// aside in its turn (nothing is dropped), so a rollback can itself be rolled back.
pub async fn rollback(
    job: &Job,
    section: &mut SectionBuilder,
    reporter: &Reporter,
) -> Result<(), ToolError> {
    crate::empty_data(section);
    let schema = &job.schema;
    let Some(client) = connect(job, section, reporter).await else {
        return Ok(());
    };
    let Some(found) = find_or_fail(&client, job, section, reporter).await else {
        return Ok(());
    };
    let Some(newest) = found.first() else {
        push(
            section,
            reporter,
            Check::fail(
                "rollback",
                format!("no previous schema of {schema} to roll back to"),
            ),
        );
        return Ok(());
    };
    if newest.tables_only {
        // Swapping it in would replace the whole schema with a few tables.
        push(
            section,
            reporter,
            Check::fail(
                "rollback",
                format!(
                    "the newest previous schema {} holds only the tables a table restore (--table) set aside, not a whole schema: --rollback would replace {schema} with them; move tables back by hand (ALTER TABLE ... SET SCHEMA), or drop it with --prune to roll back to an older whole schema",
                    newest.name
                ),
            ),
        );
        return Ok(());
    }
    let back = Ident::new(newest.name.clone()).map_err(|e| ToolError::usage(e.to_string()))?;
    let exists = matches!(catalog::schema(&client, schema.as_str()).await, Ok(Some(_)));
    let Some(aside) = free_aside_name_or_fail(&client, schema, section, reporter).await else {
        return Ok(());
    };
    section.insert_data("previous", json!(exists.then(|| aside.as_str())));
    // What the swap moved into the current schema, and tied to it across its border, goes
    // back with the schema brought back.
    let Some(tied) = ties_of_current(&client, schema, exists, section, reporter).await else {
        return Ok(());
    };
    let plan = if exists {
        format!("set {schema} aside as {aside} and bring {back} back as {schema}")
    } else {
        format!("bring {back} back as {schema}")
    };
    if job.dry_run {
        push(
            section,
            reporter,
            Check::ok("plan", format!("dry run, nothing changed: would {plan}")),
        );
        return Ok(());
    }
    if !ask(job, &format!("About to {plan}"), section, reporter)? {
        return Ok(());
    }
    let set_aside = exists.then_some(&aside);
    let result = rename_under_lock(&client, job, set_aside, &back, &tied).await;
    match result {
        Ok(Some(carried)) => {
            section.insert_data("carried_over", json!(carried));
            section.insert_data("committed", json!(true));
            push(
                section,
                reporter,
                Check::ok("rollback", format!("rolled back: {plan}")),
            );
        }
        Ok(None) => {
            let holder = lock_holder(&client, &lock_key(schema)).await;
            section.mark_could_not_run();
            push(
                section,
                reporter,
                Check::fail(
                    "lock",
                    format!("another schema-swap of {schema} is running{holder}: nothing changed"),
                ),
            );
        }
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
            push(
                section,
                reporter,
                Check::fail(
                    "rollback",
                    format!("{plan} failed: {}; nothing changed", db_message(&e)),
                ),
            );
        }
    }
    Ok(())
}

/// The current schema's extensions and its ties across its border, which a rollback
/// carries to the schema it brings back; `None` (with a failed check) when one of the
/// extensions cannot move.
async fn ties_of_current(
    client: &Client,
    schema: &Ident,
    exists: bool,
    section: &mut SectionBuilder,
    reporter: &Reporter,
) -> Option<Ties> {
    if !exists {
        return Some(Ties::default());
    }
    let found = async {
        Ok::<_, pg::tokio_postgres::Error>(Ties {
            extensions: readiness::extensions::in_schema(client, schema.as_str()).await?,
            links: readiness::links::crossing(client, schema.as_str()).await?,
        })
    }
    .await;
    let ties = match found {
        Ok(ties) => ties,
        Err(e) => {
            push(
                section,
                reporter,
                Check::fail(
                    "extensions",
                    format!("reading {schema}'s extensions and ties: {}", db_message(&e)),
                ),
            );
            return None;
        }
    };
    if let Some(stuck) = ties
        .extensions
        .iter()
        .find(|e| !e.relocatable || !e.may_alter)
    {
        push(
            section,
            reporter,
            Check::fail(
                "extensions",
                format!(
                    "extension {} lives in {schema} and cannot be moved to the schema brought back ({}): nothing changed",
                    stuck.name,
                    if stuck.relocatable {
                        "only its owner or a superuser may move it"
                    } else {
                        "it is not relocatable"
                    }
                ),
            ),
        );
        return None;
    }
    Some(ties)
}

/// What a rollback carries from the current schema to the one it brings back.
#[derive(Debug, Default)]
struct Ties {
    extensions: Vec<readiness::extensions::Installed>,
    links: Vec<readiness::links::Link>,
}

/// In one transaction under the swap's lock: sets the schema aside (when `set_aside` names
/// where), renames `back` to the schema, and moves the current schema's extensions and ties
/// to it. `Ok(None)` when another swap holds the lock; else the statements that carried
/// ties over.
async fn rename_under_lock(
    client: &Client,
    job: &Job,
    set_aside: Option<&Ident>,
    back: &Ident,
    ties: &Ties,
) -> Result<Option<Vec<String>>, pg::tokio_postgres::Error> {
    let schema = &job.schema;
    client.batch_execute("BEGIN").await?;
    let locked: bool = client
        .query_one(TRY_LOCK_SQL, &[&lock_key(schema)])
        .await?
        .get(0);
    if !locked {
        client.batch_execute("ROLLBACK").await?;
        return Ok(None);
    }
    let renamed_aside = set_aside
        .map(|aside| format!("ALTER SCHEMA {schema} RENAME TO {aside}; "))
        .unwrap_or_default();
    client
        .batch_execute(&format!(
            "SET LOCAL lock_timeout = '{}ms'; {renamed_aside}ALTER SCHEMA {back} RENAME TO {schema}",
            job.lock_timeout.as_millis()
        ))
        .await?;
    let mut carried = Vec::new();
    if let Some(aside) = set_aside {
        for extension in &ties.extensions {
            let Ok(name) = Ident::new(extension.name.clone()) else {
                continue;
            };
            let sql = format!("ALTER EXTENSION {name} SET SCHEMA {schema}");
            client.batch_execute(&sql).await?;
            carried.push(sql);
        }
        let moved =
            readiness::links::carry_back(client, &ties.links, schema.as_str(), aside.as_str())
                .await?;
        carried.extend(moved.statements);
    }
    client.batch_execute("COMMIT").await?;
    Ok(Some(carried))
}

/// Drops previous schemas beyond `--keep` or older than `--older-than`.
pub async fn prune(
    job: &Job,
    section: &mut SectionBuilder,
    reporter: &Reporter,
) -> Result<(), ToolError> {
    crate::empty_data(section);
    let Some(client) = connect(job, section, reporter).await else {
        return Ok(());
    };
    let Some(found) = find_or_fail(&client, job, section, reporter).await else {
        return Ok(());
    };
    let now = jiff::Timestamp::now();
    let doomed: Vec<&Previous> = found
        .iter()
        .enumerate()
        .filter(|(i, p)| {
            job.keep.is_some_and(|keep| *i >= keep)
                || job
                    .older_than
                    .is_some_and(|age| now.duration_since(p.set_aside_at) > age)
        })
        .map(|(_, p)| p)
        .collect();
    let names: Vec<&str> = doomed.iter().map(|p| p.name.as_str()).collect();
    section.insert_data("pruned", json!(names));
    if doomed.is_empty() {
        push(
            section,
            reporter,
            Check::ok(
                "prune",
                format!("nothing to prune: {} previous schemas kept", found.len()),
            ),
        );
        return Ok(());
    }
    if job.dry_run {
        push(
            section,
            reporter,
            Check::ok(
                "plan",
                format!("dry run, nothing changed: would drop {}", names.join(", ")),
            ),
        );
        return Ok(());
    }
    if !ask(
        job,
        &format!("About to drop {}", names.join(", ")),
        section,
        reporter,
    )? {
        return Ok(());
    }
    for p in doomed {
        match Ident::new(p.name.clone()) {
            Ok(name) => {
                let check = drop_one(&client, &name, job.lock_timeout).await;
                push(section, reporter, check);
            }
            Err(e) => push(
                section,
                reporter,
                Check::fail("prune", format!("{}: {e}", p.name)),
            ),
        }
    }
    Ok(())
}

/// Drops one previous schema, unless something outside it depends on it: CASCADE would take
/// those objects too, and nothing outside the schema is ever dropped silently. A session that
/// holds a lock on anything in it makes the drop give up after `lock_timeout`, not wait.
pub async fn drop_one(client: &Client, name: &Ident, lock_timeout: std::time::Duration) -> Check {
    let outcome = async {
        client
            .batch_execute(&format!(
                "BEGIN; SET LOCAL lock_timeout = '{}ms'",
                lock_timeout.as_millis()
            ))
            .await?;
        let dependents = catalog::dependents(client, name.as_str()).await?;
        if !dependents.is_empty() {
            client.batch_execute("ROLLBACK").await?;
            let objects: Vec<&str> = dependents.iter().map(|d| d.object.as_str()).collect();
            return Ok(Check::warn(
                "drop_previous",
                format!("{name} kept: objects outside it depend on it ({}); repoint or drop them, then prune", objects.join(", ")),
            ));
        }
        client.batch_execute(&format!("DROP SCHEMA {name} CASCADE; COMMIT")).await?;
        Ok::<Check, pg::tokio_postgres::Error>(Check::ok("drop_previous", format!("{name} dropped")))
    }
    .await;
    match outcome {
        Ok(check) => check,
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
            let why = if e.code() == Some(&pg::tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE)
            {
                format!(
                    "a session holds a lock on it and the wait ended at --lock-timeout {} ({}); end that session (pg_stat_activity) and prune",
                    cli::values::human_duration(
                        jiff::SignedDuration::try_from(lock_timeout).unwrap_or_default()
                    ),
                    db_message(&e)
                )
            } else {
                db_message(&e)
            };
            Check::fail(
                "drop_previous",
                format!("dropping {name}: {why}; it is kept"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_time_and_read_back() {
        let at: jiff::Timestamp = "2026-05-05T13:41:02.7Z".parse().unwrap();
        let schema = Ident::new("trading").unwrap();
        let name = aside_name(&schema, at).unwrap();
        assert_eq!(name.as_str(), "trading_prev_20260505_134102");
        assert_eq!(
            set_aside_at("trading", name.as_str()),
            Some("2026-05-05T13:41:02Z".parse().unwrap())
        );
        assert_eq!(set_aside_at("trading", "trading_prev_x"), None);
        assert_eq!(set_aside_at("trad", "trading_prev_20260505_134102"), None);
        assert_eq!(
            set_aside_at("trading", "trading_prev_20260505_134102_x"),
            None
        );
        let long = Ident::new("x".repeat(50)).unwrap();
        assert!(aside_name(&long, at).is_err(), "63 bytes at most");
    }
}

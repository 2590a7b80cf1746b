//! A table restore (`--table`): replace some tables of the live schema from the dump, in one
//! transaction, verified before commit, leaving every other object of the schema as it is.
//!
//! In one transaction on one session: take the schema's advisory lock and the named tables'
//! locks; read what live points at them (foreign keys of other tables, views, materialized
//! views); drop those foreign keys and materialized views; move the live tables (and their
//! partitions and children) aside into `<schema>_prev_<UTC time>` with `ALTER TABLE ... SET
//! SCHEMA`, which takes their indexes, constraints, triggers, policies and owned sequences
//! along; restore the tables' own entries of the dump with the real pg_restore and load their
//! rows; check the row counts; re-create the foreign keys (counting the live rows that would
//! violate each first), the views and the materialized views on the restored tables; commit.
//! The dump's foreign keys and views that point at the tables but are missing live (dropped
//! with the table by `DROP ... CASCADE`) are restored from the dump. Any failure, signal or
//! kill before the commit leaves the database as it was.
//!
//! Two variants restore copies instead, and change no live row or object: `--into NAME`
//! moves the live tables out of the way only while the dump's are restored, then moves the
//! restored ones into the new schema NAME and the live ones back (`make_copy`);
//! `--merge-missing` does the same with bare copies (CREATE TABLE and rows) in a schema of
//! its own and puts the copies' rows that are missing live into the live tables (module
//! `merge`), dropping the copies before the commit.

mod live;
mod merge;

use crate::plan::{self, Plan};
use crate::previous;
use crate::swap::{self, Failure, Ready, Stats, db_message, push, step_failure};
use crate::{Job, TOOL};
use cli::{Reporter, ToolError};
use live::{ForeignKey, Live};
use merge::{Merged, Target};
use pg::Ident;
use pg::tokio_postgres::{Client, Error as PgError};
use record::{Check, SectionBuilder};
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Instant;

/// What the comment of a schema of tables set aside starts with: `--rollback` and `--list`
/// tell such schemas from whole previous schemas by it.
pub const ASIDE_COMMENT_PREFIX: &str = "schema-swap --table:";

#[allow(clippy::too_many_lines)] // the restore's steps read top to bottom, as the swap's do
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

    // 1. The archive: the tables, what belongs to them, and the rows each must get.
    let started = Instant::now();
    let spinner = reporter.spinner(format!("Reading '{}'", dump.display()));
    let planned = plan::make_for_tables(
        dump,
        schema.as_str(),
        &job.tables,
        job.dump_section.as_ref(),
        job.jobs,
    );
    spinner.finish_and_clear();
    let (mut plan, selection) = match planned {
        Ok(found) => found,
        Err(Ok(not_in_dump)) => {
            let message = format!("--table: {not_in_dump} (dump '{}')", dump.display());
            push(section, reporter, Check::fail("tables", message.clone()));
            return Err(ToolError::usage(message));
        }
        Err(Err(e)) => {
            push(section, reporter, Check::fail(e.check, e.message));
            return Ok(());
        }
    };
    let descendants = selection.tables.iter().filter(|t| !t.named).count();
    push(
        section,
        reporter,
        Check::ok(
            "dump",
            format!(
                "dump '{}': {} of schema {schema}{}: {} entries, {} rows (counted by {}, {} ms)",
                dump.display(),
                job.tables.join(", "),
                if descendants > 0 {
                    format!(" with {descendants} partitions or children")
                } else {
                    String::new()
                },
                selection.own.len(),
                plan.total_rows(),
                plan.counts_from,
                started.elapsed().as_millis()
            ),
        ),
    );

    // 2. The server, and what live holds of the tables and points at them.
    let (client, connection) = match pg::connect(&job.settings).await {
        Ok(found) => found,
        Err(e) => {
            push(section, reporter, Check::fail("server", e.to_string()));
            section.mark_could_not_run();
            return Ok(());
        }
    };
    let Some(ready) = server_ready(job, &plan, &client, section, reporter).await else {
        return Ok(());
    };
    let copy = job.into.is_some() || job.merge_missing;
    let live = match Live::read(&client, schema, &selection).await {
        Ok(live) if copy => live.for_copy(),
        Ok(live) => live,
        Err(e) => {
            push(
                section,
                reporter,
                Check::fail(
                    "live",
                    format!("reading the live tables of {schema}: {}", db_message(&e)),
                ),
            );
            return Ok(());
        }
    };
    if let Some(why) = live.refusal(copy) {
        push(section, reporter, Check::fail("tables", why));
        return Ok(());
    }
    let targets = if job.merge_missing {
        match merge::targets(&client, schema, &plan.tables).await {
            Ok(Ok(targets)) => targets,
            Ok(Err(why)) => {
                push(section, reporter, Check::fail("merge", why.clone()));
                return Err(ToolError::usage(why));
            }
            Err(e) => {
                push(
                    section,
                    reporter,
                    Check::fail(
                        "merge",
                        format!("reading the live tables' keys: {}", db_message(&e)),
                    ),
                );
                return Ok(());
            }
        }
    } else {
        Vec::new()
    };
    if let Some(into) = &job.into {
        if !swap::copy_possible(&client, into, &ready, section, reporter).await? {
            return Ok(());
        }
        if !selection.outside_parents.is_empty() {
            push(
                section,
                reporter,
                Check::fail(
                    "tables",
                    format!(
                        "the dump makes {} partitions or children of tables not named: a copy would be attached to the live parent; name the parents with --table too",
                        selection.outside_parents.join(", ")
                    ),
                ),
            );
            return Ok(());
        }
        // A copy is the tables alone: nothing outside them is restored or re-created, and
        // its foreign keys are left out, which would tie live tables to the copy.
        let mut left_out: BTreeSet<u32> = selection
            .readers
            .iter()
            .flat_map(|r| r.entries.iter().copied())
            .collect();
        let keys = plan::foreign_keys_among(&plan, &selection.own);
        if !keys.is_empty() {
            push(
                section,
                reporter,
                Check::warn(
                    "foreign_keys",
                    format!(
                        "the copy has no foreign keys (they would tie live tables to it): {}",
                        keys.iter()
                            .map(|(_, name)| name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
            );
        }
        left_out.extend(keys.iter().map(|(id, _)| *id));
        plan.leave_out(&left_out);
    } else if job.merge_missing {
        // The rows go back from bare copies: each table's CREATE TABLE and its data.
        plan.keep_only(&selection.tables.iter().map(|t| t.dump_id).collect());
    } else {
        plan.leave_out(&live.readers_present);
    }
    let Some(aside) = previous::free_aside_name_or_fail(&client, schema, section, reporter).await
    else {
        return Ok(());
    };
    let aside_used = (!live.tables.is_empty()).then_some(&aside);
    section.insert_data(
        "previous",
        json!(aside_used.filter(|_| job.into.is_none()).map(Ident::as_str)),
    );
    section.insert_data("into", json!(job.into.as_ref().map(Ident::as_str)));
    section.insert_data("tables", swap::tables_value(&plan, &Stats::default()));
    section.insert_data(
        "table_restore",
        live.to_value(&selection, aside_used, &ForeignKeyOutcomes::default()),
    );
    let summary = if job.merge_missing {
        merge_summary(&targets, schema)
    } else {
        live.describe(&selection, aside_used, schema, job.into.as_ref())
    };
    for warning in live.warnings(aside_used) {
        push(section, reporter, Check::warn("dependents", warning));
    }
    if job.dry_run {
        push(
            section,
            reporter,
            Check::ok(
                "plan",
                format!(
                    "dry run, nothing changed: would {summary}; from '{}' with pg_restore {} in database {}",
                    dump.display(),
                    ready.pg_restore.version,
                    job.settings.dbname()
                ),
            ),
        );
        return Ok(());
    }

    // 3. The operator's yes.
    let question = format!(
        "About to {} table(s) {} of schema {schema} in {} ({}){}",
        if job.merge_missing {
            "put the dump's missing rows back into"
        } else if job.into.is_some() {
            "copy"
        } else {
            "replace"
        },
        job.tables.join(", "),
        job.settings.dbname(),
        job.settings.describe(),
        match &job.into {
            Some(into) => format!(" into the new schema {into}; the live tables stay as they are"),
            None => ": services keep the live ones until the commit".to_owned(),
        }
    );
    if !previous::ask(job, &question, section, reporter)? {
        return Ok(());
    }

    // 4. The transaction; from here signals are this tool's to handle (see swap::run).
    cli::defer_signals();
    reporter.info(format!("Restoring: {summary}"));
    let mut stats = Stats {
        sent: vec![None; plan.tables.len()],
        copied: vec![None; plan.tables.len()],
        counted: vec![None; plan.tables.len()],
        formats: vec![None; plan.tables.len()],
        ..Stats::default()
    };
    let lists = swap::write_list_file(&plan.before_data, "before the data").and_then(|before| {
        Ok((
            before,
            swap::write_list_file(&plan.after_data, "after the data")?,
        ))
    });
    let (before_data, after_data) = match lists {
        Ok(files) => files,
        Err(e) => {
            push(section, reporter, Check::fail("pg_restore", e));
            section.mark_could_not_run();
            return Ok(());
        }
    };
    let mut outcomes = ForeignKeyOutcomes::default();
    let mut merged = Vec::new();
    let mut in_transaction = live.clone();
    let transaction = restore_transaction(
        job,
        &plan,
        &selection,
        &client,
        &ready,
        &aside,
        [before_data.path(), after_data.path()],
        Progress {
            stats: &mut stats,
            live: &mut in_transaction,
            outcomes: &mut outcomes,
            targets: &targets,
            merged: &mut merged,
        },
        reporter,
    );
    let outcome = tokio::select! {
        outcome = transaction => outcome,
        signal = swap::interrupted() => Err(Failure::Interrupted(signal)),
    };
    let aside_used = (!in_transaction.tables.is_empty() && !copy).then_some(&aside);
    section.insert_data("previous", json!(aside_used.map(Ident::as_str)));
    section.insert_data("tables", swap::tables_value(&plan, &stats));
    section.insert_data(
        "timings_ms",
        json!({ "restore": stats.restore_ms, "verify": stats.verify_ms }),
    );
    section.insert_data("statements", json!(stats.statements));
    section.insert_data("settings_left_out", json!(stats.left_out));
    if job.merge_missing {
        section.insert_data("merged", Merged::to_value(&merged));
    }
    section.insert_data(
        "table_restore",
        in_transaction.to_value(&selection, aside_used, &outcomes),
    );
    if let Err(failure) = outcome {
        swap::roll_back(client, failure, section, reporter).await;
        connection.abort();
        return Ok(());
    }
    for (key, violations) in &outcomes.not_valid {
        push(
            section,
            reporter,
            Check::warn(
                "foreign_keys",
                format!(
                    "{key} re-created NOT VALID (--fk-not-valid): {violations} live rows reference rows the dump lacks; find them, then VALIDATE CONSTRAINT"
                ),
            ),
        );
    }

    // 5. The commit.
    let commit_started = Instant::now();
    let how_to_tell = match aside_used {
        Some(aside) => format!(
            "run '{TOOL} --list --schema {}' to see whether {aside} exists",
            swap::shell_word(schema.as_str())
        ),
        None => format!("look whether {} exist", job.tables.join(", ")),
    };
    if !swap::commit(&client, &how_to_tell, section, reporter).await {
        return Ok(());
    }
    section.insert_data("committed", json!(true));
    if job.merge_missing {
        let back: Vec<String> = merged
            .iter()
            .map(|m| format!("{} rows into {}", m.came_back, m.name))
            .collect();
        let put_back = format!(
            "missing rows of {schema} put back from '{}': {}; no live row changed; committed in {} ms",
            dump.display(),
            back.join(", "),
            commit_started.elapsed().as_millis()
        );
        push(section, reporter, Check::ok("swap", put_back));
        return Ok(());
    }
    if let Some(into) = &job.into {
        let copied = format!(
            "{} of {schema} restored from '{}' as copies in {into}: {} tables, {} rows, verified; the live tables are as they were; committed in {} ms",
            job.tables.join(", "),
            dump.display(),
            plan.tables.len(),
            plan.total_rows(),
            commit_started.elapsed().as_millis()
        );
        push(section, reporter, Check::ok("swap", copied));
        return Ok(());
    }
    push(
        section,
        reporter,
        Check::ok(
            "swap",
            format!(
                "{} of {schema} restored from '{}': {} tables, {} rows, verified; {} foreign keys and {} views re-created; committed in {} ms",
                job.tables.join(", "),
                dump.display(),
                plan.tables.len(),
                plan.total_rows(),
                outcomes.recreated,
                in_transaction.views.len() + in_transaction.matviews.len(),
                commit_started.elapsed().as_millis()
            ),
        ),
    );
    if let Some(aside) = aside_used {
        if job.drop_previous {
            let check = previous::drop_one(&client, aside, job.lock_timeout).await;
            push(section, reporter, check);
        } else {
            reporter.info(format!(
                "The live tables were kept in {aside}: take rows back from them by hand, or drop it with: {TOOL} --prune --keep N --schema {}",
                swap::shell_word(schema.as_str())
            ));
        }
    }
    Ok(())
}

/// The server checks of any restore, and what applying pg_restore's script needs.
async fn server_ready(
    job: &Job,
    plan: &Plan,
    client: &Client,
    section: &mut SectionBuilder,
    reporter: &Reporter,
) -> Option<Ready> {
    let (server, pg_restore) = swap::server_checks(job, plan, client, section, reporter).await?;
    let settings = match client.query("SELECT name FROM pg_settings", &[]).await {
        Ok(rows) => rows.iter().map(|r| r.get::<_, String>(0)).collect(),
        Err(e) => {
            push(
                section,
                reporter,
                Check::fail(
                    "server",
                    format!("reading the server's settings: {}", db_message(&e)),
                ),
            );
            return None;
        }
    };
    Some(Ready {
        pg_restore,
        server_major: server.major(),
        superuser: server.superuser,
        exists: true,
        repoint: Vec::new(),
        // The schema stays: nothing of its own is moved, created or carried over.
        assessment: readiness::Assessment {
            schema: job.schema.as_str().to_owned(),
            exists: true,
            creates_schema: false,
            extensions: Vec::new(),
            metadata: None,
            links: Vec::new(),
            memberships: Vec::new(),
            missing: Vec::new(),
            outside_needed: 0,
        },
        settings,
        newer_dump_hint: swap::newer_dump_hint(plan, server.major()),
    })
}

/// What happened to each foreign key re-created on the restored tables.
#[derive(Debug, Default)]
pub struct ForeignKeyOutcomes {
    /// `table.constraint` -> live rows that violate it, for those counted.
    pub violations: Vec<(String, u64)>,
    /// Those re-created NOT VALID, with their violations.
    pub not_valid: Vec<(String, u64)>,
    pub recreated: usize,
}

/// What the transaction fills in as it goes, for the record.
struct Progress<'a> {
    stats: &'a mut Stats,
    /// What live held, read again under the locks: what the transaction acted on.
    live: &'a mut Live,
    outcomes: &'a mut ForeignKeyOutcomes,
    /// `--merge-missing`: the live tables rows go back into, and what came back.
    targets: &'a [Target],
    merged: &'a mut Vec<Merged>,
}

/// Everything up to COMMIT, in one transaction.
#[allow(clippy::too_many_arguments, clippy::too_many_lines)] // one call site; the transaction reads top to bottom
async fn restore_transaction(
    job: &Job,
    plan: &Plan,
    selection: &readiness::tables::Selection,
    client: &Client,
    ready: &Ready,
    aside: &Ident,
    [before_data, after_data]: [&std::path::Path; 2],
    progress: Progress<'_>,
    reporter: &Reporter,
) -> Result<(), Failure> {
    let Progress {
        stats,
        live,
        outcomes,
        targets,
        merged,
    } = progress;
    let copy = job.into.is_some() || job.merge_missing;
    let schema = &job.schema;
    let step = |what: String| move |e: PgError| step_failure(client, &what, &e);
    swap::begin_locked(client, job, ready.server_major).await?;
    // The live tables, locked before what points at them is read again: nothing can add a
    // foreign key or a view on them from here to the commit.
    if !live.tables.is_empty() {
        let names: Vec<&str> = live.tables.iter().map(|t| t.qualified.as_str()).collect();
        client
            .batch_execute(&format!(
                "LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
                names.join(", ")
            ))
            .await
            .map_err(step(format!("locking {}", names.join(", "))))?;
    }
    *live = Live::read(client, schema, selection).await.map_err(step(
        "reading the live tables again under their locks".into(),
    ))?;
    if copy {
        *live = std::mem::take(live).for_copy();
    }
    if let Some(why) = live.refusal(copy) {
        return Err(Failure::Failed("tables", why));
    }

    // What points at the live tables goes first; it is re-created on the restored ones.
    for fk in &live.foreign_keys {
        client
            .batch_execute(&format!(
                "ALTER TABLE {} DROP CONSTRAINT {}",
                fk.table, fk.name
            ))
            .await
            .map_err(step(format!(
                "dropping foreign key {} of {} to re-create it",
                fk.name, fk.table
            )))?;
    }
    for matview in &live.matviews {
        client
            .batch_execute(&format!("DROP MATERIALIZED VIEW {}", matview.name))
            .await
            .map_err(step(format!(
                "dropping materialized view {} to re-create it",
                matview.name
            )))?;
    }
    if !live.tables.is_empty() {
        for sql in &live.untie {
            client.batch_execute(sql).await.map_err(step(format!(
                "untying from a parent outside the set: {sql}"
            )))?;
        }
        set_aside(client, schema, aside, live).await?;
        reporter.ok(format!(
            "{} set aside in {aside} ({}only in this transaction)",
            live.tables
                .iter()
                .map(|t| t.qualified.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            if copy {
                "while the copies are restored, then moved back: "
            } else {
                "until the commit, "
            }
        ));
    }

    let restore_started = Instant::now();
    let freeze = !job.no_freeze;
    if !plan.before_data.is_empty() {
        swap::run_pg_restore(client, ready, before_data, plan, freeze, stats, reporter).await?;
    }
    swap::load_tables(client, job, plan, ready.server_major, stats, reporter).await?;
    if !plan.after_data.is_empty() {
        swap::run_pg_restore(client, ready, after_data, plan, freeze, stats, reporter).await?;
    }
    stats.restore_ms = swap::millis(restore_started);
    reporter.ok(format!(
        "restored: {} statements, {} tables in {:.1} s",
        stats.statements,
        plan.tables.len(),
        restore_started.elapsed().as_secs_f64()
    ));
    let verify_started = Instant::now();
    swap::verify(client, plan, stats).await?;
    stats.verify_ms = swap::millis(verify_started);
    reporter.ok(format!(
        "row counts verified: {} tables hold exactly the dump's {} rows",
        plan.tables.len(),
        plan.total_rows()
    ));

    if let Some(into) = &job.into {
        return make_copy(client, schema, aside, into, selection, live).await;
    }
    if job.merge_missing {
        let copies = copies_name(schema, aside)?;
        make_copy(client, schema, aside, &copies, selection, live).await?;
        *merged = merge::merge_all(client, &copies, targets, &plan.tables).await?;
        for m in merged.iter() {
            reporter.ok(format!(
                "{} rows of the dump put back into {} (by {})",
                m.came_back,
                m.name,
                m.key.join(", ")
            ));
        }
        return client
            .batch_execute(&format!("DROP SCHEMA {copies} CASCADE"))
            .await
            .map_err(|e| step_failure(client, &format!("dropping the copies in {copies}"), &e));
    }
    let keys: Vec<&ForeignKey> = live
        .foreign_keys
        .iter()
        .chain(live.missing_foreign_keys.iter())
        .collect();
    for fk in keys {
        recreate_foreign_key(client, fk, job.fk_not_valid, outcomes).await?;
        reporter.ok(format!(
            "foreign key {} of {} re-created on the restored table",
            fk.name, fk.table
        ));
    }
    for view in &live.views {
        client
            .batch_execute(&view.replace_sql())
            .await
            .map_err(|e| {
                Failure::Failed(
                    "repoint",
                    format!(
                        "re-creating view {} on the restored tables: {}",
                        view.name,
                        db_message(&e)
                    ),
                )
            })?;
        reporter.ok(format!("view {} now reads the restored tables", view.name));
    }
    for matview in &live.matviews {
        for sql in matview.create_sql() {
            client.batch_execute(&sql).await.map_err(|e| {
                Failure::Failed(
                    "repoint",
                    format!(
                        "re-creating materialized view {} on the restored tables ({}): {}",
                        matview.name,
                        sql.lines().next().unwrap_or_default(),
                        db_message(&e)
                    ),
                )
            })?;
        }
        reporter.ok(format!(
            "materialized view {} re-created on the restored tables",
            matview.name
        ));
    }
    Ok(())
}

/// `--into`: the restored tables go into the new schema `into` (owned like the live schema),
/// and the live ones, out of the way in `aside` meanwhile, come back; `aside` goes.
async fn make_copy(
    client: &Client,
    schema: &Ident,
    aside: &Ident,
    into: &Ident,
    selection: &readiness::tables::Selection,
    live: &Live,
) -> Result<(), Failure> {
    let step = |what: String| move |e: PgError| step_failure(client, &what, &e);
    let create: String = client
        .query_one(
            "SELECT format('CREATE SCHEMA %I AUTHORIZATION %I', $1::text, pg_get_userbyid(nspowner))
             FROM pg_namespace WHERE nspname = $2",
            &[&into.as_str(), &schema.as_str()],
        )
        .await
        .map_err(step(format!("reading the owner of {schema}")))?
        .get(0);
    client
        .batch_execute(&create)
        .await
        .map_err(step(format!("creating {into}")))?;
    let restored: Vec<&str> = selection.tables.iter().map(|t| t.name.as_str()).collect();
    move_tables(client, schema, into, &restored).await?;
    if !live.tables.is_empty() {
        let names: Vec<&str> = live.tables.iter().map(|t| t.name.as_str()).collect();
        move_tables(client, aside, schema, &names).await?;
        client
            .batch_execute(&format!("DROP SCHEMA {aside}"))
            .await
            .map_err(step(format!("dropping {aside}, emptied")))?;
    }
    Ok(())
}

/// Moves the tables `names` of `from`, with their statistics objects, into `to`.
async fn move_tables(
    client: &Client,
    from: &Ident,
    to: &Ident,
    names: &[&str],
) -> Result<(), Failure> {
    let what = format!("moving {} from {from} to {to}", names.join(", "));
    let statements: Vec<String> = client
        .query(
            "SELECT format('ALTER TABLE %I.%I SET SCHEMA %I', n.nspname, c.relname, $3::text)
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relname = ANY($2::text[]) AND c.relkind IN ('r', 'p')
             UNION ALL
             SELECT format('ALTER STATISTICS %I.%I SET SCHEMA %I', n.nspname, s.stxname, $3::text)
             FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
             JOIN pg_class c ON c.oid = s.stxrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace
             WHERE n.nspname = $1 AND cn.nspname = $1 AND c.relname = ANY($2::text[])",
            &[&from.as_str(), &names, &to.as_str()],
        )
        .await
        .map_err(|e| step_failure(client, &what, &e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for sql in statements {
        client
            .batch_execute(&sql)
            .await
            .map_err(|e| step_failure(client, &what, &e))?;
    }
    Ok(())
}

/// The schema the bare copies of `--merge-missing` live in until the commit: the set-aside
/// name with `_mrge_` for `_prev_`, as long and as free of clashes.
fn copies_name(schema: &Ident, aside: &Ident) -> Result<Ident, Failure> {
    let stamp = aside
        .as_str()
        .strip_prefix(&format!("{}_prev_", schema.as_str()))
        .unwrap_or("copies");
    Ident::new(format!("{}_mrge_{stamp}", schema.as_str()))
        .map_err(|e| Failure::Failed("merge", e.to_string()))
}

/// For people: what `--merge-missing` will do.
fn merge_summary(targets: &[Target], schema: &Ident) -> String {
    let tables: Vec<String> = targets
        .iter()
        .map(|t| format!("{} (by {})", t.qualified, t.key_names.join(", ")))
        .collect();
    format!(
        "put the dump's rows that are missing live back into {} of {schema}, changing no live row",
        tables.join(", ")
    )
}

/// Creates the schema the live tables go aside into, marked by its comment as holding only
/// tables, and moves them (partitions and children included: SET SCHEMA moves one table, with
/// its indexes, constraints and owned sequences; its statistics objects are moved apart).
async fn set_aside(
    client: &Client,
    schema: &Ident,
    aside: &Ident,
    live: &Live,
) -> Result<(), Failure> {
    let step = |what: String| move |e: PgError| step_failure(client, &what, &e);
    let names: Vec<&str> = live.tables.iter().map(|t| t.name.as_str()).collect();
    let comment = format!(
        "{ASIDE_COMMENT_PREFIX} tables of {} set aside by a table restore: {}",
        schema.as_str(),
        names.join(", ")
    );
    let comment_sql: String = client
        .query_one(
            "SELECT format('COMMENT ON SCHEMA %I IS %L', $1::text, $2::text)",
            &[&aside.as_str(), &comment],
        )
        .await
        .map_err(step("writing the set-aside schema's comment".into()))?
        .get(0);
    client
        .batch_execute(&format!("CREATE SCHEMA {aside}; {comment_sql}"))
        .await
        .map_err(step(format!("creating {aside}")))?;
    for table in &live.tables {
        client
            .batch_execute(&format!(
                "ALTER TABLE {} SET SCHEMA {aside}",
                table.qualified
            ))
            .await
            .map_err(step(format!(
                "setting {} aside in {aside}",
                table.qualified
            )))?;
    }
    for statistics in &live.statistics {
        client
            .batch_execute(&format!("ALTER STATISTICS {statistics} SET SCHEMA {aside}"))
            .await
            .map_err(step(format!(
                "setting statistics {statistics} aside in {aside}"
            )))?;
    }
    Ok(())
}

/// Re-creates one foreign key on the restored tables. The live rows that would violate it
/// (rows written after the dump that reference rows the dump lacks) are counted first: with
/// any, the restore rolls back naming the key and the count, or with `--fk-not-valid` the key
/// comes back NOT VALID.
async fn recreate_foreign_key(
    client: &Client,
    fk: &ForeignKey,
    not_valid_allowed: bool,
    outcomes: &mut ForeignKeyOutcomes,
) -> Result<(), Failure> {
    let key = format!("{}.{}", fk.table, fk.name);
    let violations = match fk.violations_sql(client).await {
        Ok(Some(sql)) => {
            let n: i64 = client
                .query_one(sql.as_str(), &[])
                .await
                .map_err(|e| step_failure(client, &format!("counting the rows {key} rejects"), &e))?
                .get(0);
            Some(u64::try_from(n).unwrap_or(0))
        }
        Ok(None) => None,
        Err(e) => {
            return Err(step_failure(
                client,
                &format!("looking up the tables of {key}"),
                &e,
            ));
        }
    };
    if let Some(n) = violations {
        outcomes.violations.push((key.clone(), n));
    }
    let violated = violations.is_some_and(|n| n > 0);
    if violated && !not_valid_allowed {
        return Err(Failure::Failed(
            "foreign_keys",
            format!(
                "foreign key {} of {}: {} live rows reference rows the restored table does not hold (written after the dump); restore those tables too, or give --fk-not-valid to re-create the key NOT VALID",
                fk.name,
                fk.table,
                violations.unwrap_or(0)
            ),
        ));
    }
    let sql = fk.add_sql(violated);
    client.batch_execute(&sql).await.map_err(|e| {
        if e.as_db_error().is_none() && client.is_closed() {
            Failure::Lost(format!(
                "the connection was lost while re-creating {key}: {e}"
            ))
        } else {
            Failure::Failed(
                "foreign_keys",
                format!("re-creating foreign key {key}: {}", db_message(&e)),
            )
        }
    })?;
    outcomes.recreated += 1;
    if violated {
        outcomes.not_valid.push((key, violations.unwrap_or(0)));
    }
    Ok(())
}

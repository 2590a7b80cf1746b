//! The checks, in the order an operator would make them: is it there, is it big enough, is it
//! an archive we can read, does it hold the schema, is every data block whole, is it from
//! before the damage.

use crate::objects::{self, Obj};
use crate::size::{self, SizeRange};
use crate::timing::{self, Damage};
use cli::Reporter;
use cli::values::{ByteSize, TimeZone};
use pgdump::{Archive, Entry, ErrorKind, Part};
use record::{Check, SectionBuilder};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Everything the inspection needs, validated at the edge.
#[derive(Debug)]
pub struct Plan {
    pub path: PathBuf,
    pub schemas: Vec<String>,
    pub require_tables: Vec<String>,
    pub min_size: ByteSize,
    pub expect_size: Option<SizeRange>,
    pub damage: Option<Damage>,
    pub dump_tz: TimeZone,
    pub quick: bool,
    pub jobs: usize,
}

/// The keys the section always has, for a dump that could not be read at all.
pub fn empty_data(plan: &Plan, section: &mut SectionBuilder) {
    section.insert_data("path", json!(plan.path.display().to_string()));
    section.insert_data("schemas", json!(plan.schemas));
    section.insert_data("tables", json!([]));
    section.insert_data("roles", json!([]));
}

fn push(section: &mut SectionBuilder, reporter: &Reporter, check: Check) {
    reporter.check(&check);
    section.push_check(check);
}

pub fn inspect(plan: &Plan, section: &mut SectionBuilder, reporter: &Reporter) {
    empty_data(plan, section);
    reporter.info(format!("Reading dump '{}'", plan.path.display()));
    let Some(archive) = open_archive(plan, section, reporter) else {
        return;
    };
    describe_header(&archive, section, reporter);

    let objs: Vec<Obj> = archive.entries().iter().map(to_obj).collect();
    let analysis = objects::analyse(&objs, &plan.schemas);
    toc_data(&objs, section, reporter);
    for schema in &plan.schemas {
        push(
            section,
            reporter,
            schema_objects_check(&objs, &analysis, schema),
        );
    }
    push(section, reporter, layout_check(&archive, plan.quick));
    let tables = table_rows(&archive, plan, section, reporter);
    tables_without_data(&archive, plan, section, reporter);
    for wanted in &plan.require_tables {
        push(
            section,
            reporter,
            require_table(wanted, &plan.schemas, &tables, plan.quick),
        );
    }
    created_check(&archive, plan, section, reporter);

    section.insert_data("roles", json!(analysis.roles));
    section.insert_data(
        "depends_on_outside",
        objects::pairs_value(&objs, &analysis.depends_on_outside),
    );
    section.insert_data(
        "depended_on_by_outside",
        objects::pairs_value(&objs, &analysis.depended_on_by_outside),
    );
    if !analysis.depends_on_outside.is_empty() {
        reporter.info(format!(
            "The schema depends on {} objects outside it (listed in depends_on_outside)",
            analysis.depends_on_outside.len()
        ));
    }
}

/// Presence, size, then the header and table of contents; `None` when there is nothing more
/// to read (the failed check says why).
fn open_archive(plan: &Plan, section: &mut SectionBuilder, reporter: &Reporter) -> Option<Archive> {
    let shown = format!("'{}'", plan.path.display());
    let size = match dump_size(&plan.path) {
        Ok(size) => size,
        Err(e) => {
            let detail = if e.kind() == std::io::ErrorKind::InvalidInput {
                format!("cannot read {shown}: {e}")
            } else {
                format!("cannot read {shown}: {e}: check the path and its permissions")
            };
            push(section, reporter, Check::fail("file_readable", detail));
            return None;
        }
    };
    let detail = format!("dump {shown} present ({})", ByteSize(size));
    push(section, reporter, Check::ok("file_readable", detail));
    section.insert_data("size_bytes", json!(size));
    for check in size::size_checks(size, plan.min_size, plan.expect_size) {
        push(section, reporter, check);
    }
    match Archive::open(&plan.path) {
        Ok(archive) => Some(archive),
        Err(error) => {
            let name = match error.kind() {
                ErrorKind::UnsupportedVersion { .. } => "archive_version",
                ErrorKind::Truncated {
                    part: Part::TableOfContents,
                    ..
                }
                | ErrorKind::Corrupt {
                    part: Part::TableOfContents,
                    ..
                } => "toc",
                _ => "archive_header",
            };
            push(
                section,
                reporter,
                Check::fail(name, error.kind().to_string()),
            );
            section.insert_data("format", Value::Null);
            None
        }
    }
}

fn schema_objects_check(objs: &[Obj], analysis: &objects::Analysis, schema: &str) -> Check {
    let count = analysis
        .members
        .iter()
        .filter(|&&i| objects::belongs_to(&objs[i], schema))
        .count();
    if count > 0 {
        return Check::ok(
            "schema_objects",
            format!("the dump holds {count} objects of schema '{schema}'"),
        );
    }
    let mut there: Vec<&str> = objs.iter().filter_map(|o| o.schema.as_deref()).collect();
    there.sort_unstable();
    there.dedup();
    let there = if there.is_empty() {
        "none".to_owned()
    } else {
        there.join(", ")
    };
    Check::fail(
        "schema_objects",
        format!(
            "the dump holds no objects of schema '{schema}' (schemas in it: {there}): pick another dump"
        ),
    )
}

/// Row counts read only the schema's blocks; this walk proves the rest of the file is whole
/// too: framing, every block where the TOC says, nothing cut after the last one.
fn layout_check(archive: &Archive, quick: bool) -> Check {
    if quick {
        return Check::skip("archive_complete", "block layout not walked (--quick)");
    }
    match archive.verify_layout() {
        Ok(()) => Check::ok(
            "archive_complete",
            "every data block is framed whole and the file ends after the last one",
        ),
        Err(error) => Check::fail(
            "archive_complete",
            format!(
                "{}: the dump is damaged or cut short; pick another snapshot",
                error.kind()
            ),
        ),
    }
}

fn created_check(
    archive: &Archive,
    plan: &Plan,
    section: &mut SectionBuilder,
    reporter: &Reporter,
) {
    let Some(civil) = archive.header().created else {
        let check = Check::fail(
            "created_before_damage",
            "the header holds no valid creation time",
        );
        push(section, reporter, check);
        return;
    };
    let mut created = json!({ "local": civil.to_string(), "zone": plan.dump_tz.name });
    if let Some(utc) = timing::dump_instant(civil, &plan.dump_tz) {
        created["utc"] = json!(utc.to_string());
    }
    section.insert_data("created", created);
    let check = timing::created_before_check(civil, &plan.dump_tz, plan.damage.as_ref());
    push(section, reporter, check);
}

/// A file's size, or the total of a directory archive's files.
fn dump_size(path: &std::path::Path) -> std::io::Result<u64> {
    let meta = std::fs::metadata(path)?;
    if let Some(what) = pgdump::not_a_file(&meta) {
        // Checked before opening: opening a FIFO waits for a writer, without end if none comes.
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "it is {what}, not a file: a dump is read by seeking in it; restore or copy it to a file and give that"
            ),
        ));
    }
    if !meta.is_dir() {
        // Opening proves it is readable, not just there.
        std::fs::File::open(path)?;
        return Ok(meta.len());
    }
    let mut total = 0;
    for entry in std::fs::read_dir(path)? {
        let meta = entry?.metadata()?;
        if meta.is_file() {
            total += meta.len();
        }
    }
    Ok(total)
}

fn text(t: &pgdump::Text) -> String {
    t.to_string_lossy().into_owned()
}

fn to_obj(entry: &Entry) -> Obj {
    Obj {
        id: entry.dump_id.0,
        kind: text(&entry.desc),
        section: entry.section.to_string(),
        schema: entry.namespace.as_ref().map(text),
        name: text(&entry.tag),
        owner: entry.owner.as_ref().map(text),
        defn: entry.defn.as_ref().map(text),
        deps: entry.dependencies.iter().map(|d| d.0).collect(),
    }
}

fn describe_header(archive: &Archive, section: &mut SectionBuilder, reporter: &Reporter) {
    let header = archive.header();
    let format = match archive.format() {
        pgdump::Format::Custom => "custom",
        pgdump::Format::Directory => "directory",
    };
    let opt = |t: &Option<pgdump::Text>| t.as_ref().map(text);
    section.insert_data("format", json!(format));
    section.insert_data("archive_version", json!(header.version.to_string()));
    section.insert_data("compression", json!({ "algorithm": header.compression.algorithm.to_string(), "level": header.compression.level }));
    section.insert_data("pg_dump_version", json!(opt(&header.pg_dump_version)));
    section.insert_data("server_version", json!(opt(&header.server_version)));
    section.insert_data("source_database", json!(text(&header.database)));
    push(
        section,
        reporter,
        Check::ok(
            "archive_header",
            format!(
                "{format} archive {} written by pg_dump {} from database '{}' (server {}), compression {}",
                header.version,
                opt(&header.pg_dump_version).unwrap_or_else(|| "?".into()),
                text(&header.database),
                opt(&header.server_version).unwrap_or_else(|| "?".into()),
                header.compression
            ),
        ),
    );
    let check = if let Some(range) = pgdump::readable_by_pg_restore(header.version) {
        section.insert_data("pg_restore", json!({ "min_major": range.start }));
        Check::ok(
            "archive_version",
            format!(
                "archive version {} is read by pg_restore {} and later",
                header.version, range.start
            ),
        )
    } else {
        section.insert_data("pg_restore", Value::Null);
        Check::fail(
            "archive_version",
            format!(
                "no released pg_restore reads archive version {}",
                header.version
            ),
        )
    };
    push(section, reporter, check);
}

fn toc_data(objs: &[Obj], section: &mut SectionBuilder, reporter: &Reporter) {
    let mut by_section: BTreeMap<&str, usize> = BTreeMap::new();
    for obj in objs {
        *by_section.entry(obj.section.as_str()).or_default() += 1;
    }
    let summary: Vec<String> = by_section.iter().map(|(s, n)| format!("{n} {s}")).collect();
    push(
        section,
        reporter,
        Check::ok(
            "toc",
            format!(
                "table of contents: {} entries ({})",
                objs.len(),
                summary.join(", ")
            ),
        ),
    );
    section.insert_data(
        "toc",
        json!({ "entries": objs.len(), "by_section": by_section, "objects": objs.iter().map(Obj::to_value).collect::<Vec<_>>() }),
    );
}

/// One table of the schema and what its data held.
#[derive(Debug)]
pub struct TableRows {
    pub schema: String,
    pub name: String,
    pub rows: Option<u64>,
}

fn table_rows(
    archive: &Archive,
    plan: &Plan,
    section: &mut SectionBuilder,
    reporter: &Reporter,
) -> Vec<TableRows> {
    let entries: Vec<&Entry> = archive
        .table_data()
        .filter(|e| {
            e.namespace
                .as_ref()
                .is_some_and(|ns| plan.schemas.iter().any(|s| ns.as_bytes() == s.as_bytes()))
        })
        .collect();
    let countable: Vec<&Entry> = entries
        .iter()
        .copied()
        .filter(|e| e.copy_stmt.is_some())
        .collect();
    let results = if plan.quick {
        Vec::new()
    } else {
        let spinner = reporter.spinner(format!("Reading the data of {} tables", countable.len()));
        let results = archive.count_rows_parallel(&countable, plan.jobs);
        spinner.finish_and_clear();
        results
    };
    let mut counted = BTreeMap::new();
    let mut failures = Vec::new();
    for (entry, result) in countable.iter().zip(results) {
        match result {
            Ok(count) => {
                counted.insert(entry.dump_id, count);
            }
            Err(error) => failures.push(error.kind().to_string()),
        }
    }
    let mut out = Vec::new();
    let mut json_tables = Vec::new();
    for entry in &entries {
        let count = counted.get(&entry.dump_id);
        let schema = entry.namespace.as_ref().map(text).unwrap_or_default();
        json_tables.push(json!({
            "schema": schema,
            "name": text(&entry.tag),
            "rows": count.map(|c| c.rows),
            "bytes": count.map(|c| c.data_bytes),
            "dump_id": entry.dump_id.0,
        }));
        out.push(TableRows {
            schema,
            name: text(&entry.tag),
            rows: count.map(|c| c.rows),
        });
    }
    section.insert_data("tables", Value::Array(json_tables));

    let inserts: Vec<String> = entries
        .iter()
        .filter(|e| e.copy_stmt.is_none())
        .map(|e| e.qualified_name())
        .collect();
    if !inserts.is_empty() {
        push(
            section,
            reporter,
            Check::warn(
                "rows_countable",
                format!(
                    "rows not counted for {} (dumped as INSERT statements): {}",
                    inserts.len(),
                    inserts.join(", ")
                ),
            ),
        );
    }
    let check = if plan.quick {
        Check::skip(
            "data_blocks",
            "data blocks not read (--quick): nothing proves the data is whole",
        )
    } else if failures.is_empty() {
        let rows: u64 = counted.values().map(|c| c.rows).sum();
        let bytes: u64 = counted.values().map(|c| c.data_bytes).sum();
        Check::ok(
            "data_blocks",
            format!(
                "read the data of {} tables whole: {rows} rows, {} of COPY text",
                counted.len(),
                ByteSize(bytes)
            ),
        )
    } else {
        Check::fail(
            "data_blocks",
            format!(
                "{} of {} tables' data cannot be read: {}",
                failures.len(),
                countable.len(),
                failures.join("; ")
            ),
        )
    };
    push(section, reporter, check);
    out
}

fn tables_without_data(
    archive: &Archive,
    plan: &Plan,
    section: &mut SectionBuilder,
    reporter: &Reporter,
) {
    let in_schema = |e: &Entry| {
        e.namespace
            .as_ref()
            .is_some_and(|ns| plan.schemas.iter().any(|s| ns.as_bytes() == s.as_bytes()))
    };
    let with_data: Vec<(&Option<pgdump::Text>, &pgdump::Text)> = archive
        .table_data()
        .map(|e| (&e.namespace, &e.tag))
        .collect();
    // Tables with storage: partitioned parents have neither a relkind 'r' nor an access method.
    let missing: Vec<String> = archive
        .entries()
        .iter()
        .filter(|e| {
            e.desc == "TABLE"
                && in_schema(e)
                && e.relkind.map_or(e.table_am.is_some(), |k| k == b'r')
        })
        .filter(|e| !with_data.contains(&(&e.namespace, &e.tag)))
        .map(Entry::qualified_name)
        .collect();
    push(
        section,
        reporter,
        if missing.is_empty() {
            Check::ok(
                "tables_without_data",
                "every table of the schema has a data entry",
            )
        } else {
            Check::warn(
                "tables_without_data",
                format!(
                    "{} tables have no data in the dump (excluded with --exclude-table-data or unlogged?): {}",
                    missing.len(),
                    missing.join(", ")
                ),
            )
        },
    );
    section.insert_data("tables_without_data", json!(missing));
}

fn require_table(wanted: &str, schemas: &[String], tables: &[TableRows], quick: bool) -> Check {
    let (schema, name) = match wanted.split_once('.') {
        Some((s, n)) => (Some(s), n),
        None => (None, wanted),
    };
    let found = tables.iter().find(|t| {
        t.name == name && schema.map_or_else(|| schemas.contains(&t.schema), |s| s == t.schema)
    });
    match found {
        None => Check::fail(
            "require_table",
            format!("required table {wanted} has no data in the dump"),
        ),
        Some(t) if quick => Check::warn(
            "require_table",
            format!(
                "required table {}.{} is in the dump; rows not counted (--quick)",
                t.schema, t.name
            ),
        ),
        Some(t) => match t.rows {
            Some(0) => Check::fail(
                "require_table",
                format!(
                    "required table {}.{} is in the dump but empty",
                    t.schema, t.name
                ),
            ),
            Some(rows) => Check::ok(
                "require_table",
                format!("required table {}.{} holds {rows} rows", t.schema, t.name),
            ),
            None => Check::fail(
                "require_table",
                format!(
                    "required table {}.{}: its rows could not be counted",
                    t.schema, t.name
                ),
            ),
        },
    }
}

//! What a swap will restore, decided from the archive before anything is touched: the
//! schema's entries (readiness::Part: its own, and the extensions the dump creates in it),
//! its tables and the rows each must hold.
//!
//! The restore runs in three steps. pg_restore writes the SQL of the entries before the data
//! (types, tables, functions...); schema-swap loads each table's COPY data itself, straight
//! from the archive reader; pg_restore then writes the rest (sequence values, indexes,
//! constraints, triggers, materialized view data, grants). Loading the data ourselves is what
//! lets it go to the server in COPY's binary form, which costs the server far less to take.

use pgdump::{Archive, Entry};
use readiness::tables::{NotInDump, Selection};
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

/// One table whose data the dump holds.
#[derive(Debug, Clone)]
pub struct Table {
    pub schema: String,
    pub name: String,
    /// The dump id of its TABLE DATA entry.
    pub dump_id: u32,
    /// The COPY statement pg_restore writes for it, without the `;` and newline.
    pub copy_sql: Option<String>,
    /// Rows in the dump; `None` when the data is INSERT statements (not countable).
    pub expected_rows: Option<u64>,
}

/// The schema's part of the archive.
#[derive(Debug)]
pub struct Plan {
    pub archive: Archive,
    /// Dump ids of the entries to restore, in the archive's order.
    pub entry_ids: Vec<u32>,
    /// The entries pg_restore restores before the data, and after it; the tables with COPY
    /// data are in neither, schema-swap loads them itself.
    pub before_data: Vec<u32>,
    pub after_data: Vec<u32>,
    pub tables: Vec<Table>,
    /// Roles the entries name as owners, which must exist on the server.
    pub owners: BTreeSet<String>,
    /// Where the row counts came from: `the record's dump section` or `the archive`.
    pub counts_from: &'static str,
    /// The dump's encoding (its ENCODING entry), if it says.
    pub encoding: Option<String>,
}

/// Why the plan could not be made. Each is a failed check: nothing has been touched.
#[derive(Debug)]
pub struct PlanError {
    pub check: &'static str,
    pub message: String,
}

impl PlanError {
    fn new(check: &'static str, message: impl Into<String>) -> Self {
        Self {
            check,
            message: message.into(),
        }
    }
}

pub fn make(
    path: &Path,
    schema: &str,
    dump_section: Option<&Value>,
    jobs: usize,
) -> Result<Plan, PlanError> {
    let archive = open(path)?;
    let members: BTreeSet<u32> = readiness::Part::of(&archive, schema)
        .entries
        .iter()
        .map(|e| e.dump_id.0)
        .collect();
    if members.is_empty() {
        return Err(PlanError::new(
            "schema_objects",
            format!(
                "dump '{}' holds no objects of schema {schema}: pick a dump of that schema",
                path.display()
            ),
        ));
    }
    assemble(archive, &members, schema, dump_section, jobs)
}

/// The plan of a table restore (`--table`): the named tables' own entries and the entries of
/// the dump's views that read them (restored only where they are missing live: the caller
/// takes out the others with [`Plan::leave_out`]). A name that is no table of the dump's
/// schema is `Err(Ok(..))`, a usage error; a dump that cannot be read is `Err(Err(..))`.
pub fn make_for_tables(
    path: &Path,
    schema: &str,
    names: &[String],
    dump_section: Option<&Value>,
    jobs: usize,
) -> Result<(Plan, Selection), Result<NotInDump, PlanError>> {
    let archive = open(path).map_err(Err)?;
    let selection = readiness::tables::select(&archive, schema, names).map_err(Ok)?;
    let mut members = selection.own.clone();
    members.extend(
        selection
            .readers
            .iter()
            .flat_map(|r| r.entries.iter().copied()),
    );
    let plan = assemble(archive, &members, schema, dump_section, jobs).map_err(Err)?;
    Ok((plan, selection))
}

fn open(path: &Path) -> Result<Archive, PlanError> {
    Archive::open(path).map_err(|e| {
        PlanError::new(
            "dump",
            format!("reading dump '{}': {}", path.display(), e.kind()),
        )
    })
}

/// The plan of restoring the entries `member_ids` of the archive: its tables with their row
/// counts (from the record when it counted this very file, else read from the archive).
fn assemble(
    archive: Archive,
    member_ids: &BTreeSet<u32>,
    schema: &str,
    dump_section: Option<&Value>,
    jobs: usize,
) -> Result<Plan, PlanError> {
    let path = archive.path().to_path_buf();
    let members: Vec<&Entry> = archive
        .entries()
        .iter()
        .filter(|e| member_ids.contains(&e.dump_id.0))
        .collect();
    let owners = members
        .iter()
        .filter_map(|e| e.owner.as_ref())
        .map(|o| o.to_string_lossy().into_owned())
        .filter(|o| !o.is_empty())
        .collect();
    let data: Vec<&Entry> = members
        .iter()
        .copied()
        .filter(|e| e.is_table_data() && e.has_data())
        .collect();
    let mut tables: Vec<Table> = data
        .iter()
        .map(|e| Table {
            schema: schema.to_owned(),
            name: e.tag.to_string_lossy().into_owned(),
            dump_id: e.dump_id.0,
            copy_sql: e.copy_stmt.as_ref().map(|s| {
                s.to_string_lossy()
                    .trim_end()
                    .trim_end_matches(';')
                    .to_owned()
            }),
            expected_rows: None,
        })
        .collect();
    let counts_from = if fill_from_record(&mut tables, &path, &archive, dump_section) {
        "the record's dump section"
    } else {
        count_in_archive(&archive, &data, &mut tables, jobs)?;
        "the archive"
    };
    let entry_ids = members.iter().map(|e| e.dump_id.0).collect();
    let (before_data, after_data) = split_around_data(&members);
    let encoding = dump_encoding(&archive);
    drop(members);
    drop(data);
    Ok(Plan {
        archive,
        entry_ids,
        before_data,
        after_data,
        tables,
        owners,
        counts_from,
        encoding,
    })
}

/// The FK CONSTRAINT entries among `ids`, with their tags: what a copy (`--into`) leaves
/// out where the key would reference a live table.
pub fn foreign_keys_among(plan: &Plan, ids: &BTreeSet<u32>) -> Vec<(u32, String)> {
    plan.archive
        .entries()
        .iter()
        .filter(|e| e.desc == "FK CONSTRAINT" && ids.contains(&e.dump_id.0))
        .map(|e| (e.dump_id.0, e.qualified_name()))
        .collect()
}

/// The FK CONSTRAINT entries of the plan that depend on an entry outside it: foreign keys to
/// tables of other schemas, which a copy (`--into`) leaves out.
pub fn foreign_keys_leaving(plan: &Plan) -> Vec<(u32, String)> {
    let members: BTreeSet<u32> = plan.entry_ids.iter().copied().collect();
    plan.archive
        .entries()
        .iter()
        .filter(|e| e.desc == "FK CONSTRAINT" && members.contains(&e.dump_id.0))
        .filter(|e| e.dependencies.iter().any(|d| !members.contains(&d.0)))
        .map(|e| (e.dump_id.0, e.qualified_name()))
        .collect()
}

/// Whether rows in this encoding may be converted to COPY's binary form: UTF-8 only. The
/// converter splits rows on ASCII bytes, which some client-only encodings (SJIS, BIG5, GBK...)
/// hold inside characters; and the session reads catalog names back as UTF-8. Dumps in other
/// encodings, and dumps that do not say, load as text.
fn binary_safe(encoding: Option<&str>) -> bool {
    encoding.is_some_and(|name| name.eq_ignore_ascii_case("UTF8"))
}

/// The encoding the dump's text is in, from its ENCODING entry (`SET client_encoding = 'X';`).
fn dump_encoding(archive: &Archive) -> Option<String> {
    let entry = archive.entries().iter().find(|e| e.desc == "ENCODING")?;
    let defn = entry.defn.as_ref()?.to_string_lossy().into_owned();
    let value = defn.split('\'').nth(1)?;
    Some(value.to_owned())
}

/// Which entries pg_restore restores before the tables are loaded, and which after.
///
/// pg_dump orders its table of contents pre-data, data, post-data. Before the data go the
/// entries that precede the first TABLE DATA entry, except those pg_restore itself leaves to
/// its last passes (grants, materialized view data, event triggers), so that they still come
/// after the data as they would in one pg_restore run. The TABLE DATA entries schema-swap loads
/// (COPY data) are in neither list; data written as INSERT statements stays with pg_restore.
fn split_around_data(members: &[&Entry]) -> (Vec<u32>, Vec<u32>) {
    let first_data = members.iter().position(|e| e.is_table_data());
    let mut before = Vec::new();
    let mut after = Vec::new();
    for (position, entry) in members.iter().enumerate() {
        if is_loaded_by_swap(entry) {
            continue;
        }
        let desc = entry.desc.to_string_lossy();
        let late_pass = matches!(
            desc.as_ref(),
            "ACL" | "DEFAULT ACL" | "ACL LANGUAGE" | "MATERIALIZED VIEW DATA" | "EVENT TRIGGER"
        );
        if first_data.is_none_or(|first| position < first) && !late_pass {
            before.push(entry.dump_id.0);
        } else {
            after.push(entry.dump_id.0);
        }
    }
    (before, after)
}

/// Whether schema-swap loads this entry's data itself: a table's data as COPY rows.
fn is_loaded_by_swap(entry: &Entry) -> bool {
    entry.is_table_data() && entry.has_data() && entry.copy_stmt.is_some()
}

/// Takes the row counts dump-validate wrote, when its section is about this very file (same
/// path and size) and counted every table; returns whether it did.
fn fill_from_record(
    tables: &mut [Table],
    path: &Path,
    archive: &Archive,
    section: Option<&Value>,
) -> bool {
    let Some(section) = section else {
        return false;
    };
    let same_path = section.get("path").and_then(Value::as_str) == path.to_str();
    let size = std::fs::metadata(path).ok().map(|m| m.len());
    let same_size = archive.format() == pgdump::Format::Directory
        || section.get("size_bytes").and_then(Value::as_u64) == size;
    if !same_path || !same_size || section.get("ok") != Some(&Value::Bool(true)) {
        return false;
    }
    let Some(listed) = section.get("tables").and_then(Value::as_array) else {
        return false;
    };
    let mut found = Vec::with_capacity(tables.len());
    for table in tables.iter() {
        let rows = listed.iter().find_map(|t| {
            (t.get("schema").and_then(Value::as_str) == Some(&table.schema)
                && t.get("name").and_then(Value::as_str) == Some(&table.name))
            .then(|| t.get("rows").and_then(Value::as_u64))
            .flatten()
        });
        match rows {
            Some(rows) => found.push(rows),
            None if table.copy_sql.is_none() => found.push(0),
            None => return false,
        }
    }
    for (table, rows) in tables.iter_mut().zip(found) {
        if table.copy_sql.is_some() {
            table.expected_rows = Some(rows);
        }
    }
    true
}

/// Reads every data block of the schema's tables on `jobs` threads: a damaged block is found
/// here, before anything changes, and named.
fn count_in_archive(
    archive: &Archive,
    data: &[&Entry],
    tables: &mut [Table],
    jobs: usize,
) -> Result<(), PlanError> {
    let countable: Vec<(usize, &Entry)> = data
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, e)| e.copy_stmt.is_some())
        .collect();
    let entries: Vec<&Entry> = countable.iter().map(|(_, e)| *e).collect();
    let results = archive.count_rows_parallel(&entries, jobs);
    let mut damaged = Vec::new();
    for ((index, entry), result) in countable.iter().zip(results) {
        match result {
            Ok(count) => tables[*index].expected_rows = Some(count.rows),
            Err(error) => damaged.push(format!("{}: {}", entry.qualified_name(), error.kind())),
        }
    }
    if damaged.is_empty() {
        Ok(())
    } else {
        Err(PlanError::new(
            "data_blocks",
            format!(
                "the dump's data is damaged, nothing was changed: {}; pick another snapshot",
                damaged.join("; ")
            ),
        ))
    }
}

/// A `-L` list for pg_restore: one dump id a line, in the archive's order (pg_restore
/// restores in the list's order). Ids only: a name holding a newline and digits could
/// otherwise select an entry of its own.
pub fn list_file(ids: &[u32], what: &str) -> String {
    let mut out = format!("; schema-swap: {what}\n");
    for id in ids {
        let _ = writeln!(out, "{id}");
    }
    out
}

impl Plan {
    /// Whether the dump's rows may be converted to COPY's binary form ([`binary_safe`]).
    pub fn binary_safe_encoding(&self) -> bool {
        binary_safe(self.encoding.as_deref())
    }

    pub fn total_rows(&self) -> u64 {
        self.tables.iter().filter_map(|t| t.expected_rows).sum()
    }

    /// Takes these entries out of the restore: the dump's views that exist live, which the
    /// table restore re-points instead of restoring.
    pub fn leave_out(&mut self, ids: &BTreeSet<u32>) {
        for list in [
            &mut self.entry_ids,
            &mut self.before_data,
            &mut self.after_data,
        ] {
            list.retain(|id| !ids.contains(id));
        }
    }

    /// Keeps only these entries in the restore (the tables' data is loaded apart, as ever).
    pub fn keep_only(&mut self, ids: &BTreeSet<u32>) {
        for list in [
            &mut self.entry_ids,
            &mut self.before_data,
            &mut self.after_data,
        ] {
            list.retain(|id| ids.contains(id));
        }
    }

    /// The table a COPY statement fills.
    pub fn table_for_copy(&self, sql: &str) -> Option<usize> {
        self.tables
            .iter()
            .position(|t| t.copy_sql.as_deref() == Some(sql.trim_end().trim_end_matches(';')))
    }
}

#[cfg(test)]
mod tests {
    use super::binary_safe;

    #[test]
    fn only_utf8_dumps_are_converted() {
        assert!(binary_safe(Some("UTF8")));
        assert!(!binary_safe(Some("LATIN1")));
        assert!(!binary_safe(Some("SJIS")));
        assert!(!binary_safe(Some("SQL_ASCII")));
        assert!(!binary_safe(None));
    }
}

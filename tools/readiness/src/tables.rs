//! What restoring some tables of a schema takes from an archive (`--table`): each named
//! table with everything that belongs to it, and what in the dump depends on it.
//!
//! pg_dump writes a table's parts as entries of their own (indexes, constraints, triggers,
//! rules, policies, defaults, owned sequences and their values, statistics objects, comments,
//! grants, partitions and inheritance children with their ATTACH entries) and records what
//! each depends on. An entry belongs to a table when it names the table as its owner (the
//! tag of a constraint, trigger, rule, policy or default is `table name`) or, for kinds whose
//! tag does not say (indexes, statistics, sequences), when it depends on the table. Comments,
//! grants and security labels belong to what they annotate. Foreign keys of other tables that
//! reference the set and views that read it are not the table's: they are reported apart, to
//! be re-created on the restored table.

use pgdump::{Archive, Entry};
use std::collections::BTreeSet;

/// The entries a table restore applies, and what depends on the tables.
#[derive(Debug, Default)]
pub struct Selection {
    /// The named tables and their partitions and children, in the archive's order.
    pub tables: Vec<SelectedTable>,
    /// Dump ids of the tables' own entries (the TABLE entries included).
    pub own: BTreeSet<u32>,
    /// Foreign keys of other tables that reference the set.
    pub foreign_keys: Vec<DumpForeignKey>,
    /// Views and materialized views that read the set (directly or through one another), with
    /// the entries that belong to them (grants, comments, indexes, data).
    pub readers: Vec<DumpReader>,
}

#[derive(Debug, Clone)]
pub struct SelectedTable {
    pub name: String,
    /// Its TABLE entry.
    pub dump_id: u32,
    /// Whether the operator named it; otherwise it is a partition or child of one that was.
    pub named: bool,
}

#[derive(Debug, Clone)]
pub struct DumpForeignKey {
    pub schema: String,
    pub table: String,
    pub name: String,
    /// `ALTER TABLE ONLY ... ADD CONSTRAINT name FOREIGN KEY ...;` as pg_dump wrote it.
    pub sql: String,
}

#[derive(Debug, Clone)]
pub struct DumpReader {
    pub schema: String,
    pub name: String,
    /// The view's entry and the entries that belong to it.
    pub entries: Vec<u32>,
}

/// Why tables cannot be selected: names the dump does not hold as tables of the schema.
#[derive(Debug)]
pub struct NotInDump {
    pub missing: Vec<String>,
    /// The tables the dump does hold in the schema, for the message.
    pub available: Vec<String>,
}

impl std::fmt::Display for NotInDump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SHOWN: usize = 20;
        let shown: Vec<&str> = self
            .available
            .iter()
            .take(SHOWN)
            .map(String::as_str)
            .collect();
        let more = self.available.len().saturating_sub(SHOWN);
        write!(
            f,
            "not a table of the dump's schema: {}; its tables are {}{}",
            self.missing.join(", "),
            if shown.is_empty() {
                "none".to_owned()
            } else {
                shown.join(", ")
            },
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        )
    }
}

/// Kinds whose tag is `owner-table name` (or the bare table name): the table they belong to
/// is read from the tag.
const TAGGED_BY_TABLE: [&str; 8] = [
    "CONSTRAINT",
    "FK CONSTRAINT",
    "TRIGGER",
    "RULE",
    "POLICY",
    "DEFAULT",
    "ROW SECURITY",
    "TABLE DATA",
];

/// Kinds that belong to the table they depend on.
const DEPENDING_ON_TABLE: [&str; 3] = ["INDEX", "STATISTICS", "SEQUENCE"];

/// Kinds that annotate the entry they depend on first.
const ANNOTATIONS: [&str; 3] = ["COMMENT", "ACL", "SECURITY LABEL"];

/// The entries restoring `names` (tables of `schema`) takes from the archive, and what in it
/// points at them; names that are no table of the schema in the dump are an error.
pub fn select(archive: &Archive, schema: &str, names: &[String]) -> Result<Selection, NotInDump> {
    let entries = archive.entries();
    let in_schema = |e: &&Entry| e.namespace.as_ref().is_some_and(|n| *n == schema);
    let tables: Vec<&Entry> = entries
        .iter()
        .filter(in_schema)
        .filter(|e| e.desc == "TABLE")
        .collect();
    let missing: Vec<String> = names
        .iter()
        .filter(|n| !tables.iter().any(|t| t.tag == n.as_str()))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(NotInDump {
            missing,
            available: tables
                .iter()
                .map(|t| t.tag.to_string_lossy().into_owned())
                .collect(),
        });
    }

    let chosen = with_descendants(&tables, names, entries);
    let selected: Vec<SelectedTable> = tables
        .iter()
        .filter(|t| chosen.contains(&t.dump_id.0))
        .map(|t| SelectedTable {
            name: t.tag.to_string_lossy().into_owned(),
            dump_id: t.dump_id.0,
            named: names.iter().any(|n| t.tag == n.as_str()),
        })
        .collect();
    let table_names: Vec<String> = selected.iter().map(|t| t.name.clone()).collect();
    let own = owned_entries(entries, schema, &chosen, &table_names);
    let mut foreign_keys = Vec::new();
    for entry in entries.iter().filter(|e| e.desc == "FK CONSTRAINT") {
        if own.contains(&entry.dump_id.0) || !entry.dependencies.iter().any(|d| own.contains(&d.0))
        {
            continue;
        }
        let (table, name) = split_owner_tag(entry);
        foreign_keys.push(DumpForeignKey {
            schema: entry
                .namespace
                .as_ref()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            table,
            name,
            sql: entry
                .defn
                .as_ref()
                .map(|d| d.to_string_lossy().into_owned())
                .unwrap_or_default(),
        });
    }
    let readers = readers_of(entries, &own);
    Ok(Selection {
        tables: selected,
        own,
        foreign_keys,
        readers,
    })
}

/// The named tables' TABLE entries, then their partitions and inheritance children, to any
/// depth.
fn with_descendants(tables: &[&Entry], names: &[String], entries: &[Entry]) -> BTreeSet<u32> {
    let mut chosen: BTreeSet<u32> = tables
        .iter()
        .filter(|t| names.iter().any(|n| t.tag == n.as_str()))
        .map(|t| t.dump_id.0)
        .collect();
    loop {
        let before = chosen.len();
        for table in tables {
            if !chosen.contains(&table.dump_id.0) && is_descendant_of(table, &chosen, entries) {
                chosen.insert(table.dump_id.0);
            }
        }
        if chosen.len() == before {
            return chosen;
        }
    }
}

/// Everything that belongs to the `chosen` tables (named `table_names`); sequences first
/// bring their OWNED BY and values, and annotations follow what they annotate, so this
/// repeats until nothing more joins.
fn owned_entries(
    entries: &[Entry],
    schema: &str,
    chosen: &BTreeSet<u32>,
    table_names: &[String],
) -> BTreeSet<u32> {
    let mut own = chosen.clone();
    loop {
        let before = own.len();
        for entry in entries
            .iter()
            .filter(|e| e.namespace.as_ref().is_some_and(|n| *n == schema))
        {
            let id = entry.dump_id.0;
            if own.contains(&id) {
                continue;
            }
            let desc = entry.desc.to_string_lossy();
            let depends_on_own = entry.dependencies.iter().any(|d| own.contains(&d.0));
            let belongs = if TAGGED_BY_TABLE.contains(&desc.as_ref()) {
                owner_in_tag(entry, table_names)
                    && entry.dependencies.iter().any(|d| chosen.contains(&d.0))
            } else if DEPENDING_ON_TABLE.contains(&desc.as_ref()) {
                entry.dependencies.iter().any(|d| chosen.contains(&d.0))
            } else if desc == "TABLE ATTACH" || desc == "INDEX ATTACH" {
                // The attached one comes first: the partition, or the partition's index.
                entry
                    .dependencies
                    .first()
                    .is_some_and(|d| own.contains(&d.0))
            } else if desc == "SEQUENCE OWNED BY" || desc == "SEQUENCE SET" {
                depends_on_own
            } else {
                false
            };
            if belongs {
                own.insert(id);
            }
        }
        for entry in entries {
            let desc = entry.desc.to_string_lossy();
            if ANNOTATIONS.contains(&desc.as_ref())
                && !own.contains(&entry.dump_id.0)
                && entry
                    .dependencies
                    .first()
                    .is_some_and(|d| own.contains(&d.0))
            {
                own.insert(entry.dump_id.0);
            }
        }
        if own.len() == before {
            return own;
        }
    }
}

/// Whether `table` is a partition or an inheritance child of one of `parents`: it depends
/// on the parent's TABLE entry, and either an ATTACH entry attaches it to that parent or its
/// CREATE TABLE says INHERITS. (A table can also depend on another for a column of its row
/// type; that does not make it a child.)
fn is_descendant_of(table: &Entry, parents: &BTreeSet<u32>, entries: &[Entry]) -> bool {
    let Some(parent) = table
        .dependencies
        .iter()
        .find(|d| parents.contains(&d.0))
        .copied()
    else {
        return false;
    };
    let attached = entries.iter().any(|e| {
        e.desc == "TABLE ATTACH"
            && e.dependencies.first() == Some(&table.dump_id)
            && e.dependencies.contains(&parent)
    });
    let inherits = table.defn.as_ref().is_some_and(|d| {
        let sql = d.to_string_lossy();
        sql.contains("\nINHERITS (") || sql.contains(" PARTITION OF ")
    });
    attached || inherits
}

/// Whether the entry's tag names one of `tables` as its owner: `orders`, or `orders name`.
fn owner_in_tag(entry: &Entry, tables: &[String]) -> bool {
    let tag = entry.tag.to_string_lossy();
    tables.iter().any(|t| {
        tag == t.as_str()
            || tag
                .strip_prefix(t.as_str())
                .is_some_and(|rest| rest.starts_with(' '))
    })
}

/// `table name` of a constraint's tag. Names may hold spaces; the table is the one whose TABLE
/// entry the constraint depends on first, so the split is at the first space that leaves a
/// non-empty name, which is right unless the table's own name holds a space (then pg_dump's
/// tag is ambiguous too, and the name is only for messages).
fn split_owner_tag(entry: &Entry) -> (String, String) {
    let tag = entry.tag.to_string_lossy();
    match tag.split_once(' ') {
        Some((table, name)) => (table.to_owned(), name.to_owned()),
        None => (tag.into_owned(), String::new()),
    }
}

/// Views and materialized views that read the set, directly or through one another, each
/// with the entries that belong to it.
fn readers_of(entries: &[Entry], own: &BTreeSet<u32>) -> Vec<DumpReader> {
    let is_view = |e: &Entry| e.desc == "VIEW" || e.desc == "MATERIALIZED VIEW";
    let mut read: BTreeSet<u32> = own.clone();
    let mut views: BTreeSet<u32> = BTreeSet::new();
    loop {
        let before = views.len();
        for entry in entries.iter().filter(|e| is_view(e)) {
            if !views.contains(&entry.dump_id.0)
                && entry.dependencies.iter().any(|d| read.contains(&d.0))
            {
                views.insert(entry.dump_id.0);
                read.insert(entry.dump_id.0);
            }
        }
        if views.len() == before {
            break;
        }
    }
    entries
        .iter()
        .filter(|e| views.contains(&e.dump_id.0))
        .map(|view| {
            let mut parts = vec![view.dump_id.0];
            for entry in entries {
                let desc = entry.desc.to_string_lossy();
                let of_view = entry.dependencies.first() == Some(&view.dump_id);
                let kind = ANNOTATIONS.contains(&desc.as_ref())
                    || matches!(
                        desc.as_ref(),
                        "INDEX" | "RULE" | "TRIGGER" | "MATERIALIZED VIEW DATA"
                    );
                if of_view && kind {
                    parts.push(entry.dump_id.0);
                }
            }
            DumpReader {
                schema: view
                    .namespace
                    .as_ref()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                name: view.tag.to_string_lossy().into_owned(),
                entries: parts,
            }
        })
        .collect()
}

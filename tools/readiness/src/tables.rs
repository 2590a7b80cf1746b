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
    /// Selected tables the dump attaches to (or lets inherit from) a table not selected.
    pub outside_parents: Vec<String>,
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
    let own = owned_entries(entries, schema, &chosen, &tables);
    let outside_parents = outside_parents(&tables, &chosen, entries);
    let mut foreign_keys = Vec::new();
    for entry in entries.iter().filter(|e| e.desc == "FK CONSTRAINT") {
        if own.contains(&entry.dump_id.0) || !entry.dependencies.iter().any(|d| own.contains(&d.0))
        {
            continue;
        }
        let (table, name) = split_owner_tag(entry, entries);
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
        outside_parents,
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

/// Everything that belongs to the `chosen` tables (of the schema's `all_tables`); sequences first
/// bring their OWNED BY and values, and annotations follow what they annotate, so this
/// repeats until nothing more joins.
fn owned_entries(
    entries: &[Entry],
    schema: &str,
    chosen: &BTreeSet<u32>,
    all_tables: &[&Entry],
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
                owner_in_tag(entry, all_tables).is_some_and(|owner| {
                    chosen.contains(&owner.dump_id.0) && entry.dependencies.contains(&owner.dump_id)
                })
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
    let parent_entry = entries.iter().find(|e| e.dump_id == parent);
    let inherits = match (table.defn.as_ref(), parent_entry) {
        (Some(defn), Some(parent)) => names_parent(&defn.to_string_lossy(), parent),
        _ => false,
    };
    attached || inherits
}

/// The table of the schema an entry's tag names as its owner (`orders`, or `orders name`):
/// of the tables whose name the tag starts with, the longest, so that a constraint of
/// `order items` is not taken for one of `order`.
fn owner_in_tag<'e>(entry: &Entry, all_tables: &[&'e Entry]) -> Option<&'e Entry> {
    let tag = entry.tag.to_string_lossy();
    all_tables
        .iter()
        .copied()
        .filter(|t| {
            let name = t.tag.to_string_lossy();
            tag == name
                || tag
                    .strip_prefix(name.as_ref())
                    .is_some_and(|rest| rest.starts_with(' '))
        })
        .max_by_key(|t| t.tag.to_string_lossy().len())
}

/// Whether a CREATE TABLE's `INHERITS (...)` or `PARTITION OF` names `parent` (schema-qualified,
/// quoted where pg_dump quotes; compared without the quotes).
fn names_parent(sql: &str, parent: &Entry) -> bool {
    let wanted = format!(
        "{}.{}",
        parent
            .namespace
            .as_ref()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        parent.tag.to_string_lossy()
    );
    let bare = |s: &str| s.trim().replace('"', "");
    if let Some(at) = sql.find("\nINHERITS (") {
        let list = &sql[at + "\nINHERITS (".len()..];
        let list = list.split(')').next().unwrap_or_default();
        return list.split(',').any(|item| bare(item) == wanted);
    }
    if let Some(at) = sql.find(" PARTITION OF ") {
        let rest = &sql[at + " PARTITION OF ".len()..];
        let name = rest.split_whitespace().next().unwrap_or_default();
        return bare(name) == wanted;
    }
    false
}

/// The selected tables that the dump makes partitions or inheritance children of tables not
/// selected: a copy of them (`--into`) would be attached to the live parent.
fn outside_parents(tables: &[&Entry], chosen: &BTreeSet<u32>, entries: &[Entry]) -> Vec<String> {
    let outside: BTreeSet<u32> = tables
        .iter()
        .map(|t| t.dump_id.0)
        .filter(|id| !chosen.contains(id))
        .collect();
    tables
        .iter()
        .filter(|t| chosen.contains(&t.dump_id.0))
        .filter(|t| {
            let attached = entries.iter().any(|e| {
                e.desc == "TABLE ATTACH"
                    && e.dependencies.first() == Some(&t.dump_id)
                    && e.dependencies[1..].iter().any(|d| !chosen.contains(&d.0))
            });
            let inherits = t.dependencies.iter().any(|d| {
                outside.contains(&d.0)
                    && entries
                        .iter()
                        .find(|e| e.dump_id == *d)
                        .zip(t.defn.as_ref())
                        .is_some_and(|(parent, defn)| names_parent(&defn.to_string_lossy(), parent))
            });
            attached || inherits
        })
        .map(|t| t.tag.to_string_lossy().into_owned())
        .collect()
}

/// `table name` of a constraint's tag, split where the owner's name ends: the owner is the
/// table of the constraint's schema with the longest name the tag starts with (names may hold
/// spaces: `Order Lines Order Lines_fkey`).
fn split_owner_tag(entry: &Entry, entries: &[Entry]) -> (String, String) {
    let tag = entry.tag.to_string_lossy().into_owned();
    let same_schema: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.desc == "TABLE" && e.namespace == entry.namespace)
        .collect();
    match owner_in_tag(entry, &same_schema) {
        Some(owner) => {
            let table = owner.tag.to_string_lossy().into_owned();
            let name = tag[table.len()..].trim_start().to_owned();
            (table, name)
        }
        None => match tag.split_once(' ') {
            Some((table, name)) => (table.to_owned(), name.to_owned()),
            None => (tag, String::new()),
        },
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

#[cfg(test)]
mod tests {
    use super::*;
    use pgdump::{DataLocation, DumpId, Section, Text};

    fn entry(id: u32, desc: &str, tag: &str, deps: &[u32], defn: &str) -> Entry {
        Entry {
            dump_id: DumpId(id),
            had_dumper: false,
            table_oid: 0,
            oid: 0,
            tag: Text::from(tag),
            desc: Text::from(desc),
            section: Section::PreData,
            defn: Some(Text::from(defn)),
            drop_stmt: None,
            copy_stmt: None,
            namespace: Some(Text::from("shop")),
            tablespace: None,
            table_am: None,
            relkind: None,
            owner: None,
            with_oids: false,
            dependencies: deps.iter().map(|d| DumpId(*d)).collect(),
            data: DataLocation::None,
        }
    }

    #[test]
    fn a_constraint_belongs_to_the_longest_table_name_its_tag_starts_with() {
        let order = entry(
            1,
            "TABLE",
            "order",
            &[],
            "CREATE TABLE shop.\"order\" (id int);",
        );
        let items = entry(
            2,
            "TABLE",
            "order items",
            &[],
            "CREATE TABLE shop.\"order items\" (id int);",
        );
        // A key of "order items" that references "order": it depends on both.
        let fk = entry(
            3,
            "FK CONSTRAINT",
            "order items fk",
            &[2, 1],
            "ALTER TABLE ...",
        );
        let all = [&order, &items];
        assert_eq!(owner_in_tag(&fk, &all).map(|t| t.dump_id.0), Some(2));
        let entries = vec![order.clone(), items.clone(), fk.clone()];
        let own = owned_entries(&entries, "shop", &[1].into_iter().collect(), &all);
        assert!(!own.contains(&3), "the key is not order's own: {own:?}");
        assert_eq!(
            split_owner_tag(&fk, &entries),
            ("order items".to_owned(), "fk".to_owned())
        );
    }

    #[test]
    fn only_a_table_that_names_its_parent_is_its_child() {
        let orders = entry(
            1,
            "TABLE",
            "orders",
            &[],
            "CREATE TABLE shop.orders (id int);",
        );
        let base = entry(
            2,
            "TABLE",
            "base_log",
            &[],
            "CREATE TABLE shop.base_log (id int);",
        );
        // A column of orders' row type, and a parent of its own: no child of orders.
        let log = entry(
            3,
            "TABLE",
            "order_log",
            &[1, 2],
            "CREATE TABLE shop.order_log (\n    o shop.orders\n)\nINHERITS (shop.base_log);",
        );
        let child = entry(
            4,
            "TABLE",
            "big_orders",
            &[1],
            "CREATE TABLE shop.big_orders (\n)\nINHERITS (shop.orders);",
        );
        let entries = vec![orders, base, log, child];
        let chosen: BTreeSet<u32> = [1].into_iter().collect();
        assert!(!is_descendant_of(&entries[2], &chosen, &entries));
        assert!(is_descendant_of(&entries[3], &chosen, &entries));
        let tables: Vec<&Entry> = entries.iter().collect();
        let with_log: BTreeSet<u32> = [3].into_iter().collect();
        assert_eq!(outside_parents(&tables, &with_log, &entries), ["order_log"]);
    }
}

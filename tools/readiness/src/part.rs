//! What restoring one schema takes from an archive.
//!
//! The schema's own entries (those whose namespace is the schema, the schema itself and its
//! comment, ACL and security labels), and the extensions the dump creates in the schema:
//! pg_dump writes `CREATE EXTENSION IF NOT EXISTS x WITH SCHEMA s` as an entry of no schema,
//! yet the schema's objects use what it creates (operator classes, types, functions), and
//! restoring the schema where it is absent must bring them.

use crate::refs::{Token, tokens};
use pgdump::{Archive, Entry};

/// The part of an archive that restoring `schema` applies.
#[derive(Debug)]
pub struct Part<'a> {
    pub schema: String,
    /// The entries, in the archive's order.
    pub entries: Vec<&'a Entry>,
    /// The extensions the dump creates in the schema, by name.
    pub extensions: Vec<String>,
    /// Whether the dump's own `CREATE SCHEMA` creates the schema. False for `public` (pg_dump
    /// writes it as initdb's schema, which the target is expected to have, even where a
    /// `-n public` dump says CREATE SCHEMA) and for dumps of single tables: then the restore
    /// creates the schema itself, with what the live one had.
    pub creates_schema: bool,
}

impl<'a> Part<'a> {
    pub fn of(archive: &'a Archive, schema: &str) -> Self {
        let extensions: Vec<String> = archive
            .entries()
            .iter()
            .filter(|e| e.desc == "EXTENSION")
            .filter(|e| extension_schema(e).as_deref() == Some(schema))
            .map(|e| e.tag.to_string_lossy().into_owned())
            .collect();
        let entries: Vec<&Entry> = archive
            .entries()
            .iter()
            .filter(|e| {
                e.belongs_to_schema(schema)
                    || (e.desc == "EXTENSION"
                        && extensions.iter().any(|x| *x == e.tag.to_string_lossy()))
                    || extension_annotation(e).is_some_and(|x| extensions.contains(&x))
            })
            .collect();
        let creates_schema = schema != "public"
            && entries.iter().any(|e| {
                e.desc == "SCHEMA"
                    && e.defn
                        .as_ref()
                        .is_some_and(|d| is_create_schema(&d.to_string_lossy(), schema))
            });
        Self {
            schema: schema.to_owned(),
            entries,
            extensions,
            creates_schema,
        }
    }

    /// Tables whose data the dump holds but that no entry of the dump creates: the
    /// configuration tables of extensions (`pg_extension_config_dump`).
    pub fn data_without_table(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter(|e| e.is_table_data())
            .filter(|data| {
                !self
                    .entries
                    .iter()
                    .any(|e| e.desc == "TABLE" && e.tag == data.tag)
            })
            .map(|e| e.tag.to_string_lossy().into_owned())
            .collect()
    }
}

/// The schema an EXTENSION entry creates its extension in (`WITH SCHEMA x`).
fn extension_schema(entry: &Entry) -> Option<String> {
    let defn = entry.defn.as_ref()?.to_string_lossy().into_owned();
    let tokens = tokens(&defn);
    tokens.windows(3).find_map(|w| match w {
        [Token::Ident(with), Token::Ident(kw), Token::Ident(name)]
            if with == "with" && kw == "schema" =>
        {
            Some(name.clone())
        }
        _ => None,
    })
}

/// For a COMMENT (or SECURITY LABEL) entry on an extension, the extension's name.
fn extension_annotation(entry: &Entry) -> Option<String> {
    if entry.namespace.is_some() || !(entry.desc == "COMMENT" || entry.desc == "SECURITY LABEL") {
        return None;
    }
    let tag = entry.tag.to_string_lossy();
    let name = tag.strip_prefix("EXTENSION ")?;
    // Quoted in the tag when it needs quoting: EXTENSION "uuid-ossp".
    match tokens(name).as_slice() {
        [Token::Ident(name)] => Some(name.clone()),
        _ => None,
    }
}

/// Whether `sql` is (or starts with) `CREATE SCHEMA <schema>`, the statement a swap that
/// created the schema itself leaves out.
pub fn is_create_schema(sql: &str, schema: &str) -> bool {
    matches!(
        tokens(sql).as_slice(),
        [Token::Ident(create), Token::Ident(kw), Token::Ident(name), ..]
            if create == "create" && kw == "schema" && name == schema
    )
}

/// A statement tying one of the schema's tables (or indexes) to a parent outside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutsideAttach {
    /// `ALTER TABLE ONLY other.parent ATTACH PARTITION schema.child ...`
    Table,
    /// `ALTER INDEX other.parent_idx ATTACH PARTITION schema.child_idx`
    Index,
}

/// Whether `sql` attaches a partition of `schema` to a parent in another schema. pg_restore
/// writes the table's ATTACH before the indexes exist; into a target where the outside parent
/// has its indexes, ATTACH would create the partition's own, and the dump's then fail. So the
/// swap runs such a table ATTACH after the restore (it attaches the restored indexes) and
/// leaves the index ATTACH out.
pub fn outside_attach(sql: &str, schema: &str) -> Option<OutsideAttach> {
    let tokens = tokens(sql);
    let kind = match tokens.as_slice() {
        [Token::Ident(alter), Token::Ident(kw), ..] if alter == "alter" && kw == "table" => {
            OutsideAttach::Table
        }
        [Token::Ident(alter), Token::Ident(kw), ..] if alter == "alter" && kw == "index" => {
            OutsideAttach::Index
        }
        _ => return None,
    };
    let rest = tokens.get(2..)?;
    let rest = match rest.first() {
        Some(Token::Ident(only)) if only == "only" => rest.get(1..)?,
        _ => rest,
    };
    match rest {
        [
            Token::Ident(parent_schema),
            Token::Symbol(dot),
            Token::Ident(_),
            Token::Ident(attach),
            Token::Ident(partition),
            Token::Ident(child_schema),
            ..,
        ] if dot == "."
            && attach == "attach"
            && partition == "partition"
            && child_schema == schema
            && parent_schema != schema =>
        {
            Some(kind)
        }
        _ => None,
    }
}

/// For `SET name = value` (or `TO`), the setting's name when the server has no such setting:
/// pg_restore writes the settings of its own major (`SET transaction_timeout = 0` from 17 on),
/// which an older server rejects. Settings with a dot are placeholders any server accepts.
pub fn unknown_setting(sql: &str, known: &std::collections::BTreeSet<String>) -> Option<String> {
    match tokens(sql).as_slice() {
        [
            Token::Ident(set),
            Token::Ident(name),
            Token::Symbol(op) | Token::Ident(op),
            ..,
        ] if set == "set" && (op == "=" || op == "to") && !known.contains(name) => {
            Some(name.clone())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attaching_to_an_outside_parent_is_recognised() {
        let table = "ALTER TABLE ONLY shared.events ATTACH PARTITION core.events_2026 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')";
        assert_eq!(outside_attach(table, "core"), Some(OutsideAttach::Table));
        let index = "ALTER INDEX shared.events_pkey ATTACH PARTITION core.events_2026_pkey";
        assert_eq!(outside_attach(index, "core"), Some(OutsideAttach::Index));
        let inside = "ALTER TABLE ONLY core.history ATTACH PARTITION core.history_now FOR VALUES FROM ('2026-01-01') TO (MAXVALUE)";
        assert_eq!(outside_attach(inside, "core"), None);
        let other = "ALTER TABLE ONLY core.history ATTACH PARTITION archive.history_old DEFAULT";
        assert_eq!(outside_attach(other, "core"), None);
        assert_eq!(
            outside_attach("ALTER TABLE core.t OWNER TO x", "core"),
            None
        );
        let quoted = "ALTER TABLE ONLY \"Other\".p ATTACH PARTITION \"My Schema\".c DEFAULT";
        assert_eq!(
            outside_attach(quoted, "My Schema"),
            Some(OutsideAttach::Table)
        );
    }

    #[test]
    fn settings_the_server_lacks_are_named() {
        let known: std::collections::BTreeSet<String> = ["statement_timeout", "lock_timeout"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(
            unknown_setting("SET transaction_timeout = 0", &known).as_deref(),
            Some("transaction_timeout")
        );
        assert_eq!(unknown_setting("SET statement_timeout = 0", &known), None);
        assert_eq!(unknown_setting("SET lock_timeout TO 0", &known), None);
        assert_eq!(
            unknown_setting("SET SESSION AUTHORIZATION 'x'", &known),
            None
        );
        assert_eq!(unknown_setting("SET myapp.flag = on", &known), None);
        assert_eq!(
            unknown_setting(
                "SELECT pg_catalog.set_config('search_path', '', false)",
                &known
            ),
            None
        );
    }

    #[test]
    fn create_schema_statements_are_recognised_with_quoting() {
        assert!(is_create_schema("CREATE SCHEMA public", "public"));
        assert!(is_create_schema(
            "CREATE SCHEMA public;\n\n\nALTER SCHEMA public OWNER TO x;",
            "public"
        ));
        assert!(is_create_schema(
            "CREATE SCHEMA \"Straße Daten\"",
            "Straße Daten"
        ));
        assert!(!is_create_schema("CREATE SCHEMA \"Public\"", "public"));
        assert!(!is_create_schema(
            "-- *not* creating schema, since initdb creates it",
            "public"
        ));
        assert!(!is_create_schema("CREATE SCHEMA other", "public"));
    }
}

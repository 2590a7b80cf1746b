//! The oracle: what "restored exactly" means.
//!
//! The reference for a restored schema is what the real `pg_restore` gives when it restores
//! the same dump into an empty, fresh database on the same server. A [`Snapshot`] of one
//! schema holds everything two databases must share for that schema to count as the same:
//!
//! - the text of `pg_dump --schema-only -n SCHEMA`, cut into its entries, normalised only for
//!   the `\restrict` key pg_dump 17.6+ and 18 write afresh on every run and the session
//!   settings (table access method, tablespace) it writes before whichever table comes first;
//! - the schema's owner, ACL, comment, security labels and initial privileges (pg_init_privs,
//!   which decide what pg_dump writes for `public`), its default privileges and the
//!   publications that name it;
//! - every object in it (relations, functions, types, collations, operators and their
//!   classes and families, text search objects, extended statistics, constraints, triggers,
//!   policies, rules, extensions): kind, owner, ACL, comment, the extension it belongs to,
//!   and the flags pg_dump does not show for extension members (populated, RLS, replica
//!   identity); every column's ACL and comment;
//! - every sequence's value, and every table's rows: `ONLY` the table, a count and an
//!   order-independent checksum (the md5 of the sorted md5s of the rows' text).
//!
//! [`differences`] names every item that differs, so a failing comparison says what and where.

use crate::pg::{PgCluster, run_ok};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// One schema of one database, as the oracle compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// `pg_dump --schema-only -n` entries, keyed by their `-- Name: ...` header, in order.
    pub ddl: Vec<(String, String)>,
    /// Catalog facts: a key naming the object and what, and the value.
    pub facts: BTreeMap<String, String>,
}

/// Field and record separators for psql's unaligned output: bytes no catalog text holds.
const FIELD: char = '\u{1f}';
const RECORD: char = '\u{1e}';

/// Runs `sql` in `db` and returns its rows, each a vector of fields (NULL as the empty string).
pub fn rows(cluster: &PgCluster, db: &str, sql: &str) -> Vec<Vec<String>> {
    let mut cmd = cluster.client("psql");
    cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
        .arg(format!("--field-separator={FIELD}"))
        .arg(format!("--record-separator={RECORD}"))
        .args(["-d", db, "-c", sql]);
    let out = run_ok(&mut cmd, "psql (oracle snapshot)");
    let text = String::from_utf8(out.stdout).expect("psql output is UTF-8");
    text.trim_end_matches('\n')
        .split(RECORD)
        .filter(|r| !r.is_empty())
        .map(|r| r.split(FIELD).map(str::to_owned).collect())
        .collect()
}

/// A string literal for SQL.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// An identifier for SQL, always quoted.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Snapshot {
    /// Takes the snapshot of `schema` in `db`, with the cluster's own pg_dump.
    pub fn take(cluster: &PgCluster, db: &str, schema: &str) -> Self {
        let ddl = dump_entries(cluster, db, schema);
        let mut facts = BTreeMap::new();
        for row in rows(
            cluster,
            db,
            &schema_facts_sql(schema, cluster.install.major),
        ) {
            insert_fact(&mut facts, row);
        }
        for row in rows(cluster, db, &object_facts_sql(schema)) {
            insert_fact(&mut facts, row);
        }
        for (key, value) in data_facts(cluster, db, schema) {
            facts.insert(key, value);
        }
        Self { ddl, facts }
    }

    /// The ordinary tables of the schema (partitions and inheritance children included) with
    /// their own rows (`ONLY`), as the snapshot counted them.
    pub fn row_counts(&self) -> BTreeMap<String, u64> {
        self.facts
            .iter()
            .filter_map(|(key, value)| {
                let table = key.strip_prefix("rows of table ")?;
                let count = value.split(' ').next()?.parse().ok()?;
                Some((table.to_owned(), count))
            })
            .collect()
    }
}

impl Snapshot {
    /// The snapshot without the ties to relations outside `schema` that `db` does not have:
    /// what a `DROP SCHEMA ... CASCADE` took along (a partition in another schema goes with
    /// its parent), which no restore of the schema alone can bring back.
    #[must_use]
    pub fn without_lost_outside_relations(
        &self,
        cluster: &PgCluster,
        db: &str,
        schema: &str,
    ) -> Self {
        let inside = format!("{}.", ident_as_format_writes(schema));
        let mut outside: Vec<String> = Vec::new();
        for key in self.facts.keys() {
            let Some(rest) = key.strip_prefix("relation ") else {
                continue;
            };
            let Some((child, parent)) = rest.split_once(" inherits from ") else {
                continue;
            };
            for name in [child, parent] {
                if !name.starts_with(&inside) && !outside.contains(&name.to_owned()) {
                    outside.push(name.to_owned());
                }
            }
        }
        let mut lost = Vec::new();
        for name in outside {
            let found = rows(
                cluster,
                db,
                &format!("SELECT to_regclass({}) IS NOT NULL", literal(&name)),
            );
            if found.first().and_then(|r| r.first()).map(String::as_str) != Some("t") {
                lost.push(name);
            }
        }
        let mut kept = self.clone();
        kept.facts.retain(|key, _| {
            !lost.iter().any(|name| {
                key.starts_with(&format!("relation {name} inherits from "))
                    || key.ends_with(&format!(" inherits from {name}"))
            })
        });
        kept
    }
}

/// A name as `format('%I')` writes it: quoted unless it is a plain lower-case identifier.
pub fn ident_as_format_writes(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain { name.to_owned() } else { ident(name) }
}

fn insert_fact(facts: &mut BTreeMap<String, String>, row: Vec<String>) {
    let mut fields = row.into_iter();
    let key = fields.next().unwrap_or_default();
    let value = fields.next().unwrap_or_default();
    // Two objects with one identity would hide each other: keep both, numbered.
    let mut unique = key.clone();
    let mut n = 1;
    while facts.contains_key(&unique) {
        n += 1;
        unique = format!("{key} #{n}");
    }
    facts.insert(unique, value);
}

/// `pg_dump --schema-only -n SCHEMA`, cut at each entry's `-- Name:` header.
fn dump_entries(cluster: &PgCluster, db: &str, schema: &str) -> Vec<(String, String)> {
    let exists = rows(
        cluster,
        db,
        &format!(
            "SELECT 1 FROM pg_namespace WHERE nspname = {}",
            literal(schema)
        ),
    );
    if exists.is_empty() {
        // pg_dump refuses a -n that matches nothing; the facts say the schema is absent.
        return Vec::new();
    }
    let mut cmd = cluster.client("pg_dump");
    cmd.args(["--schema-only", "--no-tablespaces", "-n"])
        .arg(ident(schema))
        .arg(db);
    let out = run_ok(&mut cmd, "pg_dump --schema-only (oracle snapshot)");
    let text = String::from_utf8(out.stdout).expect("pg_dump output is UTF-8");
    split_entries(&text)
}

/// Cuts a pg_dump script into (header, body) pairs. Left out: the `\restrict` and
/// `\unrestrict` lines, which carry a random key (pg_dump 17.6 and later), and the
/// `SET default_table_access_method` and `SET default_tablespace` lines pg_dump writes before
/// the first table that needs them, wherever that falls in its order (the facts compare each
/// relation's access method).
pub fn split_entries(script: &str) -> Vec<(String, String)> {
    let mut entries: Vec<(String, String)> = vec![("(preamble)".to_owned(), String::new())];
    for line in script.lines() {
        if line.starts_with("\\restrict ")
            || line.starts_with("\\unrestrict ")
            || line.starts_with("SET default_table_access_method = ")
            || line.starts_with("SET default_tablespace = ")
        {
            continue;
        }
        if let Some(header) = line.strip_prefix("-- Name: ") {
            entries.push((header.to_owned(), String::new()));
            continue;
        }
        if let Some((_, body)) = entries.last_mut() {
            // The header comment's own `--` lines carry nothing.
            if line != "--" {
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    for (_, body) in &mut entries {
        *body = body.trim().to_owned();
    }
    entries
}

/// The schema's own facts: owner, ACL, comment, labels, initial privileges, default
/// privileges, publications.
fn schema_facts_sql(schema: &str, major: u32) -> String {
    let lit = literal(schema);
    // pg_publication_namespace (FOR TABLES IN SCHEMA) exists from 15 on.
    let publications = if major >= 15 {
        "UNION ALL SELECT 'schema published by ' || p.pubname, 'yes'
           FROM pg_publication_namespace pn JOIN pg_publication p ON p.oid = pn.pnpubid, n
           WHERE pn.pnnspid = n.oid"
    } else {
        ""
    };
    format!(
        "WITH n AS (SELECT * FROM pg_namespace WHERE nspname = {lit})
         SELECT 'schema exists', 'yes' FROM n
         UNION ALL SELECT 'schema owner', nspowner::regrole::text FROM n
         UNION ALL SELECT 'schema acl', coalesce(nspacl::text, '(default)') FROM n
         UNION ALL SELECT 'schema comment', coalesce(obj_description(n.oid, 'pg_namespace'), '(none)') FROM n
         UNION ALL SELECT 'schema label ' || l.provider, l.label
           FROM pg_seclabel l, n WHERE l.objoid = n.oid AND l.classoid = 'pg_namespace'::regclass
         UNION ALL SELECT 'schema initial privileges', coalesce(ip.initprivs::text, '(none)')
           FROM n LEFT JOIN pg_init_privs ip ON ip.objoid = n.oid AND ip.classoid = 'pg_namespace'::regclass
         UNION ALL SELECT 'default privileges of ' || d.defaclrole::regrole::text || ' on ' || d.defaclobjtype::text,
                          d.defaclacl::text
           FROM pg_default_acl d, n WHERE d.defaclnamespace = n.oid
         {publications}"
    )
}

/// Every object in the schema: its kind, owner, ACL, comment, extension, and flags.
fn object_facts_sql(schema: &str) -> String {
    let lit = literal(schema);
    format!(
        "WITH n AS (SELECT oid FROM pg_namespace WHERE nspname = {lit}),
         objects AS (
           SELECT 'pg_class'::regclass AS classid, c.oid AS objid, c.relowner AS owner, c.relacl::text AS acl,
                  concat_ws(' ', 'kind=' || c.relkind::text, 'persistence=' || c.relpersistence::text,
                            'populated=' || c.relispopulated, 'rls=' || c.relrowsecurity,
                            'force_rls=' || c.relforcerowsecurity, 'replica_identity=' || c.relreplident::text,
                            'options=' || coalesce(c.reloptions::text, ''),
                            'access_method=' || coalesce((SELECT amname FROM pg_am WHERE oid = c.relam), '')) AS flags
             FROM pg_class c, n WHERE c.relnamespace = n.oid
           UNION ALL SELECT 'pg_proc'::regclass, p.oid, p.proowner, p.proacl::text,
                  concat_ws(' ', 'kind=' || p.prokind::text, 'secdef=' || p.prosecdef)
             FROM pg_proc p, n WHERE p.pronamespace = n.oid
           UNION ALL SELECT 'pg_type'::regclass, t.oid, t.typowner, t.typacl::text, 'kind=' || t.typtype::text
             FROM pg_type t, n WHERE t.typnamespace = n.oid
           UNION ALL SELECT 'pg_collation'::regclass, o.oid, o.collowner, NULL, NULL
             FROM pg_collation o, n WHERE o.collnamespace = n.oid
           UNION ALL SELECT 'pg_conversion'::regclass, o.oid, o.conowner, NULL, NULL
             FROM pg_conversion o, n WHERE o.connamespace = n.oid
           UNION ALL SELECT 'pg_operator'::regclass, o.oid, o.oprowner, NULL, NULL
             FROM pg_operator o, n WHERE o.oprnamespace = n.oid
           UNION ALL SELECT 'pg_opclass'::regclass, o.oid, o.opcowner, NULL, NULL
             FROM pg_opclass o, n WHERE o.opcnamespace = n.oid
           UNION ALL SELECT 'pg_opfamily'::regclass, o.oid, o.opfowner, NULL, NULL
             FROM pg_opfamily o, n WHERE o.opfnamespace = n.oid
           UNION ALL SELECT 'pg_ts_config'::regclass, o.oid, o.cfgowner, NULL, NULL
             FROM pg_ts_config o, n WHERE o.cfgnamespace = n.oid
           UNION ALL SELECT 'pg_ts_dict'::regclass, o.oid, o.dictowner, NULL, NULL
             FROM pg_ts_dict o, n WHERE o.dictnamespace = n.oid
           UNION ALL SELECT 'pg_ts_parser'::regclass, o.oid, NULL, NULL, NULL
             FROM pg_ts_parser o, n WHERE o.prsnamespace = n.oid
           UNION ALL SELECT 'pg_ts_template'::regclass, o.oid, NULL, NULL, NULL
             FROM pg_ts_template o, n WHERE o.tmplnamespace = n.oid
           UNION ALL SELECT 'pg_statistic_ext'::regclass, o.oid, o.stxowner, NULL, NULL
             FROM pg_statistic_ext o, n WHERE o.stxnamespace = n.oid
           UNION ALL SELECT 'pg_constraint'::regclass, o.oid, NULL, NULL,
                  concat_ws(' ', 'validated=' || o.convalidated, 'deferrable=' || o.condeferrable)
             FROM pg_constraint o, n WHERE o.connamespace = n.oid
           UNION ALL SELECT 'pg_trigger'::regclass, o.oid, NULL, NULL, 'enabled=' || o.tgenabled::text
             FROM pg_trigger o JOIN pg_class c ON c.oid = o.tgrelid, n
             WHERE c.relnamespace = n.oid AND NOT o.tgisinternal
           UNION ALL SELECT 'pg_policy'::regclass, o.oid, NULL, NULL, NULL
             FROM pg_policy o JOIN pg_class c ON c.oid = o.polrelid, n WHERE c.relnamespace = n.oid
           UNION ALL SELECT 'pg_rewrite'::regclass, o.oid, NULL, NULL, 'enabled=' || o.ev_enabled::text
             FROM pg_rewrite o JOIN pg_class c ON c.oid = o.ev_class, n
             WHERE c.relnamespace = n.oid AND o.rulename <> '_RETURN'
           UNION ALL SELECT 'pg_extension'::regclass, o.oid, o.extowner, NULL,
                  concat_ws(' ', 'version=' || o.extversion, 'relocatable=' || o.extrelocatable)
             FROM pg_extension o, n WHERE o.extnamespace = n.oid
         ),
         described AS (
           SELECT (pg_identify_object(o.classid, o.objid, 0)).*, o.*,
                  obj_description(o.objid, o.classid::regclass::text) AS comment,
                  (SELECT string_agg(e.extname, ',' ORDER BY e.extname)
                     FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
                     WHERE d.classid = o.classid AND d.objid = o.objid AND d.deptype = 'e'
                       AND d.refclassid = 'pg_extension'::regclass) AS extension
           FROM objects o
         )
         SELECT type || ' ' || identity,
                concat_ws(' ', 'owner=' || coalesce(owner::regrole::text, '-'),
                          'acl=' || coalesce(acl, '(default)'),
                          'comment=' || coalesce(comment, '(none)'),
                          'extension=' || coalesce(extension, '(none)'),
                          flags)
           FROM described
         UNION ALL
         SELECT 'column ' || format('%I.%I', {lit}, c.relname) || '.' || quote_ident(a.attname),
                concat_ws(' ', 'acl=' || coalesce(a.attacl::text, '(default)'),
                          'comment=' || coalesce(col_description(c.oid, a.attnum), '(none)'))
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid, n
           WHERE c.relnamespace = n.oid AND a.attnum > 0 AND NOT a.attisdropped
             AND (a.attacl IS NOT NULL OR col_description(c.oid, a.attnum) IS NOT NULL)
         UNION ALL
         SELECT 'relation ' || format('%I.%I', cn.nspname, c.relname) || ' inherits from '
                || format('%I.%I', pn.nspname, p.relname),
                coalesce(pg_get_expr(c.relpartbound, c.oid), 'inheritance') || ' position=' || i.inhseqno
           FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace
           JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace, n
           WHERE c.relnamespace = n.oid OR p.relnamespace = n.oid
         UNION ALL
         SELECT 'relation ' || format('%I.%I', {lit}, c.relname) || ' published by ' || p.pubname, 'yes'
           FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
           JOIN pg_class c ON c.oid = pr.prrelid, n WHERE c.relnamespace = n.oid"
    )
}

/// Rows of every table (ONLY the table itself), materialized view and sequence.
fn data_facts(cluster: &PgCluster, db: &str, schema: &str) -> Vec<(String, String)> {
    let lit = literal(schema);
    let relations = rows(
        cluster,
        db,
        &format!(
            "SELECT format('%I.%I', n.nspname, c.relname), c.relkind::text, c.relispopulated
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = {lit} AND c.relkind IN ('r', 'p', 'm', 'S') ORDER BY 1"
        ),
    );
    if relations.is_empty() {
        return Vec::new();
    }
    let mut selects = Vec::new();
    for relation in &relations {
        let (name, kind, populated) = (&relation[0], relation[1].as_str(), &relation[2]);
        let key = |what: &str| literal(&format!("rows of {what} {name}"));
        let select = match kind {
            "S" => format!(
                "SELECT {}, last_value || ' called=' || is_called FROM {name}",
                literal(&format!("sequence {name}"))
            ),
            "m" if populated != "t" => {
                format!("SELECT {}, 'not populated'", key("materialized view"))
            }
            "m" => format!(
                "SELECT {}, {} FROM {name} t",
                key("materialized view"),
                checksum_sql()
            ),
            "p" => format!(
                "SELECT {}, {} FROM ONLY {name} t",
                key("partitioned table"),
                checksum_sql()
            ),
            _ => format!(
                "SELECT {}, {} FROM ONLY {name} t",
                key("table"),
                checksum_sql()
            ),
        };
        selects.push(select);
    }
    rows(cluster, db, &selects.join(" UNION ALL "))
        .into_iter()
        .map(|mut r| {
            let value = r.pop().unwrap_or_default();
            let key = r.pop().unwrap_or_default();
            (key, value)
        })
        .collect()
}

/// A count and an order-independent checksum of the rows of `t`.
fn checksum_sql() -> &'static str {
    "count(*) || ' ' || md5(coalesce(string_agg(md5(t::text), '' ORDER BY md5(t::text)), ''))"
}

/// Every difference between the oracle's snapshot and another, one a line; empty if equal.
/// pg_dump's entries are compared by their headers, not by their order: pg_dump breaks ties
/// between objects by OID, which a restore does not keep.
pub fn differences(oracle: &Snapshot, actual: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for (key, expected) in &oracle.facts {
        match actual.facts.get(key) {
            None => out.push(format!("missing: {key} = {expected}")),
            Some(found) if found != expected => {
                out.push(format!("differs: {key}: oracle {expected}, got {found}"));
            }
            Some(_) => {}
        }
    }
    for (key, found) in &actual.facts {
        if !oracle.facts.contains_key(key) {
            out.push(format!("extra: {key} = {found}"));
        }
    }
    let expected: BTreeMap<&String, &String> = oracle.ddl.iter().map(|(h, b)| (h, b)).collect();
    let found: BTreeMap<&String, &String> = actual.ddl.iter().map(|(h, b)| (h, b)).collect();
    for (header, body) in &expected {
        match found.get(header) {
            None => out.push(format!("pg_dump entry missing: {header}\n{body}")),
            Some(other) if other != body => out.push(format!(
                "pg_dump entry differs: {header}\n{}",
                line_diff(body, other)
            )),
            Some(_) => {}
        }
    }
    for (header, body) in &found {
        if !expected.contains_key(header) {
            out.push(format!("pg_dump entry extra: {header}\n{body}"));
        }
    }
    out
}

/// The lines of `expected` and `found` that differ, marked `-` and `+`.
fn line_diff(expected: &str, found: &str) -> String {
    let old: Vec<&str> = expected.lines().collect();
    let new: Vec<&str> = found.lines().collect();
    let mut out = String::new();
    for line in old.iter().filter(|l| !new.contains(l)) {
        let _ = writeln!(out, "  - {line}");
    }
    for line in new.iter().filter(|l| !old.contains(l)) {
        let _ = writeln!(out, "  + {line}");
    }
    out
}

/// Fails the test with every difference, under `context`.
pub fn assert_same(oracle: &Snapshot, actual: &Snapshot, context: &str) {
    let found = differences(oracle, actual);
    assert!(
        found.is_empty(),
        "{context}: {} differences from the oracle:\n{}",
        found.len(),
        found.join("\n")
    );
}

/// What a real pg_restore said restoring a dump: the errors it went on past.
#[derive(Debug)]
pub struct Restored {
    pub errors: Vec<String>,
}

/// Restores `dump` with `pg_restore` (of `bindir`, the version that reads it) into `db`, a
/// new database made from template0, going on past errors as pg_restore does by default.
pub fn pg_restore_into_new(
    cluster: &PgCluster,
    pg_restore: &Path,
    dump: &Path,
    db: &str,
) -> Restored {
    cluster.psql(
        "postgres",
        &format!("CREATE DATABASE {} TEMPLATE template0", ident(db)),
    );
    let mut cmd = std::process::Command::new(pg_restore);
    cluster.apply_env(&mut cmd);
    cmd.arg("-d").arg(db).arg(dump);
    let out = cmd.output().expect("running pg_restore (oracle)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors = stderr
        .lines()
        .filter(|l| l.contains("ERROR:"))
        .map(|l| l.trim().to_owned())
        .collect();
    Restored { errors }
}

//! What live holds of the tables a table restore replaces, and what points at them: read
//! once before the prompt (for the plan and `--dry-run`) and again inside the transaction,
//! under the tables' locks, where it is what the restore acts on.
//!
//! Definitions are read with `search_path = pg_catalog`, so that every name in them comes
//! back schema-qualified and means the same thing whatever the session's path is later.

use pg::Ident;
use pg::tokio_postgres::{Client, Error as PgError};
use readiness::tables::Selection;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// A live table of the set: moved aside before the restore.
#[derive(Debug, Clone)]
pub struct LiveTable {
    pub name: String,
    /// `schema.name`, quoted where it needs to be.
    pub qualified: String,
    pub oid: u32,
}

/// A foreign key of another table that references the set, to be (re-)created on the
/// restored tables.
#[derive(Debug, Clone)]
pub struct ForeignKey {
    /// The referencing table, `schema.name` quoted where needed.
    pub table: String,
    /// The constraint's name, quoted where needed.
    pub name: String,
    /// `FOREIGN KEY (...) REFERENCES ...`, as pg_get_constraintdef writes it.
    pub definition: String,
    /// Whether the referencing table is partitioned (ALTER TABLE without ONLY).
    pub partitioned: bool,
    /// From the dump (missing live) rather than live.
    pub from_dump: bool,
}

impl ForeignKey {
    /// The ADD CONSTRAINT statement, NOT VALID when asked.
    pub fn add_sql(&self, not_valid: bool) -> String {
        let only = if self.partitioned { "" } else { "ONLY " };
        let already = self.definition.trim_end().ends_with("NOT VALID");
        let suffix = if not_valid && !already {
            " NOT VALID"
        } else {
            ""
        };
        format!(
            "ALTER TABLE {only}{} ADD CONSTRAINT {} {}{suffix}",
            self.table, self.name, self.definition
        )
    }

    /// A query counting the referencing table's rows that the key would reject: all key
    /// columns set, and no referenced row with those values. `None` when the definition is
    /// not of the simple shape this reads (then the server's own validation decides).
    pub async fn violations_sql(&self, client: &Client) -> Result<Option<String>, PgError> {
        let Some(shape) = Shape::of(&self.definition) else {
            return Ok(None);
        };
        let row = client
            .query_one(
                "SELECT (SELECT relkind::text FROM pg_class WHERE oid = to_regclass($1)),
                        (SELECT relkind::text FROM pg_class WHERE oid = to_regclass($2))",
                &[&self.table, &shape.referenced],
            )
            .await?;
        let only = |kind: Option<String>| {
            // A partitioned table's rows are its partitions'; a plain table's key covers
            // its own rows only, not those of inheritance children.
            if kind.as_deref() == Some("p") {
                ""
            } else {
                "ONLY "
            }
        };
        let (from_kind, to_kind): (Option<String>, Option<String>) = (row.get(0), row.get(1));
        let set: Vec<String> = shape
            .columns
            .iter()
            .map(|c| format!("r.{c} IS NOT NULL"))
            .collect();
        let matched: Vec<String> = shape
            .columns
            .iter()
            .zip(&shape.referenced_columns)
            .map(|(c, p)| format!("p.{p} = r.{c}"))
            .collect();
        Ok(Some(format!(
            "SELECT count(*) FROM {}{} r WHERE {} AND NOT EXISTS (SELECT 1 FROM {}{} p WHERE {})",
            only(from_kind),
            self.table,
            set.join(" AND "),
            only(to_kind),
            shape.referenced,
            matched.join(" AND ")
        )))
    }
}

/// The columns of a foreign key definition: `FOREIGN KEY (a, "B") REFERENCES s.t(x, y) ...`.
#[derive(Debug, PartialEq, Eq)]
struct Shape {
    columns: Vec<String>,
    referenced: String,
    referenced_columns: Vec<String>,
}

impl Shape {
    fn of(definition: &str) -> Option<Self> {
        let rest = definition.trim().strip_prefix("FOREIGN KEY ")?;
        let (columns, rest) = paren_list(rest)?;
        let rest = rest.strip_prefix(" REFERENCES ")?;
        let open = find_outside_quotes(rest, "(")?;
        let referenced = rest[..open].to_owned();
        let (referenced_columns, _) = paren_list(&rest[open..])?;
        // PERIOD (temporal keys) and anything else but plain column names: leave it to
        // the server.
        let plain = |c: &String| !c.is_empty() && (c.starts_with('"') || !c.contains(' '));
        if columns.len() != referenced_columns.len()
            || !columns.iter().all(plain)
            || !referenced_columns.iter().all(plain)
        {
            return None;
        }
        Some(Self {
            columns,
            referenced,
            referenced_columns,
        })
    }
}

/// A parenthesised list of names at the start of `text`, split at the commas outside double
/// quotes, and what follows the closing parenthesis.
fn paren_list(text: &str) -> Option<(Vec<String>, &str)> {
    let inner = text.strip_prefix('(')?;
    let mut items = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for (i, c) in inner.char_indices() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ',' if !quoted => items.push(std::mem::take(&mut current).trim().to_owned()),
            ')' if !quoted => {
                items.push(current.trim().to_owned());
                return Some((items, &inner[i + 1..]));
            }
            _ => current.push(c),
        }
    }
    None
}

/// Where `needle` first occurs outside double quotes.
fn find_outside_quotes(text: &str, needle: &str) -> Option<usize> {
    let mut quoted = false;
    for (i, c) in text.char_indices() {
        if c == '"' {
            quoted = !quoted;
        } else if !quoted && text[i..].starts_with(needle) {
            return Some(i);
        }
    }
    None
}

/// The `FOREIGN KEY ...` part of pg_dump's `ALTER TABLE ONLY t ADD CONSTRAINT c FOREIGN KEY
/// ...;`, without the semicolon.
fn dump_definition(sql: &str) -> Option<String> {
    let at = find_outside_quotes(sql, "FOREIGN KEY (")?;
    Some(sql[at..].trim_end().trim_end_matches(';').to_owned())
}

/// A view that reads the set: re-created on the restored tables with CREATE OR REPLACE.
#[derive(Debug, Clone)]
pub struct View {
    pub name: String,
    pub definition: String,
    /// Its reloptions (`security_barrier=true, check_option=local`), kept as they are.
    pub options: Option<String>,
}

impl View {
    pub fn replace_sql(&self) -> String {
        let with = self
            .options
            .as_ref()
            .map(|o| format!(" WITH ({o})"))
            .unwrap_or_default();
        format!(
            "CREATE OR REPLACE VIEW {}{with} AS {}",
            self.name,
            self.definition.trim_end().trim_end_matches(';')
        )
    }
}

/// A materialized view that reads the set: dropped before the tables are set aside and
/// created again on the restored ones, with its indexes, owner, grants and comment.
#[derive(Debug, Clone)]
pub struct Matview {
    pub name: String,
    pub definition: String,
    pub populated: bool,
    /// The statements after CREATE: indexes, owner, grants, comment.
    pub after: Vec<String>,
}

impl Matview {
    pub fn create_sql(&self) -> Vec<String> {
        let mut out = vec![format!(
            "CREATE MATERIALIZED VIEW {} AS {} WITH {}DATA",
            self.name,
            self.definition.trim_end().trim_end_matches(';'),
            if self.populated { "" } else { "NO " }
        )];
        out.extend(self.after.iter().cloned());
        out
    }
}

/// What live holds of the set and what points at it.
#[derive(Debug, Clone, Default)]
pub struct Live {
    /// The live tables of the set, and the live partitions and children of the named ones.
    pub tables: Vec<LiveTable>,
    /// Partitions or children of the named tables that live in another schema.
    pub outside: Vec<String>,
    /// The statistics objects of the live tables in the schema: SET SCHEMA on a table leaves
    /// them where they are, so they go aside on their own.
    pub statistics: Vec<String>,
    /// Statements that untie the set from parents outside it (DETACH, NO INHERIT).
    pub untie: Vec<String>,
    /// Live foreign keys of other tables that reference the set.
    pub foreign_keys: Vec<ForeignKey>,
    /// The dump's foreign keys into the set that are missing live (their table is there).
    pub missing_foreign_keys: Vec<ForeignKey>,
    /// The dump's foreign keys into the set whose referencing table is missing live.
    pub foreign_keys_without_table: Vec<String>,
    pub views: Vec<View>,
    pub matviews: Vec<Matview>,
    /// Materialized views of the set's readers that other views read (cannot be dropped).
    pub blocked: Vec<String>,
    /// Other live objects that depend on the set: they keep the set-aside copy.
    pub others: Vec<String>,
    /// Dump entries of views that exist live: left out of the restore (re-pointed instead).
    pub readers_present: BTreeSet<u32>,
    /// The dump's views that are missing live, restored from the dump.
    pub readers_restored: Vec<String>,
}

const TABLES_SQL: &str = "
WITH RECURSIVE named AS (
    SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1 AND c.relname = ANY($2::text[]) AND c.relkind IN ('r', 'p')
), tree AS (
    SELECT oid FROM named
    UNION
    SELECT i.inhrelid FROM pg_inherits i JOIN tree t ON i.inhparent = t.oid
)
SELECT c.oid, n.nspname::text, c.relname::text, format('%I.%I', n.nspname, c.relname)
FROM tree JOIN pg_class c ON c.oid = tree.oid JOIN pg_namespace n ON n.oid = c.relnamespace
ORDER BY c.oid";

const UNTIE_SQL: &str = "
SELECT CASE WHEN c.relispartition
            THEN format('ALTER TABLE %I.%I DETACH PARTITION %I.%I', pn.nspname, p.relname, n.nspname, c.relname)
            ELSE format('ALTER TABLE %I.%I NO INHERIT %I.%I', n.nspname, c.relname, pn.nspname, p.relname) END
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
WHERE i.inhrelid = ANY($1) AND NOT i.inhparent = ANY($1)
ORDER BY 1";

const FOREIGN_KEYS_SQL: &str = "
SELECT format('%I.%I', n.nspname, r.relname), quote_ident(c.conname), pg_get_constraintdef(c.oid),
       r.relkind = 'p'
FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace
WHERE c.contype = 'f' AND c.confrelid = ANY($1) AND NOT c.conrelid = ANY($1) AND c.conparentid = 0
ORDER BY 1, 2";

const READERS_SQL: &str = "
SELECT DISTINCT v.oid, format('%I.%I', vn.nspname, v.relname), v.relkind = 'm', pg_get_viewdef(v.oid),
       array_to_string(v.reloptions, ', '), v.relispopulated
FROM pg_depend d
JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
JOIN pg_class v ON v.oid = r.ev_class JOIN pg_namespace vn ON vn.oid = v.relnamespace
WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = ANY($1) AND NOT v.oid = ANY($1)
  AND v.relkind IN ('v', 'm')
ORDER BY 2";

const READ_BY_SQL: &str = "
SELECT DISTINCT format('%I.%I', vn.nspname, v.relname)
FROM pg_depend d
JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
JOIN pg_class v ON v.oid = r.ev_class JOIN pg_namespace vn ON vn.oid = v.relnamespace
WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = $1 AND v.oid <> $1
ORDER BY 1";

const MATVIEW_AFTER_SQL: &str = "
SELECT sql FROM (
    SELECT 1 AS k, i.indexrelid::int8 AS o, pg_get_indexdef(i.indexrelid) AS sql
    FROM pg_index i WHERE i.indrelid = $1
    UNION ALL
    SELECT 2, 0, format('ALTER MATERIALIZED VIEW %s OWNER TO %I', $2::text, pg_get_userbyid(c.relowner))
    FROM pg_class c WHERE c.oid = $1
    UNION ALL
    SELECT 3, row_number() OVER (), format('GRANT %s ON %s TO %s%s', a.privilege_type, $2::text,
           CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
           CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
    FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = $1 AND a.grantee <> c.relowner
    UNION ALL
    SELECT 4, 0, format('COMMENT ON MATERIALIZED VIEW %s IS %L', $2::text, d.description)
    FROM pg_description d
    WHERE d.objoid = $1 AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
) s ORDER BY k, o";

/// Objects that depend on the set (its tables and their owned sequences, $1; their row
/// types, $2) other than the set's own parts and the foreign keys and views the restore
/// re-creates: they keep the set-aside copy.
const OTHERS_SQL: &str = "
SELECT DISTINCT pg_describe_object(d.classid, d.objid, 0)
FROM pg_depend d
WHERE d.deptype = 'n'
  AND ((d.refclassid = 'pg_class'::regclass AND d.refobjid = ANY($1))
       OR (d.refclassid = 'pg_type'::regclass AND d.refobjid = ANY($2)))
  AND NOT CASE
    WHEN d.classid = 'pg_class'::regclass THEN d.objid = ANY($1)
        OR EXISTS (SELECT 1 FROM pg_index i WHERE i.indexrelid = d.objid AND i.indrelid = ANY($1))
    WHEN d.classid = 'pg_rewrite'::regclass THEN EXISTS (
        SELECT 1 FROM pg_rewrite r JOIN pg_class v ON v.oid = r.ev_class
        WHERE r.oid = d.objid
          AND (r.ev_class = ANY($1) OR (v.relkind IN ('v', 'm') AND r.rulename = '_RETURN')))
    WHEN d.classid = 'pg_constraint'::regclass THEN EXISTS (
        SELECT 1 FROM pg_constraint c
        WHERE c.oid = d.objid AND (c.conrelid = ANY($1) OR c.contype = 'f'))
    WHEN d.classid = 'pg_trigger'::regclass THEN EXISTS (
        SELECT 1 FROM pg_trigger t WHERE t.oid = d.objid AND t.tgrelid = ANY($1))
    WHEN d.classid = 'pg_policy'::regclass THEN EXISTS (
        SELECT 1 FROM pg_policy p WHERE p.oid = d.objid AND p.polrelid = ANY($1))
    WHEN d.classid = 'pg_attrdef'::regclass THEN EXISTS (
        SELECT 1 FROM pg_attrdef a WHERE a.oid = d.objid AND a.adrelid = ANY($1))
    WHEN d.classid = 'pg_statistic_ext'::regclass THEN EXISTS (
        SELECT 1 FROM pg_statistic_ext s WHERE s.oid = d.objid AND s.stxrelid = ANY($1))
    WHEN d.classid = 'pg_type'::regclass THEN d.objid = ANY($2)
        OR EXISTS (SELECT 1 FROM pg_type t WHERE t.oid = d.objid AND t.typelem = ANY($2))
    ELSE false END
UNION
SELECT 'publication ' || quote_ident(p.pubname)
FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
WHERE pr.prrelid = ANY($1)
ORDER BY 1";

const OWNED_SEQUENCES_SQL: &str = "
SELECT d.objid FROM pg_depend d JOIN pg_class s ON s.oid = d.objid
WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
  AND d.refobjid = ANY($1) AND d.deptype IN ('a', 'i') AND s.relkind = 'S'";

impl Live {
    pub async fn read(
        client: &Client,
        schema: &Ident,
        selection: &Selection,
    ) -> Result<Self, PgError> {
        client.batch_execute("SET search_path = pg_catalog").await?;
        // A failed read's error is the one to report: in a transaction it aborts it, and the
        // RESET then fails too.
        let live = Self::read_qualified(client, schema, selection).await?;
        client.batch_execute("RESET search_path").await?;
        Ok(live)
    }

    async fn read_qualified(
        client: &Client,
        schema: &Ident,
        selection: &Selection,
    ) -> Result<Self, PgError> {
        let mut live = Self::default();
        let names: Vec<&str> = selection.tables.iter().map(|t| t.name.as_str()).collect();
        for row in client
            .query(TABLES_SQL, &[&schema.as_str(), &names])
            .await?
        {
            let table_schema: String = row.get(1);
            let qualified: String = row.get(3);
            if table_schema == schema.as_str() {
                live.tables.push(LiveTable {
                    oid: row.get(0),
                    name: row.get(2),
                    qualified,
                });
            } else {
                live.outside.push(qualified);
            }
        }
        let oids: Vec<u32> = live.tables.iter().map(|t| t.oid).collect();
        if !oids.is_empty() {
            live.untie = client
                .query(UNTIE_SQL, &[&oids])
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
            live.statistics = client
                .query(
                    "SELECT format('%I.%I', n.nspname, s.stxname)
                     FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
                     WHERE s.stxrelid = ANY($1) AND n.nspname = $2 ORDER BY 1",
                    &[&oids, &schema.as_str()],
                )
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
            for row in client.query(FOREIGN_KEYS_SQL, &[&oids]).await? {
                live.foreign_keys.push(ForeignKey {
                    table: row.get(0),
                    name: row.get(1),
                    definition: row.get(2),
                    partitioned: row.get(3),
                    from_dump: false,
                });
            }
            live.read_readers(client, &oids).await?;
            live.read_others(client, &oids).await?;
        }
        live.read_dump_dependents(client, selection).await?;
        Ok(live)
    }

    async fn read_readers(&mut self, client: &Client, oids: &[u32]) -> Result<(), PgError> {
        for row in client.query(READERS_SQL, &[&oids]).await? {
            let oid: u32 = row.get(0);
            let name: String = row.get(1);
            let materialized: bool = row.get(2);
            let definition: String = row.get(3);
            if !materialized {
                let options: Option<String> = row.get(4);
                self.views.push(View {
                    name,
                    definition,
                    options: options.filter(|o| !o.is_empty()),
                });
                continue;
            }
            let read_by: Vec<String> = client
                .query(READ_BY_SQL, &[&oid])
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
            if !read_by.is_empty() {
                self.blocked
                    .push(format!("{name} (read by {})", read_by.join(", ")));
            }
            let after = client
                .query(MATVIEW_AFTER_SQL, &[&oid, &name])
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
            self.matviews.push(Matview {
                name,
                definition,
                populated: row.get(5),
                after,
            });
        }
        Ok(())
    }

    async fn read_others(&mut self, client: &Client, oids: &[u32]) -> Result<(), PgError> {
        let mut with_sequences: Vec<u32> = oids.to_vec();
        with_sequences.extend(
            client
                .query(OWNED_SEQUENCES_SQL, &[&oids])
                .await?
                .iter()
                .map(|r| r.get::<_, u32>(0)),
        );
        let types: Vec<u32> = client
            .query("SELECT reltype FROM pg_class WHERE oid = ANY($1)", &[&oids])
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        self.others = client
            .query(OTHERS_SQL, &[&with_sequences, &types])
            .await?
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect();
        Ok(())
    }

    /// The dump's views and foreign keys that point at the set: those present live are left
    /// to live (re-pointed), those missing are restored from the dump.
    async fn read_dump_dependents(
        &mut self,
        client: &Client,
        selection: &Selection,
    ) -> Result<(), PgError> {
        for reader in &selection.readers {
            let present = client
                .query_opt(
                    "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname = $1 AND c.relname = $2",
                    &[&reader.schema, &reader.name],
                )
                .await?
                .is_some();
            if present {
                self.readers_present.extend(reader.entries.iter().copied());
            } else {
                self.readers_restored
                    .push(format!("{}.{}", reader.schema, reader.name));
            }
        }
        for fk in &selection.foreign_keys {
            let row = client
                .query_opt(
                    "SELECT format('%I.%I', n.nspname, r.relname), r.relkind = 'p',
                            EXISTS (SELECT 1 FROM pg_constraint c
                                    WHERE c.conrelid = r.oid AND c.conname = $3),
                            quote_ident($3::text)
                     FROM pg_class r JOIN pg_namespace n ON n.oid = r.relnamespace
                     WHERE n.nspname = $1 AND r.relname = $2",
                    &[&fk.schema, &fk.table, &fk.name],
                )
                .await?;
            let Some(row) = row else {
                self.foreign_keys_without_table
                    .push(format!("{}.{}.{}", fk.schema, fk.table, fk.name));
                continue;
            };
            let exists: bool = row.get(2);
            let Some(definition) = dump_definition(&fk.sql) else {
                continue;
            };
            if !exists {
                self.missing_foreign_keys.push(ForeignKey {
                    table: row.get(0),
                    name: row.get(3),
                    definition,
                    partitioned: row.get(1),
                    from_dump: true,
                });
            }
        }
        Ok(())
    }

    /// What a copy (`--into`) acts on: the live tables alone, which it moves out of the way
    /// and back inside its transaction; nothing that points at them is touched.
    #[must_use]
    pub fn for_copy(self) -> Self {
        Self {
            tables: self.tables,
            outside: self.outside,
            statistics: self.statistics,
            untie: self.untie,
            ..Self::default()
        }
    }

    /// Why the restore cannot go ahead, before anything changes.
    pub fn refusal(&self, copy: bool) -> Option<String> {
        if copy && !self.untie.is_empty() {
            return Some(format!(
                "the tables are partitions or children of tables not named: {}; a copy would be attached to them too: name the parents with --table",
                self.untie.join("; ")
            ));
        }
        if !self.outside.is_empty() {
            return Some(format!(
                "partitions or children of the tables live in another schema: {}; --table moves only tables of the schema: restore their schema too, or the whole schema",
                self.outside.join(", ")
            ));
        }
        if !self.blocked.is_empty() {
            return Some(format!(
                "materialized views that read the tables are read by other views, so they cannot be re-created: {}; drop those views first, or restore the whole schema",
                self.blocked.join(", ")
            ));
        }
        None
    }

    /// For people: what the restore will do.
    pub fn describe(
        &self,
        selection: &Selection,
        aside: Option<&Ident>,
        schema: &Ident,
        into: Option<&Ident>,
    ) -> String {
        let restored: Vec<&str> = selection.tables.iter().map(|t| t.name.as_str()).collect();
        if let Some(into) = into {
            return format!(
                "restore {} of {schema} ({} entries of the dump) as copies in the new schema {into}; the live tables stay as they are",
                restored.join(", "),
                selection.own.len()
            );
        }
        let mut parts = Vec::new();
        if let Some(aside) = aside {
            parts.push(format!(
                "set {} aside in {aside}",
                self.tables
                    .iter()
                    .map(|t| t.qualified.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        parts.push(format!(
            "restore {} of {schema} ({} entries of the dump)",
            restored.join(", "),
            selection.own.len()
        ));
        let fks: Vec<String> = self
            .foreign_keys
            .iter()
            .chain(&self.missing_foreign_keys)
            .map(|f| {
                format!(
                    "{}.{}{}",
                    f.table,
                    f.name,
                    if f.from_dump { " (from the dump)" } else { "" }
                )
            })
            .collect();
        if !fks.is_empty() {
            parts.push(format!("re-create foreign keys {}", fks.join(", ")));
        }
        let views: Vec<&str> = self.views.iter().map(|v| v.name.as_str()).collect();
        if !views.is_empty() {
            parts.push(format!("re-create views {}", views.join(", ")));
        }
        let matviews: Vec<&str> = self.matviews.iter().map(|v| v.name.as_str()).collect();
        if !matviews.is_empty() {
            parts.push(format!(
                "re-create materialized views {}",
                matviews.join(", ")
            ));
        }
        if !self.readers_restored.is_empty() {
            parts.push(format!(
                "restore the views missing live from the dump: {}",
                self.readers_restored.join(", ")
            ));
        }
        parts.join("; ")
    }

    /// What the operator should know before saying yes.
    pub fn warnings(&self, aside: Option<&Ident>) -> Vec<String> {
        let mut out = Vec::new();
        if !self.others.is_empty() {
            out.push(format!(
                "{} objects depend on the live tables and keep the copy set aside in {}: {}",
                self.others.len(),
                aside.map_or_else(|| "the set-aside schema".to_owned(), Ident::to_string),
                self.others.join(", ")
            ));
        }
        if !self.foreign_keys_without_table.is_empty() {
            out.push(format!(
                "foreign keys of the dump into the tables are not restored, their tables are missing live: {}",
                self.foreign_keys_without_table.join(", ")
            ));
        }
        out
    }

    pub fn to_value(
        &self,
        selection: &Selection,
        aside: Option<&Ident>,
        outcomes: &super::ForeignKeyOutcomes,
    ) -> Value {
        let violations = |key: &str| {
            outcomes
                .violations
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, n)| *n)
        };
        json!({
            "tables": selection.tables.iter().map(|t| json!({
                "name": t.name,
                "named": t.named,
                "set_aside": self.tables.iter().any(|l| l.name == t.name),
            })).collect::<Vec<_>>(),
            "set_aside_into": aside.map(Ident::as_str),
            "set_aside": self.tables.iter().map(|t| t.qualified.clone()).collect::<Vec<_>>(),
            "entries": selection.own.len(),
            "foreign_keys": self.foreign_keys.iter().chain(&self.missing_foreign_keys).map(|f| {
                let key = format!("{}.{}", f.table, f.name);
                json!({
                    "table": f.table,
                    "name": f.name,
                    "from": if f.from_dump { "dump" } else { "live" },
                    "violations": violations(&key),
                    "not_valid": outcomes.not_valid.iter().any(|(k, _)| *k == key),
                })
            }).collect::<Vec<_>>(),
            "views": self.views.iter().map(|v| v.name.clone()).collect::<Vec<_>>(),
            "materialized_views": self.matviews.iter().map(|v| v.name.clone()).collect::<Vec<_>>(),
            "restored_from_dump": self.readers_restored,
            "keep_set_aside_copy": self.others,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_key_shapes_are_read_with_quoted_names() {
        let shape = Shape::of(
            r#"FOREIGN KEY (a, "B, c") REFERENCES shop."Or ders"(id, "X") ON DELETE CASCADE"#,
        )
        .unwrap();
        assert_eq!(shape.columns, vec!["a", "\"B, c\""]);
        assert_eq!(shape.referenced, "shop.\"Or ders\"");
        assert_eq!(shape.referenced_columns, vec!["id", "\"X\""]);
        assert!(Shape::of("FOREIGN KEY (a, PERIOD b) REFERENCES t(a, PERIOD b)").is_none());
        assert!(Shape::of("CHECK (a > 0)").is_none());
    }

    #[test]
    fn the_dump_definition_is_what_follows_add_constraint() {
        let sql = "ALTER TABLE ONLY shop.notes\n    ADD CONSTRAINT \"FOREIGN KEY (x\" FOREIGN KEY (order_id) REFERENCES shop.orders(id);\n";
        assert_eq!(
            dump_definition(sql).as_deref(),
            Some("FOREIGN KEY (order_id) REFERENCES shop.orders(id)")
        );
    }

    #[test]
    fn not_valid_is_added_once() {
        let mut fk = ForeignKey {
            table: "shop.notes".into(),
            name: "notes_fk".into(),
            definition: "FOREIGN KEY (a) REFERENCES shop.orders(id)".into(),
            partitioned: false,
            from_dump: false,
        };
        assert_eq!(
            fk.add_sql(true),
            "ALTER TABLE ONLY shop.notes ADD CONSTRAINT notes_fk FOREIGN KEY (a) REFERENCES shop.orders(id) NOT VALID"
        );
        fk.definition.push_str(" NOT VALID");
        fk.partitioned = true;
        assert!(fk.add_sql(true).starts_with("ALTER TABLE shop.notes"));
        assert!(!fk.add_sql(true).ends_with("NOT VALID NOT VALID"));
    }
}

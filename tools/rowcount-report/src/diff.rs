//! `--diff-schema OTHER`: which rows differ between two schemas, table by table, exactly,
//! from one snapshot. After a swap, the live schema against the set-aside one answers the
//! postmortem's question: which writes did the restore set aside?
//!
//! For each table (relkind r) present in both, over the columns both have: with a key (the
//! `--schema` table's primary key, or a unique key of NOT NULL columns, when the other table
//! has those columns too), a FULL JOIN on the key counts the rows only on one side, only on
//! the other, and the rows whose other columns differ; without one, whole rows are compared
//! as a multiset (each row with its multiplicity), and "changed" has no meaning. Rows are
//! compared by their text form, so that any type compares, even those with no equality.

use crate::count::{CountError, ident, sql};
use crate::snapshot::Leader;
use pg::ConnSettings;
use pg::tokio_postgres::Client;
use serde_json::{Value, json};
use std::sync::Arc;

/// One table's differences.
#[derive(Debug, Clone)]
pub struct TableDiff {
    pub name: String,
    /// The key's columns; `None`: compared by whole rows.
    pub key: Option<Vec<String>>,
    pub rows_in_schema: u64,
    pub rows_in_other: u64,
    pub only_in_schema: u64,
    pub only_in_other: u64,
    /// Same key, different row; `None` without a key.
    pub changed: Option<u64>,
    /// Columns one table has and the other lacks (left out of the comparison).
    pub columns_only_in_one: Vec<String>,
}

impl TableDiff {
    pub fn differs(&self) -> bool {
        self.only_in_schema > 0
            || self.only_in_other > 0
            || self.changed.is_some_and(|n| n > 0)
            || !self.columns_only_in_one.is_empty()
    }

    fn to_value(&self, schema: &str) -> Value {
        json!({
            "schema": schema,
            "name": self.name,
            "key": self.key,
            "rows_in_schema": self.rows_in_schema,
            "rows_in_other": self.rows_in_other,
            "rows_only_in_schema": self.only_in_schema,
            "rows_only_in_other": self.only_in_other,
            "rows_changed": self.changed,
            "columns_only_in_one": self.columns_only_in_one,
        })
    }
}

/// The whole comparison.
#[derive(Debug, Clone)]
pub struct SchemaDiff {
    pub schema: String,
    pub other: String,
    pub tables: Vec<TableDiff>,
    pub tables_only_in_schema: Vec<String>,
    pub tables_only_in_other: Vec<String>,
    pub snapshot: String,
    pub taken_at: String,
    pub connections: usize,
}

impl SchemaDiff {
    pub fn to_value(&self) -> Value {
        let sum = |f: fn(&TableDiff) -> u64| self.tables.iter().map(f).sum::<u64>();
        json!({
            "other_schema": self.other,
            "tables": self.tables.iter().map(|t| t.to_value(&self.schema)).collect::<Vec<_>>(),
            "tables_only_in_schema": self.tables_only_in_schema,
            "tables_only_in_other": self.tables_only_in_other,
            "summary": {
                "tables": self.tables.len(),
                "tables_differing": self.tables.iter().filter(|t| t.differs()).count(),
                "rows_only_in_schema": sum(|t| t.only_in_schema),
                "rows_only_in_other": sum(|t| t.only_in_other),
                "rows_changed": sum(|t| t.changed.unwrap_or(0)),
            },
        })
    }
}

/// The tables of both schemas by name, with each side's OID as the snapshot sees them (0 for
/// none): the columns and keys are read by OID, never by a name the catalog may have moved
/// since.
const TABLES_SQL: &str = "
SELECT c.relname::text,
       coalesce(max(c.oid::int8) FILTER (WHERE n.nspname = $1), 0),
       coalesce(max(c.oid::int8) FILTER (WHERE n.nspname = $2), 0)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname IN ($1, $2)
GROUP BY c.relname ORDER BY 1";

const COLUMNS_SQL: &str = "
SELECT a.attname::text, quote_ident(a.attname)
FROM pg_attribute a
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum";

/// Compares every table the two schemas share (those `included` keeps), over up to `jobs`
/// connections in one snapshot.
pub async fn diff(
    settings: &ConnSettings,
    schema: &str,
    other: &str,
    jobs: usize,
    included: impl Fn(&str) -> bool,
) -> Result<SchemaDiff, CountError> {
    let leader = Leader::open(settings).await?;
    let (snapshot, taken_at) = (leader.snapshot.clone(), leader.taken_at.clone());
    let mut shared = Vec::new();
    let mut only_schema = Vec::new();
    let mut only_other = Vec::new();
    for row in leader
        .client
        .query(TABLES_SQL, &[&schema, &other])
        .await
        .map_err(sql("listing the tables of both schemas"))?
    {
        let name: String = row.get(0);
        if !included(&name) {
            continue;
        }
        let oid = |i: usize| u32::try_from(row.get::<_, i64>(i)).unwrap_or(0);
        match (oid(1), oid(2)) {
            (0, _) => only_other.push(name),
            (_, 0) => only_schema.push(name),
            (ours, theirs) => shared.push((name, ours, theirs)),
        }
    }
    let sides = Arc::new((schema.to_owned(), other.to_owned()));
    let (tables, connections) = leader
        .run(
            settings,
            jobs,
            shared,
            move |client, (name, ours, theirs)| {
                let sides = Arc::clone(&sides);
                async move { diff_table(&client, &sides.0, &sides.1, name, [ours, theirs]).await }
            },
        )
        .await?;
    Ok(SchemaDiff {
        schema: schema.to_owned(),
        other: other.to_owned(),
        tables,
        tables_only_in_schema: only_schema,
        tables_only_in_other: only_other,
        snapshot,
        taken_at,
        connections,
    })
}

/// What two tables of one name are compared by: the columns both have (name and quoted, in
/// the `--schema` table's order), those only one has, and the key (empty: whole rows).
struct Compared {
    common: Vec<(String, String)>,
    columns_only_in_one: Vec<String>,
    key: Vec<pg::catalog::KeyColumn>,
}

async fn compared(
    client: &Client,
    [ours_oid, theirs_oid]: [u32; 2],
) -> Result<Compared, pg::tokio_postgres::Error> {
    let columns = |oid: u32| async move {
        client.query(COLUMNS_SQL, &[&oid]).await.map(|rows| {
            rows.iter()
                .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
                .collect::<Vec<_>>()
        })
    };
    let (ours, theirs) = (columns(ours_oid).await?, columns(theirs_oid).await?);
    let common: Vec<&(String, String)> = ours.iter().filter(|c| theirs.contains(c)).collect();
    let mut columns_only_in_one: Vec<String> = ours
        .iter()
        .chain(&theirs)
        .filter(|c| !common.contains(c))
        .map(|(raw, _)| raw.clone())
        .collect();
    columns_only_in_one.dedup();
    let mut key = pg::catalog::row_key(client, ours_oid).await?;
    // A key tells rows apart only where both tables have it: with duplicates on the other
    // side a join on it would multiply rows. Else whole rows.
    let theirs_key = pg::catalog::row_key(client, theirs_oid).await?;
    let names = |k: &[pg::catalog::KeyColumn]| {
        let mut n: Vec<String> = k.iter().map(|c| c.name.clone()).collect();
        n.sort();
        n
    };
    if names(&key) != names(&theirs_key)
        || !key
            .iter()
            .all(|k| common.iter().any(|(raw, _)| *raw == k.name))
    {
        key.clear();
    }
    let common = common.into_iter().cloned().collect();
    Ok(Compared {
        common,
        columns_only_in_one,
        key,
    })
}

async fn diff_table(
    client: &Client,
    schema: &str,
    other: &str,
    name: String,
    oids: [u32; 2],
) -> Result<TableDiff, CountError> {
    let what = format!("comparing {schema}.{name} with {other}.{name}");
    let Compared {
        common,
        columns_only_in_one,
        key,
    } = compared(client, oids).await.map_err(sql(&what))?;
    let keyed = !key.is_empty();
    let (s, o, t) = (ident(schema)?, ident(other)?, ident(&name)?);
    let row_text = format!(
        "ROW({})::text",
        common
            .iter()
            .map(|(_, q)| q.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    if keyed {
        let keys: Vec<&str> = key.iter().map(|k| k.quoted.as_str()).collect();
        let keys = keys.join(", ");
        let side = |ns: &pg::Ident| {
            format!(
                "SELECT true AS \"schema-restore present\", {keys}, {row_text} AS \"schema-restore row\" FROM ONLY {ns}.{t}"
            )
        };
        let sql_text = format!(
            "SELECT count(*) FILTER (WHERE a.\"schema-restore present\" AND b.\"schema-restore present\" IS NULL),
                    count(*) FILTER (WHERE b.\"schema-restore present\" AND a.\"schema-restore present\" IS NULL),
                    count(*) FILTER (WHERE a.\"schema-restore row\" IS DISTINCT FROM b.\"schema-restore row\"
                                       AND a.\"schema-restore present\" AND b.\"schema-restore present\"),
                    count(a.\"schema-restore present\"), count(b.\"schema-restore present\")
             FROM ({}) a FULL JOIN ({}) b USING ({keys})",
            side(&s),
            side(&o)
        );
        let row = client
            .query_one(sql_text.as_str(), &[])
            .await
            .map_err(sql(&what))?;
        let n = |i: usize| u64::try_from(row.get::<_, i64>(i)).unwrap_or(0);
        return Ok(TableDiff {
            name,
            key: Some(key.into_iter().map(|k| k.name).collect()),
            rows_in_schema: n(3),
            rows_in_other: n(4),
            only_in_schema: n(0),
            only_in_other: n(1),
            changed: Some(n(2)),
            columns_only_in_one,
        });
    }
    let side = |ns: &pg::Ident| {
        format!(
            "SELECT {row_text} AS \"schema-restore row\", count(*) AS n FROM ONLY {ns}.{t} GROUP BY 1"
        )
    };
    let sql_text = format!(
        "SELECT coalesce(sum(greatest(coalesce(a.n, 0) - coalesce(b.n, 0), 0)), 0)::int8,
                coalesce(sum(greatest(coalesce(b.n, 0) - coalesce(a.n, 0), 0)), 0)::int8,
                coalesce(sum(a.n), 0)::int8, coalesce(sum(b.n), 0)::int8
         FROM ({}) a FULL JOIN ({}) b USING (\"schema-restore row\")",
        side(&s),
        side(&o)
    );
    let row = client
        .query_one(sql_text.as_str(), &[])
        .await
        .map_err(sql(&what))?;
    let n = |i: usize| u64::try_from(row.get::<_, i64>(i)).unwrap_or(0);
    Ok(TableDiff {
        name,
        key: None,
        rows_in_schema: n(2),
        rows_in_other: n(3),
        only_in_schema: n(0),
        only_in_other: n(1),
        changed: None,
        columns_only_in_one,
    })
}

//! Counting, read-only.
//!
//! Exact counts: the tables are listed in one exported snapshot and counted over several
//! connections in it (module `snapshot`), each with `SELECT count(*) FROM ONLY <table>`. Every count sees the database as of the one moment the
//! snapshot was taken, so the numbers are mutually consistent however long counting takes.
//! `ONLY`: a table's own rows, as pg_dump writes them, without inheritance children.
//!
//! Estimates: `pg_class.reltuples` (what the planner believes after the last VACUUM or
//! ANALYZE); for a table never analyzed (reltuples -1), the statistics collector's
//! `n_live_tup`. Counted tables are plain tables and partitions (relkind r); a partitioned
//! parent holds no rows of its own.

use crate::scope::Scope;
use crate::snapshot::{Leader, begin, connect, taken_at};
use pg::tokio_postgres::{Client, Error};
use pg::{ConnSettings, ConnectError, Ident};
use serde_json::{Value, json};

/// One table's count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCount {
    pub schema: String,
    pub name: String,
    /// None for an estimate with no statistics at all.
    pub rows: Option<u64>,
    /// Where an estimate came from: `reltuples` or `n_live_tup`; None for exact counts.
    pub estimate_source: Option<&'static str>,
}

impl TableCount {
    pub fn to_value(&self, exact: bool) -> Value {
        let mut v =
            json!({ "schema": self.schema, "name": self.name, "rows": self.rows, "exact": exact });
        if let Some(source) = self.estimate_source {
            v["estimate_source"] = json!(source);
        }
        v
    }
}

/// The result of one counting run.
#[derive(Debug, Clone)]
pub struct Counts {
    pub tables: Vec<TableCount>,
    /// Schemas in scope that do not exist.
    pub missing_schemas: Vec<String>,
    /// The exported snapshot all exact counts share.
    pub snapshot: Option<String>,
    /// When the snapshot's transaction started (the server's clock), RFC 3339.
    pub taken_at: String,
    /// Connections used.
    pub connections: usize,
}

/// Why counting stopped.
#[derive(Debug)]
pub enum CountError {
    Connect(ConnectError),
    Sql(String),
}

impl std::fmt::Display for CountError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Connect(e) => write!(f, "{e}"),
            Self::Sql(e) => f.write_str(e),
        }
    }
}

pub fn sql(what: &str) -> impl Fn(Error) -> CountError + '_ {
    move |e| match e.as_db_error() {
        Some(db) => CountError::Sql(format!("{what}: {}", db.message())),
        None => CountError::Sql(format!("{what}: {e}")),
    }
}

const LIST_TABLES: &str = "
SELECT n.nspname::text, c.relname::text, c.reltuples::float8, s.n_live_tup
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
WHERE c.relkind = 'r'
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
  AND (cardinality($1::text[]) = 0 OR n.nspname = ANY($1::text[]))
ORDER BY 1, 2";

struct Listed {
    schema: String,
    name: String,
    reltuples: f64,
    live: Option<i64>,
}

/// The tables in scope, as the transaction on `client` sees them, and the missing schemas.
async fn list(client: &Client, scope: &Scope) -> Result<(Vec<Listed>, Vec<String>), CountError> {
    // With patterns that name no schema and no --schema, every user schema is listed.
    let rows = client
        .query(LIST_TABLES, &[&scope.schemas])
        .await
        .map_err(sql("listing tables"))?;
    let tables: Vec<Listed> = rows
        .iter()
        .map(|r| Listed {
            schema: r.get(0),
            name: r.get(1),
            reltuples: r.get(2),
            live: r.get(3),
        })
        .filter(|t| scope.includes(&t.schema, &t.name))
        .collect();
    let present = client
        .query(
            "SELECT nspname::text FROM pg_namespace WHERE nspname = ANY($1::text[])",
            &[&scope.schemas],
        )
        .await
        .map_err(sql("looking up schemas"))?;
    let present: Vec<String> = present.iter().map(|r| r.get(0)).collect();
    let missing = scope
        .schemas
        .iter()
        .filter(|s| !present.contains(s))
        .cloned()
        .collect();
    Ok((tables, missing))
}

/// Counts with planner statistics: one connection, one catalog query.
pub async fn estimate(settings: &ConnSettings, scope: &Scope) -> Result<Counts, CountError> {
    let client = connect(settings).await?;
    begin(&client).await?;
    let taken_at = taken_at(&client).await?;
    let (listed, missing_schemas) = list(&client, scope).await?;
    client
        .batch_execute("COMMIT")
        .await
        .map_err(sql("ending the transaction"))?;
    let tables = listed
        .into_iter()
        .map(|t| {
            let (rows, source) = if t.reltuples >= 0.0 {
                (Some(float_rows(t.reltuples)), Some("reltuples"))
            } else {
                (
                    t.live.and_then(|n| u64::try_from(n).ok()),
                    Some("n_live_tup"),
                )
            };
            TableCount {
                schema: t.schema,
                name: t.name,
                rows,
                estimate_source: source,
            }
        })
        .collect();
    Ok(Counts {
        tables,
        missing_schemas,
        snapshot: None,
        taken_at,
        connections: 1,
    })
}

/// reltuples is a float4 estimate, never negative here, and far below 2^53.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked non-negative, rounded
fn float_rows(value: f64) -> u64 {
    value.round().max(0.0) as u64
}

/// Exact counts from one exported snapshot over up to `jobs` connections.
pub async fn exact(
    settings: &ConnSettings,
    scope: &Scope,
    jobs: usize,
) -> Result<Counts, CountError> {
    let leader = Leader::open(settings).await?;
    let (snapshot, taken_at) = (leader.snapshot.clone(), leader.taken_at.clone());
    let (listed, missing_schemas) = list(&leader.client, scope).await?;
    let items: Vec<(String, String)> = listed.into_iter().map(|t| (t.schema, t.name)).collect();
    let (tables, connections) = leader
        .run(settings, jobs, items, |client, (schema, name)| async move {
            count_one(&client, schema, name).await
        })
        .await?;
    Ok(Counts {
        tables,
        missing_schemas,
        snapshot: Some(snapshot),
        taken_at,
        connections,
    })
}

async fn count_one(
    client: &Client,
    schema: String,
    name: String,
) -> Result<TableCount, CountError> {
    let (s, n) = (ident(&schema)?, ident(&name)?);
    let row = client
        .query_one(&format!("SELECT count(*) FROM ONLY {s}.{n}"), &[])
        .await
        .map_err(sql(&format!("counting {s}.{n}")))?;
    let rows: i64 = row.get(0);
    Ok(TableCount {
        schema,
        name,
        rows: u64::try_from(rows).ok(),
        estimate_source: None,
    })
}

pub fn ident(name: &str) -> Result<Ident, CountError> {
    Ident::new(name).map_err(|e| CountError::Sql(e.to_string()))
}

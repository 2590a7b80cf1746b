//! Counting, read-only.
//!
//! Exact counts: a leader opens a read-only REPEATABLE READ transaction, exports its snapshot
//! (`pg_export_snapshot()`) and lists the tables in it; up to `jobs - 1` more connections open
//! the same kind of transaction and adopt that snapshot (`SET TRANSACTION SNAPSHOT`) before
//! anything else; then all of them, the leader too, take tables from one queue and run
//! `SELECT count(*) FROM ONLY <table>`. Every count sees the database as of the one moment the
//! snapshot was taken, so the numbers are mutually consistent however long counting takes.
//! `ONLY`: a table's own rows, as pg_dump writes them, without inheritance children.
//!
//! Estimates: `pg_class.reltuples` (what the planner believes after the last VACUUM or
//! ANALYZE); for a table never analyzed (reltuples -1), the statistics collector's
//! `n_live_tup`. Counted tables are plain tables and partitions (relkind r); a partitioned
//! parent holds no rows of its own.

use crate::scope::Scope;
use pg::tokio_postgres::{Client, Error};
use pg::{ConnSettings, ConnectError, Ident};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

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

fn sql(what: &str) -> impl Fn(Error) -> CountError + '_ {
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

async fn begin(client: &Client) -> Result<(), CountError> {
    client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(sql("starting a read-only transaction"))
}

async fn connect(settings: &ConnSettings) -> Result<Client, CountError> {
    pg::connect(settings)
        .await
        .map(|(client, _task)| client)
        .map_err(CountError::Connect)
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

async fn taken_at(client: &Client) -> Result<String, CountError> {
    let row = client
        .query_one(
            "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')",
            &[],
        )
        .await
        .map_err(sql("reading the transaction time"))?;
    Ok(row.get(0))
}

/// Exact counts from one exported snapshot over up to `jobs` connections.
pub async fn exact(
    settings: &ConnSettings,
    scope: &Scope,
    jobs: usize,
) -> Result<Counts, CountError> {
    let leader = connect(settings).await?;
    begin(&leader).await?;
    let row = leader
        .query_one("SELECT pg_export_snapshot()", &[])
        .await
        .map_err(sql("exporting the snapshot"))?;
    let snapshot: String = row.get(0);
    // The id is the server's own (e.g. 00000003-0000001B-1); checked before it goes into SQL.
    if snapshot.is_empty() || !snapshot.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(CountError::Sql(format!(
            "unexpected snapshot id '{snapshot}'"
        )));
    }
    let taken_at = taken_at(&leader).await?;
    let (listed, missing_schemas) = list(&leader, scope).await?;
    let queue: VecDeque<(usize, String, String)> = listed
        .into_iter()
        .enumerate()
        .map(|(i, t)| (i, t.schema, t.name))
        .collect();
    let total = queue.len();
    let queue = Arc::new(Mutex::new(queue));
    let connections = jobs.clamp(1, total.max(1));

    // The workers join the leader's snapshot before the leader starts counting: the snapshot
    // can be imported only while the exporting transaction is open, and it stays open.
    let mut workers = Vec::new();
    for _ in 1..connections {
        let worker = connect(settings).await?;
        begin(&worker).await?;
        worker
            .batch_execute(&format!("SET TRANSACTION SNAPSHOT '{snapshot}'"))
            .await
            .map_err(sql("joining the snapshot"))?;
        workers.push(worker);
    }
    let mut set = tokio::task::JoinSet::new();
    let leader = Arc::new(leader);
    for client in workers
        .into_iter()
        .map(Arc::new)
        .chain([Arc::clone(&leader)])
    {
        let queue = Arc::clone(&queue);
        set.spawn(async move { drain(&client, &queue).await });
    }
    let mut results: Vec<(usize, TableCount)> = Vec::with_capacity(total);
    let mut failure = None;
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Ok(counted)) => results.extend(counted),
            Ok(Err(e)) => failure = failure.or(Some(e)),
            Err(e) => {
                failure = failure.or(Some(CountError::Sql(format!(
                    "a counting task failed: {e}"
                ))));
            }
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    leader
        .batch_execute("COMMIT")
        .await
        .map_err(sql("ending the transaction"))?;
    results.sort_by_key(|(i, _)| *i);
    let tables = results.into_iter().map(|(_, t)| t).collect();
    Ok(Counts {
        tables,
        missing_schemas,
        snapshot: Some(snapshot),
        taken_at,
        connections,
    })
}

type Queue = Mutex<VecDeque<(usize, String, String)>>;

async fn drain(client: &Client, queue: &Queue) -> Result<Vec<(usize, TableCount)>, CountError> {
    let mut counted = Vec::new();
    loop {
        let next = queue
            .lock()
            .map_err(|_| CountError::Sql("the table queue was poisoned".into()))?
            .pop_front();
        let Some((index, schema, name)) = next else {
            return Ok(counted);
        };
        let (s, n) = (ident(&schema)?, ident(&name)?);
        let row = client
            .query_one(&format!("SELECT count(*) FROM ONLY {s}.{n}"), &[])
            .await
            .map_err(sql(&format!("counting {s}.{n}")))?;
        let rows: i64 = row.get(0);
        counted.push((
            index,
            TableCount {
                schema,
                name,
                rows: u64::try_from(rows).ok(),
                estimate_source: None,
            },
        ));
    }
}

fn ident(name: &str) -> Result<Ident, CountError> {
    Ident::new(name).map_err(|e| CountError::Sql(e.to_string()))
}

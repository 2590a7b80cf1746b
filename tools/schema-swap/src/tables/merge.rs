//! `--merge-missing`: the dump's rows that are missing live go back into the live tables, by
//! key, with their original values; no live row is changed or deleted.
//!
//! The dump's tables are restored as bare copies (their CREATE TABLE and rows, nothing else)
//! into a schema of the transaction's own, then each live table gets
//! `INSERT ... SELECT ... WHERE NOT EXISTS (the same key live)`, with OVERRIDING SYSTEM VALUE
//! so identity columns keep their values. The server enforces foreign keys, checks and
//! triggers as for any insert. Sequences feeding the tables' columns are advanced past what
//! came back, so that no later insert collides. The copies go before the commit.

use crate::plan::Table;
use crate::swap::Failure;
use crate::swap::step_failure;
use pg::Ident;
use pg::tokio_postgres::{Client, Error as PgError};
use serde_json::{Value, json};

/// A live table rows go back into, and the key they are matched by.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    /// `schema.name`, quoted where needed.
    pub qualified: String,
    pub oid: u32,
    /// The key's columns, quoted where needed, and as they are named.
    pub key: Vec<String>,
    pub key_names: Vec<String>,
}

/// What came back into one table.
#[derive(Debug, Clone)]
pub struct Merged {
    pub name: String,
    pub key: Vec<String>,
    pub dump_rows: Option<u64>,
    pub came_back: u64,
    /// Sequences advanced past the rows that came back.
    pub sequences_advanced: Vec<String>,
}

impl Merged {
    pub fn to_value(list: &[Self]) -> Value {
        Value::Array(
            list.iter()
                .map(|m| {
                    json!({
                        "table": m.name,
                        "key": m.key,
                        "dump_rows": m.dump_rows,
                        "came_back": m.came_back,
                        "already_live": m.dump_rows.map(|n| n.saturating_sub(m.came_back)),
                        "sequences_advanced": m.sequences_advanced,
                    })
                })
                .collect(),
        )
    }
}

/// Finds the live table and key of each table whose rows the dump holds. `Ok(Err(why))`: a
/// table is missing live or has no key to match by (a usage error: nothing is touched).
pub async fn targets(
    client: &Client,
    schema: &Ident,
    tables: &[Table],
) -> Result<Result<Vec<Target>, String>, PgError> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    let mut keyless = Vec::new();
    for table in tables.iter().filter(|t| t.copy_sql.is_some()) {
        let row = client
            .query_opt(
                "SELECT c.oid, format('%I.%I', n.nspname, c.relname)
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'r'",
                &[&schema.as_str(), &table.name],
            )
            .await?;
        let Some(row) = row else {
            missing.push(table.name.clone());
            continue;
        };
        let oid: u32 = row.get(0);
        let key = pg::catalog::row_key(client, oid).await?;
        if key.is_empty() {
            keyless.push(table.name.clone());
            continue;
        }
        found.push(Target {
            name: table.name.clone(),
            qualified: row.get(1),
            oid,
            key: key.iter().map(|c| c.quoted.clone()).collect(),
            key_names: key.into_iter().map(|c| c.name).collect(),
        });
    }
    if !missing.is_empty() {
        return Ok(Err(format!(
            "--merge-missing: not live in {schema}: {}; restore a missing table whole with --table (without --merge-missing)",
            missing.join(", ")
        )));
    }
    if !keyless.is_empty() {
        return Ok(Err(format!(
            "--merge-missing: no primary key or unique key of NOT NULL columns to tell missing rows by: {}; restore the table whole with --table, or beside it with --into and merge by hand",
            keyless.join(", ")
        )));
    }
    Ok(Ok(found))
}

/// Puts back each table's missing rows from its copy in `copies`, advances its sequences, and
/// checks that every row of the copy is now live by key.
pub async fn merge_all(
    client: &Client,
    copies: &Ident,
    targets: &[Target],
    tables: &[Table],
) -> Result<Vec<Merged>, Failure> {
    let mut out = Vec::new();
    for target in referenced_first(client, targets).await? {
        let copy = format!("{copies}.{}", quoted(client, &target.name).await?);
        let what = |doing: &str| format!("{doing} {}", target.qualified);
        let columns: Vec<String> = client
            .query(
                "SELECT quote_ident(a.attname) FROM pg_attribute a
                 WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
                   AND a.attname IN (SELECT c.attname FROM pg_attribute c
                                     WHERE c.attrelid = to_regclass($2) AND c.attnum > 0 AND NOT c.attisdropped)
                 ORDER BY a.attnum",
                &[&target.oid, &copy],
            )
            .await
            .map_err(|e| step_failure(client, &what("reading the columns of"), &e))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let matched: Vec<String> = target
            .key
            .iter()
            .map(|k| format!("l.{k} = r.{k}"))
            .collect();
        let missing_live = format!(
            "NOT EXISTS (SELECT 1 FROM ONLY {} l WHERE {})",
            target.qualified,
            matched.join(" AND ")
        );
        let list = columns.join(", ");
        let insert = format!(
            "INSERT INTO {} ({list}) OVERRIDING SYSTEM VALUE SELECT {list} FROM ONLY {copy} r WHERE {missing_live}",
            target.qualified
        );
        let came_back = client
            .execute(insert.as_str(), &[])
            .await
            .map_err(|e| merge_failure(client, &target.qualified, &e))?;
        let left: i64 = client
            .query_one(
                format!("SELECT count(*) FROM ONLY {copy} r WHERE {missing_live}").as_str(),
                &[],
            )
            .await
            .map_err(|e| step_failure(client, &what("checking the rows put back into"), &e))?
            .get(0);
        if left > 0 {
            return Err(Failure::Failed(
                "merge",
                format!(
                    "{left} rows of the dump did not come back into {} (a rule or trigger of the table kept them out)",
                    target.qualified
                ),
            ));
        }
        let sequences_advanced = advance_sequences(client, target).await?;
        out.push(Merged {
            name: target.name.clone(),
            key: target.key_names.clone(),
            dump_rows: tables
                .iter()
                .find(|t| t.name == target.name)
                .and_then(|t| t.expected_rows),
            came_back,
            sequences_advanced,
        });
    }
    Ok(out)
}

/// The targets ordered so that a table comes after the tables its foreign keys reference:
/// a row put back must find the row it references put back first. Tables in a cycle of keys
/// keep the dump's order (the server then says which key a row fails).
async fn referenced_first<'a>(
    client: &Client,
    targets: &'a [Target],
) -> Result<Vec<&'a Target>, Failure> {
    let oids: Vec<u32> = targets.iter().map(|t| t.oid).collect();
    let edges: Vec<(u32, u32)> = client
        .query(
            "SELECT conrelid, confrelid FROM pg_constraint
             WHERE contype = 'f' AND conrelid = ANY($1) AND confrelid = ANY($1)
               AND conrelid <> confrelid",
            &[&oids],
        )
        .await
        .map_err(|e| step_failure(client, "reading the foreign keys between the tables", &e))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut ordered: Vec<&Target> = Vec::with_capacity(targets.len());
    let mut left: Vec<&Target> = targets.iter().collect();
    while !left.is_empty() {
        let ready = left.iter().position(|t| {
            edges.iter().all(|(from, to)| {
                *from != t.oid || ordered.iter().any(|o| o.oid == *to) || *to == t.oid
            })
        });
        // A cycle: take the first left, in the dump's order.
        ordered.push(left.remove(ready.unwrap_or(0)));
    }
    Ok(ordered)
}

/// The sequences that feed the table's columns (serial defaults and identity), each raised
/// to the column's largest value when it is behind it.
async fn advance_sequences(client: &Client, target: &Target) -> Result<Vec<String>, Failure> {
    let what = format!("advancing the sequences of {}", target.qualified);
    let fed = client
        .query(
            "SELECT DISTINCT format('%I.%I', sn.nspname, s.relname), quote_ident(a.attname)
             FROM pg_attribute a
             JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
             JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid
                             AND d.refclassid = 'pg_class'::regclass
             JOIN pg_class s ON s.oid = d.refobjid AND s.relkind = 'S'
             JOIN pg_namespace sn ON sn.oid = s.relnamespace
             WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
             UNION
             SELECT format('%I.%I', sn.nspname, s.relname), quote_ident(a.attname)
             FROM pg_attribute a
             JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = a.attrelid
                             AND d.refobjsubid = a.attnum AND d.classid = 'pg_class'::regclass
                             AND d.deptype = 'i'
             JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
             JOIN pg_namespace sn ON sn.oid = s.relnamespace
             WHERE a.attrelid = $1 AND a.attidentity <> ''",
            &[&target.oid],
        )
        .await
        .map_err(|e| step_failure(client, &what, &e))?;
    let mut advanced = Vec::new();
    for row in fed {
        let (sequence, column): (String, String) = (row.get(0), row.get(1));
        let sql = format!(
            "SELECT setval('{seq}', m) FROM (SELECT max({column})::int8 AS m FROM {table}) x, {sequence} s
             WHERE m IS NOT NULL AND (m > s.last_value OR (NOT s.is_called AND m >= s.last_value))",
            seq = sequence.replace('\'', "''"),
            table = target.qualified,
        );
        let raised = client
            .query(sql.as_str(), &[])
            .await
            .map_err(|e| step_failure(client, &what, &e))?;
        if !raised.is_empty() {
            advanced.push(sequence);
        }
    }
    Ok(advanced)
}

/// A name quoted by the server, as it quotes it everywhere else.
async fn quoted(client: &Client, name: &str) -> Result<String, Failure> {
    client
        .query_one("SELECT quote_ident($1::text)", &[&name])
        .await
        .map(|r| r.get(0))
        .map_err(|e| step_failure(client, "quoting a name", &e))
}

/// An insert the server refused: a foreign key, a check or a unique key of the live table.
fn merge_failure(client: &Client, table: &str, e: &PgError) -> Failure {
    if e.as_db_error().is_none() && client.is_closed() {
        Failure::Lost(format!(
            "the connection was lost while putting rows back into {table}: {e}"
        ))
    } else {
        Failure::Failed(
            "merge",
            format!(
                "putting the missing rows back into {table}: {}",
                crate::swap::db_message(e)
            ),
        )
    }
}

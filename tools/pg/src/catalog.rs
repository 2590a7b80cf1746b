//! Catalog queries the tools share: the server and the connecting role, databases, roles, a
//! schema and its owner, what outside a schema depends on it, and locks held on its tables.
//! Every name goes in as a bind parameter; the only statement that names an object in its
//! text, CREATE DATABASE, quotes it as an identifier.

use serde_json::{Value, json};
use tokio_postgres::{Client, Error};

/// The server and the connecting role.
#[derive(Debug, Clone)]
pub struct Server {
    pub version: String,
    pub version_num: i32,
    pub user: String,
    pub superuser: bool,
    pub createdb: bool,
}

impl Server {
    pub fn major(&self) -> u32 {
        u32::try_from(self.version_num / 10_000).unwrap_or(0)
    }
}

pub async fn server(client: &Client) -> Result<Server, Error> {
    let row = client
        .query_one(
            "SELECT current_setting('server_version'), current_setting('server_version_num')::int4,
                    current_user::text, r.rolsuper, r.rolcreatedb
             FROM pg_roles r WHERE r.rolname = current_user",
            &[],
        )
        .await?;
    Ok(Server {
        version: row.get(0),
        version_num: row.get(1),
        user: row.get(2),
        superuser: row.get(3),
        createdb: row.get(4),
    })
}

/// Whether the database exists and takes connections.
pub async fn database_exists(client: &Client, name: &str) -> Result<Option<bool>, Error> {
    let row = client
        .query_opt(
            "SELECT datallowconn FROM pg_database WHERE datname = $1",
            &[&name],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

pub async fn create_database(client: &Client, name: &crate::Ident) -> Result<(), Error> {
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
}

/// Of `roles`, those that do not exist, in the order given.
pub async fn missing_roles(client: &Client, roles: &[String]) -> Result<Vec<String>, Error> {
    let rows = client
        .query(
            "SELECT rolname::text FROM pg_roles WHERE rolname = ANY($1)",
            &[&roles],
        )
        .await?;
    let present: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    Ok(roles
        .iter()
        .filter(|r| !present.contains(r))
        .cloned()
        .collect())
}

/// The schema, if it exists: its owner, and whether the current role has the owner's
/// privileges (is the owner or a member of it).
#[derive(Debug, Clone)]
pub struct SchemaInfo {
    pub owner: String,
    pub owned: bool,
}

pub async fn schema(client: &Client, name: &str) -> Result<Option<SchemaInfo>, Error> {
    let row = client
        .query_opt(
            "SELECT pg_get_userbyid(nspowner)::text, pg_has_role(nspowner, 'USAGE')
             FROM pg_namespace WHERE nspname = $1",
            &[&name],
        )
        .await?;
    Ok(row.map(|r| SchemaInfo {
        owner: r.get(0),
        owned: r.get(1),
    }))
}

/// CREATE on the current database, and its size.
pub async fn database_facts(client: &Client) -> Result<(bool, i64), Error> {
    let row = client
        .query_one(
            "SELECT has_database_privilege(current_database(), 'CREATE'), pg_database_size(current_database())",
            &[],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}

/// An object outside the schema that DROP SCHEMA ... CASCADE would take with it.
#[derive(Debug, Clone)]
pub struct Dependent {
    pub kind: String,
    pub schema: Option<String>,
    pub name: String,
    /// What is dropped, as PostgreSQL describes it: `view reports.daily`,
    /// `constraint audit_order_id_fkey on table reports.audit`.
    pub object: String,
    pub depends_on: Vec<String>,
}

impl Dependent {
    pub fn to_value(&self) -> Value {
        json!({
            "kind": self.kind, "schema": self.schema, "name": self.name,
            "object": self.object, "depends_on": self.depends_on,
        })
    }
}

/// Every object outside the schema that depends on an object in it (pg_depend, normal and
/// automatic dependencies): views through their rewrite rules, foreign keys through their
/// constraints, column defaults, triggers and row-level security policies (each where its
/// table is), functions (their argument and result types, and
/// SQL-standard bodies), columns of the schema's types, extensions installed in it.
/// PL/pgSQL bodies record no dependencies and cannot be seen here.
const DEPENDENTS_SQL: &str = "
WITH target AS (SELECT oid FROM pg_namespace WHERE nspname = $1),
inside(classid, objid) AS (
    SELECT 'pg_class'::regclass::oid, c.oid FROM pg_class c JOIN target t ON c.relnamespace = t.oid
    UNION ALL SELECT 'pg_type'::regclass::oid, y.oid FROM pg_type y JOIN target t ON y.typnamespace = t.oid
    UNION ALL SELECT 'pg_proc'::regclass::oid, p.oid FROM pg_proc p JOIN target t ON p.pronamespace = t.oid
    UNION ALL SELECT 'pg_namespace'::regclass::oid, t.oid FROM target t
),
deps AS (
    SELECT DISTINCT d.classid, d.objid, d.objsubid, d.refclassid, d.refobjid, d.refobjsubid
    FROM pg_depend d JOIN inside i ON d.refclassid = i.classid AND d.refobjid = i.objid
    WHERE d.deptype IN ('n', 'a')
),
owned AS (
    SELECT d.*, con.contype,
        CASE
            WHEN d.classid = 'pg_rewrite'::regclass::oid THEN 'pg_class'::regclass::oid
            WHEN d.classid = 'pg_constraint'::regclass::oid AND con.conrelid <> 0 THEN 'pg_class'::regclass::oid
            WHEN d.classid = 'pg_constraint'::regclass::oid THEN 'pg_type'::regclass::oid
            WHEN d.classid IN ('pg_attrdef'::regclass::oid, 'pg_trigger'::regclass::oid,
                               'pg_policy'::regclass::oid) THEN 'pg_class'::regclass::oid
            ELSE d.classid
        END AS oclass,
        CASE
            WHEN d.classid = 'pg_rewrite'::regclass::oid THEN rw.ev_class
            WHEN d.classid = 'pg_constraint'::regclass::oid AND con.conrelid <> 0 THEN con.conrelid
            WHEN d.classid = 'pg_constraint'::regclass::oid THEN con.contypid
            WHEN d.classid = 'pg_attrdef'::regclass::oid THEN ad.adrelid
            WHEN d.classid = 'pg_trigger'::regclass::oid THEN tg.tgrelid
            WHEN d.classid = 'pg_policy'::regclass::oid THEN pol.polrelid
            ELSE d.objid
        END AS oobj
    FROM deps d
    LEFT JOIN pg_rewrite rw ON d.classid = 'pg_rewrite'::regclass::oid AND rw.oid = d.objid
    LEFT JOIN pg_constraint con ON d.classid = 'pg_constraint'::regclass::oid AND con.oid = d.objid
    LEFT JOIN pg_attrdef ad ON d.classid = 'pg_attrdef'::regclass::oid AND ad.oid = d.objid
    LEFT JOIN pg_trigger tg ON d.classid = 'pg_trigger'::regclass::oid AND tg.oid = d.objid
    LEFT JOIN pg_policy pol ON d.classid = 'pg_policy'::regclass::oid AND pol.oid = d.objid
),
described AS (
    SELECT
        CASE
            WHEN o.contype = 'f' THEN 'foreign key'
            WHEN o.classid = 'pg_rewrite'::regclass::oid THEN (pg_identify_object(o.oclass, o.oobj, 0)).type
            ELSE (pg_identify_object(o.classid, o.objid, o.objsubid)).type
        END AS kind,
        (pg_identify_object(o.oclass, o.oobj, 0)).schema AS schema,
        (pg_identify_object(o.oclass, o.oobj, 0)).identity AS name,
        CASE
            WHEN o.classid = 'pg_rewrite'::regclass::oid THEN pg_describe_object(o.oclass, o.oobj, 0)
            ELSE pg_describe_object(o.classid, o.objid, o.objsubid)
        END AS object,
        pg_describe_object(o.refclassid, o.refobjid, o.refobjsubid) AS referenced
    FROM owned o
)
-- pg_identify_object quotes the schema name where SQL would: compare and report it unquoted.
SELECT d.kind, sn.nspname::text, d.name, d.object, array_agg(DISTINCT d.referenced ORDER BY d.referenced)
FROM described d
LEFT JOIN pg_namespace sn ON quote_ident(sn.nspname) = d.schema
WHERE d.schema IS DISTINCT FROM quote_ident($1)
GROUP BY d.kind, sn.nspname, d.name, d.object
ORDER BY sn.nspname NULLS LAST, d.name, d.object";

pub async fn dependents(client: &Client, schema: &str) -> Result<Vec<Dependent>, Error> {
    let rows = client.query(DEPENDENTS_SQL, &[&schema]).await?;
    Ok(rows
        .iter()
        .map(|r| Dependent {
            kind: r.get(0),
            schema: r.get(1),
            name: r.get(2),
            object: r.get(3),
            depends_on: r.get(4),
        })
        .collect())
}

/// A lock another session holds (or waits for) on a relation of the schema.
#[derive(Debug, Clone)]
pub struct SchemaLock {
    /// None for a prepared transaction, which has no session.
    pub pid: Option<i32>,
    pub application_name: String,
    pub user: String,
    pub state: String,
    pub relation: String,
    pub mode: String,
    pub granted: bool,
}

impl SchemaLock {
    pub fn to_value(&self) -> Value {
        json!({
            "pid": self.pid, "application_name": self.application_name, "user": self.user,
            "state": self.state, "relation": self.relation, "mode": self.mode, "granted": self.granted,
        })
    }
}

pub async fn schema_locks(client: &Client, schema: &str) -> Result<Vec<SchemaLock>, Error> {
    let rows = client
        .query(
            "SELECT l.pid, coalesce(a.application_name, ''), coalesce(a.usename::text, ''),
                    coalesce(a.state, CASE WHEN l.pid IS NULL THEN 'prepared transaction' ELSE '' END),
                    c.relname::text, l.mode, l.granted
             FROM pg_locks l
             JOIN pg_database db ON db.oid = l.database AND db.datname = current_database()
             JOIN pg_class c ON c.oid = l.relation
             JOIN pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'relation' AND n.nspname = $1
               AND l.pid IS DISTINCT FROM pg_backend_pid()
             ORDER BY l.pid, c.relname, l.mode",
            &[&schema],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| SchemaLock {
            pid: r.get(0),
            application_name: r.get(1),
            user: r.get(2),
            state: r.get(3),
            relation: r.get(4),
            mode: r.get(5),
            granted: r.get(6),
        })
        .collect())
}

/// A column of a table's row key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyColumn {
    pub name: String,
    /// As SQL writes it (quote_ident).
    pub quoted: String,
}

/// What tells a table's rows apart: its primary key, else the unique index (valid, not
/// partial, not on expressions) whose key columns are all NOT NULL, fewest columns first.
/// Empty when the table has neither: then only whole rows tell rows apart.
const ROW_KEY_SQL: &str = "
WITH best AS (
    SELECT i.indkey::int2[] AS cols, i.indnkeyatts
    FROM pg_index i
    WHERE i.indrelid = $1 AND i.indisunique AND i.indisvalid
      AND i.indpred IS NULL AND i.indexprs IS NULL
      AND NOT EXISTS (
          SELECT 1 FROM unnest(i.indkey::int2[]) WITH ORDINALITY x(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = x.attnum
          WHERE x.ord <= i.indnkeyatts AND NOT a.attnotnull)
    ORDER BY i.indisprimary DESC, i.indnkeyatts, i.indexrelid
    LIMIT 1
)
SELECT a.attname::text, quote_ident(a.attname)
FROM best, unnest(best.cols) WITH ORDINALITY k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = $1 AND a.attnum = k.attnum
WHERE k.ord <= best.indnkeyatts
ORDER BY k.ord";

pub async fn row_key(client: &Client, table_oid: u32) -> Result<Vec<KeyColumn>, Error> {
    Ok(client
        .query(ROW_KEY_SQL, &[&table_oid])
        .await?
        .iter()
        .map(|r| KeyColumn {
            name: r.get(0),
            quoted: r.get(1),
        })
        .collect())
}

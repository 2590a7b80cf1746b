//! Ties between the schema and objects outside it that the dump does not restore: partitions
//! and inheritance children across the schema's border, and publications.
//!
//! A partition of `core.history` that lives in schema `archive` is attached by an entry of
//! schema `archive`, which a restore of `core` does not apply; a publication's membership of
//! the schema (`FOR TABLES IN SCHEMA core`) is kept by the schema's OID, so it follows the
//! schema that is set aside; a dump of the schema alone (`-n`) holds no publication entries at
//! all. Left alone, a swap would leave the restored `core.history` without its partition and
//! the restored tables unpublished: logical replication would stop for them without a word.
//! So the swap carries these ties over to the restored schema, in its transaction, as the
//! oracle (the whole dump restored) has them; a rollback carries them back.

use pg::Ident;
use pg::tokio_postgres::{Client, Error};
use serde_json::{Value, json};

/// A parent and child table where one of them is in the schema and the other is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub parent_schema: String,
    pub parent: String,
    pub child_schema: String,
    pub child: String,
    /// `FOR VALUES ...` of a partition; `None` for an inheritance child.
    pub bound: Option<String>,
}

impl Link {
    pub fn to_value(&self) -> Value {
        json!({
            "parent": format!("{}.{}", self.parent_schema, self.parent),
            "child": format!("{}.{}", self.child_schema, self.child),
            "partition_bound": self.bound,
        })
    }

    fn name(schema: &str, name: &str) -> Result<String, pg::IdentError> {
        Ok(format!("{}.{}", Ident::new(schema)?, Ident::new(name)?))
    }

    /// The statement that unties the child from the parent, with the schemas they are in now.
    pub fn untie_sql(
        &self,
        parent_schema: &str,
        child_schema: &str,
    ) -> Result<String, pg::IdentError> {
        let parent = Self::name(parent_schema, &self.parent)?;
        let child = Self::name(child_schema, &self.child)?;
        Ok(match &self.bound {
            Some(_) => format!("ALTER TABLE {parent} DETACH PARTITION {child}"),
            None => format!("ALTER TABLE {child} NO INHERIT {parent}"),
        })
    }

    /// The statement that ties the child to the parent again.
    pub fn tie_sql(
        &self,
        parent_schema: &str,
        child_schema: &str,
    ) -> Result<String, pg::IdentError> {
        let parent = Self::name(parent_schema, &self.parent)?;
        let child = Self::name(child_schema, &self.child)?;
        Ok(match &self.bound {
            Some(bound) => format!("ALTER TABLE {parent} ATTACH PARTITION {child} {bound}"),
            None => format!("ALTER TABLE {child} INHERIT {parent}"),
        })
    }
}

/// Every table tie crossing the border of `schema`.
pub async fn crossing(client: &Client, schema: &str) -> Result<Vec<Link>, Error> {
    let rows = client
        .query(
            "SELECT pn.nspname::text, p.relname::text, cn.nspname::text, c.relname::text,
                    CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END
             FROM pg_inherits i
             JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace
             JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
             WHERE c.relkind IN ('r', 'p', 'f') AND (pn.nspname = $1) <> (cn.nspname = $1)
             ORDER BY 1, 2, i.inhseqno, 3, 4",
            &[&schema],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Link {
            parent_schema: r.get(0),
            parent: r.get(1),
            child_schema: r.get(2),
            child: r.get(3),
            bound: r.get(4),
        })
        .collect())
}

/// A publication's membership: of one of the schema's tables, or of the whole schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub publication: String,
    /// `None`: the schema itself (`TABLES IN SCHEMA`).
    pub table: Option<String>,
    /// `WHERE (...)` and `(columns)` of the table's membership (PostgreSQL 15 and later).
    pub row_filter: Option<String>,
    pub columns: Option<String>,
}

impl Membership {
    pub fn to_value(&self) -> Value {
        json!({
            "publication": self.publication, "table": self.table,
            "row_filter": self.row_filter, "columns": self.columns,
        })
    }

    /// `ALTER PUBLICATION ... ADD ...` for the schema now named `schema`.
    pub fn add_sql(&self, schema: &str) -> Result<String, pg::IdentError> {
        let publication = Ident::new(self.publication.as_str())?;
        let schema = Ident::new(schema)?;
        Ok(match &self.table {
            None => format!("ALTER PUBLICATION {publication} ADD TABLES IN SCHEMA {schema}"),
            Some(table) => {
                let table = Ident::new(table.as_str())?;
                let columns = self
                    .columns
                    .as_ref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default();
                let filter = self
                    .row_filter
                    .as_ref()
                    .map(|f| format!(" WHERE ({f})"))
                    .unwrap_or_default();
                format!(
                    "ALTER PUBLICATION {publication} ADD TABLE ONLY {schema}.{table}{columns}{filter}"
                )
            }
        })
    }
}

/// The publications `schema` and its tables are members of.
pub async fn memberships(
    client: &Client,
    schema: &str,
    server_major: u32,
) -> Result<Vec<Membership>, Error> {
    // Row filters, column lists and schema memberships exist from 15 on.
    let sql = if server_major >= 15 {
        "SELECT p.pubname::text, c.relname::text, pg_get_expr(pr.prqual, pr.prrelid),
                (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a
                  WHERE a.attrelid = pr.prrelid AND a.attnum = ANY(pr.prattrs))
         FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
         JOIN pg_class c ON c.oid = pr.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1
         UNION ALL
         SELECT p.pubname::text, NULL, NULL, NULL
         FROM pg_publication_namespace pn JOIN pg_publication p ON p.oid = pn.pnpubid
         JOIN pg_namespace n ON n.oid = pn.pnnspid WHERE n.nspname = $1
         ORDER BY 1, 2"
    } else {
        "SELECT p.pubname::text, c.relname::text, NULL::text, NULL::text
         FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
         JOIN pg_class c ON c.oid = pr.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 ORDER BY 1, 2"
    };
    let rows = client.query(sql, &[&schema]).await?;
    Ok(rows
        .iter()
        .map(|r| Membership {
            publication: r.get(0),
            table: r.get(1),
            row_filter: r.get(2),
            columns: r.get(3),
        })
        .collect())
}

/// What carrying the ties over did, for people and the record.
#[derive(Debug, Default)]
pub struct Carried {
    pub statements: Vec<String>,
}

/// Before the restore: unties the set-aside schema's tables from outside parents, so that
/// the dump's own ATTACH (or INHERIT) ties the restored tables in their place.
pub async fn untie_from_outside_parents(
    client: &Client,
    links: &[Link],
    schema: &str,
    aside: &str,
) -> Result<Carried, Error> {
    let mut carried = Carried::default();
    for link in links.iter().filter(|l| l.child_schema == schema) {
        let Ok(sql) = link.untie_sql(&link.parent_schema, aside) else {
            continue;
        };
        client.batch_execute(&sql).await?;
        carried.statements.push(sql);
    }
    Ok(carried)
}

/// After the restore: moves outside children of the set-aside schema's tables to the
/// restored tables of the same names, and the publications' memberships to the restored
/// schema and tables, where the dump did not already make them.
pub async fn carry_over(
    client: &Client,
    links: &[Link],
    wanted: &[Membership],
    schema: &str,
    aside: &str,
    server_major: u32,
) -> Result<Carried, Error> {
    let mut carried = move_outside_children(client, links, schema, aside).await?;
    let now = memberships(client, schema, server_major).await?;
    for membership in wanted {
        let present = now
            .iter()
            .any(|m| m.publication == membership.publication && m.table == membership.table);
        if present {
            continue;
        }
        if let Some(table) = &membership.table {
            if !table_exists(client, schema, table).await? {
                continue;
            }
        }
        let Ok(sql) = membership.add_sql(schema) else {
            continue;
        };
        client.batch_execute(&sql).await?;
        carried.statements.push(sql);
    }
    Ok(carried)
}

/// Moves the outside children of `aside`'s tables to the tables of the same names in
/// `schema`, where there are such tables.
async fn move_outside_children(
    client: &Client,
    links: &[Link],
    schema: &str,
    aside: &str,
) -> Result<Carried, Error> {
    let mut carried = Carried::default();
    for link in links.iter().filter(|l| l.parent_schema == schema) {
        if !table_exists(client, schema, &link.parent).await? {
            continue;
        }
        let (Ok(untie), Ok(tie)) = (
            link.untie_sql(aside, &link.child_schema),
            link.tie_sql(schema, &link.child_schema),
        ) else {
            continue;
        };
        client.batch_execute(&untie).await?;
        client.batch_execute(&tie).await?;
        carried.statements.push(untie);
        carried.statements.push(tie);
    }
    Ok(carried)
}

/// For a rollback, after the schema now live (`schema`) and the one set aside (`aside`)
/// traded names: the ties `links` read of the schema before the trade move from `aside`'s
/// tables to `schema`'s: its tables go under the outside parents, and the outside children
/// under its tables. Publications need nothing: the schema brought back kept its own.
pub async fn carry_back(
    client: &Client,
    links: &[Link],
    schema: &str,
    aside: &str,
) -> Result<Carried, Error> {
    let mut carried = untie_from_outside_parents(client, links, schema, aside).await?;
    for link in links.iter().filter(|l| l.child_schema == schema) {
        if !table_exists(client, schema, &link.child).await? {
            continue;
        }
        let Ok(tie) = link.tie_sql(&link.parent_schema, schema) else {
            continue;
        };
        client.batch_execute(&tie).await?;
        carried.statements.push(tie);
    }
    let moved = move_outside_children(client, links, schema, aside).await?;
    carried.statements.extend(moved.statements);
    Ok(carried)
}

async fn table_exists(client: &Client, schema: &str, table: &str) -> Result<bool, Error> {
    Ok(client
        .query_opt(
            "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'f')",
            &[&schema, &table],
        )
        .await?
        .is_some())
}

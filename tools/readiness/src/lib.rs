//! Readiness: what replacing one schema from one pg_dump archive needs of the target
//! database, and what it does there besides applying the schema's own entries.
//!
//! pg-preflight and schema-swap both ask it, so that every refusal the swap would meet for a
//! reason known beforehand is a refusal of the preflight too:
//!
//! - [`names`]: system schemas are never acted on; a swapped schema's name must leave room
//!   for its set-aside name;
//! - [`Part`]: which entries of the archive the restore applies (the schema's, and the
//!   extensions the dump creates in it);
//! - [`extensions`]: extensions living in the schema are moved into the restored schema, or
//!   the swap is refused;
//! - [`metadata`]: where the dump does not create the schema, the restored one gets the live
//!   schema's owner, privileges and comment (initdb's, for a `public` that is not there);
//! - prerequisites: objects of other schemas, publications, and objects only an extension
//!   provides, that the dump's definitions name and the target lacks.

pub mod extensions;
pub mod links;
pub mod metadata;
pub mod names;
mod needs;
mod part;
pub mod refs;
pub mod tables;

pub use metadata::Metadata;
pub use needs::label;
pub use part::{OutsideAttach, Part, is_create_schema, outside_attach, unknown_setting};

use pg::tokio_postgres::{Client, Error};
use record::Check;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// What the target is found to need and what the swap will do, before anything changes.
#[derive(Debug)]
pub struct Assessment {
    pub schema: String,
    /// Whether the schema exists now.
    pub exists: bool,
    /// Whether the dump's own CREATE SCHEMA creates the schema.
    pub creates_schema: bool,
    pub extensions: Vec<extensions::Plan>,
    /// What the restore gives the schema it creates itself; `None` where the dump's own
    /// CREATE SCHEMA creates it, or where neither a live schema nor initdb has anything.
    pub metadata: Option<Metadata>,
    /// Ties of the live schema across its border, and its publications' memberships, that
    /// the swap carries over to the restored schema.
    pub links: Vec<links::Link>,
    pub memberships: Vec<links::Membership>,
    /// Everything the dump needs that the target lacks, for people.
    pub missing: Vec<String>,
    /// How many things the definitions name outside the schema (all found, if `missing` is
    /// empty).
    pub outside_needed: usize,
}

pub async fn assess(
    client: &Client,
    part: &Part<'_>,
    server_major: u32,
) -> Result<Assessment, Error> {
    let schema = part.schema.as_str();
    let live = metadata::live(client, schema).await?;
    let exists = live.is_some();
    let metadata = if part.creates_schema {
        None
    } else if let Some(live) = live {
        Some(live)
    } else if schema == "public" {
        Some(metadata::initdb_public(client, server_major).await?)
    } else {
        None
    };

    let (installed, links, memberships) = if exists {
        (
            extensions::in_schema(client, schema).await?,
            links::crossing(client, schema).await?,
            links::memberships(client, schema, server_major).await?,
        )
    } else {
        (Vec::new(), Vec::new(), Vec::new())
    };
    let elsewhere: Vec<(String, String)> = extensions::schemas_of(client, &part.extensions)
        .await?
        .into_iter()
        .filter(|(_, s)| s != schema)
        .collect();
    let plans = extensions::plan(
        schema,
        &installed,
        &part.extensions,
        &elsewhere,
        &part.data_without_table(),
    );

    let (missing, outside_needed) = prerequisites(client, part, &installed, &plans).await?;
    Ok(Assessment {
        schema: schema.to_owned(),
        exists,
        creates_schema: part.creates_schema,
        extensions: plans,
        metadata,
        links,
        memberships,
        missing,
        outside_needed,
    })
}

/// Everything the part's definitions need that the target lacks, and how many outside
/// objects they need in all.
async fn prerequisites(
    client: &Client,
    part: &Part<'_>,
    installed: &[extensions::Installed],
    plans: &[extensions::Plan],
) -> Result<(Vec<String>, usize), Error> {
    let schema = part.schema.as_str();
    let needs = needs::needs(part);
    let mut missing = Vec::new();
    // Objects of the schema that only an extension can provide: those moved in bring their
    // members; one the dump creates brings what it brings, which cannot be known before.
    // (Members of an extension that cannot move count too: its own check refuses the swap.)
    let provided: BTreeSet<&str> = installed
        .iter()
        .flat_map(|e| e.members.iter().map(String::as_str))
        .collect();
    let creates_extensions = plans.iter().any(|p| p.action == extensions::Action::Create);
    if !creates_extensions {
        for ((_, name, operator), by) in &needs.inside {
            if *operator || provided.contains(name.as_str()) {
                continue;
            }
            missing.push(format!(
                "{schema}.{name} (needed by {}; no entry of the dump creates it, and no extension in {schema} provides it)",
                list(by)
            ));
        }
    }

    let schemas: BTreeSet<String> = client
        .query("SELECT nspname::text FROM pg_namespace", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut wanted: Vec<(&needs::Needed, &BTreeSet<String>)> = needs.outside.iter().collect();
    wanted.extend(
        needs
            .outside_weak
            .iter()
            .filter(|((s, _, _), _)| schemas.contains(s)),
    );
    let outside_needed = wanted.len();
    let absent = absent_objects(client, &wanted).await?;
    for ((s, name, operator), by) in absent {
        let what = if !schemas.contains(s) {
            format!(
                "{s}.{name} (schema {s} does not exist; needed by {})",
                list(by)
            )
        } else if *operator {
            format!("operator {s}.{name} (needed by {})", list(by))
        } else {
            format!("{s}.{name} (needed by {})", list(by))
        };
        missing.push(what);
    }

    let names: Vec<String> = needs.publications.keys().cloned().collect();
    let present: BTreeSet<String> = client
        .query(
            "SELECT pubname::text FROM pg_publication WHERE pubname = ANY($1)",
            &[&names],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for (name, by) in &needs.publications {
        if !present.contains(name) {
            missing.push(format!("publication {name} (needed by {})", list(by)));
        }
    }
    Ok((missing, outside_needed))
}

fn list(by: &BTreeSet<String>) -> String {
    let shown: Vec<&str> = by.iter().take(3).map(String::as_str).collect();
    let more = by.len().saturating_sub(shown.len());
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// Of the needed objects, those no catalog of the target holds under that schema and name.
async fn absent_objects<'a>(
    client: &Client,
    wanted: &[(&'a needs::Needed, &'a BTreeSet<String>)],
) -> Result<Vec<(&'a needs::Needed, &'a BTreeSet<String>)>, Error> {
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let schemas: Vec<&str> = wanted.iter().map(|((s, _, _), _)| s.as_str()).collect();
    let names: Vec<&str> = wanted.iter().map(|((_, n, _), _)| n.as_str()).collect();
    let operators: Vec<bool> = wanted.iter().map(|((_, _, o), _)| *o).collect();
    let rows = client
        .query(
            "SELECT r.i::int4 FROM unnest($1::text[], $2::text[], $3::bool[]) WITH ORDINALITY AS r(s, n, op, i)
             WHERE NOT EXISTS (
               SELECT 1 FROM pg_namespace ns WHERE ns.nspname = r.s AND (
                 (r.op AND EXISTS (SELECT 1 FROM pg_operator o WHERE o.oprnamespace = ns.oid AND o.oprname = r.n))
                 OR (NOT r.op AND (
                      EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = ns.oid AND c.relname = r.n)
                   OR EXISTS (SELECT 1 FROM pg_type t WHERE t.typnamespace = ns.oid AND t.typname = r.n)
                   OR EXISTS (SELECT 1 FROM pg_proc p WHERE p.pronamespace = ns.oid AND p.proname = r.n)
                   OR EXISTS (SELECT 1 FROM pg_collation x WHERE x.collnamespace = ns.oid AND x.collname = r.n)
                   OR EXISTS (SELECT 1 FROM pg_opclass x WHERE x.opcnamespace = ns.oid AND x.opcname = r.n)
                   OR EXISTS (SELECT 1 FROM pg_opfamily x WHERE x.opfnamespace = ns.oid AND x.opfname = r.n)
                   OR EXISTS (SELECT 1 FROM pg_ts_config x WHERE x.cfgnamespace = ns.oid AND x.cfgname = r.n)
                   OR EXISTS (SELECT 1 FROM pg_ts_dict x WHERE x.dictnamespace = ns.oid AND x.dictname = r.n)
                   OR EXISTS (SELECT 1 FROM pg_ts_parser x WHERE x.prsnamespace = ns.oid AND x.prsname = r.n)
                   OR EXISTS (SELECT 1 FROM pg_ts_template x WHERE x.tmplnamespace = ns.oid AND x.tmplname = r.n)
                   OR EXISTS (SELECT 1 FROM pg_conversion x WHERE x.connamespace = ns.oid AND x.conname = r.n)
                   OR EXISTS (SELECT 1 FROM pg_statistic_ext x WHERE x.stxnamespace = ns.oid AND x.stxname = r.n)
                   OR EXISTS (SELECT 1 FROM pg_constraint x WHERE x.connamespace = ns.oid AND x.conname = r.n)
                 ))))
             ORDER BY 1",
            &[&schemas, &names, &operators],
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let i: i32 = r.get(0);
            usize::try_from(i - 1)
                .ok()
                .and_then(|i| wanted.get(i).copied())
        })
        .collect())
}

impl Assessment {
    /// The `extensions` check, when any extension lives in the schema or is created in it.
    pub fn extensions_check(&self) -> Option<Check> {
        if self.extensions.is_empty() {
            return None;
        }
        let refused: Vec<String> = self
            .extensions
            .iter()
            .filter_map(|p| match &p.action {
                extensions::Action::Refuse(why) => Some(why.clone()),
                _ => None,
            })
            .collect();
        if !refused.is_empty() {
            return Some(Check::fail("extensions", refused.join("; ")));
        }
        let said: Vec<String> = self
            .extensions
            .iter()
            .map(|p| p.describe(&self.schema))
            .collect();
        Some(Check::ok(
            "extensions",
            format!("extensions in schema {}: {}", self.schema, said.join("; ")),
        ))
    }

    /// The `prerequisites` check: what the dump needs of the target.
    pub fn prerequisites_check(&self, entries: usize) -> Check {
        if self.missing.is_empty() {
            Check::ok(
                "prerequisites",
                format!(
                    "everything the dump's {entries} entries of schema {} name outside it ({} objects) exists in the target",
                    self.schema, self.outside_needed
                ),
            )
        } else {
            Check::fail(
                "prerequisites",
                format!(
                    "the dump needs what the target lacks: {}; create it first (restore its schema, or run the migrations that make it), nothing was changed",
                    self.missing.join("; ")
                ),
            )
        }
    }

    /// The ties carried over, for the record.
    pub fn links_value(&self) -> Value {
        json!({
            "tables": self.links.iter().map(links::Link::to_value).collect::<Vec<_>>(),
            "publications": self.memberships.iter().map(links::Membership::to_value).collect::<Vec<_>>(),
        })
    }

    pub fn extensions_value(&self) -> Value {
        Value::Array(
            self.extensions
                .iter()
                .map(extensions::Plan::to_value)
                .collect(),
        )
    }

    /// What the restore gives the schema: from the dump, the live schema, or initdb.
    pub fn metadata_value(&self) -> Value {
        match &self.metadata {
            Some(meta) => meta.to_value(),
            None if self.creates_schema => json!({ "source": "dump" }),
            None => json!({ "source": "none" }),
        }
    }
}

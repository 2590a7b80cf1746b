//! Extensions whose objects live in the schema being replaced.
//!
//! Setting a schema aside by renaming it takes everything in it along, an extension's
//! functions, types and operator classes too: the restored schema's objects (an index on
//! `public.gin_trgm_ops`, a column of type `public.citext`) would find nothing under the
//! schema's name. So the swap moves each such extension into the restored schema, in the same
//! transaction (`ALTER EXTENSION ... SET SCHEMA`), before anything is restored. The objects
//! of the set-aside schema that use it keep working: they refer to it by OID.
//!
//! An extension that cannot be moved (not relocatable, like xml2), or that the swap's role
//! may not alter, makes the swap impossible: it is refused before anything changes.

use pg::tokio_postgres::{Client, Error};
use serde_json::{Value, json};

/// An extension installed in the schema.
#[derive(Debug, Clone)]
pub struct Installed {
    pub name: String,
    pub version: String,
    pub relocatable: bool,
    /// Whether the connected role may move it (owns it, or is a superuser).
    pub may_alter: bool,
    /// The names of its member objects (functions, types, relations, operator classes and
    /// families, operators...).
    pub members: Vec<String>,
}

pub async fn in_schema(client: &Client, schema: &str) -> Result<Vec<Installed>, Error> {
    let rows = client
        .query(
            "SELECT e.extname::text, e.extversion, e.extrelocatable,
                    pg_has_role(e.extowner, 'USAGE') OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
                    coalesce((SELECT array_agg(DISTINCT coalesce(
                                  (SELECT proname::text FROM pg_proc WHERE d.classid = 'pg_proc'::regclass AND oid = d.objid),
                                  (SELECT typname::text FROM pg_type WHERE d.classid = 'pg_type'::regclass AND oid = d.objid),
                                  (SELECT relname::text FROM pg_class WHERE d.classid = 'pg_class'::regclass AND oid = d.objid),
                                  (SELECT opcname::text FROM pg_opclass WHERE d.classid = 'pg_opclass'::regclass AND oid = d.objid),
                                  (SELECT opfname::text FROM pg_opfamily WHERE d.classid = 'pg_opfamily'::regclass AND oid = d.objid),
                                  (SELECT oprname::text FROM pg_operator WHERE d.classid = 'pg_operator'::regclass AND oid = d.objid),
                                  (pg_identify_object(d.classid, d.objid, 0)).name))
                               FROM pg_depend d
                               WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
                                 AND d.deptype = 'e'), '{}')
             FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
             WHERE n.nspname = $1 ORDER BY 1",
            &[&schema],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Installed {
            name: r.get(0),
            version: r.get(1),
            relocatable: r.get(2),
            may_alter: r.get(3),
            members: r
                .get::<_, Vec<Option<String>>>(4)
                .into_iter()
                .flatten()
                .collect(),
        })
        .collect())
}

/// Where extensions of these names are installed: (name, schema).
pub async fn schemas_of(client: &Client, names: &[String]) -> Result<Vec<(String, String)>, Error> {
    let rows = client
        .query(
            "SELECT e.extname::text, n.nspname::text FROM pg_extension e
             JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = ANY($1)",
            &[&names],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// What the swap does with one extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Installed in the live schema: moved into the restored one.
    Move,
    /// Not installed: the dump's `CREATE EXTENSION ... WITH SCHEMA` creates it.
    Create,
    /// The swap cannot go on; why.
    Refuse(String),
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    pub version: Option<String>,
    pub action: Action,
}

impl Plan {
    pub fn to_value(&self) -> Value {
        let (action, reason) = match &self.action {
            Action::Move => ("move", None),
            Action::Create => ("create", None),
            Action::Refuse(why) => ("refuse", Some(why.clone())),
        };
        json!({ "name": self.name, "version": self.version, "action": action, "reason": reason })
    }

    pub fn describe(&self, schema: &str) -> String {
        match &self.action {
            Action::Move => format!(
                "{} {} is moved into the restored {schema} (ALTER EXTENSION ... SET SCHEMA, in the swap's transaction)",
                self.name,
                self.version.as_deref().unwrap_or("")
            ),
            Action::Create => format!("{} is created by the dump's CREATE EXTENSION", self.name),
            Action::Refuse(why) => why.clone(),
        }
    }
}

/// The plan for every extension in the schema, live or in the dump.
pub fn plan(
    schema: &str,
    installed: &[Installed],
    in_dump: &[String],
    installed_elsewhere: &[(String, String)],
    data_without_table: &[String],
) -> Vec<Plan> {
    let mut plans = Vec::new();
    for ext in installed {
        let action = if !ext.relocatable {
            let cure = if in_dump.contains(&ext.name) {
                format!(
                    "where {schema} does not exist the dump's CREATE EXTENSION brings {} back, so drop {schema} (after taking what you need from it) and swap again, or restore with pg_restore",
                    ext.name
                )
            } else {
                "restore it with pg_restore into a database where it is absent".to_owned()
            };
            Action::Refuse(format!(
                "extension {} lives in schema {schema} and is not relocatable: setting {schema} aside would take its objects along and the restored schema would have none of them; nothing was changed; {cure}",
                ext.name
            ))
        } else if !ext.may_alter {
            Action::Refuse(format!(
                "extension {} lives in schema {schema} and must move into the restored schema, which only its owner or a superuser may do: connect as one",
                ext.name
            ))
        } else if let Some(table) = data_without_table.first() {
            Action::Refuse(format!(
                "the dump holds rows for {schema}.{table}, which no entry of the dump creates (an extension's configuration table); moving extension {} keeps the live table with its rows, which the dump's would be added to: restore with pg_restore",
                ext.name
            ))
        } else {
            Action::Move
        };
        plans.push(Plan {
            name: ext.name.clone(),
            version: Some(ext.version.clone()),
            action,
        });
    }
    for name in in_dump {
        if installed.iter().any(|e| &e.name == name) {
            continue;
        }
        let action = match installed_elsewhere.iter().find(|(n, _)| n == name) {
            Some((_, other)) => Action::Refuse(format!(
                "the dump creates extension {name} in schema {schema}, but it is installed in schema {other}: the dump's CREATE EXTENSION IF NOT EXISTS would do nothing and the restored objects would not find it; move it first (ALTER EXTENSION {name} SET SCHEMA {schema})"
            )),
            None => Action::Create,
        };
        plans.push(Plan {
            name: name.clone(),
            version: None,
            action,
        });
    }
    plans
}

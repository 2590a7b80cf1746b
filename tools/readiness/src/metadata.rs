//! The schema's own owner, privileges, comment, security labels and initial privileges.
//!
//! When the dump does not create the schema (always for `public`, whose entry pg_dump writes
//! as initdb's schema, and for dumps of single tables), the restore creates it and gives it
//! what the live schema had, or where there is none, what initdb gives that major; then the
//! dump's own entries for it (owner, comment, grants relative to initdb's) apply on top, as
//! they would on the target pg_restore expects. Initial privileges (pg_init_privs) are what
//! pg_dump compares a schema's ACL with: without them it would write `public`'s default
//! grants out in full in every later dump.

use pg::Ident;
use pg::tokio_postgres::{Client, Error};
use serde_json::{Value, json};

/// One privilege grant on the schema, as `aclexplode` reads it. `grantee` is empty for PUBLIC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub grantor: String,
    pub grantee: String,
    pub privilege: String,
    pub grantable: bool,
}

/// Where a schema's metadata comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The live schema that is set aside.
    Live,
    /// What initdb gives `public` on this major.
    Initdb,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Initdb => "initdb",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub source: Source,
    pub owner: String,
    /// `None`: the ACL is NULL (the owner's default privileges).
    pub acl: Option<String>,
    pub grants: Vec<Grant>,
    pub comment: Option<String>,
    /// (provider, label)
    pub labels: Vec<(String, String)>,
    /// pg_init_privs' `initprivs` for the schema, as text.
    pub initial_privileges: Option<String>,
}

impl Metadata {
    pub fn to_value(&self) -> Value {
        json!({
            "source": self.source.name(),
            "owner": self.owner,
            "acl": self.acl,
            "comment": self.comment,
            "security_labels": self.labels.iter().map(|(p, l)| json!({"provider": p, "label": l})).collect::<Vec<_>>(),
            "initial_privileges": self.initial_privileges,
        })
    }

    /// For people: `owner pg_database_owner, ACL {...}, comment 'standard public schema'`.
    pub fn describe(&self) -> String {
        format!(
            "owner {}, ACL {}, comment {}{}",
            self.owner,
            self.acl.as_deref().unwrap_or("default"),
            self.comment
                .as_deref()
                .map_or_else(|| "none".to_owned(), |c| format!("'{c}'")),
            if self.labels.is_empty() {
                String::new()
            } else {
                format!(", {} security labels", self.labels.len())
            }
        )
    }
}

/// The live schema's metadata, if the schema exists.
pub async fn live(client: &Client, schema: &str) -> Result<Option<Metadata>, Error> {
    let Some(row) = client
        .query_opt(
            "SELECT pg_get_userbyid(n.nspowner)::text, n.nspacl::text,
                    obj_description(n.oid, 'pg_namespace'),
                    (SELECT ip.initprivs::text FROM pg_init_privs ip
                      WHERE ip.objoid = n.oid AND ip.classoid = 'pg_namespace'::regclass AND ip.objsubid = 0)
             FROM pg_namespace n WHERE n.nspname = $1",
            &[&schema],
        )
        .await?
    else {
        return Ok(None);
    };
    let grants = client
        .query(
            "SELECT CASE WHEN a.grantor = 0 THEN '' ELSE pg_get_userbyid(a.grantor)::text END,
                    CASE WHEN a.grantee = 0 THEN '' ELSE pg_get_userbyid(a.grantee)::text END,
                    a.privilege_type, a.is_grantable
             FROM pg_namespace n, aclexplode(n.nspacl) WITH ORDINALITY AS a(grantor, grantee, privilege_type, is_grantable, ord)
             WHERE n.nspname = $1 ORDER BY a.ord",
            &[&schema],
        )
        .await?
        .iter()
        .map(|r| Grant {
            grantor: r.get(0),
            grantee: r.get(1),
            privilege: r.get(2),
            grantable: r.get(3),
        })
        .collect();
    let labels = client
        .query(
            "SELECT l.provider, l.label FROM pg_seclabel l JOIN pg_namespace n ON n.oid = l.objoid
             WHERE l.classoid = 'pg_namespace'::regclass AND n.nspname = $1 ORDER BY 1",
            &[&schema],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    Ok(Some(Metadata {
        source: Source::Live,
        owner: row.get(0),
        acl: row.get(1),
        grants,
        comment: row.get(2),
        labels,
        initial_privileges: row.get(3),
    }))
}

/// What initdb gives `public` on `major`: from 15 on owned by pg_database_owner with USAGE
/// for PUBLIC; before, owned by the bootstrap superuser with CREATE and USAGE for PUBLIC.
pub async fn initdb_public(client: &Client, major: u32) -> Result<Metadata, Error> {
    let owner = if major >= 15 {
        "pg_database_owner".to_owned()
    } else {
        // The bootstrap superuser, whatever initdb named it.
        client
            .query_one("SELECT pg_get_userbyid(10)::text", &[])
            .await?
            .get(0)
    };
    let public_privileges = if major >= 15 { "USAGE" } else { "USAGE CREATE" };
    let mut grants = vec![
        grant(&owner, &owner, "USAGE"),
        grant(&owner, &owner, "CREATE"),
    ];
    grants.extend(public_privileges.split(' ').map(|p| grant(&owner, "", p)));
    let public_letters = if major >= 15 { "U" } else { "UC" };
    let acl = format!("{{{owner}=UC/{owner},={public_letters}/{owner}}}");
    Ok(Metadata {
        source: Source::Initdb,
        owner,
        acl: Some(acl.clone()),
        grants,
        comment: Some("standard public schema".to_owned()),
        labels: Vec::new(),
        initial_privileges: Some(acl),
    })
}

fn grant(grantor: &str, grantee: &str, privilege: &str) -> Grant {
    Grant {
        grantor: grantor.to_owned(),
        grantee: grantee.to_owned(),
        privilege: privilege.to_owned(),
        grantable: false,
    }
}

/// Gives the just-created `schema` this metadata, in the current transaction. Names and
/// texts are quoted by the server (`format('%I', ...)`, `%L`). Initial privileges are written
/// only by a superuser (pg_init_privs is a catalog); returns whether they were.
pub async fn apply(
    client: &Client,
    schema: &Ident,
    meta: &Metadata,
    superuser: bool,
) -> Result<bool, Error> {
    let name = schema.as_str();
    let sql = |template: &'static str, args: Vec<String>| async move {
        let params: Vec<&(dyn pg::tokio_postgres::types::ToSql + Sync)> = args
            .iter()
            .map(|a| a as &(dyn pg::tokio_postgres::types::ToSql + Sync))
            .collect();
        let row = client.query_one(template, &params).await?;
        let statement: String = row.get(0);
        client.batch_execute(&statement).await
    };
    sql(
        "SELECT format('ALTER SCHEMA %I OWNER TO %I', $1::text, $2::text)",
        vec![name.to_owned(), meta.owner.clone()],
    )
    .await?;
    if meta.acl.is_some() {
        // From the owner's default privileges to none at all, then each grant in the live
        // ACL's order, by its grantor: the same ACL, item for item.
        sql(
            "SELECT format('REVOKE ALL ON SCHEMA %I FROM %I', $1::text, $2::text)",
            vec![name.to_owned(), meta.owner.clone()],
        )
        .await?;
        for grant in &meta.grants {
            let by_owner = grant.grantor == meta.owner;
            if !by_owner {
                sql(
                    "SELECT format('SET ROLE %I', $1::text)",
                    vec![grant.grantor.clone()],
                )
                .await?;
            }
            let template = match (grant.grantee.is_empty(), grant.grantable) {
                (true, _) => {
                    "SELECT format('GRANT %s ON SCHEMA %I TO PUBLIC', $1::text, $2::text, $3::text)"
                }
                (false, false) => {
                    "SELECT format('GRANT %s ON SCHEMA %I TO %I', $1::text, $2::text, $3::text)"
                }
                (false, true) => {
                    "SELECT format('GRANT %s ON SCHEMA %I TO %I WITH GRANT OPTION', $1::text, $2::text, $3::text)"
                }
            };
            sql(
                template,
                vec![
                    grant.privilege.clone(),
                    name.to_owned(),
                    grant.grantee.clone(),
                ],
            )
            .await?;
            if !by_owner {
                client.batch_execute("RESET ROLE").await?;
            }
        }
    }
    if let Some(comment) = &meta.comment {
        sql(
            "SELECT format('COMMENT ON SCHEMA %I IS %L', $1::text, $2::text)",
            vec![name.to_owned(), comment.clone()],
        )
        .await?;
    }
    for (provider, label) in &meta.labels {
        sql(
            "SELECT format('SECURITY LABEL FOR %I ON SCHEMA %I IS %L', $1::text, $2::text, $3::text)",
            vec![provider.clone(), name.to_owned(), label.clone()],
        )
        .await?;
    }
    let Some(initial) = &meta.initial_privileges else {
        return Ok(true);
    };
    if !superuser {
        return Ok(false);
    }
    client
        .execute(
            "INSERT INTO pg_catalog.pg_init_privs (objoid, classoid, objsubid, privtype, initprivs)
             SELECT n.oid, 'pg_namespace'::regclass, 0, 'i', $2::text::aclitem[]
             FROM pg_namespace n WHERE n.nspname = $1",
            &[&name, initial],
        )
        .await?;
    Ok(true)
}

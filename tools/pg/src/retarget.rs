//! Aiming the user's connection settings at another database.
//!
//! The shared settings name one database (`--dsn`, PGDATABASE, or the user's name); the record
//! or `--database` may name another. The dbname is set by adding `dbname=` to the `--dsn` (libpq: the last value of a key wins;
//! in a URI, a `dbname` query parameter wins over the path), so every other setting, the
//! password file lookup included, stays as the user gave it.

use crate::{ConnArgs, ConnSettings, ConnectError, Environment};

/// `dsn` with its database replaced by `dbname`.
pub fn dsn_with_dbname(dsn: Option<&str>, dbname: &str) -> String {
    match dsn {
        Some(uri) if uri.starts_with("postgresql://") || uri.starts_with("postgres://") => {
            let (base, fragment) = uri
                .split_once('#')
                .map_or((uri, None), |(b, f)| (b, Some(f)));
            let sep = if base.contains('?') { '&' } else { '?' };
            let mut out = format!("{base}{sep}dbname={}", percent_encode(dbname));
            if let Some(fragment) = fragment {
                out.push('#');
                out.push_str(fragment);
            }
            out
        }
        Some(conninfo) if !conninfo.trim().is_empty() => {
            format!("{conninfo} dbname={}", conninfo_quote(dbname))
        }
        _ => format!("dbname={}", conninfo_quote(dbname)),
    }
}

fn conninfo_quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The user's settings, aimed at `dbname`, with the tool's name as the fallback application name.
pub fn settings_for(
    args: &ConnArgs,
    dbname: Option<&str>,
    tool: &str,
) -> Result<ConnSettings, ConnectError> {
    let env = Environment::process();
    let mut settings = match dbname {
        Some(db) => ConnSettings::resolve(Some(&dsn_with_dbname(args.dsn.as_deref(), db)), &env)?,
        None => args.resolve_with(&env)?,
    };
    settings.set_fallback_application_name(tool);
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(dsn: &str) -> ConnSettings {
        ConnSettings::resolve(
            Some(dsn),
            &Environment::from_pairs([("PGDATABASE", "envdb")])
                .with_os_user(Some("u"))
                .with_home(None),
        )
        .unwrap()
    }

    #[test]
    fn the_database_is_replaced_in_every_form() {
        assert_eq!(
            resolved(&dsn_with_dbname(None, "postgres")).dbname(),
            "postgres"
        );
        assert_eq!(
            resolved(&dsn_with_dbname(Some("host=h dbname=gordon"), "postgres")).dbname(),
            "postgres"
        );
        assert_eq!(
            resolved(&dsn_with_dbname(Some("host=h password=pw"), "it's")).dbname(),
            "it's"
        );
        assert_eq!(
            resolved(&dsn_with_dbname(Some("postgresql://u@h/gordon"), "my db/é")).dbname(),
            "my db/é"
        );
        let s = resolved(&dsn_with_dbname(
            Some("postgresql://u@h:5433/gordon?sslmode=disable"),
            "postgres",
        ));
        assert_eq!(s.describe(), "u@h:5433/postgres");
    }
}

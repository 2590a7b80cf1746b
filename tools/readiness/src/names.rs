//! Which schemas a swap may act on, and the name it sets a schema aside under.

use pg::{Ident, IdentError, MAX_IDENT_BYTES};

/// `strftime` format of the time in a set-aside name, in UTC.
pub const STAMP: &str = "%Y%m%d_%H%M%S";

/// What `<schema>` gains when it is set aside: `_prev_` and the 15-byte UTC time.
pub const ASIDE_SUFFIX_BYTES: usize = "_prev_".len() + 15;

/// The longest schema name a swap or rollback can set aside: PostgreSQL keeps 63 bytes.
pub const MAX_SWAPPABLE_BYTES: usize = MAX_IDENT_BYTES - ASIDE_SUFFIX_BYTES;

/// Why a schema cannot be acted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameProblem {
    Invalid(IdentError),
    /// `pg_catalog`, `information_schema`, `pg_toast`, `pg_temp_3`...
    System(String),
    /// Too long to be set aside.
    TooLong {
        name: String,
        len: usize,
    },
}

impl std::fmt::Display for NameProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Invalid(e) => write!(f, "{e}"),
            Self::System(name) => write!(
                f,
                "schema '{name}' is a system schema: its objects belong to PostgreSQL itself, and no tool here replaces, rolls back, prunes or restores it (pg_catalog, information_schema and every pg_* schema)"
            ),
            Self::TooLong { name, len } => write!(
                f,
                "schema name '{name}' is {len} bytes: a swap sets the schema aside as '<name>_prev_<yyyymmdd_hhmmss>', {ASIDE_SUFFIX_BYTES} bytes longer, and PostgreSQL keeps at most {MAX_IDENT_BYTES}, so a schema it replaces can have at most {MAX_SWAPPABLE_BYTES}: rename the schema, or restore it with pg_restore"
            ),
        }
    }
}

impl std::error::Error for NameProblem {}

/// Whether `name` is one of PostgreSQL's own schemas. Every `pg_` name is reserved (CREATE
/// SCHEMA refuses it), which covers pg_catalog, pg_toast and the temporary schemas.
pub fn is_system_schema(name: &str) -> bool {
    name == "information_schema" || name.starts_with("pg_")
}

/// A schema that may be acted on (listed, pruned, inspected): a valid name, not a system one.
pub fn user_schema(name: &str) -> Result<Ident, NameProblem> {
    let ident = Ident::new(name).map_err(NameProblem::Invalid)?;
    if is_system_schema(name) {
        return Err(NameProblem::System(name.to_owned()));
    }
    Ok(ident)
}

/// A schema that a swap or rollback may set aside: also short enough for its set-aside name.
pub fn swappable_schema(name: &str) -> Result<Ident, NameProblem> {
    let ident = user_schema(name)?;
    if name.len() > MAX_SWAPPABLE_BYTES {
        return Err(NameProblem::TooLong {
            name: name.to_owned(),
            len: name.len(),
        });
    }
    Ok(ident)
}

/// `<schema>_prev_<UTC time>`, e.g. `trading_prev_20260505_134102`.
pub fn aside_name(schema: &Ident, at: jiff::Timestamp) -> Result<Ident, IdentError> {
    Ident::new(format!("{}_prev_{}", schema.as_str(), at.strftime(STAMP)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_schemas_are_refused_by_name() {
        for name in [
            "pg_catalog",
            "information_schema",
            "pg_toast",
            "pg_temp_3",
            "pg_toast_temp_3",
        ] {
            let problem = user_schema(name).unwrap_err();
            assert!(
                problem.to_string().contains("is a system schema"),
                "{problem}"
            );
        }
        assert!(user_schema("public").is_ok());
        assert!(user_schema("information_schema_prev_20260101_000000").is_ok());
        assert!(
            user_schema("PG_CATALOG").is_ok(),
            "a quoted upper-case name is the user's"
        );
    }

    #[test]
    fn the_longest_swappable_name_fits_its_aside_name() {
        let at = jiff::Timestamp::from_second(1_780_000_000).unwrap();
        let longest = "s".repeat(MAX_SWAPPABLE_BYTES);
        let ident = swappable_schema(&longest).unwrap();
        assert_eq!(
            aside_name(&ident, at).unwrap().as_str().len(),
            MAX_IDENT_BYTES
        );
        let problem = swappable_schema(&"s".repeat(MAX_SWAPPABLE_BYTES + 1)).unwrap_err();
        let message = problem.to_string();
        assert!(
            message.contains("is 43 bytes") && message.contains("at most 42"),
            "{message}"
        );
        assert!(
            message.contains(&"s".repeat(43)),
            "names what the user typed: {message}"
        );
    }
}

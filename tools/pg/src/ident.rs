//! A PostgreSQL identifier (schema, table, role, database name) that quotes itself.
//!
//! Names from the command line or a dump are never pasted into SQL: they become an [`Ident`],
//! which is checked once (not empty, no NUL, at most 63 bytes, the server's NAMEDATALEN - 1,
//! beyond which it would silently truncate the name and so act on a different object) and
//! always written double-quoted, with inner quotes doubled. Quoting always, even names that
//! would not need it, keeps the name's case: `Trading` stays `Trading`.

use std::fmt;
use std::str::FromStr;

/// The longest identifier PostgreSQL keeps whole, in bytes.
pub const MAX_IDENT_BYTES: usize = 63;

/// Why a name cannot be an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentError {
    #[error("an identifier cannot be empty")]
    Empty,
    #[error("identifier '{shown}' contains a NUL character")]
    Nul { shown: String },
    #[error("identifier '{shown}' is {len} bytes long; PostgreSQL keeps at most {MAX_IDENT_BYTES}")]
    TooLong { shown: String, len: usize },
}

/// A valid PostgreSQL identifier. `Display` writes it quoted, ready for SQL.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ident(String);

impl Ident {
    pub fn new(name: impl Into<String>) -> Result<Self, IdentError> {
        let name = name.into();
        if name.is_empty() {
            return Err(IdentError::Empty);
        }
        if name.contains('\0') {
            return Err(IdentError::Nul {
                shown: name.replace('\0', "\\0"),
            });
        }
        if name.len() > MAX_IDENT_BYTES {
            let len = name.len();
            return Err(IdentError::TooLong { shown: name, len });
        }
        Ok(Self(name))
    }

    /// The name itself, unquoted (for messages and for comparing with catalog values).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name quoted for SQL: `"trading"`, `"a ""b"""`.
    pub fn quoted(&self) -> String {
        format!("\"{}\"", self.0.replace('"', "\"\""))
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.quoted())
    }
}

impl FromStr for Ident {
    type Err = IdentError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for Ident {
    type Error = IdentError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl AsRef<str> for Ident {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_itself() {
        assert_eq!(Ident::new("trading").unwrap().to_string(), "\"trading\"");
        assert_eq!(
            Ident::new("a \"b\"").unwrap().to_string(),
            "\"a \"\"b\"\"\""
        );
        assert_eq!(Ident::new("Trading").unwrap().quoted(), "\"Trading\"");
        assert_eq!(
            Ident::new("x; DROP TABLE y; --").unwrap().quoted(),
            "\"x; DROP TABLE y; --\""
        );
        assert_eq!(Ident::new("\"").unwrap().quoted(), "\"\"\"\"");
        assert_eq!(Ident::new("été").unwrap().quoted(), "\"été\"");
        assert_eq!(Ident::new("a").unwrap().as_str(), "a");
    }

    #[test]
    fn rejects_empty_nul_and_too_long() {
        assert_eq!(Ident::new(""), Err(IdentError::Empty));
        assert_eq!(
            Ident::new("").unwrap_err().to_string(),
            "an identifier cannot be empty"
        );
        let e = Ident::new("a\0b").unwrap_err();
        assert_eq!(e.to_string(), "identifier 'a\\0b' contains a NUL character");
        let e = Ident::new("x".repeat(64)).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("is 64 bytes long; PostgreSQL keeps at most 63"),
            "{e}"
        );
    }

    #[test]
    fn limit_is_bytes_not_characters() {
        assert!(Ident::new("x".repeat(63)).is_ok());
        // 32 two-byte characters: 64 bytes.
        assert!(matches!(
            Ident::new("é".repeat(32)),
            Err(IdentError::TooLong { len: 64, .. })
        ));
        assert!(Ident::new("é".repeat(31)).is_ok());
    }

    #[test]
    fn parses_from_str() {
        let ident: Ident = "gordon".parse().unwrap();
        assert_eq!(ident.as_str(), "gordon");
        assert!("".parse::<Ident>().is_err());
    }
}

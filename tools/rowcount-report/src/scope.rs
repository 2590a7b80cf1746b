//! Which tables are counted: every table of the `--schema`s, or those matching `--table`
//! patterns.
//!
//! A pattern is `[SCHEMA.]NAME`, where `*` matches any run of characters and `?` any one
//! character, as in psql's `\dt`. A part in double quotes is taken literally (no wildcards),
//! with `""` for a quote: `"my ""odd"" schema".orders`, `trading."Orders*"`. A pattern without
//! a schema part matches tables of the `--schema`s (or the record's schema), or of any schema
//! when none is named.

use std::fmt;

/// One part of a pattern: characters, with wildcards where they were unquoted.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Glob(Vec<Token>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Char(char),
    Any,
    One,
}

impl Glob {
    fn matches(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        matches_from(&self.0, &chars)
    }
}

fn matches_from(pattern: &[Token], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((Token::Any, rest)) => (0..=text.len()).any(|skip| matches_from(rest, &text[skip..])),
        Some((Token::One, rest)) => !text.is_empty() && matches_from(rest, &text[1..]),
        Some((Token::Char(c), rest)) => text.first() == Some(c) && matches_from(rest, &text[1..]),
    }
}

/// A `--table` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablePattern {
    given: String,
    schema: Option<Glob>,
    name: Glob,
}

impl fmt::Display for TablePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.given)
    }
}

impl std::str::FromStr for TablePattern {
    type Err = String;

    fn from_str(given: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| {
            format!(
                "--table '{given}' {why}: write NAME or SCHEMA.NAME, with * and ? as wildcards and \"...\" around names to take literally"
            )
        };
        let mut parts: Vec<Vec<Token>> = vec![Vec::new()];
        let mut chars = given.chars().peekable();
        let mut in_quotes = false;
        while let Some(c) = chars.next() {
            let current = parts.last_mut().ok_or_else(|| bad("is empty"))?;
            match (c, in_quotes) {
                ('"', true) if chars.peek() == Some(&'"') => {
                    chars.next();
                    current.push(Token::Char('"'));
                }
                ('"', _) => in_quotes = !in_quotes,
                ('.', false) => parts.push(Vec::new()),
                ('*', false) => current.push(Token::Any),
                ('?', false) => current.push(Token::One),
                (c, _) => current.push(Token::Char(c)),
            }
        }
        if in_quotes {
            return Err(bad("has an unclosed quote"));
        }
        if parts.iter().any(Vec::is_empty) {
            return Err(bad("has an empty part"));
        }
        let mut parts = parts.into_iter().map(Glob);
        match (parts.next(), parts.next(), parts.next()) {
            (Some(name), None, None) => Ok(Self {
                given: given.to_owned(),
                schema: None,
                name,
            }),
            (Some(schema), Some(name), None) => Ok(Self {
                given: given.to_owned(),
                schema: Some(schema),
                name,
            }),
            _ => Err(bad("has more than two parts")),
        }
    }
}

/// What to count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub schemas: Vec<String>,
    pub patterns: Vec<TablePattern>,
}

impl Scope {
    /// Whether the table `schema.name` is counted.
    pub fn includes(&self, schema: &str, name: &str) -> bool {
        let in_schemas = self.schemas.iter().any(|s| s == schema);
        if self.patterns.is_empty() {
            return in_schemas;
        }
        self.patterns.iter().any(|p| match &p.schema {
            Some(glob) => glob.matches(schema) && p.name.matches(name),
            None => (self.schemas.is_empty() || in_schemas) && p.name.matches(name),
        })
    }

    /// For people: `schema trading`, `tables trading.ord*`.
    pub fn describe(&self) -> String {
        let quoted: Vec<String> = self.schemas.iter().map(|s| format!("'{s}'")).collect();
        let schemas = match quoted.len() {
            0 => String::new(),
            1 => format!("schema {}", quoted[0]),
            _ => format!("schemas {}", quoted.join(", ")),
        };
        if self.patterns.is_empty() {
            return schemas;
        }
        let patterns: Vec<String> = self.patterns.iter().map(|p| format!("'{p}'")).collect();
        if schemas.is_empty() {
            format!("tables {}", patterns.join(", "))
        } else {
            format!("tables {} in {schemas}", patterns.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(schemas: &[&str], patterns: &[&str]) -> Scope {
        Scope {
            schemas: schemas.iter().map(|s| (*s).to_owned()).collect(),
            patterns: patterns.iter().map(|p| p.parse().unwrap()).collect(),
        }
    }

    #[test]
    fn schemas_alone_take_every_table() {
        let s = scope(&["trading"], &[]);
        assert!(s.includes("trading", "orders"));
        assert!(!s.includes("public", "orders"));
    }

    #[test]
    fn patterns_with_wildcards_and_quotes() {
        let s = scope(
            &[],
            &[
                "trading.ord*",
                "\"my \"\"odd\"\" schema\".t?",
                "\"a.b\".\"x*\"",
            ],
        );
        assert!(s.includes("trading", "orders"));
        assert!(!s.includes("trading", "fills"));
        assert!(s.includes("my \"odd\" schema", "t1"));
        assert!(!s.includes("my \"odd\" schema", "t12"));
        assert!(s.includes("a.b", "x*"));
        assert!(!s.includes("a.b", "xy"));
        // A bare name: any schema, or only the named ones.
        assert!(scope(&[], &["orders"]).includes("x", "orders"));
        assert!(!scope(&["trading"], &["orders"]).includes("x", "orders"));
        assert!(scope(&["trading"], &["orders"]).includes("trading", "orders"));
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in ["", "a.b.c", "\"open", "a.", ".b"] {
            assert!(bad.parse::<TablePattern>().is_err(), "{bad}");
        }
    }
}

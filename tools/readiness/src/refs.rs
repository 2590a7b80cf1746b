//! The schema-qualified names an archive entry's SQL refers to.
//!
//! pg_dump writes every reference to another object schema-qualified (it dumps with an empty
//! search_path), so the objects a definition needs can be read off its text: `shared.code` as
//! a column type, `public.gin_trgm_ops` in an index, `OPERATOR(public.=)`, `'app.seq'::regclass`
//! in a default. What is inside string literals, dollar-quoted bodies and comments is not
//! looked at (PL/pgSQL bodies are not checked when they are created), except a literal cast
//! to one of the reg* types, which the server resolves when it runs the statement.
//!
//! `x.y` is also how a view's definition names a column through a table alias (`c.id`).
//! Such pairs are [`Strength::Weak`]: they count only where `x` is known to be a schema.

/// How sure the scanner is that a pair names an object, not an alias's column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Strength {
    /// In a position only an object can be in: a call `x.y(`, after FROM, JOIN, ON,
    /// REFERENCES, INHERITS, PARTITION OF, a cast `::x.y`, an operator, a reg* literal, or in
    /// a definition that has no aliases at all.
    Strong,
    /// Could be `alias.column`.
    Weak,
}

/// One reference: the schema and the object's name, unquoted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reference {
    pub schema: String,
    pub name: String,
    /// An operator (`OPERATOR(schema.op)`): `name` is its symbol.
    pub operator: bool,
    pub strength: Strength,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// An identifier, folded to lower case unless it was quoted.
    Ident(String),
    /// A string literal's content.
    Literal(String),
    /// Punctuation or an operator, as written.
    Symbol(String),
}

/// Splits SQL into tokens, skipping comments and dollar-quoted bodies.
pub(crate) fn tokens(sql: &str) -> Vec<Token> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && next == Some('-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == '\'' {
            let (text, end) = literal(&chars, i + 1, false);
            out.push(Token::Literal(text));
            i = end;
        } else if (c == 'E' || c == 'e') && next == Some('\'') {
            let (text, end) = literal(&chars, i + 2, true);
            out.push(Token::Literal(text));
            i = end;
        } else if c == '"' {
            let (name, end) = quoted_ident(&chars, i + 1);
            out.push(Token::Ident(name));
            i = end;
        } else if c == '$' && next.is_some_and(|n| n.is_ascii_digit()) {
            // A positional parameter.
            i += 1;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
        } else if c == '$' {
            // A dollar quote $tag$ ... $tag$, or a lone $.
            let mut j = i + 1;
            while j < chars.len() && is_ident_char(chars[j]) && chars[j] != '$' {
                j += 1;
            }
            if chars.get(j) == Some(&'$') {
                let tag: String = chars[i..=j].iter().collect();
                let tag: Vec<char> = tag.chars().collect();
                let mut k = j + 1;
                while k < chars.len() && !chars[k..].starts_with(&tag) {
                    k += 1;
                }
                i = (k + tag.len()).min(chars.len());
            } else {
                out.push(Token::Symbol("$".into()));
                i += 1;
            }
        } else if is_ident_start(c) {
            let mut name = String::new();
            while i < chars.len() && is_ident_char(chars[i]) {
                name.extend(chars[i].to_lowercase());
                i += 1;
            }
            out.push(Token::Ident(name));
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c == ':' && next == Some(':') {
            out.push(Token::Symbol("::".into()));
            i += 2;
        } else if "(),;.[]".contains(c) {
            out.push(Token::Symbol(c.to_string()));
            i += 1;
        } else {
            // An operator: a run of operator characters.
            let mut op = String::new();
            while i < chars.len() && "+-*/<>=~!@#%^&|`?".contains(chars[i]) {
                op.push(chars[i]);
                i += 1;
            }
            if op.is_empty() {
                op.push(c);
                i += 1;
            }
            out.push(Token::Symbol(op));
        }
    }
    out
}

/// A double-quoted identifier from `start` (after the quote): its name and where it ends.
fn quoted_ident(chars: &[char], start: usize) -> (String, usize) {
    let mut name = String::new();
    let mut i = start;
    while i < chars.len() {
        if chars[i] == '"' {
            if chars.get(i + 1) == Some(&'"') {
                name.push('"');
                i += 2;
                continue;
            }
            return (name, i + 1);
        }
        name.push(chars[i]);
        i += 1;
    }
    (name, i)
}

/// A single-quoted literal from `start` (after the quote): its text and where it ends.
fn literal(chars: &[char], start: usize, escapes: bool) -> (String, usize) {
    let mut text = String::new();
    let mut i = start;
    while i < chars.len() {
        let c = chars[i];
        if escapes && c == '\\' {
            if let Some(&escaped) = chars.get(i + 1) {
                text.push(escaped);
            }
            i += 2;
            continue;
        }
        if c == '\'' {
            if chars.get(i + 1) == Some(&'\'') {
                text.push('\'');
                i += 2;
                continue;
            }
            return (text, i + 1);
        }
        text.push(c);
        i += 1;
    }
    (text, i)
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || !c.is_ascii()
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$' || !c.is_ascii()
}

/// Keywords after which a name is a relation or another object, never an alias's column.
const OBJECT_CONTEXT: [&str; 24] = [
    "from",
    "join",
    "on",
    "references",
    "inherits",
    "of",
    "table",
    "into",
    "update",
    "using",
    "only",
    "exists",
    "view",
    "function",
    "procedure",
    "type",
    "domain",
    "sequence",
    "collation",
    "statistics",
    "aggregate",
    "configuration",
    "dictionary",
    "index",
];

/// Every schema-qualified reference in `sql`. With `aliases_possible` (views, rules,
/// triggers' WHEN, policies, SQL-standard function bodies), pairs that could be
/// `alias.column` are [`Strength::Weak`]; otherwise every pair is strong.
pub fn references(sql: &str, aliases_possible: bool) -> Vec<Reference> {
    let tokens = tokens(sql);
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        // OPERATOR(schema.symbol)
        if matches!(&tokens[i], Token::Ident(k) if k == "operator")
            && tokens.get(i + 1) == Some(&Token::Symbol("(".into()))
        {
            if let (Some(Token::Ident(schema)), Some(Token::Symbol(dot)), Some(Token::Symbol(op))) =
                (tokens.get(i + 2), tokens.get(i + 3), tokens.get(i + 4))
            {
                if dot == "." && op != ")" {
                    out.push(Reference {
                        schema: schema.clone(),
                        name: op.clone(),
                        operator: true,
                        strength: Strength::Strong,
                    });
                    i += 5;
                    continue;
                }
            }
        }
        // 'schema.name'::regclass and the like.
        if let Token::Literal(text) = &tokens[i] {
            if tokens.get(i + 1) == Some(&Token::Symbol("::".into())) {
                if let Some(Token::Ident(cast)) = tokens.get(i + 2) {
                    if cast.starts_with("reg") {
                        if let Some(reference) = reg_literal(text) {
                            out.push(reference);
                        }
                    }
                }
            }
        }
        if let (Some(Token::Ident(schema)), Some(Token::Symbol(dot)), Some(Token::Ident(name))) =
            (tokens.get(i), tokens.get(i + 1), tokens.get(i + 2))
        {
            // The second part of a longer name (a.b.c) was handled with the first.
            let after_dot = i > 0 && tokens[i - 1] == Token::Symbol(".".into());
            if dot == "." && !after_dot {
                let previous = i.checked_sub(1).map(|p| &tokens[p]);
                // `FROM (a.t x JOIN ...)`: the keyword before the parentheses decides.
                let before_parens = tokens[..i]
                    .iter()
                    .rev()
                    .find(|t| **t != Token::Symbol("(".into()));
                let called = tokens.get(i + 3) == Some(&Token::Symbol("(".into()));
                let cast = previous == Some(&Token::Symbol("::".into()));
                let keyword = matches!(previous, Some(Token::Ident(k)) if OBJECT_CONTEXT.contains(&k.as_str()))
                    || matches!(before_parens, Some(Token::Ident(k)) if k == "from" || k == "join");
                let strength = if !aliases_possible || called || cast || keyword {
                    Strength::Strong
                } else {
                    Strength::Weak
                };
                out.push(Reference {
                    schema: schema.clone(),
                    name: name.clone(),
                    operator: false,
                    strength,
                });
                i += 3;
                continue;
            }
        }
        i += 1;
    }
    out.sort();
    out.dedup();
    out
}

/// `app.seq` or `"My Schema"."x"(integer)` inside a reg* literal.
fn reg_literal(text: &str) -> Option<Reference> {
    let tokens = tokens(text);
    match (tokens.first(), tokens.get(1), tokens.get(2)) {
        (Some(Token::Ident(schema)), Some(Token::Symbol(dot)), Some(Token::Ident(name)))
            if dot == "." =>
        {
            Some(Reference {
                schema: schema.clone(),
                name: name.clone(),
                operator: false,
                strength: Strength::Strong,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(sql: &str, aliases: bool) -> Vec<String> {
        references(sql, aliases)
            .into_iter()
            .map(|r| {
                let kind = if r.operator { "op " } else { "" };
                let weak = if r.strength == Strength::Weak {
                    " (weak)"
                } else {
                    ""
                };
                format!("{kind}{}.{}{weak}", r.schema, r.name)
            })
            .collect()
    }

    #[test]
    fn finds_types_functions_operators_and_casts() {
        let sql = "CREATE TABLE core.items (
    id integer NOT NULL,
    currency shared.code NOT NULL,
    level shared.level DEFAULT 'low'::shared.level NOT NULL,
    t public.citext,
    n bigint DEFAULT nextval('core.items_id_seq'::regclass)
);";
        assert_eq!(
            names(sql, false),
            [
                "core.items",
                "core.items_id_seq",
                "public.citext",
                "shared.code",
                "shared.level"
            ]
        );
        let index = "CREATE INDEX i ON public.users USING gin (bio public.gin_trgm_ops);";
        assert_eq!(names(index, false), ["public.gin_trgm_ops", "public.users"]);
        let op = "SELECT 1 WHERE a OPERATOR(public.=) b AND c OPERATOR(pg_catalog.<>) d";
        assert_eq!(names(op, false), ["op pg_catalog.<>", "op public.="]);
    }

    #[test]
    fn skips_strings_comments_and_bodies() {
        let sql = "-- Name: x; Type: FUNCTION; Schema: a.b
CREATE FUNCTION app.f() RETURNS integer LANGUAGE plpgsql AS $$ BEGIN RETURN other.g(); END $$;
COMMENT ON FUNCTION app.f() IS 'calls other.g() and e.x';
/* outer /* nested.x */ still.comment */ SELECT E'it''s \\' not.this';";
        assert_eq!(names(sql, false), ["app.f"]);
        let tagged =
            "CREATE FUNCTION app.g() RETURNS int AS $body$ SELECT x.y() $body$ LANGUAGE sql;";
        assert_eq!(names(tagged, false), ["app.g"]);
    }

    #[test]
    fn quoted_names_keep_their_case_and_quotes() {
        let sql = r#"CREATE VIEW "Straße Daten"."Übersicht" AS SELECT "Größe"."Mixed Case" FROM "Straße Daten"."Größe";"#;
        assert_eq!(
            names(sql, true),
            [
                "Größe.Mixed Case (weak)",
                "Straße Daten.Größe",
                "Straße Daten.Übersicht"
            ]
        );
    }

    #[test]
    fn alias_columns_are_weak_and_objects_strong() {
        let sql = "CREATE VIEW public.totals AS
 SELECT c.id, sum(o.amount) AS total, public.order_count(c.id) AS n
   FROM (public.customers c LEFT JOIN public.orders o ON ((o.customer_id = c.id)))
  WHERE (c.id)::shared.code IS NOT NULL;";
        assert_eq!(
            names(sql, true),
            [
                "c.id (weak)",
                "o.amount (weak)",
                "o.customer_id (weak)",
                "public.customers",
                "public.order_count",
                "public.orders",
                "public.totals",
                "shared.code"
            ]
        );
    }

    #[test]
    fn three_part_names_count_once() {
        let sql = "COMMENT ON COLUMN app.orders.net IS 'x';";
        assert_eq!(names(sql, false), ["app.orders"]);
    }

    #[test]
    fn positional_parameters_and_numbers_are_not_names() {
        let sql = "SELECT $1 + 1.5e3 FROM public.t WHERE x = $2";
        assert_eq!(names(sql, false), ["public.t"]);
    }
}

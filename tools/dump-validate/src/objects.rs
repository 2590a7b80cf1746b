//! What the archive says about one schema: which entries are its objects, which roles they
//! need, and which objects outside the schema they depend on or are depended on by.

use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};

/// A TOC entry reduced to what the analysis needs (names as lossy UTF-8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Obj {
    pub id: u32,
    pub kind: String,
    pub section: String,
    pub schema: Option<String>,
    pub name: String,
    pub owner: Option<String>,
    pub defn: Option<String>,
    pub deps: Vec<u32>,
}

impl Obj {
    pub fn to_value(&self) -> Value {
        json!({ "id": self.id, "section": self.section, "kind": self.kind, "schema": self.schema, "name": self.name, "owner": self.owner })
    }

    fn label(&self) -> Value {
        json!({ "id": self.id, "kind": self.kind, "schema": self.schema, "name": self.name })
    }
}

/// Kinds that only annotate another object; they never make a dependency worth reporting.
const ANNOTATIONS: [&str; 3] = ["ACL", "COMMENT", "SECURITY LABEL"];
/// Entries that set the session up rather than create anything.
const SESSION: [&str; 4] = [
    "ENCODING",
    "STDSTRINGS",
    "SEARCHPATH",
    "DATABASE PROPERTIES",
];

/// Whether the entry is one of the schema's objects: in it, the schema itself, or the
/// comment, grants and security labels on the schema itself (the archive reader's rule).
pub fn belongs_to(obj: &Obj, schema: &str) -> bool {
    pgdump::belongs_to_schema(&obj.kind, obj.schema.as_deref(), &obj.name, schema)
}

/// The outcome of the analysis for a set of schemas.
#[derive(Debug, Default)]
pub struct Analysis {
    /// Indexes into the objects, in TOC order.
    pub members: Vec<usize>,
    pub roles: BTreeSet<String>,
    /// (member, outside object it depends on)
    pub depends_on_outside: Vec<(usize, usize)>,
    /// (outside object, member it depends on)
    pub depended_on_by_outside: Vec<(usize, usize)>,
}

pub fn analyse(objs: &[Obj], schemas: &[String]) -> Analysis {
    let in_scope = |o: &Obj| schemas.iter().any(|s| belongs_to(o, s));
    let by_id: HashMap<u32, usize> = objs.iter().enumerate().map(|(i, o)| (o.id, i)).collect();
    let mut analysis = Analysis::default();
    for (index, obj) in objs.iter().enumerate() {
        let member = in_scope(obj);
        if member {
            analysis.members.push(index);
            if let Some(owner) = &obj.owner {
                analysis.roles.insert(owner.clone());
            }
            if ANNOTATIONS.contains(&obj.kind.as_str()) || obj.kind == "DEFAULT ACL" {
                if let Some(defn) = &obj.defn {
                    analysis.roles.extend(roles_in_acl(defn));
                }
            }
        }
        if ANNOTATIONS.contains(&obj.kind.as_str()) || SESSION.contains(&obj.kind.as_str()) {
            continue;
        }
        for dep in &obj.deps {
            let Some(&target) = by_id.get(dep) else {
                continue;
            };
            let target_obj = &objs[target];
            if SESSION.contains(&target_obj.kind.as_str()) {
                continue;
            }
            match (member, in_scope(target_obj)) {
                (true, false) => analysis.depends_on_outside.push((index, target)),
                (false, true) => analysis.depended_on_by_outside.push((index, target)),
                _ => {}
            }
        }
    }
    analysis
}

/// Pairs as JSON: `{"from": {...}, "to": {...}}`.
pub fn pairs_value(objs: &[Obj], pairs: &[(usize, usize)]) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|&(a, b)| json!({ "from": objs[a].label(), "to": objs[b].label() }))
            .collect(),
    )
}

/// SQL tokens as far as role names need: identifiers (quoted ones keep their case), and the
/// punctuation that separates statements and lists.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// An unquoted word, lowercased.
    Word(String),
    /// A "quoted" identifier, exactly.
    Quoted(String),
    Punct(char),
}

fn tokenize(sql: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        if c == '"' {
            let mut name = String::new();
            while let Some(n) = chars.next() {
                if n == '"' {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        name.push('"');
                    } else {
                        break;
                    }
                } else {
                    name.push(n);
                }
            }
            tokens.push(Token::Quoted(name));
        } else if c == '\'' {
            // A string literal: skipped whole ('' is an escaped quote).
            while let Some(n) = chars.next() {
                if n == '\'' {
                    if chars.peek() == Some(&'\'') {
                        chars.next();
                    } else {
                        break;
                    }
                }
            }
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            let mut word = c.to_lowercase().to_string();
            while let Some(&n) = chars.peek() {
                if n.is_alphanumeric() || n == '_' || n == '$' {
                    word.extend(n.to_lowercase());
                    chars.next();
                } else {
                    break;
                }
            }
            tokens.push(Token::Word(word));
        } else {
            tokens.push(Token::Punct(c));
        }
    }
    tokens
}

fn role_name(token: &Token) -> Option<String> {
    match token {
        Token::Quoted(name) => Some(name.clone()),
        // PUBLIC is everyone, not a role; GROUP is the old spelling's prefix.
        Token::Word(word) if word != "public" && word != "group" => Some(word.clone()),
        _ => None,
    }
}

/// Roles named in ACL statements as pg_dump writes them: grantees of GRANT ... TO and REVOKE
/// ... FROM, `SET SESSION AUTHORIZATION r`, and `ALTER DEFAULT PRIVILEGES FOR ROLE r`.
pub fn roles_in_acl(sql: &str) -> BTreeSet<String> {
    let tokens = tokenize(sql);
    let mut roles = BTreeSet::new();
    for statement in tokens.split(|t| *t == Token::Punct(';')) {
        let word = |i: usize, w: &str| matches!(statement.get(i), Some(Token::Word(x)) if x == w);
        // Where the grantee list starts: after TO (GRANT) or FROM (REVOKE) at paren depth 0.
        let mut depth = 0i32;
        let mut grantees_from = None;
        let is_grant = statement.iter().any(|t| *t == Token::Word("grant".into()));
        let is_revoke = statement.iter().any(|t| *t == Token::Word("revoke".into()));
        for (i, token) in statement.iter().enumerate() {
            match token {
                Token::Punct('(') => depth += 1,
                Token::Punct(')') => depth -= 1,
                Token::Word(w)
                    if depth == 0
                        && ((is_grant && !is_revoke && w == "to")
                            || (is_revoke && w == "from")) =>
                {
                    grantees_from = Some(i + 1);
                }
                _ => {}
            }
            if word(i, "authorization") && i >= 2 && word(i - 1, "session") && word(i - 2, "set") {
                if let Some(role) = statement.get(i + 1).and_then(role_name) {
                    roles.insert(role);
                }
            }
            if word(i, "role") && i >= 1 && word(i - 1, "for") {
                if let Some(role) = statement.get(i + 1).and_then(role_name) {
                    roles.insert(role);
                }
            }
        }
        if let Some(start) = grantees_from {
            for token in statement[start..].iter().take_while(|t| !matches!(t, Token::Word(w) if w == "with" || w == "granted" || w == "cascade" || w == "restrict")) {
                if let Some(role) = role_name(token) {
                    roles.insert(role);
                }
            }
        }
    }
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(
        id: u32,
        kind: &str,
        schema: Option<&str>,
        name: &str,
        owner: Option<&str>,
        deps: &[u32],
    ) -> Obj {
        Obj {
            id,
            kind: kind.into(),
            section: "pre-data".into(),
            schema: schema.map(Into::into),
            name: name.into(),
            owner: owner.map(Into::into),
            defn: None,
            deps: deps.to_vec(),
        }
    }

    #[test]
    fn acl_grantees_with_quotes_options_and_functions() {
        let sql = "REVOKE ALL ON FUNCTION trading.f(x integer) FROM PUBLIC;\n\
                   GRANT SELECT,INSERT ON TABLE trading.orders TO \"Bob Smith\" WITH GRANT OPTION;\n\
                   GRANT UPDATE(name) ON TABLE trading.orders TO readers;\n\
                   SET SESSION AUTHORIZATION alice;\nGRANT SELECT ON TABLE trading.orders TO carol;\nRESET SESSION AUTHORIZATION;\n\
                   REVOKE ALL ON TABLE trading.\"to\" FROM Dave;\n";
        let roles: Vec<String> = roles_in_acl(sql).into_iter().collect();
        assert_eq!(roles, ["Bob Smith", "alice", "carol", "dave", "readers"]);
        let default_acl = "ALTER DEFAULT PRIVILEGES FOR ROLE owner_role IN SCHEMA trading GRANT SELECT ON TABLES  TO app_ro;\n";
        let roles: Vec<String> = roles_in_acl(default_acl).into_iter().collect();
        assert_eq!(roles, ["app_ro", "owner_role"]);
    }

    #[test]
    fn membership_includes_the_schema_and_its_own_annotations() {
        let objs = [
            obj(1, "SCHEMA", None, "trading", Some("gordon"), &[]),
            obj(2, "COMMENT", None, "SCHEMA trading", Some("gordon"), &[1]),
            obj(3, "ACL", None, "SCHEMA \"my schema\"", Some("gordon"), &[]),
            obj(4, "TABLE", Some("trading"), "orders", Some("trader"), &[1]),
            obj(
                5,
                "TABLE",
                Some("market_data"),
                "candles",
                Some("gordon"),
                &[],
            ),
            obj(
                6,
                "FK CONSTRAINT",
                Some("trading"),
                "orders orders_candle_fkey",
                Some("trader"),
                &[4, 5],
            ),
            obj(7, "VIEW", Some("reports"), "daily", Some("analyst"), &[4]),
            obj(8, "ENCODING", None, "ENCODING", None, &[]),
            obj(
                9,
                "ACL",
                Some("trading"),
                "TABLE orders",
                Some("trader"),
                &[4],
            ),
        ];
        let mut objs = objs.to_vec();
        objs[8].defn = Some("GRANT SELECT ON TABLE trading.orders TO readers;\n".into());
        let a = analyse(&objs, &["trading".into()]);
        let ids: Vec<u32> = a.members.iter().map(|&i| objs[i].id).collect();
        assert_eq!(ids, [1, 2, 4, 6, 9]);
        assert!(belongs_to(&objs[2], "my schema"));
        assert_eq!(
            a.roles.iter().cloned().collect::<Vec<_>>(),
            ["gordon", "readers", "trader"]
        );
        let out: Vec<(u32, u32)> = a
            .depends_on_outside
            .iter()
            .map(|&(x, y)| (objs[x].id, objs[y].id))
            .collect();
        assert_eq!(out, [(6, 5)]);
        let back: Vec<(u32, u32)> = a
            .depended_on_by_outside
            .iter()
            .map(|&(x, y)| (objs[x].id, objs[y].id))
            .collect();
        assert_eq!(back, [(7, 4)]);
    }
}

//! What a schema's entries need that they do not create: objects of other schemas, objects
//! of the schema itself that only an extension provides, publications.

use crate::part::Part;
use crate::refs::{Reference, Strength, Token, references, tokens};
use pgdump::Entry;
use std::collections::{BTreeMap, BTreeSet};

/// A needed object: its schema, its name, and whether it is an operator.
pub type Needed = (String, String, bool);

/// What the entries of a [`Part`] need, each with the entries that need it.
#[derive(Debug, Default)]
pub struct Needs {
    /// Objects in other schemas (pg_catalog left out). Weak references (perhaps an alias's
    /// column) are kept apart: they count only where their schema exists.
    pub outside: BTreeMap<Needed, BTreeSet<String>>,
    pub outside_weak: BTreeMap<Needed, BTreeSet<String>>,
    /// Objects of the schema itself that no entry of the dump creates.
    pub inside: BTreeMap<Needed, BTreeSet<String>>,
    /// Publications the entries add the schema's tables (or the schema) to.
    pub publications: BTreeMap<String, BTreeSet<String>>,
}

/// Entry kinds whose SQL may name columns through aliases (`alias.column`).
fn aliases_possible(desc: &str) -> bool {
    matches!(
        desc,
        "VIEW" | "MATERIALIZED VIEW" | "RULE" | "TRIGGER" | "POLICY" | "FUNCTION" | "PROCEDURE"
    )
}

/// How an entry is named in messages: `TABLE core.items`.
pub fn label(entry: &Entry) -> String {
    let tag = entry.tag.to_string_lossy();
    match &entry.namespace {
        Some(ns) if !ns.is_empty() => format!("{} {}.{tag}", entry.desc, ns.to_string_lossy()),
        _ => format!("{} {tag}", entry.desc),
    }
}

pub fn needs(part: &Part<'_>) -> Needs {
    let defined = defined_names(part);
    let mut needs = Needs::default();
    for entry in &part.entries {
        let Some(defn) = &entry.defn else { continue };
        let sql = defn.to_string_lossy();
        let desc = entry.desc.to_string_lossy();
        let who = label(entry);
        if desc.starts_with("PUBLICATION") {
            if let Some(name) = publication_name(&sql) {
                needs
                    .publications
                    .entry(name)
                    .or_default()
                    .insert(who.clone());
            }
        }
        for Reference {
            schema,
            name,
            operator,
            strength,
        } in references(&sql, aliases_possible(&desc))
        {
            let key = (schema.clone(), name.clone(), operator);
            if schema == "pg_catalog" {
                continue;
            }
            if schema == part.schema {
                let known = if operator {
                    defined.operators.contains(&name)
                } else {
                    defined.objects.contains(&name)
                };
                if !known && strength == Strength::Strong {
                    needs.inside.entry(key).or_default().insert(who.clone());
                }
                continue;
            }
            let into = match strength {
                Strength::Strong => &mut needs.outside,
                Strength::Weak => &mut needs.outside_weak,
            };
            into.entry(key).or_default().insert(who.clone());
        }
    }
    needs
}

/// `ALTER PUBLICATION name ADD ...`: the publication's name.
fn publication_name(sql: &str) -> Option<String> {
    match tokens(sql).as_slice() {
        [
            Token::Ident(alter),
            Token::Ident(kw),
            Token::Ident(name),
            ..,
        ] if alter == "alter" && kw == "publication" => Some(name.clone()),
        _ => None,
    }
}

/// The names the part's entries create in the schema.
#[derive(Debug, Default)]
struct Defined {
    objects: BTreeSet<String>,
    operators: BTreeSet<String>,
}

fn defined_names(part: &Part<'_>) -> Defined {
    let mut defined = Defined::default();
    for entry in &part.entries {
        let desc = entry.desc.to_string_lossy();
        let tag = entry.tag.to_string_lossy().into_owned();
        match desc.as_ref() {
            "TABLE" | "VIEW" | "MATERIALIZED VIEW" | "FOREIGN TABLE" | "SEQUENCE" | "TYPE"
            | "DOMAIN" => {
                // A relation or type has a row or base type of its name and an array type.
                defined.objects.insert(format!("_{tag}"));
                if desc == "TYPE" {
                    if let Some(multirange) = entry
                        .defn
                        .as_ref()
                        .and_then(|d| multirange_name(&d.to_string_lossy(), &tag))
                    {
                        defined.objects.insert(format!("_{multirange}"));
                        defined.objects.insert(multirange);
                    }
                }
                defined.objects.insert(tag);
            }
            "FUNCTION" | "PROCEDURE" | "AGGREGATE" => {
                defined.objects.insert(routine_name(&tag));
            }
            "OPERATOR" => {
                defined.operators.insert(routine_name(&tag));
            }
            "OPERATOR CLASS" | "OPERATOR FAMILY" => {
                let name = tag.split(" USING ").next().unwrap_or(&tag).to_owned();
                defined.objects.insert(name);
            }
            _ => {
                defined.objects.insert(tag);
            }
        }
        // Constraints (and the indexes of keys) are named in their statements.
        if let Some(defn) = &entry.defn {
            let tokens = tokens(&defn.to_string_lossy());
            for pair in tokens.windows(2) {
                if let [Token::Ident(kw), Token::Ident(name)] = pair {
                    if kw == "constraint" {
                        defined.objects.insert(name.clone());
                    }
                }
            }
        }
    }
    defined
}

/// `f(integer, text)` -> `f`. Tags of routines are their name and argument types.
fn routine_name(tag: &str) -> String {
    tag.split('(').next().unwrap_or(tag).to_owned()
}

/// The multirange type a range type's definition brings (PostgreSQL 14 and later): the one
/// it names, else the range's name with `range` turned into `multirange`, else with
/// `_multirange` added.
fn multirange_name(defn: &str, range: &str) -> Option<String> {
    let tokens = tokens(defn);
    let is_range = tokens
        .windows(2)
        .any(|w| matches!(w, [Token::Ident(a), Token::Ident(r)] if a == "as" && r == "range"));
    if !is_range {
        return None;
    }
    let named = tokens.windows(5).find_map(|w| match w {
        [
            Token::Ident(kw),
            Token::Symbol(eq),
            Token::Ident(_),
            Token::Symbol(dot),
            Token::Ident(name),
        ] if kw == "multirange_type_name" && eq == "=" && dot == "." => Some(name.clone()),
        _ => None,
    });
    Some(named.unwrap_or_else(|| match range.rfind("range") {
        Some(at) => format!("{}multirange{}", &range[..at], &range[at + 5..]),
        None => format!("{range}_multirange"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multirange_names_follow_postgresql() {
        let defn = "CREATE TYPE app.floatrange AS RANGE (\n    subtype = double precision\n);";
        assert_eq!(
            multirange_name(defn, "floatrange").as_deref(),
            Some("floatmultirange")
        );
        assert_eq!(
            multirange_name("CREATE TYPE s.span AS RANGE (subtype = int4);", "span").as_deref(),
            Some("span_multirange")
        );
        let named = "CREATE TYPE s.r AS RANGE (subtype = int4, multirange_type_name = s.many);";
        assert_eq!(multirange_name(named, "r").as_deref(), Some("many"));
        assert_eq!(multirange_name("CREATE TYPE s.e AS ENUM ('a');", "e"), None);
    }

    #[test]
    fn publications_are_named_by_their_statements() {
        assert_eq!(
            publication_name("ALTER PUBLICATION corpus_items ADD TABLE ONLY core.items;")
                .as_deref(),
            Some("corpus_items")
        );
        assert_eq!(
            publication_name("ALTER PUBLICATION \"Pub\" ADD TABLES IN SCHEMA core;").as_deref(),
            Some("Pub")
        );
    }
}

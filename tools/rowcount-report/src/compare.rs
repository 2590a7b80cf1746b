//! `--compare`: what the counts are compared with, and the per-table difference.
//!
//! - `dump`: the record's dump section (exact counts from the archive's COPY data);
//! - a label (`pre`): `.rowcounts.<label>` of the record on stdin;
//! - a file: an earlier report, either a record (its `.rowcounts.<label>`, the label chosen by
//!   --compare-label, else the --label being written, else its only label; or its dump
//!   section when it has no row counts) or this tool's CSV (columns schema, table, rows).
//!
//! A value is a file when it names an existing file, contains a '/', or ends in .json or .csv.

use crate::count::TableCount;
use crate::scope::Scope;
use record::Record;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

/// What is compared against, as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Against {
    Dump,
    Label(String),
    File(String),
}

impl Against {
    pub fn parse(text: &str) -> Self {
        let path = Path::new(text);
        if text == "dump" {
            Self::Dump
        } else if path.is_file()
            || text.contains('/')
            || path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json") || e.eq_ignore_ascii_case("csv"))
        {
            Self::File(text.to_owned())
        } else {
            Self::Label(text.to_owned())
        }
    }
}

/// The other side's counts.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// For people and the record: `dump`, `label 'pre'`, `'run.json' (label pre)`.
    pub source: String,
    /// A short column name: `dump`, `pre`, a file name.
    pub column: String,
    pub tables: Vec<(String, String, Option<u64>)>,
}

fn tables_of(value: &Value) -> Option<Vec<(String, String, Option<u64>)>> {
    value["tables"].as_array().map(|tables| {
        tables
            .iter()
            .filter_map(|t| {
                Some((
                    t["schema"].as_str()?.to_owned(),
                    t["name"].as_str()?.to_owned(),
                    t["rows"].as_u64(),
                ))
            })
            .collect()
    })
}

/// The labels in a record's rowcounts section.
pub fn labels(record: &Record) -> Vec<String> {
    record
        .section(crate::SECTION)
        .and_then(Value::as_object)
        .map(|s| {
            s.iter()
                .filter(|(k, v)| !crate::RESERVED.contains(&k.as_str()) && v.is_object())
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default()
}

fn from_label(record: &Record, label: &str, whose: &str) -> Result<Baseline, String> {
    let section = record
        .section(crate::SECTION)
        .and_then(|s| s.get(label))
        .filter(|v| v.is_object());
    let Some(tables) = section.and_then(tables_of) else {
        let known = labels(record);
        return Err(format!(
            "{whose} has no row counts labelled '{label}' (labels there: {})",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        ));
    };
    Ok(Baseline {
        source: format!("label '{label}'"),
        column: label.to_owned(),
        tables,
    })
}

fn from_dump(record: &Record, whose: &str) -> Result<Baseline, String> {
    let tables = record.section("dump").and_then(tables_of).ok_or_else(|| {
        format!("{whose} has no dump section with tables (run dump-validate first)")
    })?;
    Ok(Baseline {
        source: "dump".to_owned(),
        column: "dump".to_owned(),
        tables,
    })
}

/// Loads the other side. Errors are input errors, for people.
pub fn load(
    against: &Against,
    record: &Record,
    own_label: &str,
    file_label: Option<&str>,
) -> Result<Baseline, String> {
    match against {
        Against::Dump => from_dump(record, "the record"),
        Against::Label(label) => from_label(record, label, "the record"),
        Against::File(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("reading --compare '{path}': {e}"))?;
            let shown = format!("'{path}'");
            let name = Path::new(path)
                .file_name()
                .map_or_else(|| path.clone(), |n| n.to_string_lossy().into_owned());
            let mut baseline = if text.trim_start().starts_with('{') {
                let file_record = Record::parse(&text, &shown)
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("{shown} is empty"))?;
                let known = labels(&file_record);
                let label = match file_label {
                    Some(l) => Some(l.to_owned()),
                    None if known.iter().any(|l| l == own_label) => Some(own_label.to_owned()),
                    None if known.len() == 1 => known.first().cloned(),
                    None if known.is_empty() => None,
                    None => {
                        return Err(format!(
                            "{shown} holds row counts labelled {}: choose one with --compare-label",
                            known.join(", ")
                        ));
                    }
                };
                if let Some(label) = label {
                    let mut b = from_label(&file_record, &label, &shown)?;
                    b.source = format!("{shown} (label {label})");
                    b
                } else {
                    let mut b = from_dump(&file_record, &shown)?;
                    b.source = format!("{shown} (dump)");
                    b
                }
            } else {
                Baseline {
                    source: shown.clone(),
                    column: String::new(),
                    tables: read_csv(&text, &shown)?,
                }
            };
            baseline.column = name;
            Ok(baseline)
        }
    }
}

/// Reads this tool's CSV: a header with at least `schema`, `table` and `rows`.
fn read_csv(text: &str, shown: &str) -> Result<Vec<(String, String, Option<u64>)>, String> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| format!("reading {shown} as CSV: {e}"))?
        .clone();
    let column = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            format!("{shown} is neither a record nor a rowcount-report CSV: no '{name}' column")
        })
    };
    let (schema, table, rows) = (column("schema")?, column("table")?, column("rows")?);
    let mut out = Vec::new();
    for (line, result) in reader.records().enumerate() {
        let row = result.map_err(|e| format!("reading {shown} as CSV: {e}"))?;
        let get = |i: usize| row.get(i).unwrap_or("").to_owned();
        let count = get(rows);
        let count =
            if count.is_empty() {
                None
            } else {
                Some(count.parse::<u64>().map_err(|_| {
                    format!("{shown} line {}: rows '{count}' is not a count", line + 2)
                })?)
            };
        out.push((get(schema), get(table), count));
    }
    Ok(out)
}

/// How one table compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Equal,
    Changed,
    Added,
    Removed,
    /// One side has no number (a --quick dump, an estimate without statistics).
    Unknown,
}

impl Status {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Equal => "equal",
            Self::Changed => "changed",
            Self::Added => "added",
            Self::Removed => "removed",
            Self::Unknown => "unknown",
        }
    }
}

/// One table's row of the comparison.
#[derive(Debug, Clone)]
pub struct Diff {
    pub schema: String,
    pub name: String,
    pub rows: Option<u64>,
    pub other_rows: Option<u64>,
    pub difference: Option<i64>,
    pub status: Status,
}

/// The comparison of `counted` with `baseline`, limited to tables in `scope`; sorted by schema
/// and name.
pub fn diff(counted: &[TableCount], baseline: &Baseline, scope: &Scope) -> Vec<Diff> {
    // (schema, name) -> (this side, the other side); the outer None is "not there".
    type Sides = (Option<Option<u64>>, Option<Option<u64>>);
    let mut rows: BTreeMap<(String, String), Sides> = BTreeMap::new();
    for t in counted {
        rows.entry((t.schema.clone(), t.name.clone()))
            .or_default()
            .0 = Some(t.rows);
    }
    for (schema, name, count) in &baseline.tables {
        if scope.includes(schema, name) {
            rows.entry((schema.clone(), name.clone())).or_default().1 = Some(*count);
        }
    }
    rows.into_iter()
        .map(|((schema, name), (here, there))| {
            let (status, difference) = match (here, there) {
                (Some(Some(a)), Some(Some(b))) => {
                    let d =
                        i64::try_from(a).unwrap_or(i64::MAX) - i64::try_from(b).unwrap_or(i64::MAX);
                    (
                        if d == 0 {
                            Status::Equal
                        } else {
                            Status::Changed
                        },
                        Some(d),
                    )
                }
                (Some(_), None) => (Status::Added, None),
                (None, Some(_)) => (Status::Removed, None),
                _ => (Status::Unknown, None),
            };
            Diff {
                schema,
                name,
                rows: here.flatten(),
                other_rows: there.flatten(),
                difference,
                status,
            }
        })
        .collect()
}

/// Counts of each status, as the record stores them.
pub fn summary(diffs: &[Diff]) -> Value {
    let n = |s: Status| diffs.iter().filter(|d| d.status == s).count();
    json!({
        "equal": n(Status::Equal), "changed": n(Status::Changed), "added": n(Status::Added),
        "removed": n(Status::Removed), "unknown": n(Status::Unknown),
    })
}

impl Diff {
    pub fn to_value(&self) -> Value {
        json!({
            "schema": self.schema, "name": self.name, "rows": self.rows, "other_rows": self.other_rows,
            "difference": self.difference, "status": self.status.as_str(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(name: &str, rows: u64) -> TableCount {
        TableCount {
            schema: "s".into(),
            name: name.into(),
            rows: Some(rows),
            estimate_source: None,
        }
    }

    #[test]
    fn every_status() {
        let scope = Scope {
            schemas: vec!["s".into()],
            patterns: vec![],
        };
        let baseline = Baseline {
            source: "x".into(),
            column: "x".into(),
            tables: vec![
                ("s".into(), "same".into(), Some(3)),
                ("s".into(), "grew".into(), Some(1)),
                ("s".into(), "gone".into(), Some(1)),
                ("s".into(), "quick".into(), None),
                ("other".into(), "ignored".into(), Some(1)),
            ],
        };
        let counted = [
            count("same", 3),
            count("grew", 5),
            count("new", 2),
            count("quick", 7),
        ];
        let diffs = diff(&counted, &baseline, &scope);
        let got: Vec<(&str, &str, Option<i64>)> = diffs
            .iter()
            .map(|d| (d.name.as_str(), d.status.as_str(), d.difference))
            .collect();
        assert_eq!(
            got,
            [
                ("gone", "removed", None),
                ("grew", "changed", Some(4)),
                ("new", "added", None),
                ("quick", "unknown", None),
                ("same", "equal", Some(0))
            ]
        );
        assert_eq!(summary(&diffs)["changed"], 1);
    }

    #[test]
    fn csv_is_read_by_header() {
        let rows = read_csv(
            "table,schema,rows,exact\nt,s,5,true\nu,s,,false\n",
            "'x.csv'",
        )
        .unwrap();
        assert_eq!(
            rows,
            [
                ("s".into(), "t".into(), Some(5)),
                ("s".into(), "u".into(), None)
            ]
        );
        assert!(
            read_csv("a,b\n1,2\n", "'x.csv'")
                .unwrap_err()
                .contains("no 'schema' column")
        );
    }

    #[test]
    fn what_is_a_file() {
        assert_eq!(Against::parse("dump"), Against::Dump);
        assert_eq!(Against::parse("pre"), Against::Label("pre".into()));
        assert_eq!(Against::parse("./pre"), Against::File("./pre".into()));
        assert_eq!(Against::parse("run.csv"), Against::File("run.csv".into()));
    }
}

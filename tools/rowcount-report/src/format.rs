//! The non-JSON outputs: CSV for spreadsheets and for `--compare FILE`, Markdown for the
//! postmortem, an aligned table for people.
//!
//! CSV columns: `schema,table,rows,exact`, and with --compare also
//! `compare_rows,difference,status`. Empty cells are unknown numbers.

use crate::compare::Diff;
use crate::count::TableCount;
use crate::diff::{SchemaDiff, TableDiff};
use std::fmt::Write as _;
use std::io::Write;

/// What a report shows: the counts, and the comparison when there is one.
pub struct Report<'a> {
    pub label: &'a str,
    pub exact: bool,
    pub tables: &'a [TableCount],
    /// The other side's column name and the per-table comparison.
    pub compare: Option<(&'a str, &'a [Diff])>,
}

fn cell(n: Option<u64>) -> String {
    n.map_or_else(String::new, |n| n.to_string())
}

fn signed(n: Option<i64>) -> String {
    match n {
        Some(n) if n > 0 => format!("+{n}"),
        Some(n) => n.to_string(),
        None => String::new(),
    }
}

/// `1234567` -> `1,234,567`, for people.
fn grouped(n: Option<u64>) -> String {
    let Some(n) = n else {
        return "?".to_owned();
    };
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A count for people, `-` where the table is absent on that side.
fn shown(n: Option<u64>, absent: bool) -> String {
    if absent { "-".to_owned() } else { grouped(n) }
}

/// Rows of the report, whichever side they come from: (schema, table, rows, other, difference, status).
type Line = (
    String,
    String,
    Option<u64>,
    Option<u64>,
    Option<i64>,
    &'static str,
);

fn lines(report: &Report<'_>) -> Vec<Line> {
    match report.compare {
        Some((_, diffs)) => diffs
            .iter()
            .map(|d| {
                (
                    d.schema.clone(),
                    d.name.clone(),
                    d.rows,
                    d.other_rows,
                    d.difference,
                    d.status.as_str(),
                )
            })
            .collect(),
        None => report
            .tables
            .iter()
            .map(|t| (t.schema.clone(), t.name.clone(), t.rows, None, None, ""))
            .collect(),
    }
}

pub fn csv(report: &Report<'_>, out: impl Write) -> Result<(), String> {
    let mut writer = csv::Writer::from_writer(out);
    let err = |e: csv::Error| format!("writing CSV: {e}");
    let mut header = vec!["schema", "table", "rows", "exact"];
    if report.compare.is_some() {
        header.extend(["compare_rows", "difference", "status"]);
    }
    writer.write_record(&header).map_err(err)?;
    let exact = if report.exact { "true" } else { "false" };
    for (schema, table, rows, other, difference, status) in lines(report) {
        let mut record = vec![schema, table, cell(rows), exact.to_owned()];
        if report.compare.is_some() {
            record.extend([cell(other), signed(difference), status.to_owned()]);
        }
        writer.write_record(&record).map_err(err)?;
    }
    writer.flush().map_err(|e| format!("writing CSV: {e}"))
}

fn md_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('|', "\\|")
}

/// The postmortem's table: `| Table | Rows (pre) |`, or with a comparison
/// `| Table | Rows (dump) | Rows (post) | Difference | Status |`, and a total line.
pub fn markdown(report: &Report<'_>) -> String {
    let kind = if report.exact { "" } else { ", estimated" };
    let lines = lines(report);
    let total = |f: fn(&Line) -> Option<u64>| grouped(Some(lines.iter().filter_map(f).sum()));
    let label = md_escape(report.label);
    let mut out = String::new();
    // Writing to a String cannot fail.
    if let Some((other, _)) = report.compare {
        let _ = writeln!(
            out,
            "| Table | Rows ({}) | Rows ({label}{kind}) | Difference | Status |",
            md_escape(other)
        );
        out.push_str("|---|---:|---:|---:|---|\n");
        for (schema, table, rows, other_rows, difference, status) in &lines {
            let _ = writeln!(
                out,
                "| {}.{} | {} | {} | {} | {status} |",
                md_escape(schema),
                md_escape(table),
                shown(*other_rows, *status == "added"),
                shown(*rows, *status == "removed"),
                signed(*difference)
            );
        }
        let _ = writeln!(
            out,
            "| **Total** | {} | {} | | |",
            total(|l| l.3),
            total(|l| l.2)
        );
    } else {
        let _ = writeln!(out, "| Table | Rows ({label}{kind}) |");
        out.push_str("|---|---:|\n");
        for (schema, table, rows, ..) in &lines {
            let _ = writeln!(
                out,
                "| {}.{} | {} |",
                md_escape(schema),
                md_escape(table),
                grouped(*rows)
            );
        }
        let _ = writeln!(out, "| **Total** | {} |", total(|l| l.2));
    }
    out
}

/// An aligned table for people.
pub fn table(report: &Report<'_>) -> String {
    let lines = lines(report);
    let label = if report.exact {
        report.label.to_owned()
    } else {
        format!("{} (estimated)", report.label)
    };
    let mut rows: Vec<Vec<String>> = Vec::new();
    if let Some((other, _)) = report.compare {
        rows.push(vec![
            "SCHEMA".into(),
            "TABLE".into(),
            other.to_uppercase(),
            label.to_uppercase(),
            "DIFF".into(),
            "STATUS".into(),
        ]);
        for (schema, table, r, o, d, s) in &lines {
            rows.push(vec![
                schema.clone(),
                table.clone(),
                shown(*o, *s == "added"),
                shown(*r, *s == "removed"),
                signed(*d),
                (*s).to_owned(),
            ]);
        }
    } else {
        rows.push(vec!["SCHEMA".into(), "TABLE".into(), label.to_uppercase()]);
        for (schema, table, r, ..) in &lines {
            rows.push(vec![schema.clone(), table.clone(), grouped(*r)]);
        }
    }
    let compare = report.compare.is_some();
    aligned(rows, |i| i < 2 || (compare && i == 5))
}

/// Rows as aligned columns: `text(i)` columns to the left, the others (numbers) right.
fn aligned(rows: Vec<Vec<String>>, text: impl Fn(usize) -> bool) -> String {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, value) in row.iter().enumerate() {
            let pad = " ".repeat(widths[i] - value.chars().count());
            if text(i) {
                line.push_str(value);
                line.push_str(&pad);
            } else {
                line.push_str(&pad);
                line.push_str(value);
            }
            line.push_str("  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The key a diff matched rows by, for people.
fn key_text(t: &TableDiff) -> String {
    t.key
        .as_ref()
        .map_or_else(|| "(whole rows)".to_owned(), |k| k.join(", "))
}

/// `--diff-schema` as the postmortem's table: what each side holds that the other lacks.
pub fn diff_markdown(d: &SchemaDiff) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| Table | Key | Only in {} | Only in {} | Changed |",
        md_escape(&d.schema),
        md_escape(&d.other)
    );
    out.push_str("|---|---|---:|---:|---:|\n");
    for t in &d.tables {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            md_escape(&t.name),
            md_escape(&key_text(t)),
            grouped(Some(t.only_in_schema)),
            grouped(Some(t.only_in_other)),
            t.changed
                .map_or_else(|| "-".to_owned(), |n| grouped(Some(n)))
        );
    }
    for (side, names) in [
        (&d.schema, &d.tables_only_in_schema),
        (&d.other, &d.tables_only_in_other),
    ] {
        if !names.is_empty() {
            let _ = writeln!(
                out,
                "\nTables only in {}: {}.",
                md_escape(side),
                md_escape(&names.join(", "))
            );
        }
    }
    out
}

/// `--diff-schema` as CSV: `schema,other_schema,table,key,rows_only_in_schema,
/// rows_only_in_other,rows_changed` (key columns joined by spaces; empty: whole rows).
pub fn diff_csv(d: &SchemaDiff, out: impl Write) -> Result<(), String> {
    let mut writer = csv::Writer::from_writer(out);
    let err = |e: csv::Error| format!("writing CSV: {e}");
    writer
        .write_record([
            "schema",
            "other_schema",
            "table",
            "key",
            "rows_only_in_schema",
            "rows_only_in_other",
            "rows_changed",
        ])
        .map_err(err)?;
    for t in &d.tables {
        writer
            .write_record([
                d.schema.clone(),
                d.other.clone(),
                t.name.clone(),
                t.key.as_ref().map(|k| k.join(" ")).unwrap_or_default(),
                t.only_in_schema.to_string(),
                t.only_in_other.to_string(),
                cell(t.changed),
            ])
            .map_err(err)?;
    }
    writer.flush().map_err(|e| format!("writing CSV: {e}"))
}

/// `--diff-schema` as an aligned table for people.
pub fn diff_table(d: &SchemaDiff) -> String {
    let mut rows = vec![vec![
        "TABLE".to_owned(),
        "KEY".to_owned(),
        format!("ONLY IN {}", d.schema.to_uppercase()),
        format!("ONLY IN {}", d.other.to_uppercase()),
        "CHANGED".to_owned(),
    ]];
    for t in &d.tables {
        rows.push(vec![
            t.name.clone(),
            key_text(t),
            grouped(Some(t.only_in_schema)),
            grouped(Some(t.only_in_other)),
            t.changed
                .map_or_else(|| "-".to_owned(), |n| grouped(Some(n))),
        ]);
    }
    aligned(rows, |i| i < 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(grouped(Some(1_234_567)), "1,234,567");
        assert_eq!(grouped(Some(12)), "12");
        assert_eq!(grouped(Some(123_456)), "123,456");
        assert_eq!(grouped(None), "?");
        assert_eq!(signed(Some(3)), "+3");
    }

    #[test]
    fn markdown_escapes_pipes() {
        let tables = [TableCount {
            schema: "a|b".into(),
            name: "t".into(),
            rows: Some(1000),
            estimate_source: None,
        }];
        let md = markdown(&Report {
            label: "pre",
            exact: true,
            tables: &tables,
            compare: None,
        });
        assert!(md.contains("| a\\|b.t | 1,000 |"), "{md}");
        assert!(md.contains("| **Total** | 1,000 |"), "{md}");
    }
}

//! `--format table`: the dump section as people read it, on stdout.

use cli::ToolError;
use serde_json::Value;
use std::io::Write as _;

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("-")
}

fn number(value: &Value) -> String {
    value
        .as_u64()
        .map_or_else(|| "-".to_owned(), |n| n.to_string())
}

/// The lines of the table, without writing them anywhere (so they can be tested).
pub fn render(section: &Value) -> Vec<String> {
    let mut lines = vec![
        format!("Dump:       {}", text(section, "path")),
        format!(
            "Archive:    {} {} (pg_dump {}, server {}, database {})",
            text(section, "format"),
            text(section, "archive_version"),
            text(section, "pg_dump_version"),
            text(section, "server_version"),
            text(section, "source_database")
        ),
    ];
    if let Some(created) = section.get("created") {
        lines.push(format!(
            "Written:    {} ({}) = {}",
            text(created, "local"),
            text(created, "zone"),
            text(created, "utc")
        ));
    }
    let tables = section
        .get("tables")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let names: Vec<String> = tables
        .iter()
        .map(|t| format!("{}.{}", text(t, "schema"), text(t, "name")))
        .collect();
    let width = names.iter().map(String::len).max().unwrap_or(5).max(5);
    lines.push(String::new());
    lines.push(format!(
        "{:<width$}  {:>12}  {:>14}",
        "table", "rows", "bytes"
    ));
    for (name, table) in names.iter().zip(&tables) {
        lines.push(format!(
            "{name:<width$}  {:>12}  {:>14}",
            number(&table["rows"]),
            number(&table["bytes"])
        ));
    }
    lines.push(String::new());
    for check in section
        .get("checks")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        lines.push(format!(
            "{:<5} {:<22} {}",
            text(&check, "status"),
            text(&check, "name"),
            text(&check, "detail")
        ));
    }
    lines
}

pub fn print(section: &Value) -> Result<(), ToolError> {
    let mut out = render(section).join("\n");
    out.push('\n');
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(ToolError::could_not_run(format!("writing to stdout: {e}")))
        }
        _ => Ok(()),
    }
}

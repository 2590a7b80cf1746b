//! The record: the one JSON document that flows between the schema-restore tools.
//!
//! # Wire format
//!
//! A tool writes exactly one JSON object to stdout. Example, after `snapshot-pick`:
//!
//! ```json
//! {
//!   "record_version": 1,
//!   "schema": null,
//!   "database": null,
//!   "snapshot": {
//!     "tool": "snapshot-pick",
//!     "version": "0.1.0",
//!     "ok": true,
//!     "started_at": "2026-05-05T13:41:02.120Z",
//!     "elapsed_ms": 3,
//!     "checks": [
//!       {"name": "snapshot_before_time", "status": "ok", "detail": "picked abc12345 of 2026-05-05T13:05:00+02:00"}
//!     ],
//!     "id": "abc12345...", "short_id": "abc12345", "...": "the tool's own data"
//!   }
//! }
//! ```
//!
//! Rules, which `record.schema.json` beside this file states for machines:
//! - Top level: `record_version` (this crate's [`RECORD_VERSION`]), `schema` and `database`
//!   (strings, or null while no tool has named them), then one object per section.
//! - Every section carries `tool`, `version`, `ok`, `started_at` (RFC 3339, UTC), `elapsed_ms`
//!   and `checks`, then the tool's own keys.
//! - A tool that reads a record adds or replaces its own section and keeps every other key as
//!   it found it, including keys it does not know.
//! - Evolution is by adding keys. Removing or renaming a key, or changing its meaning, is a
//!   breaking change and bumps [`RECORD_VERSION`]; readers refuse versions they do not know.

mod exit;
mod section;

pub use exit::ExitCode;
pub use section::{Check, Section, SectionBuilder, Status};

use serde_json::{Map, Value};
use std::io::{Read, Write};

/// The version of the record's layout that this crate reads and writes.
pub const RECORD_VERSION: u64 = 1;

/// The JSON Schema of the record, for tests and for anyone who reads records.
pub const JSON_SCHEMA: &str = include_str!("../record.schema.json");

/// Keys at the top level that are not sections.
const TOP_LEVEL_FIELDS: [&str; 3] = ["record_version", "schema", "database"];

/// How a record is laid out when written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One line: what tools pass to each other. Indenting a large record makes it several
    /// times larger at every step of a pipeline.
    Compact,
    /// Indented, one key per line: for people.
    Pretty,
}

/// Why a record could not be read. Every variant is a usage/input error (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("reading the record from {source_name}: {error}")]
    Io {
        source_name: String,
        error: std::io::Error,
    },
    #[error("the record on {source_name} is not valid JSON: {error}")]
    Json {
        source_name: String,
        error: serde_json::Error,
    },
    #[error("the record on {source_name} is not a JSON object")]
    NotAnObject { source_name: String },
    #[error(
        "the record on {source_name} has no record_version: is it the output of a schema-restore tool?"
    )]
    MissingVersion { source_name: String },
    #[error(
        "the record on {source_name} has record_version {found}, this tool reads version {RECORD_VERSION}: use tools of the same release"
    )]
    UnknownVersion { source_name: String, found: String },
}

/// A section that failed before this tool ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedSection {
    pub name: String,
    pub tool: String,
}

/// The whole document. Keys keep their order; unknown keys are kept untouched.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    doc: Map<String, Value>,
}

impl Default for Record {
    fn default() -> Self {
        Self::new()
    }
}

impl Record {
    /// A new, empty record: the first tool of a pipeline starts here.
    pub fn new() -> Self {
        let mut doc = Map::new();
        doc.insert("record_version".into(), Value::from(RECORD_VERSION));
        doc.insert("schema".into(), Value::Null);
        doc.insert("database".into(), Value::Null);
        Self { doc }
    }

    /// Reads a record. Empty input (only white space) is no record at all: `Ok(None)`.
    /// `source_name` names the input in errors, e.g. `stdin` or `'run.json'`.
    pub fn read_from(
        mut reader: impl Read,
        source_name: &str,
    ) -> Result<Option<Self>, RecordError> {
        let mut text = String::new();
        reader
            .read_to_string(&mut text)
            .map_err(|error| RecordError::Io {
                source_name: source_name.to_owned(),
                error,
            })?;
        Self::parse(&text, source_name)
    }

    /// Parses a record from text; see [`Record::read_from`].
    pub fn parse(text: &str, source_name: &str) -> Result<Option<Self>, RecordError> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        let value: Value = serde_json::from_str(text).map_err(|error| RecordError::Json {
            source_name: source_name.to_owned(),
            error,
        })?;
        let Value::Object(doc) = value else {
            return Err(RecordError::NotAnObject {
                source_name: source_name.to_owned(),
            });
        };
        match doc.get("record_version") {
            None => Err(RecordError::MissingVersion {
                source_name: source_name.to_owned(),
            }),
            Some(v) if v.as_u64() == Some(RECORD_VERSION) => Ok(Some(Self { doc })),
            Some(v) => Err(RecordError::UnknownVersion {
                source_name: source_name.to_owned(),
                found: v.to_string(),
            }),
        }
    }

    /// The schema named by earlier tools, if any.
    pub fn schema(&self) -> Option<&str> {
        self.doc.get("schema").and_then(Value::as_str)
    }

    /// The database named by earlier tools, if any.
    pub fn database(&self) -> Option<&str> {
        self.doc.get("database").and_then(Value::as_str)
    }

    pub fn set_schema(&mut self, schema: &str) {
        self.doc.insert("schema".into(), Value::from(schema));
    }

    pub fn set_database(&mut self, database: &str) {
        self.doc.insert("database".into(), Value::from(database));
    }

    /// A section as JSON, whoever wrote it.
    pub fn section(&self, name: &str) -> Option<&Value> {
        self.doc
            .get(name)
            .filter(|_| !TOP_LEVEL_FIELDS.contains(&name))
    }

    /// Names of the sections present, in document order. A section is an object that names
    /// its `tool`; other unknown keys are carried along but are not sections.
    pub fn section_names(&self) -> impl Iterator<Item = &str> {
        self.doc
            .iter()
            .filter(|(key, value)| !TOP_LEVEL_FIELDS.contains(&key.as_str()) && is_section(value))
            .map(|(key, _)| key.as_str())
    }

    /// Sections with `ok: false`, except `own` (a tool re-run on its own output must not block
    /// itself). Any section not explicitly `ok: true` counts as failed: a reader that cannot
    /// tell must not act.
    pub fn failed_sections(&self, own: &str) -> Vec<FailedSection> {
        self.doc
            .iter()
            .filter(|(key, value)| {
                !TOP_LEVEL_FIELDS.contains(&key.as_str())
                    && key.as_str() != own
                    && is_section(value)
            })
            .filter_map(|(key, value)| {
                let section = value.as_object()?;
                let ok = section.get("ok").and_then(Value::as_bool).unwrap_or(false);
                (!ok).then(|| FailedSection {
                    name: key.clone(),
                    tool: section
                        .get("tool")
                        .and_then(Value::as_str)
                        .unwrap_or("unknown tool")
                        .to_owned(),
                })
            })
            .collect()
    }

    /// The gate every tool passes before it acts: when an earlier section failed, adds a `skip`
    /// check naming it to `section`, marks the section not done (exit 3), and returns false.
    /// The caller then writes the record on and does nothing else.
    pub fn gate(&self, own: &str, section: &mut SectionBuilder) -> bool {
        let failed = self.failed_sections(own);
        if failed.is_empty() {
            return true;
        }
        let names: Vec<String> = failed
            .iter()
            .map(|f| format!("{} ({})", f.name, f.tool))
            .collect();
        section.push_check(Check::skip(
            "upstream",
            format!("nothing done: earlier section {} failed", names.join(", ")),
        ));
        section.mark_upstream_failed();
        false
    }

    /// Adds the section, or replaces an earlier one of the same name in place.
    pub fn put_section(&mut self, name: &str, section: &Section) {
        self.doc.insert(name.to_owned(), section.to_value());
    }

    /// The whole document as JSON.
    pub fn as_value(&self) -> Value {
        Value::Object(self.doc.clone())
    }

    /// Writes the record as one JSON document followed by a newline.
    pub fn write_to(&self, mut writer: impl Write, layout: Layout) -> std::io::Result<()> {
        match layout {
            Layout::Compact => serde_json::to_writer(&mut writer, &self.doc)?,
            Layout::Pretty => serde_json::to_writer_pretty(&mut writer, &self.doc)?,
        }
        writer.write_all(b"\n")?;
        writer.flush()
    }
}

fn is_section(value: &Value) -> bool {
    value.get("tool").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_is_no_record() {
        assert_eq!(Record::parse("  \n", "stdin").unwrap(), None);
    }

    #[test]
    fn unknown_keys_and_order_survive_a_pass() {
        let text = r#"{"record_version":1,"zeta":{"x":[1,2]},"schema":"trading","database":null,"alpha":{"tool":"t","ok":true}}"#;
        let record = Record::parse(text, "stdin").unwrap().unwrap();
        let mut out = Vec::new();
        record.write_to(&mut out, Layout::Pretty).unwrap();
        let round: Value = serde_json::from_slice(&out).unwrap();
        let keys: Vec<_> = round.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            ["record_version", "zeta", "schema", "database", "alpha"]
        );
        assert_eq!(round["zeta"]["x"], serde_json::json!([1, 2]));
    }

    #[test]
    fn versions_other_than_ours_are_refused() {
        let err = Record::parse(r#"{"record_version":2}"#, "stdin").unwrap_err();
        assert!(matches!(err, RecordError::UnknownVersion { .. }), "{err}");
        let err = Record::parse(r#"{"record_version":"1"}"#, "stdin").unwrap_err();
        assert!(matches!(err, RecordError::UnknownVersion { .. }), "{err}");
        let err = Record::parse(r#"{"schema":"x"}"#, "stdin").unwrap_err();
        assert!(matches!(err, RecordError::MissingVersion { .. }), "{err}");
        let err = Record::parse("[1]", "stdin").unwrap_err();
        assert!(matches!(err, RecordError::NotAnObject { .. }), "{err}");
        let err = Record::parse("{\"record_version\":1", "stdin").unwrap_err();
        assert!(matches!(err, RecordError::Json { .. }), "{err}");
    }

    #[test]
    fn sections_not_plainly_ok_block_later_tools() {
        let text = r#"{"record_version":1,"schema":null,"database":null,
            "a":{"tool":"ta","ok":true},"b":{"tool":"tb","ok":false},"c":{"tool":"tc"},
            "notes":{"by":"an operator"},"mine":{"tool":"me","ok":false}}"#;
        let record = Record::parse(text, "stdin").unwrap().unwrap();
        let failed: Vec<_> = record
            .failed_sections("mine")
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(failed, ["b", "c"]);
    }

    #[test]
    fn the_gate_stops_a_tool_after_a_failed_section() {
        let mut record = Record::new();
        let failed = Section::builder("dump-validate", "0.1.0")
            .check(Check::fail("magic", "not a dump"))
            .finish();
        record.put_section("dump", &failed);
        let mut mine = Section::builder("schema-swap", "0.1.0");
        assert!(!record.gate("swap", &mut mine));
        let mine = mine.finish();
        assert_eq!(mine.exit_code(), ExitCode::UpstreamFailed);
        assert!(
            !mine.ok(),
            "a skipped section is not ok, so later tools stop too"
        );
        assert_eq!(mine.checks()[0].status, Status::Skip);
        assert!(mine.checks()[0].detail.contains("dump (dump-validate)"));

        let mut clean = Record::new();
        clean.put_section(
            "dump",
            &Section::builder("dump-validate", "0.1.0")
                .check(Check::ok("magic", ""))
                .finish(),
        );
        let mut mine = Section::builder("schema-swap", "0.1.0");
        assert!(clean.gate("swap", &mut mine));
        assert_eq!(mine.finish().exit_code(), ExitCode::Success);
    }

    #[test]
    fn a_section_is_replaced_in_place() {
        let mut record = Record::new();
        let first = Section::builder("snapshot-pick", "0.1.0").finish();
        record.put_section("snapshot", &first);
        record.set_schema("trading");
        let second = Section::builder("snapshot-pick", "0.1.0")
            .check(Check::fail("x", "broken"))
            .finish();
        record.put_section("snapshot", &second);
        assert_eq!(record.section_names().collect::<Vec<_>>(), ["snapshot"]);
        assert_eq!(record.section("snapshot").unwrap()["ok"], false);
        assert_eq!(record.schema(), Some("trading"));
    }

    #[test]
    fn the_json_schema_is_itself_valid_json_schema() {
        let schema: Value = serde_json::from_str(JSON_SCHEMA).unwrap();
        jsonschema::meta::validate(&schema).unwrap();
    }

    #[test]
    fn records_built_here_match_the_json_schema() {
        let schema: Value = serde_json::from_str(JSON_SCHEMA).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let mut record = Record::new();
        let section = Section::builder("some-tool", "0.1.0")
            .check(Check::ok("a", "fine"))
            .check(Check::warn("b", "hmm"))
            .data("id", Value::from("abc"))
            .finish();
        record.put_section("example", &section);
        let errors: Vec<_> = validator
            .iter_errors(&record.as_value())
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:?}");

        let mut bad = record.as_value();
        bad["example"]["checks"][0]["status"] = Value::from("maybe");
        assert!(!validator.is_valid(&bad));
    }
}

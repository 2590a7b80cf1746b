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

use serde::de::{Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap as _, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::Arc;

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
///
/// Only what a tool reads is parsed: the top-level fields and the sections. Every other key
/// (an annotation a wrapper added, say) is held as the exact text it came as, so that a large
/// one costs its size once, not the many times a parsed JSON tree takes, and is written on
/// byte for byte.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    entries: Vec<(String, Entry)>,
}

/// One top-level value.
#[derive(Debug, Clone)]
enum Entry {
    Parsed(Value),
    /// Shared, so that keeping a copy of the record (for a stop to write) costs nothing.
    Verbatim(Arc<RawValue>),
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Parsed(a), Self::Parsed(b)) => a == b,
            (Self::Verbatim(a), Self::Verbatim(b)) => a.get() == b.get(),
            _ => false,
        }
    }
}

impl Entry {
    fn parsed(&self) -> Option<&Value> {
        match self {
            Self::Parsed(value) => Some(value),
            Self::Verbatim(_) => None,
        }
    }
}

impl Default for Record {
    fn default() -> Self {
        Self::new()
    }
}

impl Record {
    /// A new, empty record: the first tool of a pipeline starts here.
    pub fn new() -> Self {
        let mut record = Self {
            entries: Vec::new(),
        };
        record.insert("record_version", Value::from(RECORD_VERSION));
        record.insert("schema", Value::Null);
        record.insert("database", Value::Null);
        record
    }

    /// Reads a record as a stream, holding no more than the record itself. Empty input
    /// (only white space) is no record at all: `Ok(None)`. `source_name` names the input in
    /// errors, e.g. `stdin` or `'run.json'`. The caller bounds the reader.
    pub fn read_from(reader: impl Read, source_name: &str) -> Result<Option<Self>, RecordError> {
        let mut reader = BufReader::with_capacity(1 << 16, reader);
        if at_end_after_white_space(&mut reader).map_err(|error| RecordError::Io {
            source_name: source_name.to_owned(),
            error,
        })? {
            return Ok(None);
        }
        let mut de = serde_json::Deserializer::from_reader(reader);
        Self::finish_parse(
            Document::deserialize(&mut de).and_then(|doc| de.end().map(|()| doc)),
            source_name,
        )
    }

    /// Parses a record from text; see [`Record::read_from`].
    pub fn parse(text: &str, source_name: &str) -> Result<Option<Self>, RecordError> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        Self::finish_parse(serde_json::from_str::<Document>(text), source_name)
    }

    fn finish_parse(
        parsed: Result<Document, serde_json::Error>,
        source_name: &str,
    ) -> Result<Option<Self>, RecordError> {
        let source_name = source_name.to_owned();
        let doc = match parsed {
            Ok(Document::Object(record)) => record,
            Ok(Document::NotAnObject) => return Err(RecordError::NotAnObject { source_name }),
            Err(error) if error.is_io() => {
                return Err(RecordError::Io {
                    source_name,
                    error: error.into(),
                });
            }
            Err(error) => return Err(RecordError::Json { source_name, error }),
        };
        match doc.get("record_version") {
            None => Err(RecordError::MissingVersion { source_name }),
            Some(v) if v.as_u64() == Some(RECORD_VERSION) => Ok(Some(doc)),
            Some(v) => Err(RecordError::UnknownVersion {
                source_name,
                found: v.to_string(),
            }),
        }
    }

    /// A parsed top-level value.
    fn get(&self, key: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, entry)| entry.parsed())
    }

    /// Sets a key, in place when it is already there (as a JSON object's keys behave).
    fn insert(&mut self, key: &str, value: Value) {
        self.put(key, Entry::Parsed(value));
    }

    fn put(&mut self, key: &str, entry: Entry) {
        match self.entries.iter_mut().find(|(k, _)| k == key) {
            Some((_, slot)) => *slot = entry,
            None => self.entries.push((key.to_owned(), entry)),
        }
    }

    /// The sections with their names, in document order.
    fn sections(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().filter_map(|(key, entry)| {
            let value = entry.parsed()?;
            (!TOP_LEVEL_FIELDS.contains(&key.as_str()) && is_section(value))
                .then_some((key.as_str(), value))
        })
    }

    /// The schema named by earlier tools, if any.
    pub fn schema(&self) -> Option<&str> {
        self.get("schema").and_then(Value::as_str)
    }

    /// The database named by earlier tools, if any.
    pub fn database(&self) -> Option<&str> {
        self.get("database").and_then(Value::as_str)
    }

    pub fn set_schema(&mut self, schema: &str) {
        self.insert("schema", Value::from(schema));
    }

    pub fn set_database(&mut self, database: &str) {
        self.insert("database", Value::from(database));
    }

    /// A section as JSON, whoever wrote it.
    pub fn section(&self, name: &str) -> Option<&Value> {
        self.sections()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
    }

    /// Names of the sections present, in document order. A section is an object that names
    /// its `tool`; other unknown keys are carried along but are not sections.
    pub fn section_names(&self) -> impl Iterator<Item = &str> {
        self.sections().map(|(key, _)| key)
    }

    /// Sections with `ok: false`, except `own` (a tool re-run on its own output must not block
    /// itself). Any section not explicitly `ok: true` counts as failed: a reader that cannot
    /// tell must not act.
    pub fn failed_sections(&self, own: &str) -> Vec<FailedSection> {
        self.sections()
            .filter(|(key, _)| *key != own)
            .filter_map(|(key, value)| {
                let section = value.as_object()?;
                let ok = section.get("ok").and_then(Value::as_bool).unwrap_or(false);
                (!ok).then(|| FailedSection {
                    name: key.to_owned(),
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
        self.insert(name, section.to_value());
    }

    /// The whole document as one parsed JSON value (for tests and inspection: it parses
    /// every key kept verbatim).
    pub fn as_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Writes the record as one JSON document followed by a newline.
    pub fn write_to(&self, mut writer: impl Write, layout: Layout) -> std::io::Result<()> {
        match layout {
            Layout::Compact => serde_json::to_writer(&mut writer, self)?,
            Layout::Pretty => serde_json::to_writer_pretty(&mut writer, self)?,
        }
        writer.write_all(b"\n")?;
        writer.flush()
    }
}

impl Serialize for Record {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (key, entry) in &self.entries {
            match entry {
                Entry::Parsed(value) => map.serialize_entry(key, value)?,
                Entry::Verbatim(raw) => map.serialize_entry(key, &**raw)?,
            }
        }
        map.end()
    }
}

/// What the input held: a record's object, or some other JSON value.
enum Document {
    Object(Record),
    NotAnObject,
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DocumentVisitor)
    }
}

struct DocumentVisitor;

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = Document;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let mut record = Record {
            entries: Vec::new(),
        };
        while let Some(key) = map.next_key::<String>()? {
            let raw: Box<RawValue> = map.next_value()?;
            let entry = if TOP_LEVEL_FIELDS.contains(&key.as_str()) || looks_like_section(&raw) {
                Entry::Parsed(serde_json::from_str(raw.get()).map_err(A::Error::custom)?)
            } else {
                Entry::Verbatim(Arc::from(raw))
            };
            record.put(&key, entry);
        }
        Ok(Document::Object(record))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Document, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Document::NotAnObject)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Document, E> {
        Ok(Document::NotAnObject)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Document, E> {
        Ok(Document::NotAnObject)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Document, E> {
        Ok(Document::NotAnObject)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Document, E> {
        Ok(Document::NotAnObject)
    }

    fn visit_str<E>(self, _: &str) -> Result<Document, E> {
        Ok(Document::NotAnObject)
    }

    fn visit_unit<E>(self) -> Result<Document, E> {
        Ok(Document::NotAnObject)
    }
}

/// Whether a top-level value is an object with a `tool` key, found without building it.
fn looks_like_section(raw: &RawValue) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "present")]
        tool: bool,
    }
    fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
        IgnoredAny::deserialize(deserializer).map(|_| true)
    }
    raw.get().starts_with('{')
        && serde_json::from_str::<Probe>(raw.get()).is_ok_and(|probe| probe.tool)
}

/// Skips white space; true when the input ends there.
fn at_end_after_white_space(reader: &mut impl BufRead) -> std::io::Result<bool> {
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(true);
        }
        let blanks = buf
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            .count();
        let rest = blanks < buf.len();
        reader.consume(blanks);
        if rest {
            return Ok(false);
        }
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
    fn keys_that_are_not_sections_are_written_on_byte_for_byte() {
        let text = r#"{"record_version":1,"schema":null,"database":null,"notes":{"n": 1.50e3, "s":"\u00e9"},"big":[1,  2]}"#;
        let record = Record::parse(text, "stdin").unwrap().unwrap();
        let mut out = Vec::new();
        record.write_to(&mut out, Layout::Compact).unwrap();
        assert_eq!(String::from_utf8(out).unwrap().trim_end(), text);
        assert_eq!(record.section_names().count(), 0);
    }

    #[test]
    fn reading_a_stream_gives_what_parsing_the_text_gives() {
        let text = r#"  {"record_version":1,"schema":"s","database":null,"a":{"tool":"ta","ok":true},"x":[{"tool":"not a section"}]}  "#;
        let streamed = Record::read_from(text.as_bytes(), "stdin").unwrap();
        assert_eq!(streamed, Record::parse(text, "stdin").unwrap());
        let streamed = streamed.unwrap();
        assert_eq!(streamed.section_names().collect::<Vec<_>>(), ["a"]);
        assert_eq!(streamed.schema(), Some("s"));

        assert_eq!(Record::read_from(&b" \n\t "[..], "stdin").unwrap(), None);
        let err = Record::read_from(&b"[1,2]"[..], "stdin").unwrap_err();
        assert!(matches!(err, RecordError::NotAnObject { .. }), "{err}");
        let err = Record::read_from(&b"{\"record_version\":1} x"[..], "stdin").unwrap_err();
        assert!(matches!(err, RecordError::Json { .. }), "{err}");
        let err = Record::read_from(&b"{\"record_version\":1"[..], "stdin").unwrap_err();
        assert!(matches!(err, RecordError::Json { .. }), "{err}");
    }

    #[test]
    fn an_object_naming_a_tool_is_a_section_even_with_tool_null() {
        let text =
            r#"{"record_version":1,"schema":null,"database":null,"odd":{"ok":true,"tool":null}}"#;
        let record = Record::parse(text, "stdin").unwrap().unwrap();
        assert_eq!(record.section_names().collect::<Vec<_>>(), ["odd"]);
        assert!(record.failed_sections("other").is_empty());
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

//! Validates tool output against the record's JSON Schema, as any reader would.

use serde_json::Value;
use std::sync::OnceLock;

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let schema: Value =
            serde_json::from_str(record::JSON_SCHEMA).expect("record.schema.json is JSON");
        jsonschema::validator_for(&schema).expect("record.schema.json is a valid JSON Schema")
    })
}

/// Parses a tool's stdout as exactly one JSON document and checks it against the schema.
pub fn assert_valid_record(stdout: &[u8]) -> Value {
    let text = std::str::from_utf8(stdout).expect("stdout is UTF-8");
    let value: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("stdout is not exactly one JSON document ({e}):\n{text}"));
    let errors: Vec<String> = validator()
        .iter_errors(&value)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "record does not match record.schema.json:\n{}\n{text}",
        errors.join("\n")
    );
    value
}

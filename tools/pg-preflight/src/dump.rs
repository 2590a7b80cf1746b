//! What the record's `dump` section (written by dump-validate) tells preflight.

use serde_json::Value;

/// The facts about the dump that preflight checks the target against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DumpFacts {
    pub present: bool,
    /// The dump file or directory, to read what it needs of the target.
    pub path: Option<std::path::PathBuf>,
    /// Roles the schema's objects name (owners, grantees).
    pub roles: Vec<String>,
    /// The oldest pg_restore major that reads the archive.
    pub min_pg_restore: Option<u32>,
    pub archive_version: Option<String>,
    /// The source server's version as the dump says it, e.g. `16.4`.
    pub server_version: Option<String>,
    /// Sum of the tables' uncompressed COPY data, when every table has a size.
    pub data_bytes: Option<u64>,
}

impl DumpFacts {
    pub fn from_section(section: Option<&Value>) -> Self {
        let Some(dump) = section else {
            return Self::default();
        };
        let roles = dump["roles"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let sizes: Option<Vec<u64>> = dump["tables"].as_array().and_then(|tables| {
            tables
                .iter()
                .map(|t| t["bytes"].as_u64())
                .collect::<Option<Vec<u64>>>()
        });
        Self {
            present: true,
            path: dump["path"].as_str().map(std::path::PathBuf::from),
            roles,
            min_pg_restore: dump["pg_restore"]["min_major"]
                .as_u64()
                .and_then(|m| u32::try_from(m).ok()),
            archive_version: dump["archive_version"].as_str().map(str::to_owned),
            server_version: dump["server_version"].as_str().map(str::to_owned),
            data_bytes: sizes.map(|s| s.iter().sum()),
        }
    }

    /// The source server's major version: `16.4` -> 16, `9.6.24` -> 9.
    pub fn source_major(&self) -> Option<u32> {
        major_of(self.server_version.as_deref()?)
    }
}

/// The leading number of a version string.
pub fn major_of(version: &str) -> Option<u32> {
    let digits: String = version
        .trim()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_dump_section() {
        let section = json!({
            "roles": ["app", "reader"], "pg_restore": {"min_major": 15}, "archive_version": "1.15",
            "server_version": "16.4 (Debian)", "tables": [{"bytes": 10}, {"bytes": 32}]
        });
        let facts = DumpFacts::from_section(Some(&section));
        assert_eq!(facts.roles, ["app", "reader"]);
        assert_eq!(facts.min_pg_restore, Some(15));
        assert_eq!(facts.source_major(), Some(16));
        assert_eq!(facts.data_bytes, Some(42));
        let facts = DumpFacts::from_section(Some(&json!({"tables": [{"bytes": null}]})));
        assert_eq!(facts.data_bytes, None);
        assert!(!DumpFacts::from_section(None).present);
    }
}

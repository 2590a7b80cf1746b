//! Reading `restic snapshots --json`, plain or `--group-by`, from restic 0.14 to current.
//!
//! Only the fields the pick needs are typed; `summary` and `program_version` (restic 0.17+)
//! are carried along when present.

use serde::Deserialize;
use serde_json::Value;

/// One snapshot as restic listed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub id: String,
    pub short_id: String,
    /// The instant the backup started.
    pub time: jiff::Timestamp,
    /// The time exactly as restic wrote it, in the backup host's offset.
    pub time_text: String,
    pub host: String,
    pub username: Option<String>,
    pub tags: Vec<String>,
    pub paths: Vec<String>,
    pub program_version: Option<String>,
    pub summary: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct RawSnapshot {
    id: Option<String>,
    short_id: Option<String>,
    time: Option<String>,
    #[serde(default)]
    hostname: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    paths: Option<Vec<String>>,
    #[serde(default)]
    program_version: Option<String>,
    #[serde(default)]
    summary: Option<Value>,
}

/// Parses restic's snapshot list. Errors are one sentence saying what is wrong and where.
pub fn parse_snapshots(text: &str, source: &str) -> Result<Vec<Snapshot>, String> {
    if text.trim().is_empty() {
        return Err(format!(
            "{source} is empty: expected the output of 'restic snapshots --json'"
        ));
    }
    let value: Value = serde_json::from_str(text).map_err(|e| {
        format!(
            "{source} is not valid JSON ({e}): expected the output of 'restic snapshots --json'"
        )
    })?;
    if value.get("record_version").is_some() {
        return Err(format!(
            "{source} holds a schema-restore record, not restic's snapshot list: snapshot-pick starts a pipeline, feed it 'restic snapshots --json'"
        ));
    }
    let Value::Array(items) = value else {
        return Err(format!(
            "{source} is not a JSON array: expected the output of 'restic snapshots --json'"
        ));
    };
    let mut raw = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        // `--group-by` wraps the lists: [{"group_key": {...}, "snapshots": [...]}, ...]
        if let Some(group) = item
            .get("snapshots")
            .filter(|_| item.get("group_key").is_some())
        {
            let Value::Array(members) = group else {
                return Err(format!("{source}: group {index} has no list of snapshots"));
            };
            raw.extend(members.iter().cloned());
        } else {
            raw.push(item);
        }
    }
    raw.into_iter()
        .enumerate()
        .map(|(index, item)| convert(index, item, source))
        .collect()
}

fn convert(index: usize, item: Value, source: &str) -> Result<Snapshot, String> {
    let raw: RawSnapshot = serde_json::from_value(item).map_err(|e| {
        format!("{source}: snapshot {index} is not shaped like a restic snapshot ({e})")
    })?;
    let id = raw
        .id
        .filter(|id| id.len() >= 8 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| format!("{source}: snapshot {index} has no valid 'id'"))?
        .to_ascii_lowercase();
    let time_text = raw
        .time
        .ok_or_else(|| format!("{source}: snapshot {id:.8} has no 'time'"))?;
    let time: jiff::Timestamp = time_text.parse().map_err(|e| {
        format!(
            "{source}: snapshot {id:.8} has time '{time_text}', which is not an RFC 3339 time ({e})"
        )
    })?;
    let short_id = raw.short_id.unwrap_or_else(|| id[..8].to_owned());
    Ok(Snapshot {
        short_id,
        id,
        time,
        time_text,
        host: raw.hostname.unwrap_or_default(),
        username: raw.username,
        tags: raw.tags.unwrap_or_default(),
        paths: raw.paths.unwrap_or_default(),
        program_version: raw.program_version,
        summary: raw.summary,
    })
}

impl Snapshot {
    /// The snapshot as the record shows it.
    pub fn to_value(&self) -> Value {
        let mut map = serde_json::Map::new();
        map.insert("id".into(), self.id.clone().into());
        map.insert("short_id".into(), self.short_id.clone().into());
        map.insert("time".into(), self.time_text.clone().into());
        map.insert("time_utc".into(), self.time.to_string().into());
        map.insert("host".into(), self.host.clone().into());
        map.insert("tags".into(), self.tags.clone().into());
        map.insert("paths".into(), self.paths.clone().into());
        if let Some(username) = &self.username {
            map.insert("username".into(), username.clone().into());
        }
        if let Some(version) = &self.program_version {
            map.insert("program_version".into(), version.clone().into());
        }
        if let Some(summary) = &self.summary {
            map.insert("summary".into(), summary.clone());
        }
        Value::Object(map)
    }

    /// `abc12345 (2026-05-05T14:05:00+02:00, srv-apps)`
    pub fn describe(&self) -> String {
        format!("{} ({}, {})", self.short_id, self.time_text, self.host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = r#"{"time":"2026-05-05T14:05:00.123456789+02:00","tree":"aa","paths":["/var/lib/postgres-dumps"],
        "hostname":"srv-apps","username":"root","tags":["srv-apps","scheduled"],
        "id":"abc12345deadbeefabc12345deadbeefabc12345deadbeefabc12345deadbeef","short_id":"abc12345"}"#;

    #[test]
    fn plain_list_with_nanoseconds_and_offsets() {
        let list = parse_snapshots(&format!("[{ONE}]"), "stdin").unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].time.to_string(), "2026-05-05T12:05:00.123456789Z");
        assert_eq!(list[0].time_text, "2026-05-05T14:05:00.123456789+02:00");
        assert_eq!(list[0].tags, ["srv-apps", "scheduled"]);
    }

    #[test]
    fn grouped_list_is_flattened() {
        let text = format!(
            r#"[{{"group_key":{{"hostname":"srv-apps","paths":null,"tags":null}},"snapshots":[{ONE}]}}]"#
        );
        assert_eq!(parse_snapshots(&text, "stdin").unwrap().len(), 1);
    }

    #[test]
    fn newer_fields_are_kept() {
        let text = ONE.replace(
            r#""short_id":"abc12345""#,
            r#""short_id":"abc12345","program_version":"restic 0.18.0","summary":{"files_new":1}"#,
        );
        let snap = &parse_snapshots(&format!("[{text}]"), "stdin").unwrap()[0];
        assert_eq!(snap.program_version.as_deref(), Some("restic 0.18.0"));
        assert_eq!(snap.to_value()["summary"]["files_new"], 1);
    }

    #[test]
    fn bad_input_says_what_is_wrong() {
        let err = |t: &str| parse_snapshots(t, "stdin").unwrap_err();
        assert!(err("").contains("empty"));
        assert!(err("{").contains("not valid JSON"));
        assert!(err("{}").contains("not a JSON array"));
        assert!(err(r#"{"record_version":1}"#).contains("schema-restore record"));
        assert!(err(r#"[{"time":"2026-05-05T14:05:00Z"}]"#).contains("no valid 'id'"));
        assert!(
            err(&format!(
                "[{}]",
                ONE.replace("2026-05-05T14:05:00.123456789+02:00", "yesterday")
            ))
            .contains("not an RFC 3339 time")
        );
        assert!(err(r#"[{"id":"abcdef12","time":5}]"#).contains("not shaped like"));
    }

    #[test]
    fn empty_list_is_not_an_input_error() {
        assert!(parse_snapshots("[]", "stdin").unwrap().is_empty());
    }
}

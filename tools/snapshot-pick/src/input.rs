//! Reading `restic snapshots --json`, plain or `--group-by`, from restic 0.14 to current.
//!
//! The list is parsed as it is read, into only the fields the pick needs: a list of hundreds
//! of megabytes (a repository of many hosts and years of hourly backups) takes about its own
//! size in memory, never a tree of JSON values several times larger. `summary` and
//! `program_version` (restic 0.17+) are carried along when present, `summary` as its text.

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;
use std::fmt;
use std::io::{BufReader, Read};

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
    /// restic's `summary` object as restic wrote it (JSON text), parsed only for the pick.
    pub summary: Option<String>,
}

/// One entry of the list: a snapshot, or with `--group-by` a group holding snapshots. Keys
/// not named here (tree, parent, uid, excludes, ...) are skipped as they are read.
#[derive(Debug, Deserialize)]
struct RawEntry {
    id: Option<String>,
    short_id: Option<String>,
    time: Option<String>,
    hostname: Option<String>,
    username: Option<String>,
    tags: Option<Vec<String>>,
    paths: Option<Vec<String>>,
    program_version: Option<String>,
    summary: Option<Box<RawValue>>,
    group_key: Option<IgnoredAny>,
    snapshots: Option<Vec<RawEntry>>,
}

/// What the whole input turned out to be.
enum Listing {
    Snapshots(Vec<Snapshot>),
    /// A JSON object with `record_version`: a schema-restore record fed in by mistake.
    Record,
    /// Valid JSON, but not a list.
    NotAList,
}

/// Reads the top level, converting each snapshot as soon as it is read so that restic's
/// entries are never all held at once beside their conversions.
struct ListingVisitor;

impl<'de> Visitor<'de> for ListingVisitor {
    type Value = Listing;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the output of 'restic snapshots --json'")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Listing, A::Error> {
        let mut snapshots = Vec::new();
        let mut index = 0usize;
        loop {
            let entry = seq.next_element::<RawEntry>().map_err(|e| {
                de::Error::custom(format!(
                    "entry {index} is not shaped like a restic snapshot ({})",
                    without_position(&e.to_string())
                ))
            })?;
            let Some(mut entry) = entry else { break };
            if entry.group_key.is_some() {
                let Some(members) = entry.snapshots.take() else {
                    return Err(de::Error::custom(format!(
                        "group {index} has no list of snapshots"
                    )));
                };
                for member in members {
                    snapshots.push(convert(snapshots.len(), member).map_err(de::Error::custom)?);
                }
            } else {
                snapshots.push(convert(snapshots.len(), entry).map_err(de::Error::custom)?);
            }
            index += 1;
        }
        Ok(Listing::Snapshots(snapshots))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Listing, A::Error> {
        let mut is_record = false;
        while let Some(key) = map.next_key::<String>()? {
            is_record |= key == "record_version";
            map.next_value::<IgnoredAny>()?;
        }
        Ok(if is_record {
            Listing::Record
        } else {
            Listing::NotAList
        })
    }

    fn visit_unit<E: de::Error>(self) -> Result<Listing, E> {
        Ok(Listing::NotAList)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Listing, E> {
        Ok(Listing::NotAList)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Listing, E> {
        Ok(Listing::NotAList)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Listing, E> {
        Ok(Listing::NotAList)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Listing, E> {
        Ok(Listing::NotAList)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Listing, E> {
        Ok(Listing::NotAList)
    }
}

/// serde_json's message without its trailing " at line L column C", for an error that is
/// wrapped in another (which gets the position again).
fn without_position(message: &str) -> &str {
    message
        .rsplit_once(" at line ")
        .map_or(message, |(text, _)| text)
}

/// Counts what passes through, and whether any of it was more than white space.
struct Metered<R> {
    inner: R,
    bytes: u64,
    has_content: bool,
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        self.has_content = self.has_content || buf[..n].iter().any(|b| !b.is_ascii_whitespace());
        Ok(n)
    }
}

/// Reads and parses restic's snapshot list from `reader`, at most `limit` bytes of it.
/// `limit_flag` names the flag that raises the limit. Errors are one sentence saying what is
/// wrong and where.
pub fn read_snapshots(
    reader: impl Read,
    source: &str,
    limit: u64,
    limit_flag: &str,
) -> Result<Vec<Snapshot>, String> {
    let mut metered = Metered {
        inner: reader.take(limit.saturating_add(1)),
        bytes: 0,
        has_content: false,
    };
    let mut json = serde_json::Deserializer::from_reader(BufReader::new(&mut metered));
    let parsed = de::Deserializer::deserialize_any(&mut json, ListingVisitor)
        .and_then(|listing| json.end().map(|()| listing));
    drop(json);
    // Past the limit first: a list cut off there is also invalid JSON, but that is not the news.
    if metered.bytes > limit {
        return Err(format!(
            "{source} is larger than {limit_flag} {}: nothing was picked; if it really is restic's snapshot list, raise the limit (e.g. {limit_flag} {}MiB)",
            cli::values::ByteSize(limit),
            limit.saturating_mul(4).div_ceil(1 << 20),
        ));
    }
    if !metered.has_content {
        if let Err(e) = &parsed {
            if e.is_io() {
                return Err(format!("reading {source}: {e}"));
            }
        }
        return Err(format!(
            "{source} is empty: expected the output of 'restic snapshots --json'"
        ));
    }
    match parsed {
        Ok(Listing::Snapshots(snapshots)) => Ok(snapshots),
        Ok(Listing::Record) => Err(format!(
            "{source} holds a schema-restore record, not restic's snapshot list: snapshot-pick starts a pipeline, feed it 'restic snapshots --json'"
        )),
        Ok(Listing::NotAList) => Err(format!(
            "{source} is not a JSON array: expected the output of 'restic snapshots --json'"
        )),
        Err(e) if e.is_io() => Err(format!("reading {source}: {e}")),
        Err(e) if e.is_data() => Err(format!("{source}: {e}")),
        Err(e) => Err(format!(
            "{source} is not valid JSON ({e}): expected the output of 'restic snapshots --json'"
        )),
    }
}

/// Parses a snapshot list held in memory; see [`read_snapshots`].
#[cfg(test)]
fn parse_snapshots(text: &str, source: &str) -> Result<Vec<Snapshot>, String> {
    read_snapshots(text.as_bytes(), source, u64::MAX, "--max-input")
}

/// The snapshot at `index` of the flattened list; the error names it, the caller says where.
fn convert(index: usize, raw: RawEntry) -> Result<Snapshot, String> {
    if raw.group_key.is_some() {
        return Err(format!(
            "snapshot {index} is a group inside a group, which restic does not write"
        ));
    }
    let id = raw
        .id
        .filter(|id| id.len() >= 8 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| format!("snapshot {index} has no valid 'id'"))?
        .to_ascii_lowercase();
    let time_text = raw
        .time
        .ok_or_else(|| format!("snapshot {id:.8} has no 'time'"))?;
    let time: jiff::Timestamp = time_text.parse().map_err(|e| {
        format!("snapshot {id:.8} has time '{time_text}', which is not an RFC 3339 time ({e})")
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
        summary: raw.summary.map(|text| text.get().to_owned()),
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
        // Parsed from restic's own text, which was valid JSON when it was read.
        if let Some(summary) = self
            .summary
            .as_deref()
            .and_then(|t| serde_json::from_str(t).ok())
        {
            map.insert("summary".into(), summary);
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

//! The table of contents (pg_backup_archiver.c WriteToc/ReadToc, plus each format's extra
//! field: custom.c `_ReadExtraToc` (a data offset), directory.c (a file name)).

use std::collections::HashSet;
use std::fmt;
use std::io::Read;

use crate::error::{ErrorKind, Part};
use crate::header::{ArchiveVersion, Format, Header};
use crate::read::{Fault, K_OFFSET_POS_NOT_SET, K_OFFSET_POS_SET, Primitives};
use crate::text::Text;

/// An entry's id: positive, unique in the archive, neither dense nor sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DumpId(pub u32);

impl fmt::Display for DumpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The section an entry belongs to (`teSection`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    /// COMMENT, ACL, SECURITY LABEL: they go with whatever section is current.
    None,
    PreData,
    Data,
    PostData,
}

impl Section {
    fn from_code(code: i32) -> Option<Self> {
        match code {
            1 => Some(Self::None),
            2 => Some(Self::PreData),
            3 => Some(Self::Data),
            4 => Some(Self::PostData),
            _ => None,
        }
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "none",
            Self::PreData => "pre-data",
            Self::Data => "data",
            Self::PostData => "post-data",
        })
    }
}

/// Where an entry's data is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataLocation {
    /// The entry has no data.
    None,
    /// Custom format: the block starts at this byte of the file.
    Offset(u64),
    /// Custom format: the entry has a data block but pg_dump could not write its offset (it
    /// wrote to a pipe); the block is found by walking the blocks after the TOC.
    OffsetNotSet,
    /// Directory format: the file name the TOC stores, without the compression suffix
    /// (`.gz`, `.lz4`, `.zst`) the file may carry.
    File(Text),
}

/// One entry of the table of contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub dump_id: DumpId,
    /// Whether the entry has a data dumper: TABLE DATA and BLOBS entries.
    pub had_dumper: bool,
    /// The catalog the object lives in (pg_class's OID 1259 for tables, 0 for ACLs...).
    pub table_oid: u32,
    /// The object's OID; for TABLE DATA the table's OID.
    pub oid: u32,
    /// The object's name: `orders`, `describe(trading.orders)`, `TABLE orders` (COMMENT/ACL).
    pub tag: Text,
    /// The kind of object: `TABLE`, `TABLE DATA`, `SCHEMA`, `SEQUENCE SET`, `ACL`...
    pub desc: Text,
    pub section: Section,
    /// The SQL that creates the object.
    pub defn: Option<Text>,
    pub drop_stmt: Option<Text>,
    /// `COPY ns.t (c1, c2) FROM stdin;` for COPY data; `None` for data dumped as INSERTs.
    pub copy_stmt: Option<Text>,
    /// The schema, `None` for objects outside any schema.
    pub namespace: Option<Text>,
    /// `None` where it does not apply, empty for the default tablespace.
    pub tablespace: Option<Text>,
    /// The table access method (archive 1.14+), e.g. `heap`.
    pub table_am: Option<Text>,
    /// The pg_class relkind (archive 1.16+) of tables, views, matviews, foreign tables:
    /// `b'r'`, `b'p'`, `b'v'`, `b'm'`, `b'f'`.
    pub relkind: Option<u8>,
    pub owner: Option<Text>,
    /// Whether the table was dumped WITH OIDS (never since PostgreSQL 12).
    pub with_oids: bool,
    /// Dump ids this entry depends on; some may name no entry of the archive.
    pub dependencies: Vec<DumpId>,
    pub data: DataLocation,
}

impl Entry {
    /// A TABLE DATA entry: the rows of one table, as COPY text (or INSERTs).
    pub fn is_table_data(&self) -> bool {
        self.desc == "TABLE DATA"
    }

    /// Whether the archive holds data for this entry.
    pub fn has_data(&self) -> bool {
        self.data != DataLocation::None
    }

    /// `schema.name`, or the bare tag for objects outside a schema (lossy UTF-8).
    pub fn qualified_name(&self) -> String {
        match &self.namespace {
            Some(namespace) => format!("{namespace}.{}", self.tag),
            None => self.tag.to_string(),
        }
    }

    /// Whether the entry is one of `schema`'s objects: in the schema, the schema itself, or
    /// the comment, grants and security labels on the schema itself (which have no namespace).
    /// These are the entries a restore of the schema needs.
    pub fn belongs_to_schema(&self, schema: &str) -> bool {
        let namespace = self.namespace.as_ref().map(|n| n.to_string_lossy());
        belongs_to_schema(
            &self.desc.to_string_lossy(),
            namespace.as_deref(),
            &self.tag.to_string_lossy(),
            schema,
        )
    }

    /// How errors name the entry: `table trading.orders`, `large objects BLOBS`...
    pub fn subject(&self) -> String {
        let kind = if self.is_table_data() {
            "table".to_owned()
        } else if self.desc == "BLOBS" {
            "large objects".to_owned()
        } else {
            self.desc.to_string().to_lowercase()
        };
        format!("{kind} {}", self.qualified_name())
    }
}

/// Kinds that annotate another object rather than create one.
const ANNOTATIONS: [&str; 3] = ["ACL", "COMMENT", "SECURITY LABEL"];

/// [`Entry::belongs_to_schema`] on an entry's parts: its kind (`desc`), namespace and tag.
pub fn belongs_to_schema(desc: &str, namespace: Option<&str>, tag: &str, schema: &str) -> bool {
    match namespace {
        Some(namespace) => namespace == schema,
        None if desc == "SCHEMA" => tag == schema,
        // pg_dump quotes the name in the tag when it needs quoting: SCHEMA "my schema".
        None if ANNOTATIONS.contains(&desc) => tag.strip_prefix("SCHEMA ").is_some_and(|name| {
            name == schema || name == format!("\"{}\"", schema.replace('"', "\"\""))
        }),
        None => false,
    }
}

fn fault_to_kind(fault: Fault) -> ErrorKind {
    match fault {
        Fault::Eof { offset } => ErrorKind::Truncated {
            part: Part::TableOfContents,
            offset,
        },
        Fault::Invalid { offset, detail } => ErrorKind::Corrupt {
            part: Part::TableOfContents,
            offset,
            detail,
        },
        Fault::Io(source) => ErrorKind::Io {
            action: "reading the table of contents".into(),
            error: source,
        },
    }
}

fn corrupt(offset: u64, detail: impl Into<String>) -> ErrorKind {
    ErrorKind::Corrupt {
        part: Part::TableOfContents,
        offset,
        detail: detail.into(),
    }
}

/// An OID as the TOC stores it: a decimal `%u` string.
fn parse_oid(text: Option<&[u8]>, offset: u64, what: &str) -> Result<u32, ErrorKind> {
    let Some(text) = text else { return Ok(0) };
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .ok_or_else(|| {
            corrupt(
                offset,
                format!("{what} '{}' is not an OID", String::from_utf8_lossy(text)),
            )
        })
}

/// Reads the TOC that follows the header.
pub(crate) fn read_toc<R: Read>(
    reader: &mut Primitives<R>,
    header: &Header,
) -> Result<Vec<Entry>, ErrorKind> {
    let count_at = reader.pos();
    let count = reader.read_int().map_err(fault_to_kind)?;
    let count = usize::try_from(count)
        .map_err(|_| corrupt(count_at, format!("negative entry count {count}")))?;
    let mut entries = Vec::with_capacity(count.min(4096));
    let mut seen = HashSet::with_capacity(count.min(4096));
    for _ in 0..count {
        let entry = read_entry(reader, header)?;
        if !seen.insert(entry.dump_id) {
            return Err(corrupt(
                reader.pos(),
                format!("dump id {} appears twice", entry.dump_id),
            ));
        }
        entries.push(entry);
    }
    Ok(entries)
}

fn read_entry<R: Read>(reader: &mut Primitives<R>, header: &Header) -> Result<Entry, ErrorKind> {
    let version = header.version;
    let start = reader.pos();
    let id = reader.read_int().map_err(fault_to_kind)?;
    let dump_id = match u32::try_from(id) {
        Ok(id) if id > 0 => DumpId(id),
        _ => return Err(corrupt(start, format!("entry id {id} out of range"))),
    };
    let had_dumper = reader.read_int().map_err(fault_to_kind)? != 0;
    let string = |reader: &mut Primitives<R>| reader.read_string().map_err(fault_to_kind);
    let at = reader.pos();
    let table_oid = parse_oid(string(reader)?.as_deref(), at, "table OID")?;
    let at = reader.pos();
    let oid = parse_oid(string(reader)?.as_deref(), at, "OID")?;
    let at = reader.pos();
    let tag = string(reader)?
        .ok_or_else(|| corrupt(at, format!("entry {dump_id} has no name")))?
        .into();
    let at = reader.pos();
    let desc = string(reader)?
        .ok_or_else(|| corrupt(at, format!("entry {dump_id} has no kind")))?
        .into();
    let at = reader.pos();
    let code = reader.read_int().map_err(fault_to_kind)?;
    let section = Section::from_code(code)
        .ok_or_else(|| corrupt(at, format!("unknown section code {code}")))?;
    let defn = string(reader)?.map(Text::from);
    let drop_stmt = string(reader)?.map(Text::from);
    let copy_stmt = string(reader)?.map(Text::from);
    let namespace = string(reader)?.map(Text::from);
    let tablespace = string(reader)?.map(Text::from);
    let table_am = if version.at_least(ArchiveVersion::V1_14) {
        string(reader)?.map(Text::from)
    } else {
        None
    };
    let relkind = if version.at_least(ArchiveVersion::V1_16) {
        let at = reader.pos();
        let code = reader.read_int().map_err(fault_to_kind)?;
        match u8::try_from(code) {
            Ok(0) => None,
            Ok(kind) => Some(kind),
            Err(_) => return Err(corrupt(at, format!("relkind {code} out of range"))),
        }
    } else {
        None
    };
    let owner = string(reader)?.map(Text::from);
    let with_oids = string(reader)?.is_some_and(|s| s == b"true");
    let mut dependencies = Vec::new();
    loop {
        let at = reader.pos();
        let Some(dep) = string(reader)? else { break };
        let id = std::str::from_utf8(&dep)
            .ok()
            .and_then(|s| s.parse::<u32>().ok())
            .filter(|&id| id > 0)
            .ok_or_else(|| {
                corrupt(
                    at,
                    format!(
                        "dependency '{}' is not a dump id",
                        String::from_utf8_lossy(&dep)
                    ),
                )
            })?;
        dependencies.push(DumpId(id));
    }
    let data = read_data_location(reader, header.format)?;
    Ok(Entry {
        dump_id,
        had_dumper,
        table_oid,
        oid,
        tag,
        desc,
        section,
        defn,
        drop_stmt,
        copy_stmt,
        namespace,
        tablespace,
        table_am,
        relkind,
        owner,
        with_oids,
        dependencies,
        data,
    })
}

/// The format's extra field: custom, the data block's offset; directory, the file name.
fn read_data_location<R: Read>(
    reader: &mut Primitives<R>,
    format: Format,
) -> Result<DataLocation, ErrorKind> {
    match format {
        Format::Custom => {
            let (flag, offset) = reader.read_offset().map_err(fault_to_kind)?;
            Ok(match flag {
                K_OFFSET_POS_SET => DataLocation::Offset(offset),
                K_OFFSET_POS_NOT_SET => DataLocation::OffsetNotSet,
                // read_offset accepts no other flag.
                _ => DataLocation::None,
            })
        }
        Format::Directory => Ok(match reader.read_string().map_err(fault_to_kind)? {
            Some(name) if !name.is_empty() => DataLocation::File(name.into()),
            _ => DataLocation::None,
        }),
    }
}

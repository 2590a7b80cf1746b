//! The archive header (pg_backup_archiver.c WriteHead/ReadHead).
//!
//! | field | encoding |
//! |---|---|
//! | magic `PGDMP` | 5 bytes |
//! | version major, minor, revision | 3 bytes |
//! | int size, offset size | 1 byte each |
//! | format | 1 byte: 1 custom, 3 tar and directory |
//! | compression | archive < 1.15: an int zlib level; 1.15+: one algorithm byte |
//! | creation time | 7 ints: sec, min, hour, mday, mon (0-based), year - 1900, isdst |
//! | database name, server version, pg_dump version | strings |

use std::fmt;

use jiff::civil::DateTime;

use crate::error::{ErrorKind, Part};
use crate::read::{Fault, Primitives};
use crate::text::Text;
use std::io::Read;

/// The five bytes every custom archive and every directory archive's toc.dat starts with.
pub const MAGIC: &[u8; 5] = b"PGDMP";

/// An archive version, `1.16` for pg_dump 17 and 18.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ArchiveVersion {
    pub major: u8,
    pub minor: u8,
    pub revision: u8,
}

impl ArchiveVersion {
    pub const fn new(major: u8, minor: u8, revision: u8) -> Self {
        Self {
            major,
            minor,
            revision,
        }
    }

    /// One BLOB entry per large object; written by pg_dump 9.0 to 10.
    pub const V1_12: Self = Self::new(1, 12, 0);
    /// The SEARCHPATH entry; pg_dump 11 (and the February 2018 minor releases of 9.3 to 10).
    pub const V1_13: Self = Self::new(1, 13, 0);
    /// The table access method in each entry; pg_dump 12 to 15.
    pub const V1_14: Self = Self::new(1, 14, 0);
    /// The compression algorithm byte in the header; pg_dump 16.
    pub const V1_15: Self = Self::new(1, 15, 0);
    /// BLOB METADATA entries and the relkind in each entry; pg_dump 17 and 18.
    pub const V1_16: Self = Self::new(1, 16, 0);

    /// The oldest version this reader reads.
    pub const OLDEST_SUPPORTED: Self = Self::V1_12;
    /// The newest version this reader reads (and the newest any released pg_dump writes).
    pub const NEWEST_SUPPORTED: Self = Self::new(1, 16, 255);

    pub fn is_supported(self) -> bool {
        (Self::OLDEST_SUPPORTED..=Self::NEWEST_SUPPORTED).contains(&self)
    }

    /// Whether this version is at least `major.minor` (any revision).
    pub fn at_least(self, other: Self) -> bool {
        (self.major, self.minor) >= (other.major, other.minor)
    }
}

impl fmt::Display for ArchiveVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        if self.revision != 0 {
            write!(f, "-{}", self.revision)?;
        }
        Ok(())
    }
}

/// The archive formats this reader reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `pg_dump -Fc`: one file, header, TOC, then the data blocks.
    Custom,
    /// `pg_dump -Fd`: a directory with toc.dat and one file per data entry.
    Directory,
}

impl Format {
    /// The format code the header stores: 1 for custom; directory archives store 3 (tar).
    pub(crate) fn header_code(self) -> u8 {
        match self {
            Self::Custom => 1,
            Self::Directory => 3,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Custom => "custom",
            Self::Directory => "directory",
        })
    }
}

/// The compression algorithm of the data (`pg_compress_algorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    None,
    /// zlib streams in custom archives, gzip files in directory archives.
    Gzip,
    /// LZ4 frames (pg_dump 16+).
    Lz4,
    /// zstd frames (pg_dump 16+).
    Zstd,
    /// A code this reader does not know; the entries can be listed but no data read.
    Unknown(u8),
}

impl Algorithm {
    fn from_code(code: u8) -> Self {
        match code {
            0 => Self::None,
            1 => Self::Gzip,
            2 => Self::Lz4,
            3 => Self::Zstd,
            other => Self::Unknown(other),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("none"),
            Self::Gzip => f.write_str("gzip"),
            Self::Lz4 => f.write_str("lz4"),
            Self::Zstd => f.write_str("zstd"),
            Self::Unknown(code) => write!(f, "unknown (code {code})"),
        }
    }
}

/// How the data is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Compression {
    pub algorithm: Algorithm,
    /// The zlib level archives before 1.15 store: 0 none, -1 the default (6), 1 to 9.
    /// Archives 1.15 and later store only the algorithm: `None`.
    pub level: Option<i32>,
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.level {
            Some(level) if self.algorithm != Algorithm::None => {
                write!(f, "{} (level {level})", self.algorithm)
            }
            _ => write!(f, "{}", self.algorithm),
        }
    }
}

/// The archive header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub version: ArchiveVersion,
    pub format: Format,
    pub compression: Compression,
    /// Bytes per int (4 on every real build).
    pub int_size: u8,
    /// Bytes per file offset (8 on every real build).
    pub offset_size: u8,
    /// When the dump started, in the local civil time of the host pg_dump ran on; the archive
    /// stores no time zone. `None` if the stored fields are not a real date.
    pub created: Option<DateTime>,
    /// Whether daylight saving time was in effect then (tm_isdst > 0).
    pub created_in_dst: bool,
    /// The database that was dumped.
    pub database: Text,
    /// The server's `server_version`, e.g. `15.20 (Debian 15.20-0+deb12u1)`.
    pub server_version: Option<Text>,
    /// The pg_dump version, e.g. `18.6`.
    pub pg_dump_version: Option<Text>,
}

fn fault_to_kind(fault: Fault) -> ErrorKind {
    match fault {
        Fault::Eof { offset } => ErrorKind::Truncated {
            part: Part::Header,
            offset,
        },
        Fault::Invalid { offset, detail } => ErrorKind::Corrupt {
            part: Part::Header,
            offset,
            detail,
        },
        Fault::Io(source) => ErrorKind::Io {
            action: "reading the header".into(),
            error: source,
        },
    }
}

/// Reads the header after the magic, which the caller has checked.
pub(crate) fn read_header<R: Read>(
    reader: &mut Primitives<R>,
    format: Format,
) -> Result<Header, ErrorKind> {
    let mut version = [0u8; 3];
    reader.read_exact(&mut version).map_err(fault_to_kind)?;
    let version = ArchiveVersion::new(version[0], version[1], version[2]);
    if !version.is_supported() {
        return Err(ErrorKind::UnsupportedVersion { version });
    }
    let int_size = reader.read_byte().map_err(fault_to_kind)?;
    if !(1..=32).contains(&int_size) {
        return Err(ErrorKind::UnsupportedHeaderValue {
            what: "integer size",
            value: i64::from(int_size),
        });
    }
    let offset_size = reader.read_byte().map_err(fault_to_kind)?;
    if !(1..=32).contains(&offset_size) {
        return Err(ErrorKind::UnsupportedHeaderValue {
            what: "offset size",
            value: i64::from(offset_size),
        });
    }
    reader.set_sizes(int_size, offset_size);
    let code = reader.read_byte().map_err(fault_to_kind)?;
    if code != format.header_code() {
        return Err(ErrorKind::UnsupportedFormat {
            code,
            expected: format.header_code(),
        });
    }
    let compression = if version.at_least(ArchiveVersion::V1_15) {
        let code = reader.read_byte().map_err(fault_to_kind)?;
        Compression {
            algorithm: Algorithm::from_code(code),
            level: None,
        }
    } else {
        let level = reader.read_int().map_err(fault_to_kind)?;
        if !(-1..=9).contains(&level) {
            return Err(ErrorKind::UnsupportedHeaderValue {
                what: "compression level",
                value: i64::from(level),
            });
        }
        let algorithm = if level == 0 {
            Algorithm::None
        } else {
            Algorithm::Gzip
        };
        Compression {
            algorithm,
            level: Some(level),
        }
    };
    let mut tm = [0i32; 7];
    for field in &mut tm {
        *field = reader.read_int().map_err(fault_to_kind)?;
    }
    let [sec, min, hour, mday, mon, year, isdst] = tm;
    let database = reader
        .read_string()
        .map_err(fault_to_kind)?
        .unwrap_or_default()
        .into();
    let server_version = reader.read_string().map_err(fault_to_kind)?.map(Text::from);
    let pg_dump_version = reader.read_string().map_err(fault_to_kind)?.map(Text::from);
    Ok(Header {
        version,
        format,
        compression,
        int_size,
        offset_size,
        created: civil_time(year, mon, mday, hour, min, sec),
        created_in_dst: isdst > 0,
        database,
        server_version,
        pg_dump_version,
    })
}

/// The `struct tm` fields as a civil date and time; a leap second reads as :59.
fn civil_time(year: i32, mon: i32, mday: i32, hour: i32, min: i32, sec: i32) -> Option<DateTime> {
    let year = i16::try_from(year.checked_add(1900)?).ok()?;
    let month = i8::try_from(mon.checked_add(1)?).ok()?;
    let sec = if sec == 60 { 59 } else { sec };
    DateTime::new(
        year,
        month,
        i8::try_from(mday).ok()?,
        i8::try_from(hour).ok()?,
        i8::try_from(min).ok()?,
        i8::try_from(sec).ok()?,
        0,
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_time_fields_read_as_a_civil_time() {
        let time = civil_time(126, 10, 25, 3, 48, 37).unwrap();
        assert_eq!(time.to_string(), "2026-11-25T03:48:37");
        assert_eq!(civil_time(126, 12, 25, 3, 48, 37), None, "month 13");
        assert_eq!(civil_time(i32::MAX, 0, 1, 0, 0, 0), None);
    }

    #[test]
    fn versions_compare_and_display() {
        assert!(ArchiveVersion::new(1, 16, 0).is_supported());
        assert!(ArchiveVersion::new(1, 12, 0).is_supported());
        assert!(!ArchiveVersion::new(1, 17, 0).is_supported());
        assert!(!ArchiveVersion::new(1, 11, 0).is_supported());
        assert!(!ArchiveVersion::new(2, 0, 0).is_supported());
        assert_eq!(ArchiveVersion::V1_14.to_string(), "1.14");
        assert!(ArchiveVersion::new(1, 15, 3).at_least(ArchiveVersion::V1_15));
    }
}

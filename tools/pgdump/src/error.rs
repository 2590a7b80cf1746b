//! What can go wrong reading an archive, and where.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::header::{Algorithm, ArchiveVersion};

/// An error reading an archive: which file, and what is wrong with it.
///
/// Displays as `reading dump 'orders.dump': truncated table of contents at byte 1234`. The
/// message is complete: like the workspace's other errors it has no `source()` chain to print.
#[derive(Debug, thiserror::Error)]
#[error("reading dump '{}': {kind}", path.display())]
pub struct Error {
    path: PathBuf,
    kind: ErrorKind,
}

impl Error {
    pub(crate) fn new(path: &Path, kind: ErrorKind) -> Self {
        Self {
            path: path.to_owned(),
            kind,
        }
    }

    /// The archive (file or directory) that was being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    pub fn into_kind(self) -> ErrorKind {
        self.kind
    }

    /// True when the file is not something this reader can read at all (wrong format or
    /// version), as opposed to a readable archive that is damaged or an I/O failure.
    pub fn is_unsupported(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::PlainSql
                | ErrorKind::TarFormat
                | ErrorKind::NotAnArchive { .. }
                | ErrorKind::NoTocFile
                | ErrorKind::NotAFile { .. }
                | ErrorKind::UnsupportedVersion { .. }
                | ErrorKind::UnsupportedFormat { .. }
        )
    }
}

/// The part of the archive a structural error is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Header,
    TableOfContents,
    /// The sequence of data blocks after the table of contents (custom format).
    DataArea,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Header => "header",
            Self::TableOfContents => "table of contents",
            Self::DataArea => "data area",
        })
    }
}

/// What is wrong. `subject` fields name the entry, e.g. `table trading.orders`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    #[error("{action}: {error}")]
    Io { action: String, error: io::Error },
    #[error("the file is empty")]
    Empty,
    #[error("a plain SQL dump, not an archive: use psql to restore it")]
    PlainSql,
    #[error(
        "a tar-format archive (pg_dump -Ft): this reader handles the custom (-Fc) and directory (-Fd) formats; restore it with pg_restore, or dump again with -Fc"
    )]
    TarFormat,
    #[error("not a pg_dump custom archive (magic '{magic}')")]
    NotAnArchive { magic: String },
    #[error("a directory without toc.dat: not a pg_dump directory-format archive")]
    NoTocFile,
    #[error(
        "{what}, not a file: an archive is read by seeking in it, so a pipe cannot be one; restore or copy the dump to a file and give that"
    )]
    NotAFile { what: &'static str },
    #[error(
        "unsupported archive version {version} (this reader handles 1.12 to 1.16, written by pg_dump 9.0 to 18)"
    )]
    UnsupportedVersion { version: ArchiveVersion },
    #[error("unsupported archive format code {code} in the header (expected {expected})")]
    UnsupportedFormat { code: u8, expected: u8 },
    #[error("unsupported {what} {value} in the header")]
    UnsupportedHeaderValue { what: &'static str, value: i64 },
    #[error("truncated {part} at byte {offset}")]
    Truncated { part: Part, offset: u64 },
    #[error("corrupt {part} at byte {offset}: {detail}")]
    Corrupt {
        part: Part,
        offset: u64,
        detail: String,
    },
    #[error("data block for {subject} (dump id {dump_id}) is truncated at byte {offset}")]
    BlockTruncated {
        subject: String,
        dump_id: u32,
        offset: u64,
    },
    #[error("corrupt data block for {subject} (dump id {dump_id}) at byte {offset}: {detail}")]
    BlockCorrupt {
        subject: String,
        dump_id: u32,
        offset: u64,
        detail: String,
    },
    #[error("no data block for {subject} (dump id {dump_id}) in the file")]
    BlockNotFound { subject: String, dump_id: u32 },
    #[error("corrupt {algorithm} data in block of {subject} (dump id {dump_id}): {detail}")]
    Decompress {
        algorithm: Algorithm,
        subject: String,
        dump_id: u32,
        detail: String,
    },
    #[error(
        "cannot read the data of {subject} (dump id {dump_id}): the header names compression {algorithm}"
    )]
    UnsupportedCompression {
        algorithm: Algorithm,
        subject: String,
        dump_id: u32,
    },
    #[error("data file of {subject} (dump id {dump_id}): {detail}")]
    DataFile {
        subject: String,
        dump_id: u32,
        detail: String,
    },
    #[error("{subject} (dump id {dump_id}) has no data in the archive")]
    NoData { subject: String, dump_id: u32 },
    #[error("no entry with dump id {dump_id} in the table of contents")]
    NoSuchEntry { dump_id: u32 },
    #[error("COPY data of {subject} (dump id {dump_id}) {detail}")]
    CopyData {
        subject: String,
        dump_id: u32,
        detail: String,
    },
    #[error("the rows of {subject} (dump id {dump_id}) cannot be counted: {reason}")]
    NotCountable {
        subject: String,
        dump_id: u32,
        reason: String,
    },
}

/// Where the byte source under a decompressor leaves its own errors (truncation, corrupt
/// framing, I/O), so that they are reported as such however the decompressor wraps them;
/// an error with an empty slot is the decompressor's own complaint.
#[derive(Debug, Clone, Default)]
pub(crate) struct ErrorSlot(Arc<Mutex<Option<ErrorKind>>>);

impl ErrorSlot {
    /// Keeps the first error and returns an `io::Error` that describes it.
    pub(crate) fn put(&self, kind: ErrorKind) -> io::Error {
        let error = io::Error::other(kind.to_string());
        if let Ok(mut slot) = self.0.lock() {
            if slot.is_none() {
                *slot = Some(kind);
            }
        }
        error
    }

    pub(crate) fn take(&self) -> Option<ErrorKind> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

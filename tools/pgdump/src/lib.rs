//! A reader for pg_dump archives: the custom format (`pg_dump -Fc`) and the directory format
//! (`pg_dump -Fd`) of archive versions 1.12 to 1.16 (pg_dump 9.0 to 18), with none, gzip,
//! lz4 and zstd compression. Pure: no database, no pg_restore, no processes.
//!
//! ```no_run
//! let archive = pgdump::Archive::open("gordon.dump")?;
//! println!("archive {} by pg_dump {:?}", archive.header().version, archive.header().pg_dump_version);
//! for table in archive.count_all_rows() {
//!     let rows = table.result?.rows;
//!     println!("{}: {rows} rows", table.entry.qualified_name());
//! }
//! # Ok::<(), pgdump::Error>(())
//! ```
//!
//! The layout is described in `shared/pgdump-archive-format.md` and, with authority, in
//! PostgreSQL's `src/bin/pg_dump` (pg_backup_archiver.c, pg_backup_custom.c,
//! pg_backup_directory.c, compress_*.c). Each module's documentation sums up its part.
//!
//! Nothing here panics on any input, and no length read from a file is allocated before the
//! bytes are there: a damaged archive is an [`Error`] that names the entry and the byte.

mod archive;
mod decode;
mod error;
mod header;
mod parallel;
mod read;
mod rows;
mod stream;
#[cfg(test)]
mod synthetic_tests;
mod text;
mod toc;

pub use archive::{Archive, not_a_file};
pub use error::{Error, ErrorKind, Part};
pub use header::{Algorithm, ArchiveVersion, Compression, Format, Header, MAGIC};
pub use parallel::TableRows;
pub use rows::RowCount;
pub use stream::DataReader;
pub use text::Text;
pub use toc::{DataLocation, DumpId, Entry, Section, belongs_to_schema};

use std::ops::RangeFrom;

/// The PostgreSQL major versions whose pg_restore can read an archive of `version`.
///
/// A pg_restore reads archive versions up to the one its own pg_dump writes: 1.14 is written
/// by pg_dump 12 to 15, 1.15 by 16, 1.16 by 17 and 18. `None` for versions no released
/// pg_restore reads (1.17 and later) and for versions older than this reader knows.
///
/// Majors before 10 are counted as 9 (9.0 to 9.6 all read 1.12); 1.13 is also read by the
/// minor releases of 9.3 to 10 from February 2018 on, which this range leaves out.
pub fn readable_by_pg_restore(version: ArchiveVersion) -> Option<RangeFrom<u32>> {
    if version.major != 1 {
        return None;
    }
    let first_major = match version.minor {
        12 => 9,
        13 => 11,
        14 => 12,
        15 => 16,
        16 => 17,
        _ => return None,
    };
    Some(first_major..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pg_restore_reads_archives_up_to_its_own_version() {
        assert_eq!(readable_by_pg_restore(ArchiveVersion::V1_14), Some(12..));
        assert_eq!(readable_by_pg_restore(ArchiveVersion::V1_15), Some(16..));
        assert_eq!(readable_by_pg_restore(ArchiveVersion::V1_16), Some(17..));
        assert_eq!(
            readable_by_pg_restore(ArchiveVersion::new(1, 16, 2)),
            Some(17..)
        );
        assert_eq!(readable_by_pg_restore(ArchiveVersion::new(1, 17, 0)), None);
        assert!(
            readable_by_pg_restore(ArchiveVersion::V1_16)
                .is_some_and(|r| !r.contains(&16) && r.contains(&18))
        );
    }
}

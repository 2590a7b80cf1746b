//! Real archives from pg_dump 15, 16, 17 and 18, read back and checked against PostgreSQL's
//! own answers: `pg_restore -l` of the same file for the entries, `SELECT count(*)` in the
//! source database for the rows.
// Helpers outside #[test] functions may unwrap: a panic in a test is a failure with a line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // in tests a panic is a failed test with a line number; a scenario reads top to bottom

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use common::{
    dump, dump_through_pipe, fixture_cluster, listed_by_pg_restore, listing_line,
    pg_restore_listing, source_counts,
};
use pgdump::{Algorithm, Archive, ArchiveVersion, DataLocation, ErrorKind, Format, Section};
use testkit::PgCluster;

/// What a dump should look like.
struct Expect {
    format: Format,
    algorithm: Algorithm,
    offsets: bool,
}

fn archive_version(major: u32) -> ArchiveVersion {
    match major {
        12..=15 => ArchiveVersion::V1_14,
        16 => ArchiveVersion::V1_15,
        _ => ArchiveVersion::V1_16,
    }
}

fn check_dump(cluster: &PgCluster, path: &Path, expect: &Expect, counts: &BTreeMap<String, u64>) {
    let major = cluster.install.major;
    let what = format!("pg_dump {major}, {}", path.display());
    let archive = Archive::open(path).unwrap_or_else(|e| panic!("{what}: {e}"));
    check_header(cluster, &archive, expect, &what);
    check_entries(&archive, expect, &what);
    check_rows(&archive, counts, &what);
}

/// The header, and the entries, against pg_restore's listing of the same file.
fn check_header(cluster: &PgCluster, archive: &Archive, expect: &Expect, what: &str) {
    let major = cluster.install.major;
    let path = archive.path();
    let header = archive.header();
    assert_eq!(header.version, archive_version(major), "{what}");
    assert_eq!(header.format, expect.format, "{what}");
    assert_eq!(header.compression.algorithm, expect.algorithm, "{what}");
    assert_eq!(header.int_size, 4);
    assert_eq!(header.offset_size, 8);
    assert_eq!(header.database, "gordon");
    assert!(
        pgdump::readable_by_pg_restore(header.version)
            .unwrap()
            .contains(&major),
        "{what}"
    );
    let (summary, listed) = pg_restore_listing(cluster, path);
    let summary = summary.join("\n");
    let created = header
        .created
        .unwrap()
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string();
    let version_line = format!(
        "Dump Version: {}-{}",
        header.version, header.version.revision
    );
    let compression = match header.compression.level {
        Some(level) => level.to_string(),
        None => header.compression.algorithm.to_string(),
    };
    for needle in [
        format!("; Archive created at {created}"),
        "dbname: gordon".to_owned(),
        version_line,
        format!(
            "Format: {}",
            if expect.format == Format::Custom {
                "CUSTOM"
            } else {
                "DIRECTORY"
            }
        ),
        format!("Compression: {compression}"),
        format!(
            "Dumped from database version: {}",
            header.server_version.as_ref().unwrap()
        ),
        format!(
            "Dumped by pg_dump version: {}",
            header.pg_dump_version.as_ref().unwrap()
        ),
    ] {
        assert!(
            summary.contains(&needle),
            "{what}: pg_restore's header has no '{needle}':\n{summary}"
        );
    }
    assert!(
        header
            .pg_dump_version
            .as_ref()
            .unwrap()
            .to_string()
            .starts_with(&format!("{major}."))
    );

    // The entries: the same ids, kinds, names and owners, in the same order.
    let mine: Vec<String> = archive
        .entries()
        .iter()
        .filter(|e| listed_by_pg_restore(e))
        .map(listing_line)
        .collect();
    assert_eq!(mine, listed, "{what}: entries differ from pg_restore -l");
}

/// Fields that depend on the archive version, and the data locations.
fn check_entries(archive: &Archive, expect: &Expect, what: &str) {
    let header = archive.header();
    let orders = archive
        .entries()
        .iter()
        .find(|e| e.desc == "TABLE" && e.tag == "orders")
        .unwrap();
    assert_eq!(
        orders.table_am.as_ref().map(ToString::to_string).as_deref(),
        Some("heap"),
        "{what}"
    );
    let trades = archive
        .entries()
        .iter()
        .find(|e| e.desc == "TABLE" && e.tag == "trades")
        .unwrap();
    assert_eq!(
        trades.table_am, None,
        "a partitioned parent has no access method"
    );
    if header.version >= ArchiveVersion::V1_16 {
        assert_eq!(orders.relkind, Some(b'r'));
        assert_eq!(trades.relkind, Some(b'p'));
    } else {
        assert_eq!(orders.relkind, None);
    }
    assert_eq!(orders.section, Section::PreData);
    let function = archive
        .entries()
        .iter()
        .find(|e| e.desc == "FUNCTION")
        .unwrap();
    assert!(
        function
            .defn
            .as_ref()
            .unwrap()
            .to_string()
            .contains("$txt$order $txt$"),
        "{what}: dollar quoting kept"
    );
    let data_entries: Vec<_> = archive.table_data().collect();
    for entry in &data_entries {
        assert_eq!(entry.section, Section::Data);
        assert!(entry.had_dumper);
        assert!(
            entry
                .copy_stmt
                .as_ref()
                .unwrap()
                .to_string()
                .starts_with("COPY ")
        );
        match (&entry.data, expect.format, expect.offsets) {
            (DataLocation::Offset(pos), Format::Custom, true) => {
                assert!(*pos >= archive.data_start().unwrap());
            }
            (DataLocation::OffsetNotSet, Format::Custom, false)
            | (DataLocation::File(_), Format::Directory, _) => {}
            (other, ..) => panic!(
                "{what}: {} has data location {other:?}",
                entry.qualified_name()
            ),
        }
    }
    assert_eq!(archive.has_data_offsets(), expect.offsets, "{what}");
    assert!(
        archive.entries().iter().any(|e| e.desc == "BLOBS"),
        "{what}: the fixture has large objects"
    );
}

/// Rows: every table, in parallel and in one sequential pass, equal to count(*); the raw
/// stream of one table; what cannot be counted.
fn check_rows(archive: &Archive, counts: &BTreeMap<String, u64>, what: &str) {
    let data_entries: Vec<_> = archive.table_data().collect();
    let parallel: BTreeMap<String, u64> = archive
        .count_all_rows()
        .into_iter()
        .map(|t| {
            (
                t.entry.qualified_name(),
                t.result.unwrap_or_else(|e| panic!("{what}: {e}")).rows,
            )
        })
        .collect();
    assert_eq!(
        &parallel, counts,
        "{what}: counted rows differ from count(*)"
    );
    let sequential: Vec<u64> = archive
        .count_rows_parallel(&data_entries, 1)
        .into_iter()
        .map(|r| r.unwrap().rows)
        .collect();
    let names: Vec<String> = data_entries.iter().map(|e| e.qualified_name()).collect();
    assert_eq!(
        sequential,
        names.iter().map(|n| counts[n]).collect::<Vec<_>>(),
        "{what}: one sequential pass"
    );

    // The raw stream of one table: the COPY text with its awkward values, then the marker.
    let orders_data = data_entries.iter().find(|e| e.tag == "orders").unwrap();
    let mut text = Vec::new();
    archive
        .open_data(orders_data)
        .unwrap()
        .read_to_end(&mut text)
        .unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("before\\n\\\\.\\nafter"),
        "{what}: the escaped value"
    );
    assert!(text.contains("\ttab\\there\t"));
    assert!(
        text.ends_with("\n\\.\n\n\n"),
        "{what}: pg_dump writes the end-of-data marker into the archive"
    );
    assert_eq!(archive.data_size(orders_data).unwrap(), text.len() as u64);

    // What cannot be counted says why.
    let sequence_set = archive
        .entries()
        .iter()
        .find(|e| e.desc == "SEQUENCE SET")
        .unwrap();
    assert!(matches!(
        archive.count_rows(sequence_set).unwrap_err().kind(),
        ErrorKind::NotCountable { .. }
    ));
    let blobs = archive
        .entries()
        .iter()
        .find(|e| e.desc == "BLOBS")
        .unwrap();
    assert!(archive.count_rows(blobs).is_err());
}

fn check_major(major: u32) {
    let cluster = fixture_cluster(major, 20_000);
    let counts = source_counts(&cluster);
    assert_eq!(counts.len(), 9, "{counts:?}");
    assert_eq!(counts["trading.empty_table"], 0);
    assert_eq!(counts["trading.orders"], 20_009);

    let gzip = Algorithm::Gzip;
    let custom = |algorithm| Expect {
        format: Format::Custom,
        algorithm,
        offsets: true,
    };
    let directory = |algorithm| Expect {
        format: Format::Directory,
        algorithm,
        offsets: true,
    };
    let mut dumps = vec![
        (dump(&cluster, "default.dump", &["-Fc"]), custom(gzip)),
        (
            dump(&cluster, "z0.dump", &["-Fc", "-Z0"]),
            custom(Algorithm::None),
        ),
        (dump(&cluster, "dir", &["-Fd"]), directory(gzip)),
        (
            dump_through_pipe(&cluster, "pipe.dump", &[]),
            Expect {
                format: Format::Custom,
                algorithm: gzip,
                offsets: false,
            },
        ),
    ];
    if major >= 16 {
        dumps.extend([
            (
                dump(&cluster, "lz4.dump", &["-Fc", "--compress=lz4"]),
                custom(Algorithm::Lz4),
            ),
            (
                dump(&cluster, "zstd.dump", &["-Fc", "--compress=zstd"]),
                custom(Algorithm::Zstd),
            ),
            (
                dump(&cluster, "dir-lz4", &["-Fd", "--compress=lz4"]),
                directory(Algorithm::Lz4),
            ),
            (
                dump(&cluster, "dir-zstd", &["-Fd", "--compress=zstd"]),
                directory(Algorithm::Zstd),
            ),
            (
                dump_through_pipe(&cluster, "pipe-zstd.dump", &["--compress=zstd"]),
                Expect {
                    format: Format::Custom,
                    algorithm: Algorithm::Zstd,
                    offsets: false,
                },
            ),
        ]);
    } else {
        dumps.push((dump(&cluster, "z9.dump", &["-Fc", "-Z9"]), custom(gzip)));
    }
    for (path, expect) in &dumps {
        check_dump(&cluster, path, expect, &counts);
    }

    // Archives before 1.15 store the zlib level.
    let level = Archive::open(&dumps[0].0)
        .unwrap()
        .header()
        .compression
        .level;
    assert_eq!(level, if major < 16 { Some(-1) } else { None });
    if major < 16 {
        let z9 = dumps.iter().find(|(p, _)| p.ends_with("z9.dump")).unwrap();
        assert_eq!(
            Archive::open(&z9.0).unwrap().header().compression.level,
            Some(9)
        );
    }

    // Data dumped as INSERTs is listed but not counted.
    let inserts = dump(&cluster, "inserts.dump", &["-Fc", "--inserts"]);
    let archive = Archive::open(&inserts).unwrap();
    let orders = archive.table_data().find(|e| e.tag == "orders").unwrap();
    assert_eq!(orders.copy_stmt, None);
    let error = archive.count_rows(orders).unwrap_err();
    assert!(error.to_string().contains("INSERT"), "{error}");
}

#[test]
fn pg_dump_15_archives_read_like_pg_restore_reads_them() {
    check_major(15);
}

#[test]
fn pg_dump_16_archives_read_like_pg_restore_reads_them() {
    check_major(16);
}

#[test]
fn pg_dump_17_archives_read_like_pg_restore_reads_them() {
    check_major(17);
}

#[test]
fn pg_dump_18_archives_read_like_pg_restore_reads_them() {
    check_major(18);
}

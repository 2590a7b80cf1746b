//! Damaged and foreign files: every one is an error that says what is wrong, never a panic,
//! and never a short row count. Truncations and flipped bytes run over real archives.
// Helpers outside #[test] functions may unwrap: a panic in a test is a failure with a line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // in tests a panic is a failed test with a line number; a scenario reads top to bottom

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{dump, dump_through_pipe, fixture_cluster, source_counts};
use pgdump::{Archive, Entry, ErrorKind, Part};

/// Generated orders in the fixture: enough for many chunks, small enough for fast loops.
const BULK_ROWS: u32 = 2_000;

/// Opens and counts every table (one pass, then two threads). Every count that succeeds must
/// be the true one; returns whether anything failed.
fn read_everything(path: &Path, truth: &BTreeMap<String, u64>, strict: bool, what: &str) -> bool {
    let Ok(archive) = Archive::open(path) else {
        return true;
    };
    let entries: Vec<&Entry> = archive.table_data().collect();
    let mut failed = entries.len() != truth.len() || archive.verify_layout().is_err();
    for threads in [1, 2] {
        for (entry, result) in entries
            .iter()
            .zip(archive.count_rows_parallel(&entries, threads))
        {
            match result {
                Ok(count) if strict => {
                    let name = entry.qualified_name();
                    assert_eq!(
                        Some(&count.rows),
                        truth.get(&name),
                        "{what}: {name} counted wrong ({threads} threads)"
                    );
                }
                Ok(_) => {}
                Err(error) => {
                    failed = true;
                    // Every message names the file.
                    assert!(error.to_string().starts_with("reading dump '"), "{error}");
                }
            }
        }
    }
    failed
}

/// Offsets worth cutting at: every byte of the header, a stride through the TOC, the bytes
/// around each block start, and `samples` places through the data.
fn cuts(archive: &Archive, len: u64, samples: u64) -> Vec<u64> {
    let data_start = archive.data_start().unwrap();
    let mut cuts: Vec<u64> = (0..data_start + 16).step_by(7).collect();
    cuts.extend(0..200);
    for entry in archive.entries().iter().filter(|e| e.has_data()) {
        let block = archive.block_offset(entry).unwrap();
        cuts.extend(block.saturating_sub(3)..block + 12);
    }
    let stride = ((len - data_start) / samples).max(1);
    cuts.extend((data_start..len).step_by(usize::try_from(stride).unwrap()));
    cuts.extend(len.saturating_sub(20)..len);
    cuts.retain(|&c| c < len);
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

fn truncate_everywhere(original: &Path, truth: &BTreeMap<String, u64>, scratch: &Path) {
    let bytes = std::fs::read(original).unwrap();
    let archive = Archive::open(original).unwrap();
    let cut_path = scratch.join("cut.dump");
    for cut in cuts(&archive, bytes.len() as u64, 150) {
        std::fs::write(&cut_path, &bytes[..usize::try_from(cut).unwrap()]).unwrap();
        let what = format!(
            "{} cut at byte {cut} of {}",
            original.display(),
            bytes.len()
        );
        assert!(
            read_everything(&cut_path, truth, true, &what),
            "{what}: read without any error"
        );
    }
}

fn flip_everywhere(
    original: &Path,
    truth: &BTreeMap<String, u64>,
    scratch: &Path,
    strict_data: bool,
) {
    let bytes = std::fs::read(original).unwrap();
    let archive = Archive::open(original).unwrap();
    let data_start = archive.data_start().unwrap();
    let flipped_path = scratch.join("flipped.dump");
    let positions = (0..bytes.len())
        .step_by((bytes.len() / 300).max(1))
        .chain(0..64);
    for (n, pos) in positions.enumerate() {
        let mut damaged = bytes.clone();
        damaged[pos] ^= [0x01, 0x80, 0xff, 0x20][n % 4];
        std::fs::write(&flipped_path, &damaged).unwrap();
        let what = format!("{} with byte {pos} flipped", original.display());
        // zlib's checksum catches any change to compressed data: a count is right or an error.
        let strict = strict_data && pos as u64 >= data_start;
        read_everything(&flipped_path, truth, strict, &what);
    }
}

#[test]
fn truncated_and_flipped_custom_archives_are_errors_never_wrong_counts() {
    let cluster = fixture_cluster(18, BULK_ROWS);
    let truth = source_counts(&cluster);
    let scratch = cluster.scratch();
    let gzip = dump(&cluster, "gzip.dump", &["-Fc"]);
    let pipe = dump_through_pipe(&cluster, "pipe.dump", &[]);
    let none = dump(&cluster, "none.dump", &["-Fc", "-Z0"]);
    let lz4 = dump(&cluster, "lz4.dump", &["-Fc", "--compress=lz4"]);
    let zstd = dump(&cluster, "zstd.dump", &["-Fc", "--compress=zstd"]);
    for path in [&gzip, &pipe, &none, &lz4, &zstd] {
        Archive::open(path).unwrap().verify_layout().unwrap();
        assert!(
            !read_everything(path, &truth, true, "intact"),
            "{} reads whole",
            path.display()
        );
        truncate_everywhere(path, &truth, &scratch);
    }
    flip_everywhere(&gzip, &truth, &scratch, true);
    flip_everywhere(&pipe, &truth, &scratch, true);
    for path in [&none, &lz4, &zstd] {
        flip_everywhere(path, &truth, &scratch, false);
    }
}

#[test]
fn errors_say_what_is_wrong_and_where() {
    let cluster = fixture_cluster(18, BULK_ROWS);
    let gzip = dump(&cluster, "gzip.dump", &["-Fc"]);
    damage_is_named(&cluster.scratch(), &gzip);
    foreign_files_are_named(&cluster);
    unknown_header_values_are_refused(&cluster.scratch(), &std::fs::read(&gzip).unwrap());
}

fn message(path: &Path) -> String {
    Archive::open(path).unwrap_err().to_string()
}

/// Truncation and corruption of a real archive: the part, the byte, the table.
fn damage_is_named(scratch: &Path, gzip: &Path) {
    let bytes = std::fs::read(gzip).unwrap();
    let archive = Archive::open(gzip).unwrap();
    let write = |name: &str, content: &[u8]| -> PathBuf {
        let path = scratch.join(name);
        std::fs::write(&path, content).unwrap();
        path
    };

    // Truncated in the TOC.
    let cut = write("toc-cut.dump", &bytes[..2000]);
    let error = Archive::open(&cut).unwrap_err();
    assert!(
        matches!(
            error.kind(),
            ErrorKind::Truncated {
                part: Part::TableOfContents,
                offset: 2000
            }
        ),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "reading dump '{}': truncated table of contents at byte 2000",
            cut.display()
        )
    );

    // Truncated inside the orders block: the error names the table.
    let orders = archive.table_data().find(|e| e.tag == "orders").unwrap();
    let block = archive.block_offset(orders).unwrap();
    let cut = write(
        "block-cut.dump",
        &bytes[..usize::try_from(block).unwrap() + 300],
    );
    let cut_archive = Archive::open(&cut).unwrap();
    let error = cut_archive
        .count_rows(cut_archive.entry(orders.dump_id).unwrap())
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains(&format!(
            "data block for table trading.orders (dump id {}) is truncated",
            orders.dump_id
        )),
        "{text}"
    );

    // A compressed stream damaged inside: the algorithm and the table.
    let mut damaged = bytes.clone();
    let inside = usize::try_from(block).unwrap() + 200;
    damaged[inside] ^= 0x55;
    let path = write("damaged.dump", &damaged);
    let damaged_archive = Archive::open(&path).unwrap();
    let text = damaged_archive
        .count_rows(damaged_archive.entry(orders.dump_id).unwrap())
        .unwrap_err()
        .to_string();
    assert!(text.contains("table trading.orders"), "{text}");
    assert!(text.contains("gzip") || text.contains("corrupt"), "{text}");
}

/// Not archives at all, or not this reader's formats.
fn foreign_files_are_named(cluster: &testkit::PgCluster) {
    let scratch = cluster.scratch();
    let write = |name: &str, content: &[u8]| -> PathBuf {
        let path = scratch.join(name);
        std::fs::write(&path, content).unwrap();
        path
    };
    assert_eq!(
        message(&write("empty.dump", b"")),
        format!(
            "reading dump '{}': the file is empty",
            scratch.join("empty.dump").display()
        )
    );
    assert!(
        message(&write("magic.dump", b"XYZZY and more"))
            .ends_with("not a pg_dump custom archive (magic 'XYZZY')")
    );
    assert!(
        message(&write("bin.dump", b"\x1f\x8b\x08\x00")).contains("(magic '\\x1f\\x8b\\x08\\x00')")
    );
    let plain = dump(cluster, "plain.sql", &["-Fp"]);
    assert!(matches!(
        Archive::open(&plain).unwrap_err().kind(),
        ErrorKind::PlainSql
    ));
    assert!(message(&plain).ends_with("a plain SQL dump, not an archive: use psql to restore it"));
    let tar = dump(cluster, "archive.tar", &["-Ft"]);
    assert!(
        matches!(
            Archive::open(&tar).unwrap_err().kind(),
            ErrorKind::TarFormat
        ),
        "{}",
        message(&tar)
    );
    let no_toc = scratch.join("empty-dir");
    std::fs::create_dir_all(&no_toc).unwrap();
    assert!(matches!(
        Archive::open(&no_toc).unwrap_err().kind(),
        ErrorKind::NoTocFile
    ));
    assert!(matches!(
        Archive::open(scratch.join("missing.dump"))
            .unwrap_err()
            .kind(),
        ErrorKind::Io { .. }
    ));
}

/// Versions and header values this reader does not know.
fn unknown_header_values_are_refused(scratch: &Path, bytes: &[u8]) {
    let write = |name: &str, content: &[u8]| -> PathBuf {
        let path = scratch.join(name);
        std::fs::write(&path, content).unwrap();
        path
    };
    let mut newer = bytes.to_vec();
    newer[6] = 17;
    let error = Archive::open(write("newer.dump", &newer)).unwrap_err();
    assert!(error.is_unsupported());
    assert!(
        error
            .to_string()
            .contains("unsupported archive version 1.17"),
        "{error}"
    );
    let mut older = bytes.to_vec();
    older[6] = 11;
    assert!(matches!(
        Archive::open(write("older.dump", &older))
            .unwrap_err()
            .kind(),
        ErrorKind::UnsupportedVersion { .. }
    ));
    let mut no_ints = bytes.to_vec();
    no_ints[8] = 0;
    assert!(Archive::open(write("int0.dump", &no_ints)).is_err());
    let mut format = bytes.to_vec();
    format[10] = 5;
    assert!(matches!(
        Archive::open(write("format.dump", &format))
            .unwrap_err()
            .kind(),
        ErrorKind::UnsupportedFormat { .. }
    ));

    // Lengths from the file are never trusted for allocation: the database name's length
    // (header bytes 47..52 in a 1.16 archive) set to 2 GiB, then to 256 MiB.
    let mut huge = bytes.to_vec();
    huge[48..52].copy_from_slice(&0x7fff_ffff_u32.to_le_bytes());
    assert!(matches!(
        Archive::open(write("huge.dump", &huge)).unwrap_err().kind(),
        ErrorKind::Corrupt {
            part: Part::Header,
            ..
        }
    ));
    huge[48..52].copy_from_slice(&0x1000_0000_u32.to_le_bytes());
    assert!(matches!(
        Archive::open(write("big.dump", &huge)).unwrap_err().kind(),
        ErrorKind::Truncated {
            part: Part::Header,
            ..
        }
    ));
}

#[test]
fn damaged_directory_archives_are_errors() {
    let cluster = fixture_cluster(17, BULK_ROWS);
    let truth = source_counts(&cluster);
    for (name, args) in [
        ("dir-gzip", &["-Fd"][..]),
        ("dir-none", &["-Fd", "-Z0"]),
        ("dir-lz4", &["-Fd", "--compress=lz4"]),
    ] {
        let dir = dump(&cluster, name, args);
        assert!(!read_everything(&dir, &truth, true, name));
        let archive = Archive::open(&dir).unwrap();
        let orders = archive.table_data().find(|e| e.tag == "orders").unwrap();
        let file = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .starts_with(&format!("{}.dat", orders.dump_id))
            })
            .unwrap();
        let original = std::fs::read(&file).unwrap();
        // Cut anywhere before its last two bytes (the blank lines after `\.` may go: the rows
        // are all there), the orders file is an error naming the table; or the right count.
        for cut in (0..original.len())
            .step_by(53)
            .chain(original.len() - 12..original.len())
        {
            std::fs::write(&file, &original[..cut]).unwrap();
            let what = format!("{name}: orders file cut at {cut} of {}", original.len());
            let archive = Archive::open(&dir).unwrap();
            match archive.count_rows(archive.entry(orders.dump_id).unwrap()) {
                Ok(count) => assert_eq!(count.rows, truth["trading.orders"], "{what}"),
                Err(error) => assert!(
                    error.to_string().contains("trading.orders"),
                    "{what}: {error}"
                ),
            }
            if cut + 3 < original.len() && !name.ends_with("none") {
                assert!(
                    archive
                        .count_rows(archive.entry(orders.dump_id).unwrap())
                        .is_err(),
                    "{what}"
                );
            }
        }
        std::fs::remove_file(&file).unwrap();
        let error = Archive::open(&dir).unwrap().count_rows(orders).unwrap_err();
        assert!(error.to_string().contains("missing"), "{error}");

        // toc.dat cut short.
        let toc = dir.join("toc.dat");
        let toc_bytes = std::fs::read(&toc).unwrap();
        for cut in (0..toc_bytes.len()).step_by(7) {
            std::fs::write(&toc, &toc_bytes[..cut]).unwrap();
            assert!(Archive::open(&dir).is_err(), "{name}: toc.dat cut at {cut}");
        }
    }
}

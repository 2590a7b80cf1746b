//! Archives built byte by byte: versions no installed pg_dump writes (1.12, 1.13), odd but
//! legal encodings (8-byte ints), and damage at exact places.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Algorithm, Archive, ArchiveVersion, DataLocation, ErrorKind, Part, Section};

/// Writes the archive encodings with a chosen int size.
struct Writer {
    bytes: Vec<u8>,
    int_size: usize,
}

impl Writer {
    fn int(&mut self, value: i64) {
        self.bytes.push(u8::from(value < 0));
        let magnitude = value.unsigned_abs();
        for i in 0..self.int_size {
            self.bytes
                .push(u8::try_from((magnitude >> (8 * i)) & 0xff).unwrap());
        }
    }

    fn string(&mut self, value: Option<&str>) {
        match value {
            None => self.int(-1),
            Some(s) => {
                self.int(i64::try_from(s.len()).unwrap());
                self.bytes.extend_from_slice(s.as_bytes());
            }
        }
    }
}

struct Table {
    id: i64,
    data: Vec<u8>,
}

struct Spec {
    version: (u8, u8),
    int_size: usize,
    zlib: bool,
    offsets: bool,
    tables: Vec<Table>,
}

impl Spec {
    fn new(minor: u8) -> Self {
        Self {
            version: (1, minor),
            int_size: 4,
            zlib: false,
            offsets: true,
            tables: vec![
                Table {
                    id: 10,
                    data: b"1\ta\n2\tb\\nc\n\\.\n\n\n".to_vec(),
                },
                Table {
                    id: 11,
                    data: b"\\.\n\n\n".to_vec(),
                },
            ],
        }
    }
}

/// The header, the TOC (an ENCODING entry and one TABLE DATA entry per table) and the blocks.
/// Returns the bytes and where each block starts.
fn build(spec: &Spec) -> (Vec<u8>, Vec<usize>) {
    let version = ArchiveVersion::new(spec.version.0, spec.version.1, 0);
    // Blocks first, to know their sizes; then the TOC with their offsets.
    let blocks: Vec<Vec<u8>> = spec
        .tables
        .iter()
        .map(|t| {
            let mut w = Writer {
                bytes: vec![1],
                int_size: spec.int_size,
            };
            w.int(t.id);
            let payload = if spec.zlib {
                let mut e =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(&t.data).unwrap();
                e.finish().unwrap()
            } else {
                t.data.clone()
            };
            for chunk in payload.chunks(7) {
                w.int(i64::try_from(chunk.len()).unwrap());
                w.bytes.extend_from_slice(chunk);
            }
            w.int(0);
            w.bytes
        })
        .collect();
    let toc = |offsets: &[usize]| -> Vec<u8> {
        let mut w = Writer {
            bytes: b"PGDMP".to_vec(),
            int_size: spec.int_size,
        };
        w.bytes.extend([
            spec.version.0,
            spec.version.1,
            0,
            u8::try_from(spec.int_size).unwrap(),
            8,
            1,
        ]);
        if version.at_least(ArchiveVersion::V1_15) {
            w.bytes.push(u8::from(spec.zlib));
        } else {
            w.int(if spec.zlib { -1 } else { 0 });
        }
        for field in [37, 48, 3, 25, 10, 126, 0] {
            w.int(field);
        }
        w.string(Some("gordon"));
        w.string(Some("11.22"));
        w.string(Some("11.22"));
        w.int(i64::try_from(spec.tables.len() + 1).unwrap());
        write_entry(&mut w, spec, 1, ("ENCODING", "ENCODING", 2), None, None);
        for (table, &offset) in spec.tables.iter().zip(offsets) {
            let copy = format!("COPY trading.t{} (a, b) FROM stdin;\n", table.id);
            let tag = format!("t{}", table.id);
            write_entry(
                &mut w,
                spec,
                table.id,
                ("TABLE DATA", &tag, 3),
                Some(&copy),
                Some(offset),
            );
        }
        w.bytes
    };
    // The TOC has the same length whatever the offsets: lay it out twice.
    let toc_len = toc(&vec![0; spec.tables.len()]).len();
    let mut offsets = Vec::new();
    let mut pos = toc_len;
    for block in &blocks {
        offsets.push(pos);
        pos += block.len();
    }
    let mut bytes = toc(&offsets);
    for block in &blocks {
        bytes.extend_from_slice(block);
    }
    (bytes, offsets)
}

/// One TOC entry; `data` is the block offset of an entry with data.
fn write_entry(
    w: &mut Writer,
    spec: &Spec,
    id: i64,
    (desc, tag, section): (&str, &str, i64),
    copy: Option<&str>,
    data: Option<usize>,
) {
    let version = ArchiveVersion::new(spec.version.0, spec.version.1, 0);
    w.int(id);
    w.int(i64::from(data.is_some()));
    w.string(Some("0"));
    w.string(Some(if data.is_some() { "16400" } else { "0" }));
    w.string(Some(tag));
    w.string(Some(desc));
    w.int(section);
    w.string(if data.is_some() {
        None
    } else {
        Some("SET client_encoding = 'UTF8';\n")
    });
    w.string(None);
    w.string(copy);
    w.string(data.map(|_| "trading"));
    w.string(None);
    if version.at_least(ArchiveVersion::V1_14) {
        w.string(None);
    }
    if version.at_least(ArchiveVersion::V1_16) {
        w.int(0);
    }
    w.string(data.map(|_| "postgres"));
    w.string(Some("false"));
    if data.is_some() {
        w.string(Some("3"));
        w.string(Some("99999"));
    }
    w.string(None);
    w.bytes.push(match data {
        None => 3,
        Some(_) if !spec.offsets => 1,
        Some(_) => 2,
    });
    let pos = u64::try_from(data.filter(|_| spec.offsets).unwrap_or(0)).unwrap();
    w.bytes.extend(pos.to_le_bytes());
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn rows(archive: &Archive) -> Vec<u64> {
    let entries: Vec<_> = archive.table_data().collect();
    archive
        .count_rows_parallel(&entries, 2)
        .into_iter()
        .map(|r| r.unwrap().rows)
        .collect()
}

#[test]
fn every_supported_version_reads() {
    let dir = tempfile::tempdir().unwrap();
    for minor in 12..=16 {
        for zlib in [false, true] {
            for offsets in [false, true] {
                let spec = Spec {
                    zlib,
                    offsets,
                    ..Spec::new(minor)
                };
                let (bytes, _) = build(&spec);
                let path = write(dir.path(), "v.dump", &bytes);
                let archive = Archive::open(&path).unwrap_or_else(|e| panic!("1.{minor}: {e}"));
                let header = archive.header();
                assert_eq!(header.version, ArchiveVersion::new(1, minor, 0));
                assert_eq!(
                    header.compression.algorithm,
                    if zlib {
                        Algorithm::Gzip
                    } else {
                        Algorithm::None
                    }
                );
                assert_eq!(header.created.unwrap().to_string(), "2026-11-25T03:48:37");
                assert_eq!(archive.entries().len(), 3);
                let t10 = archive.entries().iter().find(|e| e.tag == "t10").unwrap();
                assert_eq!(t10.section, Section::Data);
                assert_eq!(
                    t10.dependencies.iter().map(|d| d.0).collect::<Vec<_>>(),
                    [3, 99_999]
                );
                assert_eq!(t10.data == DataLocation::OffsetNotSet, !offsets);
                assert_eq!(
                    rows(&archive),
                    [2, 0],
                    "1.{minor} zlib {zlib} offsets {offsets}"
                );
                assert_eq!(
                    archive
                        .count_rows_parallel(&archive.table_data().collect::<Vec<_>>(), 1)
                        .len(),
                    2
                );
                archive.verify_layout().unwrap();
            }
        }
    }
}

#[test]
fn wide_ints_read_like_narrow_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, _) = build(&Spec {
        int_size: 8,
        zlib: true,
        ..Spec::new(16)
    });
    let archive = Archive::open(write(dir.path(), "wide.dump", &bytes)).unwrap();
    assert_eq!(archive.header().int_size, 8);
    assert_eq!(rows(&archive), [2, 0]);
}

#[test]
fn damage_at_exact_places_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let spec = Spec::new(16);
    let (bytes, offsets) = build(&spec);
    let first = offsets[0];
    let kind = |bytes: &[u8]| {
        let archive = Archive::open(write(dir.path(), "d.dump", bytes)).unwrap();
        let entry = archive
            .entries()
            .iter()
            .find(|e| e.tag == "t10")
            .unwrap()
            .clone();
        archive.count_rows(&entry).unwrap_err().into_kind()
    };

    // A negative chunk length.
    let mut damaged = bytes.clone();
    damaged[first + 6] = 1;
    assert!(
        matches!(kind(&damaged), ErrorKind::BlockCorrupt { offset, .. } if offset == (first + 6) as u64)
    );
    // The block at the offset belongs to another entry.
    let mut damaged = bytes.clone();
    damaged[first + 2] = 11;
    let error = kind(&damaged);
    assert!(
        error.to_string().contains("belongs to dump id 11"),
        "{error}"
    );
    // An unknown block type.
    let mut damaged = bytes.clone();
    damaged[first] = 2;
    assert!(kind(&damaged).to_string().contains("unknown block type 2"));
    // A row count stays exact or fails: the stream without its end-of-data marker.
    let spec = Spec {
        tables: vec![Table {
            id: 10,
            data: b"1\n2\n".to_vec(),
        }],
        ..Spec::new(16)
    };
    let error = kind(&build(&spec).0);
    assert!(matches!(error, ErrorKind::CopyData { .. }), "{error}");
    assert!(error.to_string().contains("end-of-data marker"));
    // Data after the end-of-data marker.
    let mut data = b"1\n\\.\n\n\n".to_vec();
    data.extend_from_slice(b"junk");
    let spec = Spec {
        tables: vec![Table { id: 10, data }],
        ..Spec::new(16)
    };
    assert!(matches!(kind(&build(&spec).0), ErrorKind::CopyData { .. }));

    // A TOC that names a dump id twice, or a section that does not exist.
    let mut damaged = bytes.clone();
    let second_id = find(&damaged, b"\x00\x0b\x00\x00\x00\x00\x01\x00\x00\x00").unwrap();
    damaged[second_id + 1] = 10;
    let error = Archive::open(write(dir.path(), "twice.dump", &damaged)).unwrap_err();
    assert!(
        error.to_string().contains("dump id 10 appears twice"),
        "{error}"
    );
    assert!(matches!(
        error.kind(),
        ErrorKind::Corrupt {
            part: Part::TableOfContents,
            ..
        }
    ));

    // A block for a dump id the TOC does not have data for.
    let mut damaged = bytes.clone();
    damaged[offsets[1] + 2] = 77;
    let archive = Archive::open(write(dir.path(), "stray.dump", &damaged)).unwrap();
    assert!(archive.verify_layout().is_err());
    // Garbage after the last block.
    let mut longer = bytes.clone();
    longer.push(9);
    let archive = Archive::open(write(dir.path(), "longer.dump", &longer)).unwrap();
    assert!(archive.verify_layout().is_err());
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

//! dump-validate through its binary, on real dumps written by pg_dump 15, 16, 17 and 18.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // in tests a panic is a failed test with a line number; a scenario reads top to bottom

use assert_cmd::Command;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use testkit::PgCluster;
use testkit::schema::assert_valid_record;

/// The awkward `trading` schema (tabs, newlines, a `\.` value, NULLs, an empty table, a
/// partitioned table, a matview, identity columns, dollar quoting, an enum, comments, grants
/// to two roles), plus objects in another schema that depend on it.
fn awkward_database(cluster: &PgCluster) {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../pgdump/tests/fixtures/trading.sql");
    let sql = std::fs::read_to_string(fixture)
        .unwrap()
        .replace("BULK_ROWS", "20000");
    cluster.create_database("gordon");
    cluster.psql_script("gordon", &sql);
    cluster.psql_script(
        "gordon",
        "CREATE SCHEMA reports;
         CREATE VIEW reports.daily AS SELECT count(*) AS n FROM trading.orders;
         CREATE TABLE reports.audit (order_id bigint REFERENCES trading.orders (id));",
    );
}

/// `SELECT count(*)` of every table of `trading` that holds rows itself.
fn source_counts(cluster: &PgCluster) -> BTreeMap<String, u64> {
    let names = cluster.psql(
        "gordon",
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'trading' AND c.relkind = 'r' ORDER BY 1",
    );
    names
        .lines()
        .map(|name| {
            let count = cluster.psql(
                "gordon",
                &format!("SELECT count(*) FROM trading.\"{name}\""),
            );
            (name.to_owned(), count.parse().unwrap())
        })
        .collect()
}

/// The tables `pg_restore -l` lists TABLE DATA for in `trading`.
fn pg_restore_tables(cluster: &PgCluster, dump: &Path) -> Vec<String> {
    let out = cluster
        .client("pg_restore")
        .arg("-l")
        .arg(dump)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with(';') && l.contains(" TABLE DATA trading "))
        .map(|l| {
            l.split(" TABLE DATA trading ")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    names.sort();
    names
}

struct Run {
    code: i32,
    record: Value,
    stderr: String,
}

impl Run {
    fn dump(&self) -> &Value {
        &self.record["dump"]
    }
    fn check(&self, name: &str) -> (String, String) {
        let c = self.dump()["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no check {name}: {}", self.dump()));
        (
            c["status"].as_str().unwrap().to_owned(),
            c["detail"].as_str().unwrap().to_owned(),
        )
    }
    fn rows(&self) -> BTreeMap<String, u64> {
        self.dump()["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["name"].as_str().unwrap().to_owned(),
                    t["rows"].as_u64().unwrap(),
                )
            })
            .collect()
    }
}

fn validate(args: &[&str], stdin: &str) -> Run {
    let mut cmd = Command::cargo_bin("dump-validate").unwrap();
    if stdin.is_empty() {
        // The test's empty stdin is a pipe: say that this run starts the record.
        cmd.arg("--new-record");
    }
    let output = cmd
        .env("NO_COLOR", "1")
        .env("TZ", "UTC")
        .args(args)
        .write_stdin(stdin.to_owned())
        .output()
        .unwrap();
    Run {
        code: output.status.code().unwrap(),
        record: assert_valid_record(&output.stdout),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn validate_path(dump: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["--schema", "trading", "--dump-tz", "UTC"];
    args.extend_from_slice(extra);
    args.push(dump.to_str().unwrap());
    validate(&args, "")
}

/// Writes a dump of `gordon` with this cluster's pg_dump; `pipe` captures stdout instead of
/// letting pg_dump seek (no data offsets).
fn dump(cluster: &PgCluster, name: &str, args: &[&str], pipe: bool) -> PathBuf {
    let path = cluster.scratch().join(name);
    if pipe {
        let out = cluster
            .client("pg_dump")
            .args(args)
            .arg("gordon")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(&path, out.stdout).unwrap();
    } else {
        cluster.pg_dump(
            args.iter()
                .copied()
                .chain(["-f", path.to_str().unwrap(), "gordon"]),
        );
    }
    path
}

#[test]
fn every_major_compression_and_format_gives_exact_counts() {
    for major in [15, 16, 17, 18] {
        let cluster = PgCluster::start(major);
        awkward_database(&cluster);
        let counts = source_counts(&cluster);
        assert_eq!(counts["orders"], 20_009);
        let mut dumps = vec![
            dump(&cluster, "default.dump", &["-Fc"], false),
            dump(&cluster, "none.dump", &["-Fc", "-Z0"], false),
            dump(&cluster, "pipe.dump", &["-Fc"], true),
            dump(&cluster, "dir", &["-Fd"], false),
        ];
        if major >= 16 {
            dumps.push(dump(
                &cluster,
                "lz4.dump",
                &["-Fc", "--compress=lz4"],
                false,
            ));
            dumps.push(dump(
                &cluster,
                "zstd.dump",
                &["-Fc", "--compress=zstd"],
                false,
            ));
            dumps.push(dump(
                &cluster,
                "zstd-dir",
                &["-Fd", "--compress=zstd"],
                false,
            ));
        }
        for path in &dumps {
            let run = validate_path(path, &["--require-table", "orders"]);
            let what = format!("pg_dump {major} {}", path.display());
            assert_eq!(run.code, 0, "{what}: {}", run.stderr);
            assert_eq!(
                run.rows(),
                counts,
                "{what}: row counts against SELECT count(*)"
            );
            assert_eq!(
                run.rows().keys().cloned().collect::<Vec<_>>(),
                pg_restore_tables(&cluster, path),
                "{what}: tables against pg_restore -l"
            );
            let roles: Vec<&str> = run.dump()["roles"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap())
                .collect();
            for role in ["Bob Smith", "alice", "postgres"] {
                assert!(roles.contains(&role), "{what}: roles {roles:?}");
            }
            let dependents = run.dump()["depended_on_by_outside"].to_string();
            assert!(
                dependents.contains("daily") && dependents.contains("audit"),
                "{what}: {dependents}"
            );
            assert!(run.check("created_before_damage").0 == "skip", "{what}");
            let expected_version = match major {
                15 => "1.14",
                16 => "1.15",
                _ => "1.16",
            };
            assert_eq!(run.dump()["archive_version"], expected_version, "{what}");
        }
    }
}

#[test]
fn damaged_copies_always_fail_never_a_wrong_ok() {
    let cluster = PgCluster::start(16);
    awkward_database(&cluster);
    let good = dump(&cluster, "good.dump", &["-Fc"], false);
    let bytes = std::fs::read(&good).unwrap();
    let scratch = cluster.scratch();
    let bad = scratch.join("bad.dump");
    assert_eq!(validate_path(&good, &[]).code, 0);

    // Truncated at many offsets, including the very last bytes.
    let len = bytes.len();
    let mut cuts: Vec<usize> = (0..48).map(|i| i * len / 48).collect();
    cuts.extend([1, 4, 5, 6, 20, len - 1, len - 2, len - 5, len - 6]);
    for cut in cuts {
        std::fs::write(&bad, &bytes[..cut]).unwrap();
        let run = validate_path(&bad, &["--min-size", "0"]);
        assert_eq!(run.code, 1, "truncated at {cut} of {len}: {}", run.stderr);
        assert_eq!(run.dump()["ok"], false);
    }

    // Bytes flipped inside the data blocks of the schema's tables.
    let archive = pgdump::Archive::open(&good).unwrap();
    let mut starts: Vec<u64> = archive
        .entries()
        .iter()
        .filter_map(|e| match e.data {
            pgdump::DataLocation::Offset(o) => Some(o),
            _ => None,
        })
        .collect();
    starts.sort_unstable();
    starts.push(len as u64);
    let trading_blocks: Vec<(u64, u64)> = archive
        .table_data()
        .filter(|e| {
            e.namespace
                .as_ref()
                .is_some_and(|n| n.as_bytes() == b"trading")
        })
        .filter_map(|e| match e.data {
            pgdump::DataLocation::Offset(o) => Some((o, *starts.iter().find(|&&s| s > o).unwrap())),
            _ => None,
        })
        .collect();
    for (start, end) in &trading_blocks {
        for k in 0..4 {
            let at = usize::try_from(start + (end - start) * k / 4).unwrap();
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x5a;
            std::fs::write(&bad, &damaged).unwrap();
            let run = validate_path(&bad, &[]);
            assert_eq!(
                run.code, 1,
                "byte {at} flipped in block {start}..{end}: {}",
                run.stderr
            );
        }
    }

    // Not a custom archive at all.
    let mut wrong_magic = bytes.clone();
    wrong_magic[..5].copy_from_slice(b"XXXXX");
    std::fs::write(&bad, &wrong_magic).unwrap();
    let run = validate_path(&bad, &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.check("archive_header").1.contains("not a pg_dump"),
        "{}",
        run.check("archive_header").1
    );

    std::fs::write(&bad, b"").unwrap();
    let run = validate_path(&bad, &[]);
    assert_eq!(run.code, 1);
    assert_eq!(run.check("min_size").0, "fail");

    let plain = dump(&cluster, "plain.sql", &["-Fp"], false);
    let run = validate_path(&plain, &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.check("archive_header").1.contains("plain SQL"),
        "{:?}",
        run.check("archive_header")
    );

    let tar = dump(&cluster, "dump.tar", &["-Ft"], false);
    let run = validate_path(&tar, &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.check("archive_header").1.contains("tar"),
        "{:?}",
        run.check("archive_header")
    );

    let empty_dir = scratch.join("not-a-dump-dir");
    std::fs::create_dir_all(&empty_dir).unwrap();
    let run = validate_path(&empty_dir, &["--min-size", "0"]);
    assert_eq!(run.code, 1);
    assert!(
        run.check("archive_header").1.contains("toc.dat"),
        "{:?}",
        run.check("archive_header")
    );

    let run = validate_path(&scratch.join("missing.dump"), &[]);
    assert_eq!(run.code, 1);
    assert_eq!(run.check("file_readable").0, "fail");

    // A FIFO with no writer is refused at once, not waited on (opening one blocks); one
    // with a writer could not be read either, since reading an archive seeks.
    let fifo = scratch.join("dump.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let run = validate_path(&fifo, &[]);
    assert_eq!(run.code, 1);
    let (status, detail) = run.check("file_readable");
    assert_eq!(status, "fail");
    assert!(
        detail.contains("is a FIFO (named pipe), not a file"),
        "{detail}"
    );
}

#[test]
fn schema_tables_time_and_the_record() {
    let cluster = PgCluster::start(17);
    awkward_database(&cluster);
    let path = dump(&cluster, "gordon.dump", &["-Fc"], false);
    let file = path.to_str().unwrap();

    // A schema the dump does not hold names the ones it does.
    let run = validate(&["--schema", "nope", file], "");
    assert_eq!(run.code, 1);
    let (status, detail) = run.check("schema_objects");
    assert_eq!(status, "fail");
    assert!(
        detail.contains("market_data") && detail.contains("trading"),
        "{detail}"
    );

    // Required tables: present with rows, empty, absent.
    let run = validate(
        &[
            "--schema",
            "trading",
            "--require-table",
            "trading.orders",
            "--require-table",
            "empty_table",
            file,
        ],
        "",
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("trading.empty_table is in the dump but empty"),
        "{}",
        run.stderr
    );
    let run = validate(
        &["--schema", "trading", "--require-table", "ghost", file],
        "",
    );
    assert_eq!(run.code, 1);

    // --quick reads no data: no counts, and it says so.
    let run = validate(&["--schema", "trading", "--quick", file], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.check("data_blocks").0, "skip");
    assert!(run.dump()["tables"][0]["rows"].is_null());

    // The dump was written just now: before a damage an hour ahead, after one an hour ago.
    let run = validate(&["--schema", "trading", "--before", "1h ago", file], "");
    assert_eq!(run.code, 1);
    assert_eq!(run.check("created_before_damage").0, "fail");
    let later = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1)).to_string();
    let run = validate(&["--schema", "trading", "--before", &later, file], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.check("created_before_damage").1.contains("UTC"));

    // The corruption time and the schema come from a record piped in.
    let piped = format!(
        r#"{{"record_version":1,"schema":"trading","database":null,"extra":{{"kept":true}},
            "snapshot":{{"tool":"snapshot-pick","version":"0.1.0","ok":true,"started_at":"2026-05-05T11:41:00Z",
            "elapsed_ms":1,"checks":[],"pick":null,"before":{{"given":"x","utc":"{later}"}},"considered":0,"candidates":0,"filters":{{}}}}}}"#
    );
    let run = validate(&["--dump-tz", "UTC", file], &piped);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.record["extra"]["kept"], true,
        "unknown keys pass through"
    );
    assert_eq!(run.check("created_before_damage").0, "ok");

    // An earlier failure: nothing is read, exit 3.
    let failed = piped.replace(r#""ok":true"#, r#""ok":false"#);
    let run = validate(&["--dump-tz", "UTC", "/nonexistent.dump"], &failed);
    assert_eq!(run.code, 3);
    assert_eq!(run.check("upstream").0, "skip");

    // A record that is not one: exit 2, and still a record on stdout that says why.
    let run = validate(&["--schema", "trading", file], "{not json");
    assert_eq!(run.code, 2);
    assert_eq!(run.check("input").0, "fail");

    // No schema anywhere: a usage error.
    let out = Command::cargo_bin("dump-validate")
        .unwrap()
        .args(["--new-record", file])
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--schema"));

    // The table for people.
    let out = Command::cargo_bin("dump-validate")
        .unwrap()
        .args([
            "--schema",
            "trading",
            "--format",
            "table",
            "--new-record",
            file,
        ])
        .write_stdin("")
        .output()
        .unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains("trading.orders") && table.contains("20009"),
        "{table}"
    );
}

//! rowcount-report through its binary, against real PostgreSQL 15, 16, 17 and 18 clusters.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // in tests a panic is a failed test with a line number; a scenario reads top to bottom

use assert_cmd::Command;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use testkit::pg::{MAJORS, free_port};
use testkit::schema::assert_valid_record;
use testkit::{PgCluster, PgOptions};

const ODD: &str = "my \"odd\" schema";
const ODD_SQL: &str = "\"my \"\"odd\"\" schema\"";

fn tool() -> Command {
    let mut cmd = Command::cargo_bin("rowcount-report").unwrap();
    // assert_cmd gives every run a pipe on stdin, empty unless the test writes a record: this
    // run starts the record, as a run from a terminal would.
    cmd.arg("--new-record");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(key);
        }
    }
    cmd.env("NO_COLOR", "1");
    cmd
}

fn tool_for(cluster: &PgCluster) -> Command {
    let mut cmd = tool();
    cmd.envs(cluster.env()).env("PGDATABASE", "gordon");
    cmd
}

/// Checks stdout against record.schema.json, which describes this tool's section.
fn assert_valid_output(stdout: &[u8]) -> Value {
    assert_valid_record(stdout)
}

struct Run {
    code: i32,
    stdout: String,
    record: Value,
    stderr: String,
}

impl Run {
    fn label(&self, label: &str) -> &Value {
        &self.record["rowcounts"][label]
    }
    fn rows(&self, label: &str) -> BTreeMap<String, Option<u64>> {
        self.label(label)["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    format!(
                        "{}.{}",
                        t["schema"].as_str().unwrap(),
                        t["name"].as_str().unwrap()
                    ),
                    t["rows"].as_u64(),
                )
            })
            .collect()
    }
    fn check(&self, label: &str, name: &str) -> (String, String) {
        let c = self.label(label)["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no check {name}: {}\n{}", self.label(label), self.stderr));
        (
            c["status"].as_str().unwrap().to_owned(),
            c["detail"].as_str().unwrap().to_owned(),
        )
    }
}

/// Runs the tool; a JSON stdout is validated against the record's schema.
fn run(mut cmd: Command, args: &[&str], stdin: &str) -> Run {
    let output = cmd
        .args(args)
        .write_stdin(stdin.to_owned())
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let json_out =
        !args.contains(&"--format") || args.windows(2).any(|w| w == ["--format", "json"]);
    let record = if json_out {
        assert_valid_output(stdout.as_bytes())
    } else {
        Value::Null
    };
    Run {
        code: output.status.code().unwrap(),
        stdout,
        record,
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn setup(cluster: &PgCluster) {
    cluster.create_database("gordon");
    cluster.psql_script(
        "gordon",
        &format!(
            "CREATE SCHEMA {ODD_SQL};
             CREATE TABLE {ODD_SQL}.orders (id int PRIMARY KEY);
             INSERT INTO {ODD_SQL}.orders SELECT generate_series(1, 1500);
             CREATE TABLE {ODD_SQL}.\"Empty Table\" (id int);
             CREATE TABLE {ODD_SQL}.fills (id int);
             INSERT INTO {ODD_SQL}.fills SELECT generate_series(1, 42);
             CREATE TABLE {ODD_SQL}.parted (id int) PARTITION BY RANGE (id);
             CREATE TABLE {ODD_SQL}.parted_low PARTITION OF {ODD_SQL}.parted FOR VALUES FROM (0) TO (100);
             INSERT INTO {ODD_SQL}.parted SELECT generate_series(1, 7);
             CREATE SCHEMA other;
             CREATE TABLE other.t (id int);
             INSERT INTO other.t VALUES (1);"
        ),
    );
}

fn expected() -> BTreeMap<String, Option<u64>> {
    [
        ("Empty Table", 0),
        ("fills", 42),
        ("orders", 1500),
        ("parted_low", 7),
    ]
    .into_iter()
    .map(|(t, n)| (format!("{ODD}.{t}"), Some(n)))
    .collect()
}

/// Exact counts, estimates labelled as such, and --table patterns, on every supported major.
#[test]
fn exact_and_estimated_counts_on_every_major() {
    for major in MAJORS {
        let cluster = PgCluster::start(major);
        setup(&cluster);

        let r = run(
            tool_for(&cluster),
            &["--schema", ODD, "--label", "pre", "--jobs", "3"],
            "",
        );
        assert_eq!(r.code, 0, "{major}: {}", r.stderr);
        assert_eq!(r.rows("pre"), expected(), "{major}");
        let pre = r.label("pre");
        assert_eq!(pre["mode"], "exact");
        assert!(
            pre["tables"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["exact"] == true)
        );
        assert!(pre["snapshot"].as_str().unwrap().contains('-'));
        assert_eq!(pre["connections"], 3);
        assert_eq!(pre["total_rows"], 1549);
        assert_eq!(r.record["schema"], ODD);
        assert_eq!(r.record["database"], "gordon");
        assert_eq!(r.record["rowcounts"]["tool"], "rowcount-report");

        // Estimates are the planner's: after ANALYZE they are right, and labelled estimates.
        cluster.psql("gordon", "ANALYZE");
        let r = run(
            tool_for(&cluster),
            &["--schema", ODD, "--estimate", "--label", "est"],
            "",
        );
        assert_eq!(r.code, 0, "{major}: {}", r.stderr);
        assert_eq!(r.rows("est"), expected(), "{major}");
        assert_eq!(r.label("est")["mode"], "estimate");
        assert!(
            r.label("est")["tables"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["exact"] == false && t["estimate_source"] == "reltuples")
        );
        assert!(
            r.check("est", "count")
                .1
                .contains("estimated from planner statistics")
        );

        // Patterns: quoted schema, a wildcard, a literal name with a space.
        let pattern = format!("{ODD_SQL}.*s");
        let r = run(
            tool_for(&cluster),
            &[
                "--table", &pattern, "--table", "other.t", "--format", "table",
            ],
            "",
        );
        assert_eq!(r.code, 0, "{major}: {}", r.stderr);
        let lines: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(lines.len(), 4, "{}", r.stdout);
        assert!(
            lines[0].starts_with("SCHEMA") && lines[0].ends_with("COUNTS"),
            "{}",
            r.stdout
        );
        assert!(
            r.stdout.contains("orders")
                && r.stdout.contains("1,500")
                && r.stdout.contains("fills")
                && r.stdout.contains("other")
        );
        assert!(!r.stdout.contains("Empty"), "{}", r.stdout);
    }
}

/// A writer commits one row into each of six tables per transaction while the tool counts
/// over four connections: every count comes from one snapshot, so all six are always equal.
#[test]
fn counts_are_mutually_consistent_under_concurrent_writes() {
    let cluster = PgCluster::start(18);
    cluster.create_database("gordon");
    let tables: Vec<String> = (1..=6).map(|i| format!("t{i}")).collect();
    let creates: Vec<String> = tables
        .iter()
        .map(|t| format!("CREATE TABLE busy.{t} (id int, pad text);"))
        .collect();
    cluster.psql_script(
        "gordon",
        &format!("CREATE SCHEMA busy;\n{}", creates.join("\n")),
    );
    let inserts: Vec<String> = tables
        .iter()
        .map(|t| {
            format!(
                "INSERT INTO busy.{t} SELECT i, repeat('x', 200) FROM generate_series(1, 20) i;"
            )
        })
        .collect();
    let inserts = inserts.join(" ");
    let writer_sql =
        format!("DO $$ BEGIN FOR n IN 1..1000000 LOOP {inserts} COMMIT; END LOOP; END $$;");
    let mut writer: Child = cluster
        .client("psql")
        .args(["-X", "-q", "-d", "gordon", "-c", &writer_sql])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while cluster
        .psql("gordon", "SELECT count(*) FROM busy.t6")
        .parse::<u64>()
        .unwrap()
        < 20_000
    {
        assert!(Instant::now() < deadline, "the writer is too slow");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut totals = Vec::new();
    for _ in 0..3 {
        let r = run(
            tool_for(&cluster),
            &["--schema", "busy", "--jobs", "4", "--label", "now"],
            "",
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(r.label("now")["connections"], 4);
        let counts: Vec<u64> = r.rows("now").values().map(|n| n.unwrap()).collect();
        assert_eq!(counts.len(), 6);
        assert!(
            counts.iter().all(|n| *n == counts[0]),
            "counts from one snapshot must agree: {counts:?}"
        );
        totals.push(counts[0]);
    }
    let _ = writer.kill();
    let _ = writer.wait();
    assert!(
        totals.windows(2).all(|w| w[0] < w[1]),
        "the writer was writing all along: {totals:?}"
    );
}

fn dump_section(rows: &[(&str, Option<u64>)]) -> Value {
    json!({
        "tool": "dump-validate", "version": "0.1.0", "ok": true, "started_at": "2026-05-05T13:41:02.120Z",
        "elapsed_ms": 3, "checks": [], "path": "/tmp/x.dump", "schemas": [ODD], "roles": [],
        "tables": rows.iter().map(|(name, rows)| json!({"schema": ODD, "name": name, "rows": rows, "bytes": 10})).collect::<Vec<_>>(),
    })
}

fn statuses(r: &Run, label: &str) -> BTreeMap<String, (String, Option<i64>)> {
    r.label(label)["compare"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                (
                    t["status"].as_str().unwrap().to_owned(),
                    t["difference"].as_i64(),
                ),
            )
        })
        .collect()
}

fn want() -> BTreeMap<String, (String, Option<i64>)> {
    [
        ("Empty Table", ("equal", Some(0))),
        ("fills", ("removed", None)),
        ("newer", ("added", None)),
        ("orders", ("changed", Some(10))),
        ("parted_low", ("equal", Some(0))),
    ]
    .into_iter()
    .map(|(n, (s, d))| (n.to_owned(), (s.to_owned(), d)))
    .collect()
}

/// pre and post labels in one record, --compare against a label, the dump section, a record
/// file and a CSV file, --expect-equal, and each output format.
#[test]
fn labels_comparisons_and_formats() {
    let cluster = PgCluster::start(16);
    setup(&cluster);
    let scratch = cluster.scratch();

    // The dump says what the restored schema must hold: equal to the database now.
    let mut record = json!({"record_version": 1, "schema": ODD, "database": "gordon"});
    record["dump"] = dump_section(&[
        ("orders", Some(1500)),
        ("Empty Table", Some(0)),
        ("fills", Some(42)),
        ("parted_low", Some(7)),
    ]);
    let r = run(
        tool_for(&cluster),
        &["--label", "pre", "--compare", "dump", "--expect-equal"],
        &record.to_string(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.label("pre")["compare"]["summary"]["equal"], 4);
    assert_eq!(r.check("pre", "compare").0, "ok");
    let pre_record = r.stdout.clone();
    std::fs::write(scratch.join("pre.json"), &pre_record).unwrap();
    let csv = run(
        tool_for(&cluster),
        &["--schema", ODD, "--label", "pre", "--format", "csv"],
        "",
    );
    assert_eq!(csv.code, 0);
    assert_eq!(
        csv.stdout.lines().next().unwrap(),
        "schema,table,rows,exact"
    );
    assert!(
        csv.stdout
            .contains("\"my \"\"odd\"\" schema\",orders,1500,true"),
        "{}",
        csv.stdout
    );
    std::fs::write(scratch.join("pre.csv"), &csv.stdout).unwrap();

    // Things change: rows added, a table dropped, a table created.
    cluster.psql_script(
        "gordon",
        &format!(
            "INSERT INTO {ODD_SQL}.orders SELECT generate_series(1501, 1510);
             DROP TABLE {ODD_SQL}.fills;
             CREATE TABLE {ODD_SQL}.newer (id int);"
        ),
    );
    let want = want();
    compare_with_label(&cluster, &pre_record, &want);
    compare_with_dump_and_files(&cluster, &pre_record, &scratch, &want);
    formats_and_input_errors(&cluster, &pre_record);
}

fn compare_with_label(
    cluster: &PgCluster,
    pre_record: &str,
    want: &BTreeMap<String, (String, Option<i64>)>,
) {
    // Against the label in the record on stdin: both labels kept, differences warn.
    let r = run(
        tool_for(cluster),
        &["--label", "post", "--compare", "pre"],
        pre_record,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(statuses(&r, "post"), *want);
    assert_eq!(r.check("post", "compare").0, "warn");
    assert_eq!(
        r.rows("pre")[&format!("{ODD}.orders")],
        Some(1500),
        "the pre label is kept"
    );
    assert_eq!(r.rows("post")[&format!("{ODD}.orders")], Some(1510));
    let keys: Vec<&str> = r.record["rowcounts"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "tool",
            "version",
            "ok",
            "started_at",
            "elapsed_ms",
            "checks",
            "pre",
            "post"
        ]
    );
    assert_eq!(
        r.record["dump"],
        serde_json::from_str::<Value>(pre_record).unwrap()["dump"],
        "other sections pass through"
    );

    // --expect-equal fails on any difference, and says which.
    let r = run(
        tool_for(cluster),
        &["--label", "post", "--compare", "pre", "--expect-equal"],
        pre_record,
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let (status, detail) = r.check("post", "compare");
    assert_eq!(status, "fail");
    assert!(
        detail.contains("orders changed (+10)")
            && detail.contains("fills removed")
            && detail.contains("newer added"),
        "{detail}"
    );
    assert_eq!(r.record["rowcounts"]["ok"], false);
    assert!(r.stderr.contains("[FAIL ]"), "{}", r.stderr);
}

fn compare_with_dump_and_files(
    cluster: &PgCluster,
    pre_record: &str,
    scratch: &std::path::Path,
    want: &BTreeMap<String, (String, Option<i64>)>,
) {
    // Against the dump section, a record file and a CSV file: the same differences.
    let r = run(
        tool_for(cluster),
        &["--label", "post", "--compare", "dump"],
        pre_record,
    );
    assert_eq!(statuses(&r, "post"), *want);
    let record_file = scratch.join("pre.json");
    let r = run(
        tool_for(cluster),
        &[
            "--schema",
            ODD,
            "--label",
            "post",
            "--compare",
            record_file.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(statuses(&r, "post"), *want);
    assert!(
        r.label("post")["compare"]["source"]
            .as_str()
            .unwrap()
            .contains("(label pre)")
    );
    let csv_file = scratch.join("pre.csv");
    let r = run(
        tool_for(cluster),
        &[
            "--schema",
            ODD,
            "--label",
            "post",
            "--compare",
            csv_file.to_str().unwrap(),
            "--expect-equal",
        ],
        "",
    );
    assert_eq!(r.code, 1);
    assert_eq!(statuses(&r, "post"), *want);
}

fn formats_and_input_errors(cluster: &PgCluster, pre_record: &str) {
    // The postmortem's Markdown table and CSV with the comparison.
    let r = run(
        tool_for(cluster),
        &[
            "--label",
            "post",
            "--compare",
            "pre",
            "--format",
            "markdown",
        ],
        pre_record,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with(
            "| Table | Rows (pre) | Rows (post) | Difference | Status |\n|---|---:|---:|---:|---|\n"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains(&format!("| {ODD}.orders | 1,500 | 1,510 | +10 | changed |")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("| **Total** | 1,549 | 1,517 | | |"),
        "{}",
        r.stdout
    );
    let r = run(
        tool_for(cluster),
        &["--label", "post", "--compare", "pre", "--format", "csv"],
        pre_record,
    );
    assert_eq!(
        r.stdout.lines().next().unwrap(),
        "schema,table,rows,exact,compare_rows,difference,status"
    );
    assert!(
        r.stdout.contains(",fills,,true,42,,removed"),
        "{}",
        r.stdout
    );

    // Input errors: an unknown label, a reserved label, a missing file.
    let r = run(
        tool_for(cluster),
        &["--label", "post", "--compare", "nosuch"],
        pre_record,
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("no row counts labelled 'nosuch' (labels there: pre)"),
        "{}",
        r.stderr
    );
    assert_eq!(r.check("post", "compare").0, "fail");
    assert_eq!(r.record["rowcounts"]["ok"], false);
    let out = tool_for(cluster)
        .args(["--schema", "x", "--label", "ok"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let r = run(
        tool_for(cluster),
        &["--schema", "x", "--compare", "/nonexistent.csv"],
        "",
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("reading --compare '/nonexistent.csv'"),
        "{}",
        r.stderr
    );
}

/// The baseline, and could-not-run: help, a bad record, an earlier failure, a closed port, a
/// wrong password (exit 4, never echoed), a schema that does not exist.
#[test]
fn help_input_gate_and_could_not_run() {
    let out = tool().arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for code in 0..=4 {
        assert!(help.contains(&format!("  {code}  ")), "{help}");
    }

    let mut cmd = tool();
    cmd.env("PGHOST", "127.0.0.1")
        .env("PGPORT", free_port().to_string());
    let r = run(cmd, &["--schema", "trading"], "[]");
    assert_eq!(r.code, 2);
    assert_eq!(r.record["rowcounts"]["checks"][0]["name"], "input");

    let mut failed = json!({"record_version": 1, "schema": "trading", "database": "gordon"});
    failed["swap"] = json!({"tool": "schema-swap", "version": "0.1.0", "ok": false, "started_at": "2026-05-05T13:41:02.120Z", "elapsed_ms": 1, "checks": [], "dump": null, "previous": null, "pg_restore": null, "committed": false, "tables": []});
    let mut cmd = tool();
    cmd.env("PGHOST", "127.0.0.1")
        .env("PGPORT", free_port().to_string());
    let r = run(cmd, &["--label", "post"], &failed.to_string());
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(r.check("post", "upstream").0, "skip");

    let mut cmd = tool();
    cmd.env("PGHOST", "127.0.0.1")
        .env("PGPORT", free_port().to_string())
        .env("PGUSER", "postgres");
    let r = run(cmd, &["--schema", "trading"], "");
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.check("counts", "count").1.contains("connection refused"));

    let secret = "Right-pass-123";
    let wrong = "Wrong-pass-456";
    let cluster = PgCluster::start_with(
        15,
        &PgOptions {
            tcp: true,
            password: Some(secret.into()),
            ..PgOptions::default()
        },
    );
    let tcp = |password: &str| {
        let mut cmd = tool();
        cmd.env("PGHOST", "127.0.0.1")
            .env("PGPORT", cluster.port.to_string())
            .env("PGUSER", "postgres")
            .env("PGPASSWORD", password);
        cmd
    };
    let r = run(
        tcp(wrong),
        &["--schema", "trading", "--database", "postgres"],
        "",
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("password authentication failed"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(wrong) && !r.stdout.contains(wrong));

    let r = run(
        tcp(secret),
        &["--schema", "trading", "--database", "postgres"],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.check("counts", "schema_exists").0, "warn");
    assert_eq!(r.label("counts")["tables"], json!([]));
}

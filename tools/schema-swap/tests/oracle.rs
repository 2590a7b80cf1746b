//! schema-swap against the oracle, on the corpus of real-world shapes in `tests/corpus/`.
//!
//! Each shape is loaded into a source database and dumped (`pg_dump -Fc` of the whole
//! database, and `-n SCHEMA` of each schema under test). The oracle is the real pg_restore
//! restoring the whole-database dump into an empty database made from template0. For each
//! schema, schema-swap must then give exactly the oracle's schema (testkit::oracle compares
//! them object by object and row by row) in three situations:
//!
//! - `in_place`: over a damaged copy of the schema (rows deleted from every table);
//! - `dropped`: into a copy of the database the schema was dropped from (`DROP ... CASCADE`);
//! - `fresh`: into an empty database made from template0 (for `public`: initdb's `public`).
//!
//! A shape's header says which schemas it tests (`-- schemas: a, b`) and where a swap must be
//! refused instead (`-- expect SCHEMA SITUATION[/DUMP]: refused CHECK`): then the swap exits 1
//! with that failed check and the database is exactly as before. row counts of the swap's
//! record, rowcount-report and dump-validate must agree with the oracle's `ONLY` counts;
//! pg-preflight must fail exactly the checks the swap refuses on; and a rollback right after
//! an in-place swap must bring the damaged schema back exactly as it was.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in tests a panic is a failed test with a line number

use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use testkit::oracle::{self, Snapshot, ident, literal};
use testkit::{PgCluster, PgInstall};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Situation {
    InPlace,
    Dropped,
    Fresh,
}

impl Situation {
    fn name(self) -> &'static str {
        match self {
            Self::InPlace => "in_place",
            Self::Dropped => "dropped",
            Self::Fresh => "fresh",
        }
    }
}

/// Which dump a swap restores from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum DumpKind {
    /// `pg_dump -Fc DB`: the whole database, as the operators' hourly dumps are.
    Database,
    /// `pg_dump -Fc -n SCHEMA DB`: just the schema.
    Schema,
}

impl DumpKind {
    fn name(self) -> &'static str {
        match self {
            Self::Database => "database-dump",
            Self::Schema => "schema-dump",
        }
    }
}

/// A corpus file: its SQL, the schemas it tests and the refusals it expects.
struct Shape {
    name: String,
    sql: String,
    schemas: Vec<String>,
    /// (schema or `*`, situation, dump kind or none for both) -> the failed check.
    refusals: Vec<(String, Situation, Option<DumpKind>, String)>,
}

impl Shape {
    fn refusal(&self, schema: &str, situation: Situation, kind: DumpKind) -> Option<&str> {
        self.refusals
            .iter()
            .find(|(s, sit, k, _)| {
                (s == "*" || s == schema) && *sit == situation && k.is_none_or(|k| k == kind)
            })
            .map(|(_, _, _, check)| check.as_str())
    }
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus")
}

/// Splits `a, "B c"` into names, unquoting quoted ones.
fn names(list: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = list.trim();
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').expect("closing quote in a schema list");
            out.push(quoted[..end].to_owned());
            rest = quoted[end + 1..].trim_start_matches([',', ' ']);
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            out.push(rest[..end].trim().to_owned());
            rest = rest[end..].trim_start_matches([',', ' ']);
        }
    }
    out
}

fn situation(name: &str) -> Situation {
    match name {
        "in_place" => Situation::InPlace,
        "dropped" => Situation::Dropped,
        "fresh" => Situation::Fresh,
        other => panic!("unknown situation {other} in a corpus header"),
    }
}

fn shapes() -> Vec<Shape> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql") && !p.ends_with("roles.sql"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let sql = std::fs::read_to_string(&path).unwrap();
            let mut schemas = Vec::new();
            let mut refusals = Vec::new();
            for line in sql.lines().take_while(|l| l.starts_with("--")) {
                if let Some(list) = line.strip_prefix("-- schemas:") {
                    schemas = names(list);
                } else if let Some(rule) = line.strip_prefix("-- expect ") {
                    // SCHEMA SITUATION[/DUMP]: refused CHECK
                    let (target, outcome) = rule.split_once(':').unwrap();
                    let (schema, place) = target.rsplit_once(' ').unwrap();
                    let (place, kind) = match place.split_once('/') {
                        Some((p, "schema-dump")) => (p, Some(DumpKind::Schema)),
                        Some((p, "database-dump")) => (p, Some(DumpKind::Database)),
                        Some((_, other)) => panic!("unknown dump kind {other}"),
                        None => (place, None),
                    };
                    let check = outcome.trim().strip_prefix("refused ").unwrap().to_owned();
                    let schema = names(schema).pop().unwrap();
                    refusals.push((schema, situation(place), kind, check));
                }
            }
            assert!(!schemas.is_empty(), "{} names no schemas", path.display());
            Shape {
                name: path.file_stem().unwrap().to_string_lossy().into_owned(),
                sql,
                schemas,
                refusals,
            }
        })
        .collect()
}

/// A tool of the workspace aimed at `db` on the cluster, with nothing of the runner's PG*.
fn tool(cluster: &PgCluster, path: &Path, db: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(path);
    cmd.env_remove("RESTORE_SKIP_CONFIRM");
    cluster.apply_env(&mut cmd);
    cmd.env("PGDATABASE", db)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null());
    cmd
}

/// Removes rows from every table of the schema, the way an incident does: foreign keys and
/// triggers do not stop it (replica mode), so the damage is what it is.
fn damage(cluster: &PgCluster, db: &str, schema: &str) {
    cluster.psql_script(
        db,
        &format!(
            "SET session_replication_role = replica;
             DO $$ DECLARE r record; BEGIN
               FOR r IN SELECT format('%I.%I', n.nspname, c.relname) AS t
                        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE n.nspname = {} AND c.relkind = 'r' LOOP
                 EXECUTE 'DELETE FROM ONLY ' || r.t || ' WHERE ctid IN (SELECT ctid FROM ONLY ' || r.t || ' LIMIT 3)';
               END LOOP;
             END $$;",
            literal(schema)
        ),
    );
}

/// Everything the corpus found wrong on one server, to print at once.
#[derive(Default)]
struct Findings {
    lines: Vec<String>,
    runs: usize,
}

impl Findings {
    fn add(&mut self, case: &str, what: impl Into<String>) {
        self.lines.push(format!("[{case}] {}", what.into()));
    }
}

/// The pg_restore errors an oracle restore may go on past, as documented behaviour: pg_restore
/// of a newer major writes settings an older server does not know, and `-n public` dumps
/// carry a CREATE SCHEMA public that a fresh database already has.
fn expected_oracle_error(error: &str) -> bool {
    error.contains("unrecognized configuration parameter \"transaction_timeout\"")
        || error.contains("schema \"public\" already exists")
}

/// One server's run over the corpus: the cluster, the binaries, and what was found.
struct Corpus {
    cluster: PgCluster,
    /// pg_dump and pg_restore of this major make and read the dumps.
    dumper: PgInstall,
    swap_bin: PathBuf,
    preflight_bin: PathBuf,
    rowcount_bin: PathBuf,
    validate_bin: PathBuf,
    findings: Findings,
    databases: usize,
}

/// The two dumps of a shape a schema is restored from, and the oracle's snapshot of it.
struct Dumps {
    whole: PathBuf,
    schema: PathBuf,
    oracle_db: String,
}

impl Corpus {
    fn new(server: u32, dumper: u32) -> Self {
        let cluster = PgCluster::start(server);
        cluster.psql_script(
            "postgres",
            &std::fs::read_to_string(corpus_dir().join("roles.sql")).unwrap(),
        );
        Self {
            cluster,
            dumper: PgInstall::require(dumper),
            swap_bin: assert_cmd::cargo::cargo_bin("schema-swap"),
            preflight_bin: testkit::workspace_bin("pg-preflight"),
            rowcount_bin: testkit::workspace_bin("rowcount-report"),
            validate_bin: testkit::workspace_bin("dump-validate"),
            findings: Findings::default(),
            databases: 0,
        }
    }

    /// A swap that succeeded: the schema equals the oracle's, and every count agrees.
    fn check_restored(
        &mut self,
        case: &str,
        target: &str,
        schema: &str,
        record: &Value,
        expected: &Snapshot,
        after: &Snapshot,
    ) {
        for difference in oracle::differences(expected, after) {
            self.findings.add(case, difference);
        }
        check_counts(&mut self.findings, case, record, expected);
        let counted = rowcount_report_counts(&self.cluster, &self.rowcount_bin, target, schema);
        for (table, rows) in expected.row_counts() {
            if counted.get(&table) != Some(&rows) {
                self.findings.add(
                    case,
                    format!(
                        "rowcount-report counts {table} {:?}, the oracle {rows}",
                        counted.get(&table)
                    ),
                );
            }
        }
    }

    /// A rollback right after the swap brings the set-aside schema back exactly as it was,
    /// extensions, partitions across the border and publications included.
    fn rollback_restores(&mut self, case: &str, db: &str, schema: &str, before: &Snapshot) {
        let out = tool(&self.cluster, &self.swap_bin, db)
            .args(["--schema", schema, "--rollback", "--yes"])
            .output()
            .unwrap();
        testkit::schema::assert_valid_record(&out.stdout);
        if out.status.code() != Some(0) {
            self.findings.add(
                case,
                format!(
                    "rollback failed (exit {:?}): {}",
                    out.status.code(),
                    last_lines(&String::from_utf8_lossy(&out.stderr))
                ),
            );
            return;
        }
        let back = Snapshot::take(&self.cluster, db, schema);
        for difference in oracle::differences(before, &back) {
            self.findings
                .add(case, format!("after the rollback: {difference}"));
        }
    }

    /// The checks pg-preflight fails for this swap, of those that predict a swap's refusal.
    fn preflight_failures(&self, db: &str, schema: &str, dump: &Path) -> Vec<String> {
        let out = tool(&self.cluster, &self.preflight_bin, "postgres")
            .args(["--schema", schema, "--database", db, "--dump"])
            .arg(dump)
            .output()
            .unwrap();
        let record: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        record["preflight"]["checks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["status"] == "fail")
            .filter_map(|c| c["name"].as_str())
            .filter(|n| ["extensions", "prerequisites", "schema_name"].contains(n))
            .map(str::to_owned)
            .collect()
    }

    fn new_db(&mut self, prefix: &str) -> String {
        self.databases += 1;
        format!("{prefix}_{}", self.databases)
    }

    fn dump(&self, source: &str, args: &[&str], file: &str) -> PathBuf {
        let path = self.cluster.scratch().join(file);
        let mut cmd = std::process::Command::new(self.dumper.bin("pg_dump"));
        self.cluster.apply_env(&mut cmd);
        cmd.args(["-Fc", "-f"]).arg(&path).args(args).arg(source);
        testkit::pg::run_ok(&mut cmd, "pg_dump (corpus)");
        path
    }

    fn shape(&mut self, shape: &Shape) {
        let source = self.new_db(&format!("src_{}", shape.name));
        self.cluster.create_database(&source);
        self.cluster.psql_script(&source, &shape.sql);
        let whole = self.dump(&source, &[], &format!("{source}.dump"));
        let oracle_db = self.new_db(&format!("oracle_{}", shape.name));
        let restored = oracle::pg_restore_into_new(
            &self.cluster,
            &self.dumper.bin("pg_restore"),
            &whole,
            &oracle_db,
        );
        let unexpected: Vec<&String> = restored
            .errors
            .iter()
            .filter(|e| !expected_oracle_error(e))
            .collect();
        assert!(
            unexpected.is_empty(),
            "{}: the oracle's own pg_restore failed: {unexpected:?}",
            shape.name
        );
        for schema in &shape.schemas {
            let expected = Snapshot::take(&self.cluster, &oracle_db, schema);
            let dumps = Dumps {
                schema: self.dump(
                    &source,
                    &["-n", &ident(schema)],
                    &format!("{source}-{}.dump", schema.replace(['/', ' '], "_")),
                ),
                whole: whole.clone(),
                oracle_db: oracle_db.clone(),
            };
            let validated = dump_validate_counts(&self.validate_bin, &whole, schema);
            for (table, rows) in expected.row_counts() {
                let from_dump = validated.get(&table).copied();
                if from_dump != Some(rows) {
                    self.findings.add(
                        &format!("{} {schema}", shape.name),
                        format!("dump-validate counts {table} {from_dump:?}, the oracle {rows}"),
                    );
                }
            }
            for (situation, kind) in [
                (Situation::InPlace, DumpKind::Database),
                (Situation::Dropped, DumpKind::Database),
                (Situation::Fresh, DumpKind::Database),
                (Situation::InPlace, DumpKind::Schema),
                (Situation::Fresh, DumpKind::Schema),
            ] {
                self.case(shape, schema, situation, kind, &dumps, &expected);
            }
        }
    }

    /// A new database for the situation: a copy of the oracle's, damaged or without the
    /// schema, or an empty one.
    fn target_for(&mut self, situation: Situation, schema: &str, dumps: &Dumps) -> String {
        let target = self.new_db("target");
        let template = match situation {
            Situation::InPlace | Situation::Dropped => dumps.oracle_db.as_str(),
            Situation::Fresh => "template0",
        };
        self.cluster.psql(
            "postgres",
            &format!(
                "CREATE DATABASE {} TEMPLATE {}",
                ident(&target),
                ident(template)
            ),
        );
        match situation {
            Situation::InPlace => damage(&self.cluster, &target, schema),
            Situation::Dropped => {
                self.cluster
                    .psql(&target, &format!("DROP SCHEMA {} CASCADE", ident(schema)));
            }
            Situation::Fresh => {}
        }
        target
    }

    /// One swap: the target made ready for the situation, the swap, and the comparison.
    fn case(
        &mut self,
        shape: &Shape,
        schema: &str,
        situation: Situation,
        kind: DumpKind,
        dumps: &Dumps,
        expected: &Snapshot,
    ) {
        let case = format!(
            "{} {schema} {} {}",
            shape.name,
            situation.name(),
            kind.name()
        );
        let target = self.target_for(situation, schema, dumps);
        let dump = match kind {
            DumpKind::Database => &dumps.whole,
            DumpKind::Schema => &dumps.schema,
        };
        let expected = if situation == Situation::Dropped {
            expected.without_lost_outside_relations(&self.cluster, &target, schema)
        } else {
            expected.clone()
        };
        let before = Snapshot::take(&self.cluster, &target, schema);
        let predicted = self.preflight_failures(&target, schema, dump);
        let out = tool(&self.cluster, &self.swap_bin, &target)
            .args(["--schema", schema, "--yes", "--dump"])
            .arg(dump)
            .output()
            .unwrap();
        self.findings.runs += 1;
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Whatever happened, stdout is one record, valid against the JSON Schema.
        let record = testkit::schema::assert_valid_record(&out.stdout);
        let after = Snapshot::take(&self.cluster, &target, schema);
        let refusal = shape.refusal(schema, situation, kind);
        let expected_prediction: Vec<&str> = refusal.into_iter().collect();
        if predicted != expected_prediction {
            self.findings.add(
                &case,
                format!(
                    "pg-preflight failed {predicted:?} where the swap {}",
                    refusal.map_or_else(|| "succeeds".to_owned(), |c| format!("refuses ({c})"))
                ),
            );
        }
        if let Some(check) = refusal {
            let failed = failed_checks(&record);
            if out.status.code() != Some(1) || failed != [check] {
                self.findings.add(
                    &case,
                    format!(
                        "expected a refusal ({check}), got exit {:?} with failed checks {failed:?}: {}",
                        out.status.code(),
                        last_lines(&stderr)
                    ),
                );
            }
            for difference in oracle::differences(&before, &after) {
                self.findings
                    .add(&case, format!("changed by a refused swap: {difference}"));
            }
        } else if out.status.code() == Some(0) {
            self.check_restored(&case, &target, schema, &record, &expected, &after);
            if situation == Situation::InPlace {
                self.rollback_restores(&case, &target, schema, &before);
            }
        } else {
            self.findings.add(
                &case,
                format!(
                    "swap failed (exit {:?}): {}",
                    out.status.code(),
                    last_lines(&stderr)
                ),
            );
        }
        self.cluster
            .psql("postgres", &format!("DROP DATABASE {}", ident(&target)));
    }
}

fn run_corpus(server: u32, dumper: u32) {
    let mut corpus = Corpus::new(server, dumper);
    for shape in shapes() {
        corpus.shape(&shape);
    }
    let findings = &corpus.findings;
    let mut report = String::new();
    for line in &findings.lines {
        let _ = writeln!(report, "{line}");
    }
    assert!(
        findings.lines.is_empty(),
        "PostgreSQL {server} with dumps of pg_dump {dumper}: {} findings over {} swaps:\n{report}",
        findings.lines.len(),
        findings.runs
    );
}

fn failed_checks(record: &Value) -> Vec<String> {
    record["swap"]["checks"]
        .as_array()
        .map(|checks| {
            checks
                .iter()
                .filter(|c| c["status"] == "fail")
                .filter_map(|c| c["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// What a failed run said about its failure: its `[FAIL ]` lines, else its last lines.
fn last_lines(text: &str) -> String {
    let failed: Vec<&str> = text.lines().filter(|l| l.contains("[FAIL")).collect();
    if !failed.is_empty() {
        return failed.join(" | ");
    }
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(4)..].join(" | ")
}

/// The swap's record must count every table as the oracle does.
fn check_counts(findings: &mut Findings, case: &str, record: &Value, expected: &Snapshot) {
    let counts = expected.row_counts();
    for table in record["swap"]["tables"].as_array().into_iter().flatten() {
        let name = format!(
            "{}.{}",
            oracle::ident_as_format_writes(table["schema"].as_str().unwrap_or("")),
            oracle::ident_as_format_writes(table["name"].as_str().unwrap_or(""))
        );
        let counted = table["counted_rows"].as_u64();
        if counts.get(&name).copied() != counted {
            findings.add(
                case,
                format!(
                    "the swap counted {name} {counted:?}, the oracle {:?}",
                    counts.get(&name)
                ),
            );
        }
    }
}

/// dump-validate's count of each of the schema's tables in `dump`.
fn dump_validate_counts(bin: &Path, dump: &Path, schema: &str) -> BTreeMap<String, u64> {
    let out = std::process::Command::new(bin)
        .args(["--schema", schema])
        .arg(dump)
        .stdin(std::process::Stdio::null())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let record: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    table_counts(&record["dump"]["tables"], "rows")
}

/// rowcount-report's exact counts of the schema's tables in `db`.
fn rowcount_report_counts(
    cluster: &PgCluster,
    bin: &Path,
    db: &str,
    schema: &str,
) -> BTreeMap<String, u64> {
    let out = tool(cluster, bin, db)
        .args(["--schema", schema, "--label", "post"])
        .output()
        .unwrap();
    let record: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    table_counts(&record["rowcounts"]["post"]["tables"], "rows")
}

fn table_counts(tables: &Value, field: &str) -> BTreeMap<String, u64> {
    tables
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            let name = format!(
                "{}.{}",
                oracle::ident_as_format_writes(t["schema"].as_str()?),
                oracle::ident_as_format_writes(t["name"].as_str()?)
            );
            Some((name, t[field].as_u64()?))
        })
        .collect()
}

#[test]
fn corpus_on_postgresql_15() {
    run_corpus(15, 15);
}

#[test]
fn corpus_on_postgresql_16() {
    run_corpus(16, 16);
}

#[test]
fn corpus_on_postgresql_17() {
    run_corpus(17, 17);
}

#[test]
fn corpus_on_postgresql_18() {
    run_corpus(18, 18);
}

#[test]
fn corpus_of_pg_dump_18_on_postgresql_16() {
    run_corpus(16, 18);
}

#[test]
fn corpus_of_pg_dump_18_on_postgresql_17() {
    run_corpus(17, 18);
}

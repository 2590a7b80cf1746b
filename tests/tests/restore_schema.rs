//! `scripts/restore-schema` end to end: a real restic repository holding pg_dump archives of
//! the demo schema, a real PostgreSQL 16, and the tool binaries of this workspace.
//!
//! The binaries are found as `every_tool.rs` finds them (next to this test's deps/ directory,
//! so run `cargo test --workspace`), or in `SCHEMA_RESTORE_BIN` when that is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // in tests a panic is a failed test with a line number; a scenario reads top to bottom

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;
use tempfile::TempDir;
use testkit::restic::Backup;
use testkit::schema::assert_valid_record;
use testkit::{PgCluster, ResticRepo};

const MAJOR: u32 = 16;
const DUMP_REL: &str = "var/lib/postgres-dumps/gordon-trading.dump";
const TABLES: [&str; 6] = ["bots", "runs", "equity", "orders", "fills", "positions"];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Where the tool binaries are: SCHEMA_RESTORE_BIN, else beside this test's deps/ directory.
fn bin_dir() -> PathBuf {
    let dir = std::env::var_os("SCHEMA_RESTORE_BIN").map_or_else(
        || {
            let exe = std::env::current_exe().unwrap();
            exe.parent().unwrap().parent().unwrap().to_path_buf()
        },
        PathBuf::from,
    );
    assert!(
        dir.join("schema-swap").is_file() && dir.join("snapshot-pick").is_file(),
        "the tools are not built in {}: run 'cargo test --workspace', or set SCHEMA_RESTORE_BIN",
        dir.display()
    );
    dir
}

/// Runs a bash snippet with the demo helpers sourced, and returns its stdout.
fn demo_lib(snippet: &str) -> String {
    let lib = repo_root().join("scripts/lib");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -euo pipefail; source \"$1/common.sh\"; source \"$1/demo-data.sh\"; {snippet}"
        ))
        .arg("bash")
        .arg(&lib)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `date -u` shifted by `hours`, as restic's --time takes it.
fn hours_ago(hours: u32) -> String {
    let out = Command::new("date")
        .args(["-u", "-d", &format!("-{hours} hours"), "+%Y-%m-%d %H:%M:%S"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A cluster with database `gordon` holding the demo schema, a restic repository, and a
/// scratch directory that is the script's TMPDIR (so leftovers can be seen).
struct Scenario {
    pg: PgCluster,
    repo: ResticRepo,
    work: TempDir,
}

impl Scenario {
    fn new() -> Self {
        let pg = PgCluster::start(MAJOR);
        for role in demo_lib("demo::roles").lines() {
            pg.psql("postgres", &format!("CREATE ROLE {role}"));
        }
        pg.create_database("gordon");
        pg.psql_script("gordon", &demo_lib("demo::schema_sql 1"));
        let work = tempfile::Builder::new()
            .prefix("restore-schema-test-")
            .tempdir()
            .unwrap();
        for dir in ["tmp", "run"] {
            std::fs::create_dir(work.path().join(dir)).unwrap();
        }
        // The drill's cluster runs as nobody when the tests run as root: it must reach TMPDIR.
        std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(
            work.path().join("tmp"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        Self {
            pg,
            repo: ResticRepo::new(),
            work,
        }
    }

    /// A fresh pg_dump -Fc of `gordon`.
    fn dump(&self) -> Vec<u8> {
        let path = self.pg.scratch().join("gordon-trading.dump");
        self.pg.pg_dump([
            OsStr::new("-Fc"),
            OsStr::new("-f"),
            path.as_os_str(),
            OsStr::new("gordon"),
        ]);
        std::fs::read(path).unwrap()
    }

    /// Backs `dump` up as the hourly job would, `hours` ago; returns the short snapshot id.
    fn backup(&self, dump: &[u8], hours: u32) -> String {
        let time = hours_ago(hours);
        let id = self.repo.backup(&Backup {
            time: &time,
            tz: "UTC",
            host: "srv-apps",
            tags: &["srv-apps", "scheduled"],
            files: &[(DUMP_REL, dump)],
        });
        id[..8].to_owned()
    }

    fn counts(&self) -> Vec<(String, String)> {
        let tables = self.pg.psql(
            "gordon",
            "SELECT string_agg(table_name, ' ' ORDER BY table_name) FROM information_schema.tables WHERE table_schema = 'trading' AND table_type = 'BASE TABLE'",
        );
        tables
            .split_whitespace()
            .map(|t| {
                let rows = self
                    .pg
                    .psql("gordon", &format!("SELECT count(*) FROM trading.{t}"));
                (t.to_owned(), rows)
            })
            .collect()
    }

    fn schemas(&self) -> String {
        self.pg.psql(
            "gordon",
            "SELECT string_agg(nspname, ' ' ORDER BY nspname) FROM pg_namespace WHERE nspname LIKE 'trading%'",
        )
    }

    fn run_dir(&self) -> PathBuf {
        self.work.path().join("run")
    }

    fn tmp(&self) -> PathBuf {
        self.work.path().join("tmp")
    }

    /// scripts/restore-schema with `args`, no terminal, aimed at this cluster and repository.
    fn restore(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(repo_root().join("scripts/restore-schema"));
        for (key, _) in std::env::vars_os() {
            let key_text = key.to_string_lossy();
            if key_text.starts_with("RESTIC_") || key_text == "RESTORE_SKIP_CONFIRM" {
                cmd.env_remove(&key);
            }
        }
        self.pg.apply_env(&mut cmd);
        cmd.envs(self.repo.env())
            .env("SCHEMA_RESTORE_BIN", bin_dir())
            .env("TMPDIR", self.tmp())
            .env("NO_COLOR", "1")
            .arg("--schema")
            .arg("trading")
            .arg("--database")
            .arg("gordon")
            .arg("--dump-path")
            .arg(self.repo.snapshot_path(DUMP_REL))
            .arg("--run-dir")
            .arg(self.run_dir())
            .args(args)
            .stdin(Stdio::null());
        let started = Instant::now();
        let out = cmd.output().unwrap();
        eprintln!(
            "restore-schema {args:?}: {} in {:.2} s\n{}",
            out.status,
            started.elapsed().as_secs_f64(),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn record(&self) -> serde_json::Value {
        assert_valid_record(&std::fs::read(self.run_dir().join("record.json")).unwrap())
    }

    /// Nothing left in TMPDIR: no staging directory, no dump, no drill cluster.
    fn assert_nothing_left(&self) {
        let left: Vec<_> = std::fs::read_dir(self.tmp())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(left.is_empty(), "left behind in TMPDIR: {left:?}");
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_dropped_schema_comes_back_with_all_rows() {
    let s = Scenario::new();
    let before = s.counts();
    assert_eq!(before.len(), TABLES.len());
    let id = s.backup(&s.dump(), 1);
    s.pg.psql("gordon", "DROP SCHEMA trading CASCADE");

    let out = s.restore(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(s.counts(), before, "every table back with every row");

    let record = s.record();
    assert_eq!(record["snapshot"]["pick"]["short_id"], id.as_str());
    assert_eq!(record["swap"]["committed"], true);
    assert_eq!(record["rowcounts"]["pre"]["total_rows"], 0);
    let total: u64 = before.iter().map(|(_, n)| n.parse::<u64>().unwrap()).sum();
    assert_eq!(record["rowcounts"]["post"]["total_rows"], total);
    let postmortem = std::fs::read_to_string(s.run_dir().join("postmortem.md")).unwrap();
    assert!(postmortem.contains("PASS"), "{postmortem}");
    assert!(
        postmortem.contains(&id),
        "the postmortem names the snapshot"
    );
    assert!(
        postmortem.contains("| trading.equity | – |"),
        "pre-restore counts show the damage: {postmortem}"
    );
    assert!(
        postmortem.contains("- **The schema itself:** created as the dump says"),
        "the postmortem says what became of the schema's own metadata: {postmortem}"
    );
    assert!(stderr(&out).contains("backup timer") || stderr(&out).contains("systemctl"));
    s.assert_nothing_left();
}

#[test]
fn a_corrupted_newest_dump_is_caught_and_the_retry_with_skip_snapshot_succeeds() {
    let s = Scenario::new();
    let before = s.counts();
    let good = s.dump();
    let old = s.backup(&good, 2);
    // The newest dump lost its second half (a disk filled up while pg_dump wrote).
    let newest = s.backup(&good[..good.len() / 2], 1);
    s.pg.psql("gordon", "DROP TABLE trading.equity");
    let damaged = s.counts();

    let out = s.restore(&["--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let record = s.record();
    assert_eq!(record["snapshot"]["pick"]["short_id"], newest.as_str());
    assert_eq!(record["dump"]["ok"], false, "dump-validate caught it");
    assert!(
        record.get("swap").is_none(),
        "nothing ran after the failed validation"
    );
    assert!(
        stderr(&out).contains(&format!("--skip-snapshot {newest}")),
        "the failure says how to retry: {}",
        stderr(&out)
    );
    assert_eq!(s.counts(), damaged, "the failed run changed nothing");
    s.assert_nothing_left();

    let out = s.restore(&["--yes", "--skip-snapshot", &newest]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let record = s.record();
    assert_eq!(record["snapshot"]["pick"]["short_id"], old.as_str());
    assert_eq!(
        s.counts(),
        before,
        "the older snapshot's dump brought every row back"
    );
    s.assert_nothing_left();
}

#[test]
fn a_refused_prompt_changes_nothing() {
    let s = Scenario::new();
    s.backup(&s.dump(), 1);
    s.pg.psql("gordon", "DROP TABLE trading.fills");
    let damaged = s.counts();
    let schemas = s.schemas();

    // No terminal to ask on and no --yes: schema-swap must refuse.
    let out = s.restore(&[]);
    assert_ne!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("schema-swap"), "{}", stderr(&out));
    assert_eq!(s.counts(), damaged, "the database is unchanged");
    assert_eq!(s.schemas(), schemas, "no schema was set aside");
    let record = s.record();
    assert_eq!(record["swap"]["ok"], false);
    assert!(
        record["rowcounts"].get("post").is_none(),
        "nothing ran after the refusal"
    );
    let postmortem = std::fs::read_to_string(s.run_dir().join("postmortem.md")).unwrap();
    assert!(
        postmortem.contains("FAIL at step `schema-swap`"),
        "{postmortem}"
    );
    s.assert_nothing_left();
}

#[test]
fn a_drill_leaves_its_log_and_removes_its_cluster() {
    let s = Scenario::new();
    let id = s.backup(&s.dump(), 1);
    let logs = s.work.path().join("drills");
    let metrics = s.work.path().join("textfile/schema_restore_drill.prom");
    let before = s.counts();

    let out = s.restore(&[
        "--drill",
        "--drill-log-dir",
        logs.to_str().unwrap(),
        "--metrics-file",
        metrics.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let entries: Vec<PathBuf> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let name = entries[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("restore-drill-") && entries[0].extension() == Some(OsStr::new("md")),
        "{name}"
    );
    let log = std::fs::read_to_string(&entries[0]).unwrap();
    for needle in [
        "PASS",
        id.as_str(),
        "| trading.equity |",
        "| schema-swap |",
        "removed afterwards",
    ] {
        assert!(log.contains(needle), "drill log lacks '{needle}':\n{log}");
    }
    let prom = std::fs::read_to_string(&metrics).unwrap();
    assert!(
        prom.contains("\nschema_restore_drill_success 1\n"),
        "{prom}"
    );
    assert!(prom.contains("\nschema_restore_drill_last_run_timestamp_seconds "));

    // The cluster is gone: its directory, and any server process started from it.
    s.assert_nothing_left();
    let tmp = s.tmp().display().to_string();
    for proc_entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(proc_entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            assert!(
                !(cmdline.contains("postgres") && cmdline.contains(&tmp)),
                "a drill server still runs: {cmdline}"
            );
        }
    }
    // The drill never touched the real database.
    assert_eq!(s.counts(), before);
    assert_eq!(s.schemas(), "trading");
}

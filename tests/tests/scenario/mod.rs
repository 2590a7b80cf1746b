//! What the restore-schema tests share: a cluster with the demo schema in `gordon`, a restic
//! repository of its dumps, and the script aimed at both.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // each test file uses its part; a panic is a failed test

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;
use tempfile::TempDir;
use testkit::restic::Backup;
use testkit::schema::assert_valid_record;
use testkit::{PgCluster, ResticRepo};

pub const MAJOR: u32 = 16;
pub const DUMP_REL: &str = "var/lib/postgres-dumps/gordon-trading.dump";
pub const TABLES: [&str; 6] = ["bots", "runs", "equity", "orders", "fills", "positions"];

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Where the tool binaries are: SCHEMA_RESTORE_BIN, else beside this test's deps/ directory.
pub fn bin_dir() -> PathBuf {
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
pub fn demo_lib(snippet: &str) -> String {
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
pub fn hours_ago(hours: u32) -> String {
    let out = Command::new("date")
        .args(["-u", "-d", &format!("-{hours} hours"), "+%Y-%m-%d %H:%M:%S"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A cluster with database `gordon` holding the demo schema, a restic repository, and a
/// scratch directory that is the script's TMPDIR (so leftovers can be seen).
pub struct Scenario {
    pub pg: PgCluster,
    pub repo: ResticRepo,
    pub work: TempDir,
}

impl Scenario {
    pub fn new() -> Self {
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
    pub fn dump(&self) -> Vec<u8> {
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
    pub fn backup(&self, dump: &[u8], hours: u32) -> String {
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

    pub fn counts(&self) -> Vec<(String, String)> {
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

    pub fn schemas(&self) -> String {
        self.pg.psql(
            "gordon",
            "SELECT string_agg(nspname, ' ' ORDER BY nspname) FROM pg_namespace WHERE nspname LIKE 'trading%'",
        )
    }

    pub fn run_dir(&self) -> PathBuf {
        self.work.path().join("run")
    }

    pub fn tmp(&self) -> PathBuf {
        self.work.path().join("tmp")
    }

    /// scripts/restore-schema with `args`, no terminal, aimed at this cluster and repository.
    pub fn restore(&self, args: &[&str]) -> Output {
        let mut cmd = self.command(args);
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

    /// The command [`Scenario::restore`] runs, to be changed or spawned.
    pub fn command(&self, args: &[&str]) -> Command {
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
        cmd
    }

    pub fn record(&self) -> serde_json::Value {
        assert_valid_record(&std::fs::read(self.run_dir().join("record.json")).unwrap())
    }

    /// Nothing left in TMPDIR: no staging directory, no dump, no drill cluster.
    pub fn assert_nothing_left(&self) {
        let left: Vec<_> = std::fs::read_dir(self.tmp())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(left.is_empty(), "left behind in TMPDIR: {left:?}");
    }
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

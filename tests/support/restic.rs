//! Real restic repositories with snapshots made by the real restic binary.

use crate::pg::run_ok;
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

/// A repository in a temporary directory, with its password in a file (never in argv).
#[derive(Debug)]
pub struct ResticRepo {
    dir: TempDir,
}

/// One `restic backup` to make.
#[derive(Debug, Clone)]
pub struct Backup<'a> {
    /// Local wall-clock time of the snapshot, `YYYY-MM-DD HH:MM:SS` in `tz`.
    pub time: &'a str,
    /// IANA zone the backup host's clock runs in (restic records the local offset).
    pub tz: &'a str,
    pub host: &'a str,
    pub tags: &'a [&'a str],
    /// Files to back up: path below the source root, and content.
    pub files: &'a [(&'a str, &'a [u8])],
}

impl ResticRepo {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("restictest-")
            .tempdir()
            .unwrap();
        std::fs::write(
            dir.path().join("password"),
            "correct horse battery staple\n",
        )
        .unwrap();
        let repo = Self { dir };
        run_ok(repo.restic().args(["init"]), "restic init");
        repo
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    /// The directory whose contents are backed up: snapshots' paths are below it.
    pub fn source_root(&self) -> PathBuf {
        self.dir.path().join("src")
    }

    pub fn password_file(&self) -> PathBuf {
        self.dir.path().join("password")
    }

    /// Environment restic reads the repository and password from.
    pub fn env(&self) -> Vec<(String, PathBuf)> {
        vec![
            ("RESTIC_REPOSITORY".into(), self.path()),
            ("RESTIC_PASSWORD_FILE".into(), self.password_file()),
            ("RESTIC_CACHE_DIR".into(), self.dir.path().join("cache")),
        ]
    }

    /// A restic command aimed at this repository.
    pub fn restic(&self) -> Command {
        let mut cmd = Command::new("restic");
        for key in [
            "RESTIC_PASSWORD",
            "RESTIC_PASSWORD_COMMAND",
            "RESTIC_REPOSITORY_FILE",
        ] {
            cmd.env_remove(key);
        }
        cmd.envs(self.env()).arg("--quiet");
        cmd
    }

    /// Writes the files under an emptied source root and backs up the directories they are
    /// in, so each snapshot holds exactly its own files. Returns the new snapshot's id as
    /// restic's summary gives it (restic 0.14 prints the short id there: compare 8 digits).
    pub fn backup(&self, backup: &Backup<'_>) -> String {
        let root = self.source_root();
        if root.exists() {
            std::fs::remove_dir_all(&root).unwrap();
        }
        let mut dirs: Vec<PathBuf> = Vec::new();
        for (rel, content) in backup.files {
            let path = root.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, content).unwrap();
            let dir = path.parent().unwrap().to_path_buf();
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        let mut cmd = self.restic();
        cmd.env("TZ", backup.tz).args([
            "backup",
            "--json",
            "--time",
            backup.time,
            "--host",
            backup.host,
        ]);
        for tag in backup.tags {
            cmd.args(["--tag", tag]);
        }
        cmd.args(&dirs);
        let out = run_ok(&mut cmd, "restic backup");
        let text = String::from_utf8(out.stdout).unwrap();
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["message_type"] == "summary")
            .and_then(|v| v["snapshot_id"].as_str().map(str::to_owned))
            .unwrap_or_else(|| panic!("restic backup printed no summary:\n{text}"))
    }

    /// `restic snapshots --json` plus `extra` arguments (e.g. `--group-by host`).
    pub fn snapshots_json(&self, extra: &[&str]) -> Vec<u8> {
        let mut cmd = self.restic();
        cmd.args(["snapshots", "--json"]).args(extra);
        run_ok(&mut cmd, "restic snapshots").stdout
    }

    /// Full path inside snapshots of a file written at `rel` below the source root.
    pub fn snapshot_path(&self, rel: &str) -> PathBuf {
        Path::new(&self.source_root()).join(rel)
    }
}

impl Default for ResticRepo {
    fn default() -> Self {
        Self::new()
    }
}

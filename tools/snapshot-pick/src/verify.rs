//! `--verify-file`: asks restic whether a snapshot really holds the dump, and how big it is.
//!
//! restic reads its repository and password from its own environment (RESTIC_REPOSITORY,
//! RESTIC_PASSWORD_FILE, RESTIC_PASSWORD_COMMAND...): nothing secret goes on its command line.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};

/// Why restic could not answer at all: the caller exits 4.
#[derive(Debug)]
pub struct CouldNotRun(pub String);

/// The size of `file` in the snapshot, or None when the snapshot does not hold it.
pub fn file_size(restic: &Path, snapshot_id: &str, file: &str) -> Result<Option<u64>, CouldNotRun> {
    let output = cli::output_of(
        Command::new(restic)
            .args(["ls", "--json", "--no-lock", snapshot_id, file])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .map_err(|e| {
        CouldNotRun(format!(
            "running '{}': {e}: install restic or name it with --restic",
            restic.display()
        ))
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message");
        return Err(CouldNotRun(format!(
            "'restic ls {snapshot_id:.8}' failed ({}): {last}",
            output.status
        )));
    }
    // One JSON object a line: the snapshot, then nodes. restic 0.14-0.16 tag them with
    // struct_type, later versions with message_type.
    let stdout = String::from_utf8_lossy(&output.stdout);
    Ok(stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|v| {
            v.get("struct_type")
                .or_else(|| v.get("message_type"))
                .and_then(Value::as_str)
                == Some("node")
        })
        .find(|v| v["path"].as_str() == Some(file) && v["type"].as_str() == Some("file"))
        .map(|node| node["size"].as_u64().unwrap_or(0)))
}

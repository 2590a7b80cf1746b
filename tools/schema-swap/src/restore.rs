//! Running the real pg_restore to write the schema's SQL, and reading it on a thread of its
//! own while the session applies what has been read: pg_restore decompresses, this process
//! splits, the server executes, all at once.
//!
//! pg_restore runs without a connection (no `-d`): it only reads the archive and writes the
//! script to its stdout, so it gets no password and no PG* variable at all.

use crate::script::{Item, ScriptError, ScriptReader};
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// How many items may wait between the reader and the session (chunks are 512 KiB).
const QUEUE: usize = 16;
/// The pipe size asked for (unprivileged processes may have up to 1 MiB).
const PIPE_BYTES: i32 = 1024 * 1024;
/// How much of pg_restore's stderr is kept for the error message.
const STDERR_KEEP: usize = 16 * 1024;

/// What the reader thread sends.
pub type Message = Result<Item, ScriptError>;

/// A running pg_restore and the thread reading its script.
pub struct Feed {
    pub items: mpsc::Receiver<Message>,
    child: Arc<Mutex<Child>>,
    stderr: std::thread::JoinHandle<String>,
}

impl Feed {
    /// Starts `pg_restore -L <list> <dump>` writing the script to a pipe.
    pub fn start(pg_restore: &Path, list_file: &Path, dump: &Path) -> std::io::Result<Self> {
        let mut command = Command::new(pg_restore);
        command
            .arg("--use-list")
            .arg(list_file)
            .arg("--file=-")
            .arg(dump)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for var in pg::LIBPQ_ENV_VARS {
            command.env_remove(var);
        }
        let mut child = command.spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("pg_restore's stdout was not captured"))?;
        // A 64 KiB pipe (Linux's default) makes pg_restore and this process trade turns every
        // 64 KiB of a gigabyte; a wider one lets each run longer. Not having it is no failure.
        let _ = nix::fcntl::fcntl(&stdout, nix::fcntl::FcntlArg::F_SETPIPE_SZ(PIPE_BYTES));
        let mut stderr = child
            .stderr
            .take()
            .ok_or_else(|| std::io::Error::other("pg_restore's stderr was not captured"))?;
        let (sender, items) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("pg_restore-script".into())
            .spawn(move || {
                let mut reader = ScriptReader::new(stdout);
                loop {
                    let message = match reader.next_item() {
                        Ok(Some(item)) => Ok(item),
                        Ok(None) => break,
                        Err(error) => Err(error),
                    };
                    let stop = message.is_err();
                    // The session went away (it failed or was interrupted): stop reading, and
                    // pg_restore ends on its closed pipe.
                    if sender.blocking_send(message).is_err() || stop {
                        break;
                    }
                }
            })?;
        let stderr = std::thread::Builder::new()
            .name("pg_restore-stderr".into())
            .spawn(move || {
                let mut text = Vec::new();
                let _ = stderr.read_to_end(&mut text);
                let start = text.len().saturating_sub(STDERR_KEEP);
                // One line: the message ends up in a check detail.
                let said = String::from_utf8_lossy(&text[start..]);
                said.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join(" / ")
            })?;
        Ok(Self {
            items,
            child: Arc::new(Mutex::new(child)),
            stderr,
        })
    }

    /// Waits for pg_restore to exit after its script was read whole. An error names its
    /// exit status and what it said.
    pub async fn finish(self) -> Result<(), String> {
        let child = Arc::clone(&self.child);
        let status = tokio::task::spawn_blocking(move || {
            child
                .lock()
                .map_err(|_| "pg_restore's handle was poisoned".to_owned())?
                .wait()
                .map_err(|e| format!("waiting for pg_restore: {e}"))
        })
        .await
        .map_err(|e| format!("waiting for pg_restore: {e}"))??;
        let stderr = self.stderr.join().unwrap_or_default();
        if status.success() {
            Ok(())
        } else {
            Err(format!(
                "pg_restore failed ({status}): {}",
                if stderr.is_empty() {
                    "it said nothing"
                } else {
                    &stderr
                }
            ))
        }
    }

    /// Stops pg_restore now (the restore is being abandoned).
    pub fn kill(&self) {
        if let Ok(mut child) = self.child.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// What pg_restore said on stderr so far, for an error message (waits for it to end).
    pub fn stderr_after_kill(self) -> String {
        self.kill();
        self.stderr.join().unwrap_or_default()
    }
}

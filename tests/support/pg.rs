//! Disposable PostgreSQL clusters: `initdb` into a temporary directory, a server on a Unix
//! socket in that directory (and on a free loopback port when asked), torn down when the
//! [`PgCluster`] is dropped, also when the test panics.
//!
//! initdb refuses to run as root, so when the tests run as root the server runs as `nobody`.

use std::ffi::OsStr;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tempfile::TempDir;

/// The major versions the project supports and tests against.
pub const MAJORS: [u32; 4] = [15, 16, 17, 18];

/// One installed PostgreSQL major version: where its binaries are.
#[derive(Debug, Clone)]
pub struct PgInstall {
    pub major: u32,
    pub bindir: PathBuf,
}

impl PgInstall {
    /// Finds a major version: Debian's packages under /usr/lib/postgresql, then the PyPI wheels
    /// that scripts/install-deps unpacks under $SCHEMA_RESTORE_PG_ROOT (/opt/schema-restore/pg).
    pub fn find(major: u32) -> Option<Self> {
        let root = std::env::var_os("SCHEMA_RESTORE_PG_ROOT")
            .unwrap_or_else(|| "/opt/schema-restore/pg".into());
        [
            PathBuf::from(format!("/usr/lib/postgresql/{major}/bin")),
            Path::new(&root).join(major.to_string()).join("bin"),
        ]
        .into_iter()
        .find(|dir| dir.join("postgres").is_file() && dir.join("initdb").is_file())
        .map(|bindir| Self { major, bindir })
    }

    /// Like [`PgInstall::find`], but a missing version fails the test with the fix.
    pub fn require(major: u32) -> Self {
        Self::find(major).unwrap_or_else(|| {
            panic!("PostgreSQL {major} is not installed: run scripts/install-deps (tests need 15, 16, 17 and 18)")
        })
    }

    /// Every supported version; all are required.
    pub fn all() -> Vec<Self> {
        MAJORS.iter().map(|&m| Self::require(m)).collect()
    }

    pub fn bin(&self, name: &str) -> PathBuf {
        self.bindir.join(name)
    }
}

/// How to set a cluster up.
#[derive(Debug, Clone, Default)]
pub struct PgOptions {
    /// Also listen on a free port on 127.0.0.1 (the Unix socket is always there).
    pub tcp: bool,
    /// Require this password (scram-sha-256) for the superuser `postgres`, on the socket too.
    pub password: Option<String>,
    /// Serve TLS with this certificate and key (PEM), for TCP connections.
    pub tls: Option<(String, String)>,
    /// Extra lines for postgresql.conf.
    pub conf: Vec<String>,
}

/// A running server. Dropping it stops the server and removes every file.
#[derive(Debug)]
pub struct PgCluster {
    pub install: PgInstall,
    pub port: u16,
    pub tcp: bool,
    dir: TempDir,
    run_as: Option<(u32, u32)>,
}

impl PgCluster {
    /// A trust-authenticated cluster on a Unix socket.
    pub fn start(major: u32) -> Self {
        Self::start_with(major, &PgOptions::default())
    }

    pub fn start_with(major: u32, options: &PgOptions) -> Self {
        let install = PgInstall::require(major);
        let run_as = unprivileged_user();
        let dir = tempfile::Builder::new()
            .prefix("pgtest-")
            .tempdir()
            .expect("temporary directory");
        let port = if options.tcp { free_port() } else { 5432 };
        let cluster = Self {
            install,
            port,
            tcp: options.tcp,
            dir,
            run_as,
        };
        cluster.init(options);
        cluster.launch();
        cluster
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The directory holding the server's Unix socket: what PGHOST names.
    pub fn socket_dir(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// A scratch directory that lives as long as the cluster (for dumps and the like).
    pub fn scratch(&self) -> PathBuf {
        let scratch = self.dir.path().join("scratch");
        std::fs::create_dir_all(&scratch).unwrap();
        scratch
    }

    fn init(&self, options: &PgOptions) {
        let sock = self.socket_dir();
        std::fs::create_dir_all(&sock).unwrap();
        let mut initdb = self.server_command("initdb");
        initdb.arg("-D").arg(self.data_dir()).args([
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ]);
        if let Some(password) = &options.password {
            let pwfile = self.dir.path().join("pwfile");
            std::fs::write(&pwfile, password).unwrap();
            self.give_away(&pwfile);
            initdb
                .arg(format!("--pwfile={}", pwfile.display()))
                .args(["-A", "scram-sha-256"]);
        } else {
            initdb.args(["-A", "trust"]);
        }
        self.give_away(self.dir.path());
        self.give_away(&sock);
        run_ok(&mut initdb, "initdb");

        let mut conf = vec![
            format!("port = {}", self.port),
            format!("unix_socket_directories = '{}'", sock.display()),
            format!(
                "listen_addresses = '{}'",
                if self.tcp { "127.0.0.1" } else { "" }
            ),
            "fsync = off".into(),
            "full_page_writes = off".into(),
            "synchronous_commit = off".into(),
            "max_connections = 40".into(),
            "shared_buffers = 32MB".into(),
        ];
        if let Some((cert, key)) = &options.tls {
            let cert_path = self.data_dir().join("server.crt");
            let key_path = self.data_dir().join("server.key");
            std::fs::write(&cert_path, cert).unwrap();
            std::fs::write(&key_path, key).unwrap();
            std::fs::set_permissions(
                &key_path,
                std::os::unix::fs::PermissionsExt::from_mode(0o600),
            )
            .unwrap();
            self.give_away(&cert_path);
            self.give_away(&key_path);
            conf.extend([
                "ssl = on".into(),
                "ssl_cert_file = 'server.crt'".into(),
                "ssl_key_file = 'server.key'".into(),
            ]);
        }
        conf.extend(options.conf.iter().cloned());
        let conf_path = self.data_dir().join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf_path).unwrap();
        text.push_str("\n# Added by the test harness\n");
        for line in conf {
            text.push_str(&line);
            text.push('\n');
        }
        std::fs::write(&conf_path, text).unwrap();
    }

    fn launch(&self) {
        let mut start = self.server_command("pg_ctl");
        start
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_path())
            .args(["-w", "-t", "60", "start"]);
        let output = start.output().expect("running pg_ctl start");
        if !output.status.success() {
            let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
            panic!(
                "pg_ctl start for PostgreSQL {} failed:\n{}{}\nserver log:\n{log}",
                self.install.major,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }

    /// Stops the server (fast shutdown) without removing it; [`PgCluster::restart`] brings it back.
    pub fn stop(&self) {
        let mut stop = self.server_command("pg_ctl");
        stop.arg("-D")
            .arg(self.data_dir())
            .args(["-m", "fast", "-w", "stop"]);
        run_ok(&mut stop, "pg_ctl stop");
    }

    pub fn restart(&self) {
        self.launch();
    }

    /// A command for a server binary (initdb, pg_ctl), run as the unprivileged user when needed.
    fn server_command(&self, name: &str) -> Command {
        let mut cmd = Command::new(self.install.bin(name));
        cmd.current_dir(self.dir.path());
        clear_pg_env(&mut cmd);
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid).gid(gid);
        }
        cmd
    }

    fn give_away(&self, path: &Path) {
        if let Some((uid, gid)) = self.run_as {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
        }
    }

    /// Environment that points libpq clients (and our tools) at this cluster, as superuser
    /// `postgres` on database `postgres`.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("PGHOST".into(), self.socket_dir().display().to_string()),
            ("PGPORT".into(), self.port.to_string()),
            ("PGUSER".into(), "postgres".into()),
            ("PGDATABASE".into(), "postgres".into()),
        ]
    }

    /// Points `cmd` at this cluster, after removing every PG* variable the test runner had.
    pub fn apply_env<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        clear_pg_env(cmd);
        cmd.envs(self.env())
    }

    /// A client command of this cluster's version (psql, pg_dump, pg_restore...) aimed at it.
    pub fn client(&self, name: &str) -> Command {
        let mut cmd = Command::new(self.install.bin(name));
        self.apply_env(&mut cmd);
        cmd
    }

    /// Runs SQL in `database` with psql and returns its unaligned, tuples-only output.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let mut cmd = self.client("psql");
        cmd.args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            database,
            "-c",
            sql,
        ]);
        let out = run_ok(&mut cmd, "psql");
        String::from_utf8(out.stdout).unwrap().trim_end().to_owned()
    }

    /// Runs a whole SQL script in `database` (psql reading stdin, stopping at the first error).
    pub fn psql_script(&self, database: &str, script: &str) {
        psql_script_with(self.client("psql"), database, script);
    }

    /// Creates a database.
    pub fn create_database(&self, name: &str) {
        self.psql(
            "postgres",
            &format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\"")),
        );
    }

    /// Runs pg_dump of this cluster's version with `args` (e.g. `-Fc -f FILE DB`).
    pub fn pg_dump<I, S>(&self, args: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.client("pg_dump");
        cmd.args(args);
        run_ok(&mut cmd, "pg_dump");
    }

    /// The server's version number, e.g. 160015.
    pub fn server_version_num(&self) -> u32 {
        self.psql("postgres", "SHOW server_version_num")
            .parse()
            .unwrap()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // Immediate: the data is about to be deleted, nothing needs to be flushed.
        let mut stop = self.server_command("pg_ctl");
        stop.arg("-D")
            .arg(self.data_dir())
            .args(["-m", "immediate", "-w", "stop"]);
        let _ = stop.output();
    }
}

/// Runs a whole SQL script with `psql` (a psql command already aimed at the server, e.g.
/// with a password in its environment) in `database`, stopping at the first error.
pub fn psql_script_with(mut psql: Command, database: &str, script: &str) {
    use std::io::Write as _;
    psql.args([
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-d",
        database,
        "-f",
        "-",
    ])
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let mut child = psql.spawn().expect("running psql");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "psql script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a command, failing the test with its output when it fails.
pub fn run_ok(cmd: &mut Command, what: &str) -> Output {
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("could not run {what} ({cmd:?}): {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Removes every libpq variable, so the developer's own settings never leak into a test.
pub fn clear_pg_env(cmd: &mut Command) -> &mut Command {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// When running as root: the uid and gid of `nobody`, for initdb and the server.
fn unprivileged_user() -> Option<(u32, u32)> {
    // /proc/self belongs to the effective user: a way to learn it without libc.
    let euid = std::fs::metadata("/proc/self").map_or(0, |m| m.uid());
    if euid != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").expect("reading /etc/passwd");
    let line = passwd
        .lines()
        .find(|l| l.starts_with("nobody:"))
        .expect("running as root needs user 'nobody' to run PostgreSQL as");
    let fields: Vec<&str> = line.split(':').collect();
    Some((fields[2].parse().unwrap(), fields[3].parse().unwrap()))
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

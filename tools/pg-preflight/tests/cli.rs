//! pg-preflight through its binary, against real PostgreSQL 15, 16, 17 and 18 clusters.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // in tests a panic is a failed test with a line number; a scenario reads top to bottom

use assert_cmd::Command;
use serde_json::{Value, json};
use std::io::Write as _;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use testkit::pg::{MAJORS, free_port};
use testkit::schema::assert_valid_record;
use testkit::{PgCluster, PgOptions};

const ODD: &str = "my \"odd\" schema";
const ODD_SQL: &str = "\"my \"\"odd\"\" schema\"";

/// The tool with no PG* variables from the runner and no colour.
fn tool() -> Command {
    let mut cmd = Command::cargo_bin("pg-preflight").unwrap();
    // assert_cmd gives every run a pipe on stdin, empty unless the test writes a record: this
    // run starts the record, as a run from a terminal would.
    cmd.arg("--new-record");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(key);
        }
    }
    cmd.env("NO_COLOR", "1")
        .env_remove("SCHEMA_RESTORE_PG_ROOT");
    cmd
}

fn tool_for(cluster: &PgCluster) -> Command {
    let mut cmd = tool();
    cmd.envs(cluster.env());
    cmd
}

/// Checks stdout against record.schema.json, which describes this tool's section.
fn assert_valid_output(stdout: &[u8]) -> Value {
    assert_valid_record(stdout)
}

struct Run {
    code: i32,
    record: Value,
    stderr: String,
}

impl Run {
    fn section(&self) -> &Value {
        &self.record["preflight"]
    }
    fn check(&self, name: &str) -> (String, String) {
        let c = self.section()["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no check {name}: {}\n{}", self.section(), self.stderr));
        (
            c["status"].as_str().unwrap().to_owned(),
            c["detail"].as_str().unwrap().to_owned(),
        )
    }
    fn status(&self, name: &str) -> String {
        self.check(name).0
    }
}

fn run(mut cmd: Command, args: &[&str], stdin: &str) -> Run {
    let output = cmd
        .args(args)
        .write_stdin(stdin.to_owned())
        .output()
        .unwrap();
    let record = assert_valid_output(&output.stdout);
    Run {
        code: output.status.code().unwrap(),
        record,
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// A record as dump-validate leaves it, for a dump of `trading` made by `source_version`.
fn dump_record(roles: &[&str], source_version: &str, min_major: u32) -> String {
    json!({
        "record_version": 1, "schema": ODD, "database": null,
        "dump": {
            "tool": "dump-validate", "version": "0.1.0", "ok": true, "started_at": "2026-05-05T13:41:02.120Z",
            "elapsed_ms": 3, "checks": [], "path": "/tmp/x.dump", "schemas": [ODD],
            "archive_version": "1.15", "server_version": source_version, "pg_restore": {"min_major": min_major},
            "tables": [{"schema": ODD, "name": "t", "rows": 3, "bytes": 3_000_000}, {"schema": ODD, "name": "u", "rows": 0, "bytes": 0}],
            "roles": roles,
        }
    })
    .to_string()
}

/// A psql session that takes a lock and keeps it until the child is killed.
struct LockHolder(Child);

impl LockHolder {
    fn start(cluster: &PgCluster, db: &str, sql: &str) -> Self {
        let mut child = cluster
            .client("psql")
            .args(["-X", "-q", "-d", db])
            .env("PGAPPNAME", "lock-holder")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "BEGIN;\n{sql}\n").unwrap();
        stdin.flush().unwrap();
        // Keep stdin open: psql waits for more, holding the transaction.
        std::mem::forget(stdin);
        let deadline = Instant::now() + Duration::from_secs(20);
        while cluster.psql(db, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'lock-holder' AND state = 'idle in transaction'") != "1" {
            assert!(Instant::now() < deadline, "the lock holder never got its lock");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self(child)
    }
}

impl Drop for LockHolder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Missing database, --create-database, missing roles, privileges, dependents outside the
/// schema, a session holding a lock, and the pg_restore choice, on every supported major.
#[test]
fn checks_a_target_on_every_major() {
    for major in MAJORS {
        let cluster = PgCluster::start(major);
        let version = cluster.psql("postgres", "SHOW server_version");
        missing_database_then_created(&cluster, major, &version);
        dependents_locks_roles_and_pg_restore(&cluster, major, &version);
        a_role_without_privileges(&cluster, major);
    }
}

fn missing_database_then_created(cluster: &PgCluster, major: u32, version: &str) {
    {
        // No database yet: it fails and says how to create it; the rest is skipped.
        let r = run(
            tool_for(cluster),
            &[
                "--schema",
                ODD,
                "--database",
                "gordon",
                "--role",
                "postgres",
            ],
            "",
        );
        assert_eq!(r.code, 1, "{major}: {}", r.stderr);
        let (status, detail) = r.check("database");
        assert_eq!(status, "fail");
        assert!(
            detail.contains("CREATE DATABASE \"gordon\";") && detail.contains("--create-database"),
            "{detail}"
        );
        assert_eq!(r.status("schema"), "skip");
        assert_eq!(r.status("server"), "ok");
        assert!(
            r.check("server").1.contains(version),
            "{}",
            r.check("server").1
        );
        assert_eq!(r.record["database"], "gordon");
        assert_eq!(r.record["schema"], ODD);
        assert_eq!(
            cluster.psql(
                "postgres",
                "SELECT count(*) FROM pg_database WHERE datname = 'gordon'"
            ),
            "0"
        );

        // --create-database: the one write. The schema does not exist: fine, reported.
        let r = run(
            tool_for(cluster),
            &[
                "--schema",
                ODD,
                "--database",
                "gordon",
                "--role",
                "postgres",
                "--create-database",
            ],
            "",
        );
        assert_eq!(r.code, 0, "{major}: {}", r.stderr);
        assert!(r.check("database").1.contains("created"));
        assert_eq!(r.section()["database"]["created"], true);
        assert_eq!(r.section()["schema"]["exists"], false);
        assert_eq!(r.status("schema"), "ok");
        assert_eq!(r.status("roles"), "ok");
        assert_eq!(r.status("privileges"), "ok");
        assert_eq!(
            cluster.psql(
                "postgres",
                "SELECT count(*) FROM pg_database WHERE datname = 'gordon'"
            ),
            "1"
        );
    }
}

fn dependents_locks_roles_and_pg_restore(cluster: &PgCluster, major: u32, version: &str) {
    {
        // The schema, with a view, a foreign key and a function in another schema that a
        // DROP SCHEMA ... CASCADE would take along, and a session holding a lock on it.
        cluster.psql_script(
            "gordon",
            &format!(
                "CREATE SCHEMA {ODD_SQL};
                 CREATE TABLE {ODD_SQL}.t (id int PRIMARY KEY);
                 CREATE TABLE {ODD_SQL}.u (id int);
                 INSERT INTO {ODD_SQL}.t VALUES (1), (2), (3);
                 CREATE VIEW {ODD_SQL}.inner_view AS SELECT id FROM {ODD_SQL}.t;
                 CREATE SCHEMA reports;
                 CREATE VIEW reports.daily AS SELECT count(*) AS n FROM {ODD_SQL}.t;
                 CREATE TABLE reports.audit (t_id int REFERENCES {ODD_SQL}.t (id));
                 CREATE FUNCTION reports.first_id(r {ODD_SQL}.t) RETURNS int LANGUAGE sql AS 'SELECT 1';"
            ),
        );
        let _lock = LockHolder::start(
            cluster,
            "gordon",
            &format!("LOCK TABLE {ODD_SQL}.u IN SHARE MODE;"),
        );

        // Roles and versions from the dump section; one role missing, one with a quote.
        let record = dump_record(&["postgres", "app_writer", "it's"], version, 15);
        let r = run(tool_for(cluster), &["--database", "gordon"], &record);
        assert_eq!(r.code, 1, "{major}: {}", r.stderr);
        let (status, detail) = r.check("roles");
        assert_eq!(status, "fail");
        assert!(
            detail.contains("CREATE ROLE \"app_writer\";")
                && detail.contains("CREATE ROLE \"it's\";"),
            "{detail}"
        );
        assert_eq!(
            r.section()["roles"]["missing"],
            json!(["app_writer", "it's"])
        );
        assert_eq!(r.status("server_version"), "ok");
        assert_eq!(r.section()["schema"]["exists"], true);

        let (status, detail) = r.check("dependents");
        assert_eq!(status, "warn", "{detail}");
        let dependents = r.section()["dependents"].as_array().unwrap();
        let objects: Vec<&str> = dependents
            .iter()
            .map(|d| d["object"].as_str().unwrap())
            .collect();
        assert!(objects.contains(&"view reports.daily"), "{objects:?}");
        assert!(
            objects
                .iter()
                .any(|o| o.starts_with("constraint audit_t_id_fkey on table reports.audit")),
            "{objects:?}"
        );
        assert!(
            objects
                .iter()
                .any(|o| o.starts_with("function reports.first_id")),
            "{objects:?}"
        );
        assert!(
            !objects.iter().any(|o| o.contains("inner_view")),
            "objects inside the schema are not listed: {objects:?}"
        );
        let fk = dependents
            .iter()
            .find(|d| d["kind"] == "foreign key")
            .unwrap();
        assert_eq!(fk["schema"], "reports");

        let (status, detail) = r.check("sessions");
        assert_eq!(status, "warn", "{detail}");
        assert!(
            detail.contains("lock-holder") && detail.contains("ShareLock on u"),
            "{detail}"
        );
        assert!(
            r.stderr.contains("[WARN ] 1 session using schema"),
            "{}",
            r.stderr
        );

        // pg_restore: the archive needs 15+; the server's own major is installed.
        let chosen = r.section()["pg_restore"]["major"].as_u64().unwrap();
        assert_eq!(r.status("pg_restore"), "ok");
        assert_eq!(chosen, u64::from(major), "its own major is installed");
        assert_eq!(r.section()["space"]["dump_data_bytes"], 3_000_000);
        assert!(
            r.section()["space"]["database_size_bytes"]
                .as_u64()
                .unwrap()
                > 1_000_000
        );
    }
}

fn a_role_without_privileges(cluster: &PgCluster, major: u32) {
    {
        // A role that may not create schemas in the database nor rename this one.
        cluster.psql("postgres", "CREATE ROLE weak LOGIN");
        let mut cmd = tool_for(cluster);
        cmd.env("PGUSER", "weak");
        let r = run(
            cmd,
            &[
                "--schema",
                ODD,
                "--database",
                "gordon",
                "--role",
                "postgres",
            ],
            "",
        );
        assert_eq!(r.code, 1, "{major}: {}", r.stderr);
        let (status, detail) = r.check("privileges");
        assert_eq!(status, "fail");
        assert!(
            detail.contains("GRANT CREATE ON DATABASE \"gordon\" TO \"weak\";")
                && detail.contains("ownership of schema"),
            "{detail}"
        );
    }
}

/// An archive only pg_restore 17+ reads goes into a 16 server through pg_restore 17 or 18
/// (schema-swap leaves out the settings 16 lacks), with a warning that the dump comes from a
/// newer server; a --pg-bindir holding only pg_restore 15 cannot read it, and says which
/// version to install.
#[test]
fn names_the_pg_restore_and_server_versions_needed() {
    let cluster = PgCluster::start(16);
    let record = dump_record(&[], "17.2", 17);
    let r = run(tool_for(&cluster), &["--role", "postgres"], &record);
    assert_eq!(r.status("pg_restore"), "ok", "{}", r.stderr);
    let chosen = r.section()["pg_restore"]["major"].as_u64().unwrap();
    assert!((17..=18).contains(&chosen), "{chosen}");
    let (status, detail) = r.check("server_version");
    assert_eq!(status, "warn");
    assert!(
        detail.contains("older than the dump's source server 17.2")
            && detail.contains("left out")
            && detail.contains("PostgreSQL 17 or newer"),
        "{detail}"
    );

    let bindir = testkit::PgInstall::require(15).bindir;
    let r = run(
        tool_for(&cluster),
        &["--pg-bindir", bindir.to_str().unwrap()],
        &record,
    );
    let (status, detail) = r.check("pg_restore");
    assert_eq!(status, "fail");
    assert!(
        detail.contains("needed pg_restore 17 or newer")
            && detail.contains("found 15")
            && detail.contains("install the PostgreSQL 17 client programs (or newer)"),
        "{detail}"
    );
    assert_eq!(r.section()["pg_restore"]["found"][0]["major"], 15);

    let record = dump_record(&[], "15.8", 15);
    for (major, chosen) in [(18, 18), (15, 15)] {
        let bindir = testkit::PgInstall::require(major).bindir;
        let r = run(
            tool_for(&cluster),
            &["--pg-bindir", bindir.to_str().unwrap()],
            &record,
        );
        assert_eq!(r.status("pg_restore"), "ok", "{major}: {}", r.stderr);
        assert_eq!(r.section()["pg_restore"]["major"], chosen);
    }
}

/// Stopped server: without --wait, exit 4 at once; with --wait 30s, the tool keeps trying
/// and succeeds when the server comes back about 2 s later.
#[test]
fn waits_for_a_server_that_starts_late() {
    let cluster = PgCluster::start(17);
    cluster.stop();
    let r = run(
        tool_for(&cluster),
        &["--schema", "trading", "--database", "postgres"],
        "",
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert_eq!(r.status("server"), "fail");
    assert_eq!(r.section()["ok"], false);

    std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(Duration::from_secs(2));
            cluster.restart();
        });
        let r = run(
            tool_for(&cluster),
            &[
                "--schema",
                "trading",
                "--database",
                "postgres",
                "--wait",
                "30s",
            ],
            "",
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(
            r.stderr
                .contains("[INFO ] Waiting up to 30s for the server"),
            "{}",
            r.stderr
        );
        let waited = r.section()["server"]["waited_ms"].as_u64().unwrap();
        assert!(waited >= 1500, "{waited}");
        assert!(
            r.check("server").1.contains(" after "),
            "{}",
            r.check("server").1
        );
    });
}

/// A wrong password is could-not-run (exit 4) with one clear line, not retried under --wait;
/// the password (from PGPASSWORD or inside a --dsn URI) shows nowhere.
#[test]
fn a_wrong_password_is_exit_4_and_never_shown() {
    let secret = "s3cret-right-one";
    let wrong = "wr0ng-Secret-xyz";
    let cluster = PgCluster::start_with(
        18,
        &PgOptions {
            tcp: true,
            password: Some(secret.into()),
            ..PgOptions::default()
        },
    );
    let port = cluster.port.to_string();
    let tcp = |password: &str| {
        let mut cmd = tool();
        cmd.env("PGHOST", "127.0.0.1")
            .env("PGPORT", &port)
            .env("PGUSER", "postgres")
            .env("PGPASSWORD", password);
        cmd
    };
    let r = run(
        tcp(wrong),
        &[
            "--schema",
            "trading",
            "--database",
            "postgres",
            "--wait",
            "10s",
        ],
        "",
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    let (status, detail) = r.check("server");
    assert_eq!(status, "fail");
    assert!(
        detail.contains("password authentication failed for user \"postgres\""),
        "{detail}"
    );
    assert!(
        r.stderr
            .contains("[FAIL ] connecting to postgres@127.0.0.1"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("Waiting"),
        "a refused password is not retried: {}",
        r.stderr
    );
    assert!(!r.stderr.contains(wrong) && !r.record.to_string().contains(wrong));

    let r = run(
        tcp(secret),
        &[
            "--schema",
            "trading",
            "--database",
            "postgres",
            "--role",
            "postgres",
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains(secret) && !r.record.to_string().contains(secret));

    // A --dsn URI with the password in it: its database is replaced by the maintenance and
    // the target database, and the password shows nowhere.
    let dsn = format!("postgresql://postgres:{secret}@127.0.0.1:{port}/nosuchdb?sslmode=disable");
    let r = run(
        tool(),
        &[
            "--dsn",
            &dsn,
            "--schema",
            "trading",
            "--database",
            "postgres",
            "--role",
            "postgres",
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.section()["server"]["target"],
        format!("postgres@127.0.0.1:{port}/postgres")
    );
    assert!(!r.stderr.contains(secret) && !r.record.to_string().contains(secret));
}

/// Nobody listening, and a host name that does not resolve: exit 4 with the reason.
#[test]
fn an_unreachable_server_is_exit_4() {
    let mut cmd = tool();
    cmd.env("PGHOST", "127.0.0.1")
        .env("PGPORT", free_port().to_string())
        .env("PGUSER", "postgres");
    let r = run(cmd, &["--schema", "trading", "--database", "postgres"], "");
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.check("server").1.contains("connection refused"),
        "{}",
        r.check("server").1
    );

    let mut cmd = tool();
    cmd.env("PGHOST", "no-such-host.invalid")
        .env("PGUSER", "postgres");
    let r = run(cmd, &["--schema", "trading", "--database", "postgres"], "");
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.check("server").1.contains("no-such-host.invalid"),
        "{}",
        r.check("server").1
    );
}

/// The baseline: exit codes in --help, a bad record on stdin, an earlier failed section.
#[test]
fn help_bad_input_and_the_gate() {
    let out = tool().arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for code in 0..=4 {
        assert!(help.contains(&format!("  {code}  ")), "{help}");
    }
    for flag in [
        "--wait",
        "--create-database",
        "--role",
        "--pg-bindir",
        "--dsn",
        "--schema",
        "--database",
    ] {
        assert!(help.contains(flag), "{flag}");
    }

    let mut cmd = tool();
    cmd.env("PGHOST", "127.0.0.1")
        .env("PGPORT", free_port().to_string());
    let r = run(cmd, &["--schema", "trading"], "not json");
    assert_eq!(r.code, 2);
    assert_eq!(r.status("input"), "fail");

    // A failed dump section: nothing is done, not even connecting (the port is closed).
    let mut failed: Value = serde_json::from_str(&dump_record(&[], "16.1", 15)).unwrap();
    failed["dump"]["ok"] = json!(false);
    let mut cmd = tool();
    cmd.env("PGHOST", "127.0.0.1")
        .env("PGPORT", free_port().to_string());
    let r = run(cmd, &["--create-database"], &failed.to_string());
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(r.status("upstream"), "skip");
    assert!(r.check("upstream").1.contains("dump (dump-validate)"));
    assert_eq!(
        r.record["dump"], failed["dump"],
        "other sections pass through"
    );

    // No schema anywhere: a usage error.
    let out = tool().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("--schema"));
}

/// A system schema is refused before connecting (the port is closed); a name too long for
/// schema-swap to set aside fails the schema_name check with the limit and the name typed.
#[test]
fn system_schemas_and_names_too_long_are_predicted() {
    for schema in ["pg_catalog", "information_schema", "pg_toast"] {
        let mut cmd = tool();
        cmd.env("PGHOST", "127.0.0.1")
            .env("PGPORT", free_port().to_string());
        let out = cmd.args(["--schema", schema]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{schema}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("is a system schema"), "{stderr}");
    }
    let cluster = PgCluster::start(16);
    let long = "x".repeat(43);
    let r = run(
        tool_for(&cluster),
        &["--schema", &long, "--database", "postgres"],
        "",
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let (status, detail) = r.check("schema_name");
    assert_eq!(status, "fail");
    assert!(
        detail.contains(&long) && detail.contains("is 43 bytes") && detail.contains("at most 42"),
        "{detail}"
    );
}

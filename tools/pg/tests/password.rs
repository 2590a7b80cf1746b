//! TCP with scram-sha-256: passwords from PGPASSWORD, --dsn and the password file; what a
//! refusal looks like. One server for all cases, which run in turn.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // in tests a panic is a failed test with a line number; a scenario reads top to bottom

mod common;

use common::{connect_err, connect_ok, query_one, settings};
use pg::{ConnSettings, ErrorKind, Password};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use testkit::{PgCluster, PgOptions};

/// A password with the characters the password file and conninfo must escape.
const PASSWORD: &str = r"s3cr:et\pw";
/// The same, escaped for the password file.
const PASSWORD_IN_PGPASS: &str = r"s3cr\:et\\pw";
const WRONG: &str = "Wr0ng-Secret-xyz";

fn pgpass(dir: &Path, name: &str, text: &str, mode: u32) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path.display().to_string()
}

struct Server {
    cluster: PgCluster,
    port: String,
}

impl Server {
    /// PG* variables for the server over TCP, plus `extra`.
    fn env(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let base = [
            ("PGHOST", "127.0.0.1"),
            ("PGPORT", self.port.as_str()),
            ("PGUSER", "postgres"),
            ("PGDATABASE", "postgres"),
        ];
        base.iter()
            .chain(extra)
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn with(&self, extra: &[(&str, &str)]) -> ConnSettings {
        settings(None, &self.env(extra))
    }

    fn target(&self) -> String {
        format!("postgres@127.0.0.1:{}/postgres", self.port)
    }
}

#[tokio::test]
async fn passwords_reach_the_server_and_refusals_are_clear() {
    let options = PgOptions {
        tcp: true,
        password: Some(PASSWORD.into()),
        ..PgOptions::default()
    };
    let cluster = PgCluster::start_with(17, &options);
    let server = Server {
        port: cluster.port.to_string(),
        cluster,
    };
    let dir = tempfile::tempdir().unwrap();

    given_passwords(&server).await;
    password_files(&server, dir.path()).await;
    child_processes(&server, dir.path());
    refusals(&server, dir.path()).await;
}

/// PGPASSWORD, and --dsn as conninfo (quoted, backslash escaped) and URI (percent-encoded),
/// which beat PGPASSWORD.
async fn given_passwords(server: &Server) {
    let s = server.with(&[("PGPASSWORD", PASSWORD)]);
    assert_eq!(s.describe(), server.target());
    let client = connect_ok(&s).await;
    assert_eq!(
        query_one(&client, "SELECT inet_server_addr()::text").await,
        "127.0.0.1/32"
    );

    let port = &server.port;
    let conninfo =
        format!(r"host=127.0.0.1 port={port} user=postgres dbname=postgres password='s3cr:et\\pw'");
    let uri = format!("postgresql://postgres:s3cr%3Aet%5Cpw@127.0.0.1:{port}/postgres");
    for dsn in [conninfo, uri] {
        let client = connect_ok(&settings(Some(&dsn), &[("PGPASSWORD", "not-this-one")])).await;
        assert_eq!(query_one(&client, "SELECT current_user").await, "postgres");
    }
}

/// PGPASSFILE with a comment, a line for another host and a wildcard line; then ~/.pgpass.
async fn password_files(server: &Server, dir: &Path) {
    let text = format!(
        "# a comment\nelsewhere:*:*:*:wrong\n127.0.0.1:*:*:postgres:{PASSWORD_IN_PGPASS}\n*:*:*:*:never\n"
    );
    let file = pgpass(dir, "pgpass", &text, 0o600);
    let s = server.with(&[("PGPASSFILE", &file)]);
    assert!(s.password().is_none());
    assert_eq!(
        s.password_for(&s.targets()[0]).map(Password::expose),
        Some(PASSWORD)
    );
    assert!(s.warnings().is_empty(), "{:?}", s.warnings());
    let client = connect_ok(&s).await;
    assert_eq!(query_one(&client, "SELECT 40 + 2").await, "42");

    let home = tempfile::tempdir().unwrap();
    pgpass(
        home.path(),
        ".pgpass",
        &format!("*:*:*:*:{PASSWORD_IN_PGPASS}\n"),
        0o600,
    );
    let env = common::env(&server.env(&[])).with_home(Some(home.path().to_owned()));
    connect_ok(&ConnSettings::resolve(None, &env).unwrap()).await;
}

/// A child psql finds the same password file (PGPASSFILE), and PGPASSWORD when given.
fn child_processes(server: &Server, dir: &Path) {
    let file = pgpass(
        dir,
        "child-pgpass",
        &format!("*:*:*:*:{PASSWORD_IN_PGPASS}\n"),
        0o600,
    );
    for s in [
        server.with(&[("PGPASSFILE", &file)]),
        server.with(&[("PGPASSWORD", PASSWORD)]),
    ] {
        let mut psql = std::process::Command::new(server.cluster.install.bin("psql"));
        s.child_env()
            .apply(&mut psql)
            .args(["-X", "-A", "-t", "-w", "-c", "SELECT 'child ok'"]);
        let out = psql.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "child ok");
    }
}

/// What a refusal looks like: one line, where and why, no password, could-not-run.
async fn refusals(server: &Server, dir: &Path) {
    // A password file others can read is ignored, with a warning; then there is no password.
    let open_file = pgpass(
        dir,
        "open-pgpass",
        &format!("*:*:*:*:{PASSWORD_IN_PGPASS}\n"),
        0o644,
    );
    let s = server.with(&[("PGPASSFILE", &open_file)]);
    assert_eq!(s.warnings().len(), 1);
    assert!(
        s.warnings()[0].contains("has group or world access"),
        "{:?}",
        s.warnings()
    );
    let e = connect_err(&s).await;
    assert_eq!(e.kind(), ErrorKind::Rejected, "{e}");
    assert!(e.is_could_not_run());
    assert!(
        e.message()
            .starts_with("the server asks for a password, and none was given"),
        "{e}"
    );

    let e = connect_err(&server.with(&[("PGPASSWORD", WRONG)])).await;
    assert_eq!(
        e.to_string(),
        format!(
            "connecting to {}: password authentication failed for user \"postgres\"",
            server.target()
        )
    );
    assert_eq!(e.kind(), ErrorKind::Rejected);
    assert!(e.is_could_not_run() && !e.is_usage());
    assert!(!format!("{e} {e:?}").contains(WRONG));

    let uri = format!(
        "postgresql://postgres:{WRONG}@127.0.0.1:{}/postgres",
        server.port
    );
    let e = connect_err(&settings(Some(&uri), &[("X", "")])).await;
    assert!(!format!("{e} {e:?}").contains(WRONG), "{e}");
    assert!(
        e.message().contains("password authentication failed"),
        "{e}"
    );

    // A wrong password from the file names the file, as libpq does.
    let bad_file = pgpass(dir, "bad-pgpass", &format!("*:*:*:*:{WRONG}\n"), 0o600);
    let e = connect_err(&server.with(&[("PGPASSFILE", &bad_file)])).await;
    let expected_end = format!("(password retrieved from file \"{bad_file}\")");
    assert!(e.message().ends_with(&expected_end), "{e}");
    assert!(!format!("{e} {e:?}").contains(WRONG));

    // No such database: refused, could-not-run, says which.
    let e = connect_err(&settings(
        Some("dbname=nope"),
        &server.env(&[("PGPASSWORD", PASSWORD)]),
    ))
    .await;
    assert_eq!(e.kind(), ErrorKind::Rejected);
    assert_eq!(
        e.to_string(),
        format!(
            "connecting to postgres@127.0.0.1:{}/nope: database \"nope\" does not exist",
            server.port
        )
    );
}

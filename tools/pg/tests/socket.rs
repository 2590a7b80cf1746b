//! Unix-socket connections to every supported PostgreSQL, and `--dsn` in both forms.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // in tests a panic is a failed test with a line number; a scenario reads top to bottom

mod common;

use clap::Parser;
use common::{connect_err, connect_ok, query_one, settings, uses_tls};
use pg::{ConnArgs, ErrorKind};
use testkit::PgCluster;

/// PG* variables pointing at the cluster's socket, the way an operator's shell would.
async fn socket_connect_reaches(major: u32) {
    let cluster = PgCluster::start(major);
    let settings = settings(None, &cluster.env());
    assert!(settings.targets()[0].is_socket());
    assert_eq!(
        settings.describe(),
        format!("postgres@{}:5432/postgres", cluster.socket_dir().display())
    );
    let client = connect_ok(&settings).await;
    let version: u32 = query_one(&client, "SHOW server_version_num")
        .await
        .parse()
        .unwrap();
    assert_eq!(version / 10000, major);
    assert_eq!(query_one(&client, "SELECT current_user").await, "postgres");
    assert!(!uses_tls(&client).await, "never TLS on a Unix socket");
}

#[tokio::test]
async fn unix_socket_postgres_15() {
    socket_connect_reaches(15).await;
}

#[tokio::test]
async fn unix_socket_postgres_16() {
    socket_connect_reaches(16).await;
}

#[tokio::test]
async fn unix_socket_postgres_17() {
    socket_connect_reaches(17).await;
}

#[tokio::test]
async fn unix_socket_postgres_18() {
    socket_connect_reaches(18).await;
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    conn: ConnArgs,
}

#[tokio::test]
async fn dsn_forms_flags_and_child_processes_reach_the_same_server() {
    let cluster = PgCluster::start(18);
    let sock = cluster.socket_dir().display().to_string();
    let encoded = sock.replace('/', "%2F");
    cluster.create_database("gordon");
    // Something in the environment that --dsn must override.
    let env = [
        ("PGHOST", "/nonexistent"),
        ("PGUSER", "nobody-here"),
        ("PGDATABASE", "postgres"),
    ];

    let dsns = [
        format!("host='{sock}' port=5432 user=postgres dbname=gordon application_name='a b'"),
        format!("postgresql://postgres@{encoded}:5432/gordon?application_name=a%20b"),
        format!("postgres:///gordon?host={sock}&user=postgres&application_name=a+b"),
    ];
    for (i, dsn) in dsns.iter().enumerate() {
        let cli = Cli::try_parse_from(["tool", "--dsn", dsn]).unwrap();
        let settings = cli.conn.resolve_with(&common::env(&env)).unwrap();
        let client = connect_ok(&settings).await;
        assert_eq!(
            query_one(&client, "SELECT current_user || '@' || current_database()").await,
            "postgres@gordon"
        );
        // The URI form keeps '+' literally, as libpq does (it is not form encoding).
        let expected = if i == 2 { "a+b" } else { "a b" };
        assert_eq!(
            query_one(&client, "SHOW application_name").await,
            expected,
            "{dsn}"
        );
    }

    // A tool's own name when the user chose none.
    let mut settings = settings(None, &cluster.env());
    settings.set_fallback_application_name("schema-swap");
    let client = connect_ok(&settings).await;
    assert_eq!(
        query_one(&client, "SHOW application_name").await,
        "schema-swap"
    );

    // psql, given only child_env(), lands in the same place as we do.
    let mut settings = common::settings(
        Some(&format!("host={sock} user=postgres dbname=gordon")),
        &[("PGAPPNAME", "restore")],
    );
    settings.set_fallback_application_name("unused");
    let mut psql = std::process::Command::new(cluster.install.bin("psql"));
    // What the tool's own process may have inherited from the operator's shell: child_env wins.
    psql.env("PGHOST", "/wrong/host")
        .env("PGDATABASE", "wrong")
        .env("PGOPTIONS", "-c search_path=wrong");
    settings.child_env().apply(&mut psql);
    psql.args(["-X", "-A", "-t", "-c", "SELECT current_user || '@' || current_database() || ' ' || current_setting('application_name') || ' ' || current_setting('search_path')"]);
    let out = psql.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "postgres@gordon restore \"$user\", public"
    );
}

#[tokio::test]
async fn no_server_on_the_socket_is_a_clear_could_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(
        Some(&format!(
            "host={} port=6543 user=u dbname=d",
            dir.path().display()
        )),
        &[("X", "")],
    );
    let e = connect_err(&settings).await;
    assert_eq!(e.kind(), ErrorKind::Unreachable);
    assert!(e.is_could_not_run());
    assert_eq!(
        e.to_string(),
        format!(
            "connecting to u@{0}:6543/d: no server socket \"{0}/.s.PGSQL.6543\" (is the server running locally?)",
            dir.path().display()
        )
    );
}

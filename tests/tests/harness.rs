//! The harness itself: every supported PostgreSQL starts, answers and goes away.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // in tests a panic is a failed test with a line number; a scenario reads top to bottom

use testkit::{PgCluster, PgInstall, PgOptions};

#[test]
fn every_supported_major_starts_answers_and_is_removed() {
    for install in PgInstall::all() {
        let cluster = PgCluster::start(install.major);
        let num = cluster.server_version_num();
        assert_eq!(num / 10000, install.major, "server of {:?}", install.bindir);
        let dir = cluster.socket_dir();
        drop(cluster);
        assert!(
            !dir.exists(),
            "cluster directory {} left behind",
            dir.display()
        );
    }
}

#[test]
fn a_cluster_listens_on_loopback_with_a_password_when_asked() {
    let cluster = PgCluster::start_with(
        16,
        &PgOptions {
            tcp: true,
            password: Some("s3cret".into()),
            ..PgOptions::default()
        },
    );
    let mut psql = cluster.client("psql");
    psql.env("PGHOST", "127.0.0.1")
        .env("PGPASSWORD", "s3cret")
        .args(["-X", "-A", "-t", "-c", "SELECT 1"]);
    let out = psql.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut wrong = cluster.client("psql");
    wrong
        .env("PGHOST", "127.0.0.1")
        .env("PGPASSWORD", "nope")
        .args(["-X", "-c", "SELECT 1"]);
    assert!(!wrong.output().unwrap().status.success());
}

#[test]
fn a_cluster_is_torn_down_when_its_test_panics() {
    let dir = std::sync::Mutex::new(None);
    let result = std::panic::catch_unwind(|| {
        let cluster = PgCluster::start(15);
        *dir.lock().unwrap() = Some(cluster.socket_dir());
        panic!("test failure inside a cluster's life");
    });
    assert!(result.is_err());
    let dir = dir.lock().unwrap().clone().unwrap();
    assert!(!dir.exists(), "{} survived the panic", dir.display());
}

//! Failing to connect, without a PostgreSQL server: nothing listening, a listener that never
//! answers (connect_timeout), several hosts, settings refused before any traffic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // in tests a panic is a failed test with a line number; a scenario reads top to bottom

mod common;

use common::{connect_err, settings};
use pg::ErrorKind;
use std::time::{Duration, Instant};
use testkit::pg::free_port;
use tokio::net::TcpListener;

/// Accepts connections and holds them open without ever sending a byte.
async fn silent_listener() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        // Bounded: the test needs a handful of connections at most.
        while held.len() < 16 {
            match listener.accept().await {
                Ok((stream, _)) => held.push(stream),
                Err(_) => break,
            }
        }
    });
    (port, task)
}

#[tokio::test]
async fn nothing_listening_is_unreachable() {
    let port = free_port();
    let s = settings(
        Some(&format!(
            "host=127.0.0.1 port={port} user=u dbname=d password=hunter2"
        )),
        &[("X", "")],
    );
    let e = connect_err(&s).await;
    assert_eq!(e.kind(), ErrorKind::Unreachable);
    assert!(e.is_could_not_run());
    assert_eq!(
        e.to_string(),
        format!(
            "connecting to u@127.0.0.1:{port}/d: connection refused \
             (is the server running and accepting TCP connections on that port?)"
        )
    );
    assert!(!format!("{e:?}").contains("hunter2"));
}

#[tokio::test]
async fn every_host_is_tried_and_named() {
    let (a, b) = (free_port(), free_port());
    let s = settings(
        Some(&format!("postgresql://u@127.0.0.1:{a},[::1]:{b}/d")),
        &[("X", "")],
    );
    let e = connect_err(&s).await;
    assert_eq!(e.kind(), ErrorKind::Unreachable);
    let message = e.message();
    assert!(
        message.starts_with(&format!("127.0.0.1:{a}: ")),
        "{message}"
    );
    assert!(message.contains(&format!("; [::1]:{b}: ")), "{message}");
}

#[tokio::test]
async fn connect_timeout_bounds_a_server_that_never_answers() {
    let (port, listener) = silent_listener().await;
    // 1 s is raised to libpq's minimum of 2 s.
    let s = settings(
        Some(&format!("host=127.0.0.1 port={port} user=u dbname=d")),
        &[("PGCONNECT_TIMEOUT", "1")],
    );
    assert_eq!(s.connect_timeout(), Some(Duration::from_secs(2)));
    let started = Instant::now();
    let e = tokio::time::timeout(Duration::from_secs(10), pg::connect(&s))
        .await
        .expect("connect_timeout did not fire")
        .unwrap_err();
    // It waited out the timeout (at least; how much longer is this machine's business).
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(1900), "took {took:?}");
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(e.is_could_not_run());
    assert_eq!(
        e.to_string(),
        format!(
            "connecting to u@127.0.0.1:{port}/d: timed out after 2 s (connect_timeout) waiting for the server"
        )
    );
    listener.abort();
}

#[tokio::test]
async fn after_a_timeout_the_next_host_is_tried() {
    let (silent, listener) = silent_listener().await;
    let refused = free_port();
    let s = settings(
        Some(&format!(
            "host=127.0.0.1,127.0.0.1 port={silent},{refused} user=u dbname=d connect_timeout=2"
        )),
        &[("X", "")],
    );
    let e = tokio::time::timeout(Duration::from_secs(10), pg::connect(&s))
        .await
        .unwrap()
        .unwrap_err();
    // The last host decides the kind; both are named.
    assert_eq!(e.kind(), ErrorKind::Unreachable);
    assert!(e.message().contains("timed out after 2 s"), "{e}");
    assert!(e.message().contains("connection refused"), "{e}");
    listener.abort();
}

#[tokio::test]
async fn unusable_tls_settings_are_usage_errors_before_any_traffic() {
    let (port, listener) = silent_listener().await;
    let s = settings(
        Some(&format!(
            "host=127.0.0.1 port={port} user=u dbname=d sslmode=verify-full sslrootcert=/nonexistent/root.crt"
        )),
        &[("X", "")],
    );
    let e = connect_err(&s).await;
    assert!(e.is_usage(), "{e}");
    assert!(
        e.to_string()
            .contains("root certificate file \"/nonexistent/root.crt\" does not exist"),
        "{e}"
    );
    listener.abort();
}

#[tokio::test]
async fn bad_settings_fail_resolution_not_connection() {
    let e = pg::ConnSettings::resolve(Some("host=h port=99999"), &common::env(&[("X", "")]))
        .unwrap_err();
    assert!(e.is_usage());
    assert_eq!(
        e.to_string(),
        "invalid connection settings: invalid port number: \"99999\" (from --dsn)"
    );
}

//! Helpers shared by this crate's integration tests.
//!
//! Every test resolves settings from an explicit [`Environment`]: no HOME (so no real
//! ~/.pgpass or ~/.postgresql/root.crt), no OS user, nothing from the developer's PG* variables.
#![allow(dead_code)] // each test crate uses some of these

use pg::tokio_postgres::{Client, SimpleQueryMessage};
use pg::{ConnSettings, ConnectError, Environment};

/// An environment holding exactly `pairs`.
pub fn env<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> Environment<'static> {
    let owned: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()))
        .collect();
    Environment::from_pairs(owned)
        .with_os_user(Some("no-such-os-user"))
        .with_home(None)
}

pub fn settings<K: AsRef<str>, V: AsRef<str>>(dsn: Option<&str>, pairs: &[(K, V)]) -> ConnSettings {
    ConnSettings::resolve(dsn, &env(pairs)).unwrap_or_else(|e| panic!("resolving {dsn:?}: {e}"))
}

/// Connects, failing the test with the error if it does not.
pub async fn connect_ok(settings: &ConnSettings) -> Client {
    match pg::connect(settings).await {
        Ok((client, _task)) => client,
        Err(e) => panic!("connecting with {}: {e}", settings.describe()),
    }
}

/// Connects, failing the test if it works.
pub async fn connect_err(settings: &ConnSettings) -> ConnectError {
    match pg::connect(settings).await {
        Ok(_) => panic!("connecting with {} should have failed", settings.describe()),
        Err(e) => e,
    }
}

/// The first column of the first row of `sql`.
pub async fn query_one(client: &Client, sql: &str) -> String {
    let messages = client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    messages
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(row.get(0).unwrap_or("NULL").to_owned()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{sql}: no row"))
}

/// Whether this session is encrypted, as the server sees it.
pub async fn uses_tls(client: &Client) -> bool {
    query_one(
        client,
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    )
    .await
        == "t"
}

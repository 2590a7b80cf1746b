//! The connection options this crate understands, and the raw option set a `--dsn` yields.
//!
//! libpq knows some fifty keywords. We support the ones a restore tool needs (below) and tell a
//! known-but-unsupported keyword (`sslcert`) apart from a typo (`sslmod`), so the error says
//! which it is. Values stay raw strings here, exactly as libpq keeps them until it connects:
//! `host` may still be a comma-separated list, `port` may still be empty.

use crate::error::ConnectError;
use std::collections::BTreeMap;

/// A supported connection keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Key {
    Host,
    HostAddr,
    Port,
    User,
    Password,
    PassFile,
    DbName,
    SslMode,
    SslRootCert,
    ConnectTimeout,
    ApplicationName,
    FallbackApplicationName,
}

impl Key {
    pub(crate) const ALL: [Key; 12] = [
        Key::Host,
        Key::HostAddr,
        Key::Port,
        Key::User,
        Key::Password,
        Key::PassFile,
        Key::DbName,
        Key::SslMode,
        Key::SslRootCert,
        Key::ConnectTimeout,
        Key::ApplicationName,
        Key::FallbackApplicationName,
    ];

    /// The keyword as written in a conninfo string or URI query.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Key::Host => "host",
            Key::HostAddr => "hostaddr",
            Key::Port => "port",
            Key::User => "user",
            Key::Password => "password",
            Key::PassFile => "passfile",
            Key::DbName => "dbname",
            Key::SslMode => "sslmode",
            Key::SslRootCert => "sslrootcert",
            Key::ConnectTimeout => "connect_timeout",
            Key::ApplicationName => "application_name",
            Key::FallbackApplicationName => "fallback_application_name",
        }
    }

    /// The environment variable libpq falls back to when the keyword is not given.
    pub(crate) const fn env_var(self) -> Option<&'static str> {
        match self {
            Key::Host => Some("PGHOST"),
            Key::HostAddr => Some("PGHOSTADDR"),
            Key::Port => Some("PGPORT"),
            Key::User => Some("PGUSER"),
            Key::Password => Some("PGPASSWORD"),
            Key::PassFile => Some("PGPASSFILE"),
            Key::DbName => Some("PGDATABASE"),
            Key::SslMode => Some("PGSSLMODE"),
            Key::SslRootCert => Some("PGSSLROOTCERT"),
            Key::ConnectTimeout => Some("PGCONNECT_TIMEOUT"),
            Key::ApplicationName => Some("PGAPPNAME"),
            Key::FallbackApplicationName => None,
        }
    }

    fn from_name(name: &str) -> Option<Key> {
        Key::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Keywords libpq (up to version 18) accepts that this crate does not: naming one is an error
/// that says so, rather than "invalid connection option".
const UNSUPPORTED_LIBPQ_KEYWORDS: &[&str] = &[
    "service",
    "channel_binding",
    "client_encoding",
    "options",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "sslnegotiation",
    "sslcompression",
    "sslcert",
    "sslkey",
    "sslcertmode",
    "sslpassword",
    "sslkeylogfile",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "requirepeer",
    "require_auth",
    "min_protocol_version",
    "max_protocol_version",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "gssencmode",
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    "replication",
    "target_session_attrs",
    "load_balance_hosts",
    "scram_client_key",
    "scram_server_key",
    "oauth_issuer",
    "oauth_client_id",
    "oauth_client_secret",
    "oauth_scope",
];

/// Environment variables of libpq options we do not support. When one is set we say that it is
/// ignored (a warning), since libpq would have used it.
pub(crate) const UNSUPPORTED_ENV_VARS: &[&str] = &[
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGOPTIONS",
    "PGCLIENTENCODING",
    "PGCHANNELBINDING",
    "PGSSLNEGOTIATION",
    "PGSSLCERT",
    "PGSSLKEY",
    "PGSSLCERTMODE",
    "PGSSLCRL",
    "PGSSLCRLDIR",
    "PGSSLSNI",
    "PGREQUIREPEER",
    "PGREQUIREAUTH",
    "PGSSLMINPROTOCOLVERSION",
    "PGSSLMAXPROTOCOLVERSION",
    "PGMINPROTOCOLVERSION",
    "PGMAXPROTOCOLVERSION",
    "PGGSSENCMODE",
    "PGKRBSRVNAME",
    "PGGSSLIB",
    "PGGSSDELEGATION",
    "PGTARGETSESSIONATTRS",
    "PGLOADBALANCEHOSTS",
];

/// Where a raw value came from, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Dsn,
    Env(&'static str),
}

impl Origin {
    /// A suffix for messages: ` (from --dsn)`, ` (from PGPORT)`.
    pub(crate) fn suffix(self) -> String {
        match self {
            Origin::Dsn => " (from --dsn)".to_owned(),
            Origin::Env(var) => format!(" (from {var})"),
        }
    }
}

/// Option values as given, before any interpretation. Later settings of a key replace earlier
/// ones, as in libpq.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawOptions {
    values: BTreeMap<Key, (String, Origin)>,
}

impl RawOptions {
    pub(crate) fn get(&self, key: Key) -> Option<(&str, Origin)> {
        self.values.get(&key).map(|(v, o)| (v.as_str(), *o))
    }

    /// The value if it is set and not empty: libpq treats an empty host, port, user, dbname,
    /// password or passfile as not given.
    pub(crate) fn non_empty(&self, key: Key) -> Option<(&str, Origin)> {
        self.get(key).filter(|(v, _)| !v.is_empty())
    }

    pub(crate) fn contains(&self, key: Key) -> bool {
        self.values.contains_key(&key)
    }

    pub(crate) fn set(&mut self, key: Key, value: String, origin: Origin) {
        self.values.insert(key, (value, origin));
    }

    /// Stores `keyword=value` from a `--dsn`. `after_password` is true when the keyword follows
    /// a password value: then the keyword may be a piece of an unquoted password with a space in
    /// it, and is not repeated in the error.
    pub(crate) fn store(
        &mut self,
        keyword: &str,
        value: String,
        after_password: bool,
        in_uri: bool,
    ) -> Result<(), ConnectError> {
        // libpq's old spelling: requiressl=1 is sslmode=require, anything else sslmode=prefer.
        if keyword == "requiressl" {
            let mode = if value.starts_with('1') {
                "require"
            } else {
                "prefer"
            };
            self.set(Key::SslMode, mode.to_owned(), Origin::Dsn);
            return Ok(());
        }
        if let Some(key) = Key::from_name(keyword) {
            self.set(key, value, Origin::Dsn);
            return Ok(());
        }
        let what = if in_uri {
            "URI query parameter"
        } else {
            "connection option"
        };
        if after_password {
            return Err(ConnectError::settings(format!(
                "invalid {what} after the password (a password with spaces must be quoted: password='...')"
            )));
        }
        if UNSUPPORTED_LIBPQ_KEYWORDS.contains(&keyword) {
            return Err(ConnectError::settings(format!(
                "{what} \"{keyword}\" is not supported here (supported: {})",
                supported_list()
            )));
        }
        Err(ConnectError::settings(format!(
            "invalid {what} \"{keyword}\" (supported: {})",
            supported_list()
        )))
    }
}

fn supported_list() -> String {
    Key::ALL
        .iter()
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses a `--dsn`: a `postgresql://` or `postgres://` URI, or else a conninfo string.
pub(crate) fn parse_dsn(dsn: &str) -> Result<RawOptions, ConnectError> {
    if crate::uri::is_uri(dsn) {
        crate::uri::parse(dsn)
    } else {
        crate::conninfo::parse(dsn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_round_trips_through_its_name() {
        for key in Key::ALL {
            assert_eq!(Key::from_name(key.name()), Some(key));
        }
    }

    #[test]
    fn unsupported_and_unknown_keywords_are_told_apart() {
        let mut raw = RawOptions::default();
        let e = raw.store("sslcert", "x".into(), false, false).unwrap_err();
        assert!(e.is_usage());
        assert!(e.message().contains("\"sslcert\" is not supported"), "{e}");
        let e = raw.store("sslmod", "x".into(), false, false).unwrap_err();
        assert!(
            e.message()
                .starts_with("invalid connection option \"sslmod\""),
            "{e}"
        );
    }

    #[test]
    fn requiressl_is_the_old_spelling_of_sslmode() {
        let mut raw = RawOptions::default();
        raw.store("requiressl", "1".into(), false, false).unwrap();
        assert_eq!(raw.get(Key::SslMode).unwrap().0, "require");
        raw.store("requiressl", "0".into(), false, false).unwrap();
        assert_eq!(raw.get(Key::SslMode).unwrap().0, "prefer");
    }
}

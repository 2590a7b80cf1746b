//! The one error this crate returns, for bad settings and for failed connections alike.
//!
//! Tools map it onto the project's exit codes: [`ConnectError::is_usage`] is exit 2 (a bad
//! `--dsn` or PG* value), everything else is exit 4 (could not run: the server is unreachable,
//! refused the login, or its certificate was refused). The message is one line, names where it
//! was going (`connecting to postgres@127.0.0.1:5433/gordon: ...`) and never holds a password:
//! every message is built from values that are not the password, and [`ConnectError`] scrubs
//! the password out once more before it stores a server's or a library's text.

use std::fmt;

/// What kind of failure a [`ConnectError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The settings themselves are wrong: a `--dsn` that does not parse, an unknown option,
    /// a bad port, sslmode or timeout, a missing root certificate for verify-ca/verify-full.
    /// A usage error: exit 2.
    InvalidSettings,
    /// No server could be reached: connection refused, no such socket, unknown host name.
    Unreachable,
    /// A server was reached but did not finish the startup within connect_timeout.
    Timeout,
    /// TLS could not be set up: the server does not offer it although sslmode requires it, or
    /// its certificate was refused.
    Tls,
    /// The server refused the session: authentication failed, no pg_hba.conf entry, no such
    /// database or role, too many connections.
    Rejected,
    /// Anything else that stopped the startup, e.g. the connection was lost half way.
    Other,
}

/// A failure to resolve connection settings or to connect. See the module documentation.
#[derive(Debug, Clone)]
pub struct ConnectError {
    kind: ErrorKind,
    target: Option<String>,
    message: String,
}

impl ConnectError {
    /// An invalid setting. `message` must not contain a password.
    pub(crate) fn settings(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::InvalidSettings,
            target: None,
            message: message.into(),
        }
    }

    /// A failed connection to `target` (a [`crate::ConnSettings::describe`] string).
    pub(crate) fn connecting(kind: ErrorKind, target: String, message: String) -> Self {
        Self {
            kind,
            target: Some(target),
            message,
        }
    }

    /// Removes every occurrence of `secret` from the message: a last line of defence for text
    /// that came from elsewhere (a server, a TLS library).
    #[must_use]
    pub(crate) fn scrubbed(mut self, secret: Option<&str>) -> Self {
        if let Some(secret) = secret.filter(|s| !s.is_empty()) {
            if self.message.contains(secret) {
                self.message = self.message.replace(secret, "********");
            }
        }
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// True for a usage or input error (exit 2): the settings are wrong, not the world.
    pub fn is_usage(&self) -> bool {
        self.kind == ErrorKind::InvalidSettings
    }

    /// True when the settings were fine but no session could be had (exit 4, "could not run").
    pub fn is_could_not_run(&self) -> bool {
        !self.is_usage()
    }

    /// Where the connection was going (`user@host:port/db`), when it got that far.
    pub fn target(&self) -> Option<&str> {
        self.target.as_deref()
    }

    /// The reason alone, without the `connecting to ...:` prefix.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            Some(target) => write!(f, "connecting to {target}: {}", self.message),
            None => write!(f, "invalid connection settings: {}", self.message),
        }
    }
}

impl std::error::Error for ConnectError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_errors_are_usage_errors() {
        let e = ConnectError::settings("invalid sslmode value: \"x\"");
        assert!(e.is_usage());
        assert!(!e.is_could_not_run());
        assert_eq!(
            e.to_string(),
            "invalid connection settings: invalid sslmode value: \"x\""
        );
    }

    #[test]
    fn connection_errors_could_not_run_and_name_the_target() {
        let e = ConnectError::connecting(
            ErrorKind::Rejected,
            "postgres@127.0.0.1:5433/gordon".into(),
            "nope".into(),
        );
        assert!(e.is_could_not_run());
        assert_eq!(
            e.to_string(),
            "connecting to postgres@127.0.0.1:5433/gordon: nope"
        );
        assert_eq!(e.target(), Some("postgres@127.0.0.1:5433/gordon"));
    }

    #[test]
    fn scrubbing_removes_the_secret() {
        let e = ConnectError::connecting(
            ErrorKind::Other,
            "t".into(),
            "server said hunter2 twice: hunter2".into(),
        )
        .scrubbed(Some("hunter2"));
        assert!(!e.to_string().contains("hunter2"));
        let e = ConnectError::settings("x").scrubbed(Some(""));
        assert_eq!(e.message(), "x");
    }
}

//! Connecting, host by host, as libpq does (fe-connect.c, PQconnectPoll):
//!
//! - hosts are tried in order; the next one is tried only when this one could not be reached
//!   or did not answer in time (or said "cannot connect now"); once a server has answered and
//!   refused (bad password, no pg_hba.conf entry) or TLS failed, libpq stops, and so do we;
//! - connect_timeout bounds each host's whole attempt: TCP or socket connect, TLS and
//!   authentication, including the retries of allow/prefer below;
//! - sslmode=allow tries plain text first and TLS if the server refuses that session;
//!   sslmode=prefer tries TLS first (when the server offers it) and plain text if TLS fails or
//!   the server refuses the TLS session; require and verify-* use TLS or fail;
//! - a Unix socket never uses TLS.
//!
//! Each host is its own tokio-postgres connection attempt with a single host, so the password
//! can differ per host (password file) and every failure can say which host it was.

use crate::error::{ConnectError, ErrorKind};
use crate::secret::Password;
use crate::settings::{ConnSettings, Endpoint, SslMode, Target};
use crate::tls::{Connector, TlsSetup};
use std::io;
use tokio_postgres::config::SslMode as WireSslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{Client, Connection, Socket};

/// The task that drives a connection: it ends when the connection closes, with the error that
/// closed it, if any. Dropping the [`Client`] closes the connection and ends the task.
pub type ConnectionTask = tokio::task::JoinHandle<Result<(), tokio_postgres::Error>>;

type TlsStream = <Connector as MakeTlsConnect<Socket>>::Stream;
type PgConnection = Connection<Socket, TlsStream>;

/// Connects to the first host in `settings` that takes us, and spawns the task that drives the
/// connection on the current tokio runtime.
///
/// The error says where it was going and why it failed, without a password; it is a usage
/// error only when the TLS settings are unusable (e.g. a missing root certificate file for
/// verify-full), otherwise "could not run".
pub async fn connect(settings: &ConnSettings) -> Result<(Client, ConnectionTask), ConnectError> {
    let secret = settings.password().map(|p| p.expose().to_owned());
    let tls = TlsSetup::new(settings).map_err(|e| e.scrubbed(secret.as_deref()))?;
    let mut failures: Vec<(&Target, Failure)> = Vec::new();
    for target in settings.targets() {
        let attempt = connect_target(settings, target, &tls);
        let outcome = match settings.connect_timeout() {
            Some(limit) => tokio::time::timeout(limit, attempt)
                .await
                .unwrap_or_else(|_| {
                    Err(Failure::new(
                        ErrorKind::Timeout,
                        format!(
                            "timed out after {} s (connect_timeout) waiting for the server",
                            limit.as_secs()
                        ),
                    ))
                }),
            None => attempt.await,
        };
        match outcome {
            Ok((client, connection)) => return Ok((client, tokio::spawn(connection))),
            Err(failure) => {
                let next = failure.try_next_host;
                failures.push((target, failure));
                if !next {
                    break;
                }
            }
        }
    }
    Err(combine(settings, &failures))
}

/// Why one attempt failed, and what libpq would do next.
#[derive(Debug)]
struct Failure {
    kind: ErrorKind,
    message: String,
    /// Unreachable or too slow: libpq moves on to the next host.
    try_next_host: bool,
    /// The server answered with an error (a refusal): sslmode=allow retries with TLS.
    server_refused: bool,
    /// The TLS handshake itself failed: sslmode=prefer retries in plain text.
    tls_failed: bool,
}

impl Failure {
    fn new(kind: ErrorKind, message: String) -> Self {
        let try_next_host = matches!(kind, ErrorKind::Unreachable | ErrorKind::Timeout);
        Self {
            kind,
            message,
            try_next_host,
            server_refused: false,
            tls_failed: kind == ErrorKind::Tls,
        }
    }

    /// Keeps the first attempt's reason when a retry fails too.
    fn after(self, first: &Failure, retry: &str) -> Self {
        Self {
            message: format!("{}; {retry}: {}", first.message, self.message),
            ..self
        }
    }
}

async fn connect_target(
    settings: &ConnSettings,
    target: &Target,
    tls: &TlsSetup,
) -> Result<(Client, PgConnection), Failure> {
    let attempt = |mode| attempt(settings, target, tls, mode);
    if target.is_socket() {
        return attempt(WireSslMode::Disable).await;
    }
    match settings.sslmode() {
        SslMode::Disable => attempt(WireSslMode::Disable).await,
        SslMode::Allow => match attempt(WireSslMode::Disable).await {
            Err(first) if first.server_refused => attempt(WireSslMode::Require)
                .await
                .map_err(|f| f.after(&first, "then with TLS")),
            other => other,
        },
        SslMode::Prefer => {
            tls.reset();
            match attempt(WireSslMode::Prefer).await {
                Err(first)
                    if first.tls_failed || (first.server_refused && tls.handshake_seen()) =>
                {
                    attempt(WireSslMode::Disable)
                        .await
                        .map_err(|f| f.after(&first, "then without TLS"))
                }
                other => other,
            }
        }
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            attempt(WireSslMode::Require).await
        }
    }
}

async fn attempt(
    settings: &ConnSettings,
    target: &Target,
    tls: &TlsSetup,
    mode: WireSslMode,
) -> Result<(Client, PgConnection), Failure> {
    let mut config = tokio_postgres::Config::new();
    config
        .user(settings.user())
        .dbname(settings.dbname())
        .port(target.port())
        .ssl_mode(mode);
    match target.endpoint() {
        Endpoint::Socket(dir) => {
            config.host_path(dir);
        }
        Endpoint::Tcp {
            host: Some(host),
            hostaddr,
        } => {
            config.host(host);
            if let Some(addr) = hostaddr {
                config.hostaddr(*addr);
            }
        }
        // Only an address: it is also the name TLS is set up with (an IP server name).
        Endpoint::Tcp {
            host: None,
            hostaddr: Some(addr),
        } => {
            config.host(addr.to_string()).hostaddr(*addr);
        }
        Endpoint::Tcp {
            host: None,
            hostaddr: None,
        } => {
            return Err(Failure::new(
                ErrorKind::InvalidSettings,
                "no host or hostaddr".to_owned(),
            ));
        }
    }
    if let Some(password) = settings.password_for(target) {
        config.password(password.expose());
    }
    if let Some(name) = settings.application_name() {
        config.application_name(name);
    }
    if let Some(limit) = settings.connect_timeout() {
        config.connect_timeout(limit);
    }
    config
        .connect(tls.connector())
        .await
        .map_err(|e| classify(&e, settings, target, mode))
}

/// Turns a tokio-postgres error into a one-line reason that says what to look at.
fn classify(
    error: &tokio_postgres::Error,
    settings: &ConnSettings,
    target: &Target,
    mode: WireSslMode,
) -> Failure {
    if let Some(db) = error.as_db_error() {
        let mut message = db.message().to_owned();
        // As libpq: a wrong password from the password file says which file to fix.
        if db.code() == &SqlState::INVALID_PASSWORD && settings.password().is_none() {
            if let (Some(_), Some(file)) = (settings.password_for(target), settings.passfile()) {
                message = format!(
                    "{message} (password retrieved from file \"{}\")",
                    file.display()
                );
            }
        }
        let mut failure = Failure::new(ErrorKind::Rejected, message);
        failure.server_refused = true;
        // A server starting up or shutting down: libpq tries the next host.
        failure.try_next_host = db.code() == &SqlState::CANNOT_CONNECT_NOW;
        return failure;
    }
    let text = error.to_string();
    let inner = innermost(error);
    if text.starts_with("error connecting to server") {
        return Failure::new(
            ErrorKind::Unreachable,
            unreachable_reason(error, &inner, target),
        );
    }
    if text.starts_with("timeout waiting for server") {
        return Failure::new(
            ErrorKind::Timeout,
            "timed out (connect_timeout) connecting to the server".to_owned(),
        );
    }
    if text.starts_with("error performing TLS handshake") {
        let message = if inner == "server does not support TLS" {
            format!(
                "the server does not support TLS, but sslmode={} requires it",
                settings.sslmode()
            )
        } else {
            format!("TLS handshake failed: {inner}")
        };
        return Failure::new(ErrorKind::Tls, message);
    }
    if text.starts_with("invalid configuration") && inner == "password missing" {
        return Failure::new(
            ErrorKind::Rejected,
            "the server asks for a password, and none was given \
             (set PGPASSWORD, add a line to the password file, or give password= in --dsn)"
                .to_owned(),
        );
    }
    if text.starts_with("connection closed")
        || text.starts_with("error communicating with the server")
    {
        let how = if mode == WireSslMode::Disable {
            ""
        } else {
            " (during TLS or authentication)"
        };
        return Failure::new(
            ErrorKind::Other,
            format!("the server closed the connection{how}: {inner}"),
        );
    }
    let message = if inner == text {
        text
    } else {
        format!("{text}: {inner}")
    };
    Failure::new(ErrorKind::Other, message)
}

fn unreachable_reason(error: &tokio_postgres::Error, inner: &str, target: &Target) -> String {
    let kind = io_kind(error);
    match target.endpoint() {
        Endpoint::Socket(dir) => {
            let socket = dir.join(format!(".s.PGSQL.{}", target.port()));
            match kind {
                Some(io::ErrorKind::NotFound) => {
                    format!("no server socket \"{}\" (is the server running locally?)", socket.display())
                }
                Some(io::ErrorKind::ConnectionRefused) => {
                    format!("connection refused on socket \"{}\" (is the server running?)", socket.display())
                }
                _ => format!("could not connect to socket \"{}\": {inner}", socket.display()),
            }
        }
        Endpoint::Tcp { host, hostaddr } => match kind {
            Some(io::ErrorKind::ConnectionRefused) => {
                "connection refused (is the server running and accepting TCP connections on that port?)".to_owned()
            }
            _ if hostaddr.is_none() && inner.contains("lookup address") => {
                format!("could not translate host name \"{}\" to an address: {inner}", host.as_deref().unwrap_or(""))
            }
            _ => format!("could not connect: {inner}"),
        },
    }
}

/// The deepest cause's message: the part that says what actually happened.
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

fn io_kind(error: &(dyn std::error::Error + 'static)) -> Option<io::ErrorKind> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        current = e.source();
    }
    None
}

fn combine(settings: &ConnSettings, failures: &[(&Target, Failure)]) -> ConnectError {
    let kind = failures.last().map_or(ErrorKind::Other, |(_, f)| f.kind);
    let message = match failures {
        [(_, only)] => only.message.clone(),
        [] => "no hosts to connect to".to_owned(),
        many => many
            .iter()
            .map(|(t, f)| format!("{}: {}", t.describe(), f.message))
            .collect::<Vec<_>>()
            .join("; "),
    };
    let mut error = ConnectError::connecting(kind, settings.describe(), message)
        .scrubbed(settings.password().map(Password::expose));
    for target in settings.targets() {
        error = error.scrubbed(settings.password_for(target).map(Password::expose));
    }
    error
}

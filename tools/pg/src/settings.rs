//! Resolved connection settings, by libpq's precedence: a value in `--dsn` (even an empty
//! one) wins over the environment variable, which wins over libpq's default.
//!
//! Defaults are Debian's libpq's: host = the socket directory `/var/run/postgresql`, port =
//! 5432, user = the OS user, dbname = the user, sslmode = prefer, passfile = `~/.pgpass`,
//! sslrootcert = `~/.postgresql/root.crt`. The checks libpq makes before it connects (host,
//! hostaddr and port lists that do not line up, a bad port, sslmode or timeout) are made here,
//! so a bad setting is a usage error before any network traffic.

use crate::conninfo::is_c_space;
use crate::env::Environment;
use crate::error::ConnectError;
use crate::options::{Key, Origin, RawOptions, UNSUPPORTED_ENV_VARS, parse_dsn};
use crate::pgpass::{PassFile, Wanted};
use crate::secret::Password;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// Where Debian's libpq looks for the server's socket when no host is given.
pub const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

/// libpq's default port.
pub const DEFAULT_PORT: u16 = 5432;

/// libpq's sslmode, with its meaning here:
/// - `disable`: no TLS;
/// - `allow`: plain first, TLS if the server refuses a plain session;
/// - `prefer` (default): TLS if the server offers it, else plain; also plain again if TLS fails;
/// - `require`: TLS, certificate not checked, unless a root certificate file exists, when the
///   chain is checked as with verify-ca;
/// - `verify-ca`: TLS, chain checked against sslrootcert, host name not checked;
/// - `verify-full`: TLS, chain and host name checked.
///
/// TLS is never used on a Unix socket (the server does not offer it there), whatever the mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Allow => "allow",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SslMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::Disable,
            Self::Allow,
            Self::Prefer,
            Self::Require,
            Self::VerifyCa,
            Self::VerifyFull,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
        .ok_or_else(|| format!("invalid sslmode value: \"{s}\""))
    }
}

/// The certificates a server's chain is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SslRootCert {
    /// `sslrootcert=system`: the system's trust store (requires sslmode=verify-full).
    System,
    /// A PEM file of CA certificates. Only used if it exists, unless sslmode is verify-*.
    File(PathBuf),
}

/// Where one server is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A Unix-domain socket `.s.PGSQL.<port>` in this directory.
    Socket(PathBuf),
    /// TCP. `host` is the name used for the TLS check and the password file (and resolved
    /// with DNS when there is no `hostaddr`); `hostaddr` is the IP address actually used, if
    /// given. At least one of the two is set.
    Tcp {
        host: Option<String>,
        hostaddr: Option<IpAddr>,
    },
}

/// One entry of the host list, tried in order.
#[derive(Debug, Clone)]
pub struct Target {
    endpoint: Endpoint,
    port: u16,
    file_password: Option<Password>,
}

impl Target {
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn is_socket(&self) -> bool {
        matches!(self.endpoint, Endpoint::Socket(_))
    }

    /// `host:port`, `[::1]:port`, `/socket/dir:port` or `name(10.0.0.1):port`.
    pub fn describe(&self) -> String {
        let port = self.port;
        match &self.endpoint {
            Endpoint::Socket(dir) => format!("{}:{port}", dir.display()),
            Endpoint::Tcp {
                host: Some(host),
                hostaddr: None,
            } => host_port(host, port),
            Endpoint::Tcp {
                host: Some(host),
                hostaddr: Some(addr),
            } => format!("{host}({addr}):{port}"),
            Endpoint::Tcp {
                host: None,
                hostaddr: Some(addr),
            } => host_port(&addr.to_string(), port),
            Endpoint::Tcp {
                host: None,
                hostaddr: None,
            } => format!("?:{port}"),
        }
    }
}

fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Everything needed to reach a server, resolved once from `--dsn`, the environment and the
/// defaults. `Debug` shows no password.
#[derive(Debug, Clone)]
pub struct ConnSettings {
    targets: Vec<Target>,
    user: String,
    password: Option<Password>,
    dbname: String,
    sslmode: SslMode,
    sslrootcert: Option<SslRootCert>,
    sslrootcert_explicit: bool,
    connect_timeout: Option<Duration>,
    application_name: Option<String>,
    fallback_application_name: Option<String>,
    passfile: Option<PathBuf>,
    warnings: Vec<String>,
}

impl ConnSettings {
    /// Resolves settings from an optional `--dsn` (conninfo or URI) and `env`.
    ///
    /// When no password is given, the password file is read here, once, for every host (as
    /// libpq does). Anything worth telling the user but not fatal (an ignored password file, a
    /// PG* variable we do not support) is in [`ConnSettings::warnings`].
    pub fn resolve(dsn: Option<&str>, env: &Environment<'_>) -> Result<Self, ConnectError> {
        let mut raw = match dsn {
            Some(dsn) => parse_dsn(dsn)?,
            None => RawOptions::default(),
        };
        let password_in_dsn = raw.non_empty(Key::Password).map(|(p, _)| p.to_owned());
        Self::from_raw(&mut raw, env).map_err(|e| e.scrubbed(password_in_dsn.as_deref()))
    }

    fn from_raw(raw: &mut RawOptions, env: &Environment<'_>) -> Result<Self, ConnectError> {
        for key in Key::ALL {
            if let Some(var) = key.env_var().filter(|_| !raw.contains(key)) {
                if let Some(value) = env.var(var) {
                    raw.set(key, value, Origin::Env(var));
                }
            }
        }
        // The deprecated PGREQUIRESSL=1 still means sslmode=require when nothing else says.
        if !raw.contains(Key::SslMode)
            && env.var("PGREQUIRESSL").is_some_and(|v| v.starts_with('1'))
        {
            raw.set(
                Key::SslMode,
                "require".to_owned(),
                Origin::Env("PGREQUIRESSL"),
            );
        }
        let mut warnings: Vec<String> = UNSUPPORTED_ENV_VARS
            .iter()
            .filter(|var| env.var(var).is_some())
            .map(|var| format!("{var} is set, but this tool does not support it; ignoring it"))
            .collect();

        let hosts = resolve_hosts(raw)?;

        let user = match raw.non_empty(Key::User) {
            Some((user, _)) => user.to_owned(),
            None => env.os_user().filter(|u| !u.is_empty()).ok_or_else(|| {
                ConnectError::settings(
                    "could not determine the user name to connect as: set PGUSER or user= in --dsn",
                )
            })?,
        };
        let dbname = raw
            .non_empty(Key::DbName)
            .map_or_else(|| user.clone(), |(db, _)| db.to_owned());
        let password = raw.non_empty(Key::Password).map(|(p, _)| Password::new(p));
        let passfile = raw
            .non_empty(Key::PassFile)
            .map(|(p, _)| PathBuf::from(p))
            .or_else(|| env.home().map(|h| h.join(".pgpass")));

        let mut targets = Vec::with_capacity(hosts.len());
        let file = match (&password, &passfile) {
            (None, Some(path)) => PassFile::read(path).unwrap_or_else(|warning| {
                warnings.push(warning);
                None
            }),
            _ => None,
        };
        for host in hosts {
            let file_password = file.as_ref().and_then(|f| {
                f.lookup(&Wanted {
                    host: &host.pgpass_host,
                    port: &host.pgpass_port,
                    dbname: &dbname,
                    user: &user,
                })
            });
            targets.push(Target {
                endpoint: host.endpoint,
                port: host.port,
                file_password,
            });
        }

        let (sslmode, sslrootcert, sslrootcert_explicit) = resolve_ssl(raw, env)?;
        if sslmode == SslMode::VerifyFull {
            if let Some(t) = targets
                .iter()
                .find(|t| matches!(t.endpoint, Endpoint::Tcp { host: None, .. }))
            {
                return Err(ConnectError::settings(format!(
                    "sslmode=verify-full needs a host name to check the certificate against, but {} has only hostaddr",
                    t.describe()
                )));
            }
        }

        let connect_timeout = match raw.get(Key::ConnectTimeout) {
            Some((text, origin)) => parse_timeout(text, origin)?,
            None => None,
        };

        Ok(Self {
            targets,
            user,
            password,
            dbname,
            sslmode,
            sslrootcert,
            sslrootcert_explicit,
            connect_timeout,
            application_name: raw.get(Key::ApplicationName).map(|(v, _)| v.to_owned()),
            fallback_application_name: raw
                .get(Key::FallbackApplicationName)
                .map(|(v, _)| v.to_owned()),
            passfile,
            warnings,
        })
    }

    /// The hosts to try, in order.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    pub fn dbname(&self) -> &str {
        &self.dbname
    }

    /// The password given in `--dsn` or PGPASSWORD (not one from the password file).
    pub fn password(&self) -> Option<&Password> {
        self.password.as_ref()
    }

    /// The password used for `target`: the given one, else the password file's for that host.
    pub fn password_for<'a>(&'a self, target: &'a Target) -> Option<&'a Password> {
        self.password.as_ref().or(target.file_password.as_ref())
    }

    pub fn sslmode(&self) -> SslMode {
        self.sslmode
    }

    /// The root certificates: given with sslrootcert/PGSSLROOTCERT, else
    /// `~/.postgresql/root.crt` (which may not exist), else none (no home directory).
    pub fn sslrootcert(&self) -> Option<&SslRootCert> {
        self.sslrootcert.as_ref()
    }

    /// connect_timeout, already raised to libpq's minimum of 2 s; `None` waits indefinitely.
    pub fn connect_timeout(&self) -> Option<Duration> {
        self.connect_timeout
    }

    /// application_name, else fallback_application_name.
    pub fn application_name(&self) -> Option<&str> {
        self.application_name
            .as_deref()
            .or(self.fallback_application_name.as_deref())
    }

    /// Sets the name the server shows for the session when the user has not chosen one with
    /// application_name or PGAPPNAME (libpq's fallback_application_name): a tool passes its
    /// own name.
    pub fn set_fallback_application_name(&mut self, name: impl Into<String>) {
        self.fallback_application_name = Some(name.into());
    }

    /// The password file consulted when no password was given.
    pub fn passfile(&self) -> Option<&Path> {
        self.passfile.as_deref()
    }

    /// Things the user should hear about but that did not stop resolution, one line each.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// A description for logs and errors, never with a password:
    /// `postgres@/var/run/postgresql:5432/gordon`, `app@db1:5432,db2:5433/gordon`.
    pub fn describe(&self) -> String {
        let hosts: Vec<String> = self.targets.iter().map(Target::describe).collect();
        format!("{}@{}/{}", self.user, hosts.join(","), self.dbname)
    }

    pub(crate) fn sslrootcert_explicit(&self) -> bool {
        self.sslrootcert_explicit
    }
}

/// One host slot, with the raw strings libpq matches in the password file.
struct HostSlot {
    endpoint: Endpoint,
    port: u16,
    pgpass_host: String,
    pgpass_port: String,
}

fn split_list(raw: &RawOptions, key: Key) -> Option<(Vec<&str>, Origin)> {
    raw.non_empty(key)
        .map(|(v, origin)| (v.split(',').collect(), origin))
}

fn resolve_hosts(raw: &RawOptions) -> Result<Vec<HostSlot>, ConnectError> {
    let hosts = split_list(raw, Key::Host);
    let addrs = split_list(raw, Key::HostAddr);
    let count = match (&addrs, &hosts) {
        (Some((a, _)), _) => a.len(),
        (None, Some((h, _))) => h.len(),
        (None, None) => 1,
    };
    if let (Some((h, _)), Some(_)) = (&hosts, &addrs) {
        if h.len() != count {
            return Err(ConnectError::settings(format!(
                "could not match {} host names to {count} hostaddr values",
                h.len()
            )));
        }
    }
    let ports = split_list(raw, Key::Port);
    if let Some((p, _)) = &ports {
        if p.len() != 1 && p.len() != count {
            return Err(ConnectError::settings(format!(
                "could not match {} port numbers to {count} hosts",
                p.len()
            )));
        }
    }

    let mut slots = Vec::with_capacity(count);
    for i in 0..count {
        let host = hosts.as_ref().map_or("", |(h, _)| h[i]);
        let addr = addrs.as_ref().map_or("", |(a, _)| a[i]);
        let endpoint = if !addr.is_empty() {
            let origin = addrs.as_ref().map_or(Origin::Dsn, |(_, o)| *o);
            let ip = addr.parse::<IpAddr>().map_err(|_| {
                ConnectError::settings(format!(
                    "could not parse network address \"{addr}\"{}",
                    origin.suffix()
                ))
            })?;
            Endpoint::Tcp {
                host: (!host.is_empty()).then(|| host.to_owned()),
                hostaddr: Some(ip),
            }
        } else if host.starts_with('/') {
            Endpoint::Socket(PathBuf::from(host))
        } else if host.starts_with('@') {
            return Err(ConnectError::settings(format!(
                "host \"{host}\" names an abstract Unix socket, which is not supported here; use the socket's directory"
            )));
        } else if !host.is_empty() {
            Endpoint::Tcp {
                host: Some(host.to_owned()),
                hostaddr: None,
            }
        } else {
            Endpoint::Socket(PathBuf::from(DEFAULT_SOCKET_DIR))
        };

        let (port_text, port_origin) = match &ports {
            Some((p, origin)) if p.len() == 1 => (p[0], *origin),
            Some((p, origin)) => (p[i], *origin),
            None => ("", Origin::Dsn),
        };
        let port = if port_text.is_empty() {
            DEFAULT_PORT
        } else {
            parse_port(port_text, port_origin)?
        };

        // libpq matches the host as given, the default socket directory counting as localhost.
        let pgpass_host = if !host.is_empty() {
            host
        } else if !addr.is_empty() {
            addr
        } else {
            DEFAULT_SOCKET_DIR
        };
        let pgpass_host = if pgpass_host == DEFAULT_SOCKET_DIR {
            "localhost"
        } else {
            pgpass_host
        };
        let pgpass_port = if port_text.is_empty() {
            DEFAULT_PORT.to_string()
        } else {
            port_text.to_owned()
        };
        slots.push(HostSlot {
            endpoint,
            port,
            pgpass_host: pgpass_host.to_owned(),
            pgpass_port,
        });
    }
    Ok(slots)
}

/// An integer as libpq's pqParseIntParam reads it: blanks around it allowed, nothing else.
fn parse_int(text: &str) -> Option<i32> {
    text.trim_matches(is_c_space).parse::<i32>().ok()
}

fn parse_port(text: &str, origin: Origin) -> Result<u16, ConnectError> {
    parse_int(text)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|&p| p >= 1)
        .ok_or_else(|| {
            ConnectError::settings(format!(
                "invalid port number: \"{text}\"{}",
                origin.suffix()
            ))
        })
}

fn parse_timeout(text: &str, origin: Origin) -> Result<Option<Duration>, ConnectError> {
    let seconds = parse_int(text).ok_or_else(|| {
        ConnectError::settings(format!(
            "invalid integer value \"{text}\" for connection option \"connect_timeout\"{}",
            origin.suffix()
        ))
    })?;
    // libpq: zero or negative waits forever; a positive value is at least two seconds, so that
    // rounding never makes it give up almost at once.
    Ok(u64::try_from(seconds)
        .ok()
        .filter(|&s| s > 0)
        .map(|s| Duration::from_secs(s.max(2))))
}

fn resolve_ssl(
    raw: &RawOptions,
    env: &Environment<'_>,
) -> Result<(SslMode, Option<SslRootCert>, bool), ConnectError> {
    let given_mode = match raw.get(Key::SslMode) {
        Some((text, origin)) => Some(
            text.parse::<SslMode>()
                .map_err(|e| ConnectError::settings(format!("{e}{}", origin.suffix())))?,
        ),
        None => None,
    };
    let (rootcert, explicit) = match raw.non_empty(Key::SslRootCert) {
        Some(("system", _)) => (Some(SslRootCert::System), true),
        Some((path, _)) => (Some(SslRootCert::File(PathBuf::from(path))), true),
        None => (
            env.home()
                .map(|h| SslRootCert::File(h.join(".postgresql").join("root.crt"))),
            false,
        ),
    };
    let mode = match (given_mode, &rootcert) {
        // sslrootcert=system makes the default verify-full, and allows nothing weaker.
        (None, Some(SslRootCert::System)) => SslMode::VerifyFull,
        (Some(mode), Some(SslRootCert::System)) if mode != SslMode::VerifyFull => {
            return Err(ConnectError::settings(format!(
                "weak sslmode \"{mode}\" may not be used with sslrootcert=system (use \"verify-full\")"
            )));
        }
        (mode, _) => mode.unwrap_or(SslMode::Prefer),
    };
    Ok((mode, rootcert, explicit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn env(pairs: &[(&str, &str)]) -> Environment<'static> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Environment::from_pairs(pairs).with_os_user(Some("osuser"))
    }

    fn resolve(dsn: Option<&str>, pairs: &[(&str, &str)]) -> ConnSettings {
        ConnSettings::resolve(dsn, &env(pairs)).unwrap()
    }

    fn resolve_err(dsn: Option<&str>, pairs: &[(&str, &str)]) -> ConnectError {
        ConnSettings::resolve(dsn, &env(pairs)).unwrap_err()
    }

    #[test]
    fn libpq_defaults() {
        let s = resolve(None, &[]);
        assert_eq!(s.targets().len(), 1);
        assert_eq!(
            s.targets()[0].endpoint(),
            &Endpoint::Socket(PathBuf::from("/var/run/postgresql"))
        );
        assert_eq!(s.targets()[0].port(), 5432);
        assert_eq!(s.user(), "osuser");
        assert_eq!(s.dbname(), "osuser");
        assert!(s.password().is_none());
        assert_eq!(s.sslmode(), SslMode::Prefer);
        assert_eq!(s.sslrootcert(), None);
        assert_eq!(s.connect_timeout(), None);
        assert_eq!(s.application_name(), None);
        assert_eq!(s.passfile(), None);
        assert_eq!(s.describe(), "osuser@/var/run/postgresql:5432/osuser");
    }

    #[test]
    fn environment_over_defaults() {
        let s = resolve(
            None,
            &[
                ("PGHOST", "db1"),
                ("PGPORT", "5433"),
                ("PGUSER", "alice"),
                ("PGPASSWORD", "pw"),
                ("PGDATABASE", "gordon"),
                ("PGSSLMODE", "require"),
                ("PGSSLROOTCERT", "/etc/ca.pem"),
                ("PGCONNECT_TIMEOUT", "7"),
                ("PGAPPNAME", "restore"),
                ("PGPASSFILE", "/nonexistent/pgpass"),
            ],
        );
        assert_eq!(s.describe(), "alice@db1:5433/gordon");
        assert_eq!(s.password().unwrap().expose(), "pw");
        assert_eq!(s.sslmode(), SslMode::Require);
        assert_eq!(
            s.sslrootcert(),
            Some(&SslRootCert::File("/etc/ca.pem".into()))
        );
        assert_eq!(s.connect_timeout(), Some(Duration::from_secs(7)));
        assert_eq!(s.application_name(), Some("restore"));
        assert_eq!(s.passfile(), Some(Path::new("/nonexistent/pgpass")));
    }

    #[test]
    fn dsn_over_environment() {
        let pairs = [
            ("PGHOST", "envhost"),
            ("PGPORT", "1111"),
            ("PGUSER", "envuser"),
            ("PGDATABASE", "envdb"),
        ];
        let s = resolve(Some("host=dsnhost dbname=dsndb"), &pairs);
        assert_eq!(s.describe(), "envuser@dsnhost:1111/dsndb");
        let s = resolve(Some("postgresql://uriuser@urihost:2222"), &pairs);
        assert_eq!(s.describe(), "uriuser@urihost:2222/envdb");
    }

    #[test]
    fn empty_dsn_value_blocks_the_environment_like_libpq() {
        // host='' is given (empty), so PGHOST is not consulted and the default applies.
        let s = resolve(Some("host=''"), &[("PGHOST", "envhost")]);
        assert_eq!(
            s.targets()[0].endpoint(),
            &Endpoint::Socket(DEFAULT_SOCKET_DIR.into())
        );
        // An empty PGUSER is as good as none: the OS user.
        let s = resolve(None, &[("PGUSER", "")]);
        assert_eq!(s.user(), "osuser");
        // A URI's empty dbname is not given at all, so PGDATABASE applies.
        let s = resolve(Some("postgresql://h/"), &[("PGDATABASE", "envdb")]);
        assert_eq!(s.dbname(), "envdb");
    }

    #[test]
    fn dbname_defaults_to_the_user() {
        assert_eq!(resolve(Some("user=bob"), &[]).dbname(), "bob");
        assert_eq!(resolve(None, &[("PGUSER", "carol")]).dbname(), "carol");
    }

    #[test]
    fn no_user_anywhere_is_a_usage_error() {
        let e = ConnSettings::resolve(
            None,
            &Environment::from_pairs([("X", "y")]).with_os_user(None),
        )
        .unwrap_err();
        assert!(e.is_usage());
        assert!(e.message().contains("PGUSER"), "{e}");
    }

    #[test]
    fn multiple_hosts_and_ports() {
        let s = resolve(Some("host=a,/tmp/s,::1 port=1,2,3"), &[]);
        let described: Vec<String> = s.targets().iter().map(Target::describe).collect();
        assert_eq!(described, ["a:1", "/tmp/s:2", "[::1]:3"]);
        // One port applies to every host; an empty one is the default.
        let s = resolve(Some("host=a,b port=7"), &[]);
        assert!(s.targets().iter().all(|t| t.port() == 7));
        let s = resolve(Some("postgresql://a:1,b/db"), &[]);
        assert_eq!(s.targets()[1].port(), 5432);
        // An empty host slot is the default socket directory.
        let s = resolve(Some("host=a,"), &[]);
        assert_eq!(
            s.targets()[1].endpoint(),
            &Endpoint::Socket(DEFAULT_SOCKET_DIR.into())
        );
        assert_eq!(
            s.describe(),
            "osuser@a:5432,/var/run/postgresql:5432/osuser"
        );
    }

    #[test]
    fn hostaddr() {
        let s = resolve(Some("host=db.example hostaddr=10.0.0.7 port=5433"), &[]);
        assert_eq!(
            s.targets()[0].endpoint(),
            &Endpoint::Tcp {
                host: Some("db.example".into()),
                hostaddr: Some("10.0.0.7".parse().unwrap())
            }
        );
        assert_eq!(s.targets()[0].describe(), "db.example(10.0.0.7):5433");
        let s = resolve(None, &[("PGHOSTADDR", "::1")]);
        assert_eq!(s.targets()[0].describe(), "[::1]:5432");
        let e = resolve_err(Some("hostaddr=db.example"), &[]);
        assert_eq!(
            e.message(),
            "could not parse network address \"db.example\" (from --dsn)"
        );
        let e = resolve_err(Some("host=a,b hostaddr=10.0.0.1"), &[]);
        assert_eq!(
            e.message(),
            "could not match 2 host names to 1 hostaddr values"
        );
        let e = resolve_err(Some("hostaddr=10.0.0.1 sslmode=verify-full"), &[]);
        assert!(e.message().contains("needs a host name"), "{e}");
    }

    #[test]
    fn bad_values_are_usage_errors_naming_their_source() {
        type Case<'a> = (Option<&'a str>, &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case<'_>] = &[
            (
                Some("port=abc"),
                &[],
                "invalid port number: \"abc\" (from --dsn)",
            ),
            (
                None,
                &[("PGPORT", "70000")],
                "invalid port number: \"70000\" (from PGPORT)",
            ),
            (
                None,
                &[("PGPORT", "0")],
                "invalid port number: \"0\" (from PGPORT)",
            ),
            (
                Some("host=a,b,c port=1,2"),
                &[],
                "could not match 2 port numbers to 3 hosts",
            ),
            (
                None,
                &[("PGSSLMODE", "required")],
                "invalid sslmode value: \"required\" (from PGSSLMODE)",
            ),
            (
                Some("sslmode="),
                &[],
                "invalid sslmode value: \"\" (from --dsn)",
            ),
            (
                None,
                &[("PGCONNECT_TIMEOUT", "5s")],
                "invalid integer value \"5s\" for connection option \"connect_timeout\" (from PGCONNECT_TIMEOUT)",
            ),
            (Some("host=@abstract"), &[], "abstract Unix socket"),
        ];
        for (dsn, pairs, expected) in cases {
            let e = resolve_err(*dsn, pairs);
            assert!(e.is_usage(), "{e}");
            assert!(e.message().contains(expected), "{dsn:?} {pairs:?}: {e}");
        }
    }

    #[test]
    fn ports_allow_blanks_like_libpq() {
        assert_eq!(
            resolve(Some("port=' 5433 '"), &[]).targets()[0].port(),
            5433
        );
    }

    #[test]
    fn connect_timeout_rules() {
        let t = |v: &str| resolve(None, &[("PGCONNECT_TIMEOUT", v)]).connect_timeout();
        assert_eq!(t("10"), Some(Duration::from_secs(10)));
        assert_eq!(t("1"), Some(Duration::from_secs(2)));
        assert_eq!(t("0"), None);
        assert_eq!(t("-3"), None);
        assert_eq!(t(" 3 "), Some(Duration::from_secs(3)));
    }

    #[test]
    fn sslrootcert_defaults_and_system() {
        let s = resolve(None, &[("HOME", "/home/a")]);
        assert_eq!(
            s.sslrootcert(),
            Some(&SslRootCert::File("/home/a/.postgresql/root.crt".into()))
        );
        assert!(!s.sslrootcert_explicit());
        let s = resolve(Some("sslrootcert=system"), &[]);
        assert_eq!(s.sslrootcert(), Some(&SslRootCert::System));
        assert_eq!(
            s.sslmode(),
            SslMode::VerifyFull,
            "system makes verify-full the default"
        );
        let e = resolve_err(Some("sslrootcert=system"), &[("PGSSLMODE", "require")]);
        assert!(e.message().contains("weak sslmode \"require\""), "{e}");
        let s = resolve(None, &[("PGREQUIRESSL", "1")]);
        assert_eq!(s.sslmode(), SslMode::Require);
        let s = resolve(None, &[("PGREQUIRESSL", "1"), ("PGSSLMODE", "disable")]);
        assert_eq!(s.sslmode(), SslMode::Disable);
    }

    #[test]
    fn application_name_and_fallback() {
        let mut s = resolve(None, &[]);
        s.set_fallback_application_name("schema-swap");
        assert_eq!(s.application_name(), Some("schema-swap"));
        let mut s = resolve(None, &[("PGAPPNAME", "mine")]);
        s.set_fallback_application_name("schema-swap");
        assert_eq!(s.application_name(), Some("mine"));
    }

    #[test]
    fn unsupported_variables_are_warned_about() {
        let s = resolve(None, &[("PGSSLCERT", "/x"), ("PGSERVICE", "prod")]);
        assert!(
            s.warnings()
                .iter()
                .any(|w| w.starts_with("PGSSLCERT is set")),
            "{:?}",
            s.warnings()
        );
        assert!(
            s.warnings()
                .iter()
                .any(|w| w.starts_with("PGSERVICE is set")),
            "{:?}",
            s.warnings()
        );
    }

    #[test]
    fn settings_errors_never_show_the_dsn_password() {
        let e = resolve_err(Some("password=hunter2 port=hunter2"), &[]);
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let s = resolve(Some("postgresql://u:hunter2@h/db"), &[]);
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!s.describe().contains("hunter2"));
    }

    fn pgpass(text: &str, mode: u32) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let path = path.display().to_string();
        (dir, path)
    }

    #[test]
    fn password_file_per_host() {
        let (_dir, path) = pgpass("a:5432:db:u:pa\nb:*:*:u:pb\n*:*:*:*:other\n", 0o600);
        let s = resolve(
            Some("host=a,b,c dbname=db user=u"),
            &[("PGPASSFILE", &path)],
        );
        let got: Vec<Option<&str>> = s
            .targets()
            .iter()
            .map(|t| s.password_for(t).map(Password::expose))
            .collect();
        assert_eq!(got, [Some("pa"), Some("pb"), Some("other")]);
        assert!(s.password().is_none());
    }

    #[test]
    fn password_file_only_without_a_password() {
        let (_dir, path) = pgpass("*:*:*:*:fromfile\n", 0o600);
        let s = resolve(Some("password=given"), &[("PGPASSFILE", &path)]);
        assert_eq!(s.password_for(&s.targets()[0]).unwrap().expose(), "given");
        let s = resolve(None, &[("PGPASSFILE", &path), ("PGPASSWORD", "env")]);
        assert_eq!(s.password_for(&s.targets()[0]).unwrap().expose(), "env");
        // An empty password counts as none, so the file is read.
        let s = resolve(None, &[("PGPASSFILE", &path), ("PGPASSWORD", "")]);
        assert_eq!(
            s.password_for(&s.targets()[0]).unwrap().expose(),
            "fromfile"
        );
        // passfile= in the DSN beats PGPASSFILE.
        let (_dir2, other) = pgpass("*:*:*:*:second\n", 0o600);
        let s = resolve(Some(&format!("passfile={other}")), &[("PGPASSFILE", &path)]);
        assert_eq!(s.password_for(&s.targets()[0]).unwrap().expose(), "second");
    }

    #[test]
    fn password_file_default_socket_dir_is_localhost() {
        let (_dir, path) = pgpass("localhost:5432:*:*:local\n/tmp/sock:5432:*:*:tmp\n", 0o600);
        for dsn in ["host=/var/run/postgresql", "port=5432", "host=localhost"] {
            let s = resolve(Some(dsn), &[("PGPASSFILE", &path)]);
            assert_eq!(
                s.password_for(&s.targets()[0]).map(Password::expose),
                Some("local"),
                "{dsn}"
            );
        }
        let s = resolve(Some("host=/tmp/sock"), &[("PGPASSFILE", &path)]);
        assert_eq!(
            s.password_for(&s.targets()[0]).map(Password::expose),
            Some("tmp")
        );
        // Another directory is not localhost, and libpq compares the text, not the file.
        let s = resolve(Some("host=/run/postgresql"), &[("PGPASSFILE", &path)]);
        assert_eq!(s.password_for(&s.targets()[0]), None);
    }

    #[test]
    fn password_file_matches_port_as_written_and_hostaddr_without_host() {
        let (_dir, path) = pgpass("10.0.0.7:5433:*:*:byaddr\n", 0o600);
        let s = resolve(
            Some("hostaddr=10.0.0.7 port=5433"),
            &[("PGPASSFILE", &path)],
        );
        assert_eq!(
            s.password_for(&s.targets()[0]).map(Password::expose),
            Some("byaddr")
        );
        let s = resolve(
            Some("host=named hostaddr=10.0.0.7 port=5433"),
            &[("PGPASSFILE", &path)],
        );
        assert_eq!(
            s.password_for(&s.targets()[0]),
            None,
            "the host name is what is matched"
        );
    }

    #[test]
    fn password_file_from_home_and_permission_rule() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".pgpass");
        std::fs::write(&path, "*:*:*:*:homepw\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let home = dir.path().display().to_string();
        let s = resolve(None, &[("HOME", &home)]);
        assert_eq!(
            s.password_for(&s.targets()[0]).map(Password::expose),
            Some("homepw")
        );
        assert!(s.warnings().is_empty());

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let s = resolve(None, &[("HOME", &home)]);
        assert_eq!(s.password_for(&s.targets()[0]), None);
        assert_eq!(s.warnings().len(), 1);
        assert!(
            s.warnings()[0].contains("group or world access"),
            "{:?}",
            s.warnings()
        );
        assert!(!s.warnings()[0].contains("homepw"));
    }
}

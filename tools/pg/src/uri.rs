//! The URI form of `--dsn`, parsed by libpq's rules (fe-connect.c, conninfo_uri_parse):
//!
//! ```text
//! postgresql://[user[:password]@][host][:port][,host[:port]...][/dbname][?keyword=value&...]
//! ```
//!
//! - `postgres://` is accepted too;
//! - a host in square brackets is an IPv6 address (`[::1]:5432`);
//! - every part may be percent-encoded; that is how a Unix-socket directory goes into the host
//!   part (`postgresql://%2Fvar%2Frun%2Fpostgresql/gordon`), or into `?host=/var/run/postgresql`;
//! - the hosts and ports are joined with commas, as the `host` and `port` keywords would be,
//!   so `h1:1,h2` means hosts `h1,h2` and ports `1,` (the empty one is the default);
//! - an empty user, password or dbname counts as not given (the environment still applies);
//! - query keywords are conninfo keywords; `ssl=true` means `sslmode=require`.
//!
//! Errors never repeat the URI: it may hold a password.

use crate::error::ConnectError;
use crate::options::{Key, Origin, RawOptions};

const PREFIXES: [&str; 2] = ["postgresql://", "postgres://"];

pub(crate) fn is_uri(dsn: &str) -> bool {
    PREFIXES.iter().any(|p| dsn.starts_with(p))
}

/// Decodes `%XX` sequences. `part` names the URI part for the error; the offending sequence is
/// shown unless the part is the password.
fn decode(text: &str, part: &str) -> Result<String, ConnectError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = bytes.get(i + 1).copied().and_then(hex_value);
            let lo = bytes.get(i + 2).copied().and_then(hex_value);
            let (Some(hi), Some(lo)) = (hi, lo) else {
                let shown = if part == "password" {
                    String::new()
                } else {
                    let end = (i + 3).min(bytes.len());
                    format!(": \"{}\"", String::from_utf8_lossy(&bytes[i..end]))
                };
                return Err(ConnectError::settings(format!(
                    "invalid percent-encoding in the URI's {part}{shown}"
                )));
            };
            let byte = (hi << 4) | lo;
            if byte == 0 {
                return Err(ConnectError::settings(format!(
                    "forbidden value %00 in the URI's {part}"
                )));
            }
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| {
        ConnectError::settings(format!("the URI's {part} is not valid UTF-8 once decoded"))
    })
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

pub(crate) fn parse(uri: &str) -> Result<RawOptions, ConnectError> {
    let prefix = PREFIXES
        .iter()
        .find(|p| uri.starts_with(*p))
        .map_or(0, |p| p.len());
    // All delimiters are ASCII, so byte positions are char boundaries wherever we cut.
    let s = &uri[prefix..];
    let b = s.as_bytes();
    let mut raw = RawOptions::default();

    // Credentials: only if an '@' comes before the first '/'.
    let mut p = 0;
    let lookahead = b.iter().position(|&c| c == b'@' || c == b'/');
    if let Some(at) = lookahead.filter(|&i| b[i] == b'@') {
        let creds = &s[..at];
        let (user, password) = match creds.find(':') {
            Some(colon) => (&creds[..colon], Some(&creds[colon + 1..])),
            None => (creds, None),
        };
        if !user.is_empty() {
            raw.set(Key::User, decode(user, "user name")?, Origin::Dsn);
        }
        if let Some(password) = password.filter(|p| !p.is_empty()) {
            raw.set(Key::Password, decode(password, "password")?, Origin::Dsn);
        }
        p = at + 1;
    }

    // One or more netloc[:port], separated by commas.
    let mut hosts = String::new();
    let mut ports = String::new();
    let terminator;
    loop {
        if b.get(p) == Some(&b'[') {
            let start = p + 1;
            let Some(len) = b[start..].iter().position(|&c| c == b']') else {
                return Err(ConnectError::settings(
                    "end of string reached when looking for matching \"]\" in IPv6 host address in URI",
                ));
            };
            if len == 0 {
                return Err(ConnectError::settings(
                    "IPv6 host address may not be empty in URI",
                ));
            }
            hosts.push_str(&s[start..start + len]);
            p = start + len + 1;
            if let Some(&c) = b.get(p).filter(|c| !matches!(c, b':' | b'/' | b'?' | b',')) {
                return Err(ConnectError::settings(format!(
                    "unexpected character \"{}\" at position {} in URI (expected \":\" or \"/\")",
                    char::from(c),
                    prefix + p + 1
                )));
            }
        } else {
            let start = p;
            while p < b.len() && !matches!(b[p], b':' | b'/' | b'?' | b',') {
                p += 1;
            }
            hosts.push_str(&s[start..p]);
        }
        let mut sep = b.get(p).copied();
        if sep == Some(b':') {
            let start = p + 1;
            p = start;
            while p < b.len() && !matches!(b[p], b'/' | b'?' | b',') {
                p += 1;
            }
            ports.push_str(&s[start..p]);
            sep = b.get(p).copied();
        }
        if sep == Some(b',') {
            hosts.push(',');
            ports.push(',');
            p += 1;
            continue;
        }
        terminator = sep;
        break;
    }
    if !hosts.is_empty() {
        raw.set(Key::Host, decode(&hosts, "host")?, Origin::Dsn);
    }
    if !ports.is_empty() {
        raw.set(Key::Port, decode(&ports, "port")?, Origin::Dsn);
    }

    // "/dbname", then "?query".
    let mut query = None;
    match terminator {
        Some(b'/') => {
            let rest = &s[p + 1..];
            let (dbname, q) = match rest.find('?') {
                Some(i) => (&rest[..i], Some(&rest[i + 1..])),
                None => (rest, None),
            };
            if !dbname.is_empty() {
                raw.set(Key::DbName, decode(dbname, "database name")?, Origin::Dsn);
            }
            query = q;
        }
        Some(b'?') => query = Some(&s[p + 1..]),
        _ => {}
    }
    if let Some(query) = query {
        parse_query(query, &mut raw)?;
    }
    Ok(raw)
}

fn parse_query(query: &str, raw: &mut RawOptions) -> Result<(), ConnectError> {
    let mut after_password = false;
    let mut rest = query;
    // As libpq: parameters are separated by '&'; a trailing '&' ends the list, an empty
    // parameter in the middle is an error.
    while !rest.is_empty() {
        let (param, next) = rest.split_once('&').unwrap_or((rest, ""));
        rest = next;
        let Some((keyword, value)) = param.split_once('=') else {
            return Err(ConnectError::settings(if after_password {
                "missing key/value separator \"=\" in URI query parameter after the password"
                    .to_owned()
            } else {
                format!("missing key/value separator \"=\" in URI query parameter: \"{param}\"")
            }));
        };
        let keyword = decode(keyword, "query")?;
        if value.contains('=') {
            let shown = if keyword == "password" {
                String::new()
            } else {
                format!(" \"{keyword}\"")
            };
            return Err(ConnectError::settings(format!(
                "extra key/value separator \"=\" in URI query parameter{shown}"
            )));
        }
        let part = if keyword == "password" {
            "password"
        } else {
            "query"
        };
        let value = decode(value, part)?;
        if keyword == "ssl" && value == "true" {
            raw.store("sslmode", "require".to_owned(), false, true)?;
        } else {
            raw.store(&keyword, value, after_password, true)?;
        }
        after_password = keyword == "password";
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{is_uri, parse};
    use crate::options::Key;

    fn get(uri: &str, key: Key) -> Option<String> {
        parse(uri).unwrap().get(key).map(|(v, _)| v.to_owned())
    }

    #[test]
    fn both_prefixes() {
        assert!(is_uri("postgresql://x"));
        assert!(is_uri("postgres://x"));
        assert!(!is_uri("postgre://x"));
        assert!(!is_uri("host=x"));
        assert_eq!(get("postgres://db1/gordon", Key::Host).unwrap(), "db1");
    }

    #[test]
    fn full_uri() {
        let raw = parse(
            "postgresql://alice:s3cret@db1.example:5433/gordon?sslmode=require&connect_timeout=5",
        )
        .unwrap();
        assert_eq!(raw.get(Key::User).unwrap().0, "alice");
        assert_eq!(raw.get(Key::Password).unwrap().0, "s3cret");
        assert_eq!(raw.get(Key::Host).unwrap().0, "db1.example");
        assert_eq!(raw.get(Key::Port).unwrap().0, "5433");
        assert_eq!(raw.get(Key::DbName).unwrap().0, "gordon");
        assert_eq!(raw.get(Key::SslMode).unwrap().0, "require");
        assert_eq!(raw.get(Key::ConnectTimeout).unwrap().0, "5");
    }

    #[test]
    fn bare_and_partial_uris() {
        let raw = parse("postgresql://").unwrap();
        assert!(raw.get(Key::Host).is_none());
        assert!(raw.get(Key::DbName).is_none());
        assert_eq!(get("postgresql:///gordon", Key::DbName).unwrap(), "gordon");
        assert!(
            parse("postgresql:///gordon")
                .unwrap()
                .get(Key::Host)
                .is_none()
        );
        assert_eq!(get("postgresql://db1", Key::Host).unwrap(), "db1");
        assert_eq!(
            get("postgresql://db1?sslmode=disable", Key::SslMode).unwrap(),
            "disable"
        );
        assert_eq!(get("postgresql://alice@", Key::User).unwrap(), "alice");
        // Empty user, password and dbname are "not given", so the environment still applies.
        let raw = parse("postgresql://:@db1/").unwrap();
        assert!(raw.get(Key::User).is_none());
        assert!(raw.get(Key::Password).is_none());
        assert!(raw.get(Key::DbName).is_none());
    }

    #[test]
    fn ipv6_hosts() {
        let raw = parse("postgresql://[::1]:5433/gordon").unwrap();
        assert_eq!(raw.get(Key::Host).unwrap().0, "::1");
        assert_eq!(raw.get(Key::Port).unwrap().0, "5433");
        assert_eq!(
            get("postgresql://[2001:db8::7]/x", Key::Host).unwrap(),
            "2001:db8::7"
        );
        assert_eq!(
            get("postgresql://[fe80::1%25eth0]:1/x", Key::Host).unwrap(),
            "fe80::1%eth0"
        );
    }

    #[test]
    fn multiple_hosts_join_like_the_keywords() {
        let raw = parse("postgresql://h1:1,h2:2,[::1]:3/db").unwrap();
        assert_eq!(raw.get(Key::Host).unwrap().0, "h1,h2,::1");
        assert_eq!(raw.get(Key::Port).unwrap().0, "1,2,3");
        let raw = parse("postgresql://h1:1,h2/db").unwrap();
        assert_eq!(raw.get(Key::Host).unwrap().0, "h1,h2");
        assert_eq!(raw.get(Key::Port).unwrap().0, "1,");
        // As in libpq, every comma also goes into the port list: two empty ports, the default.
        let raw = parse("postgresql://h1,h2/db").unwrap();
        assert_eq!(raw.get(Key::Host).unwrap().0, "h1,h2");
        assert_eq!(raw.get(Key::Port).unwrap().0, ",");
    }

    #[test]
    fn percent_encoding_everywhere() {
        let raw = parse("postgresql://al%69ce:p%40ss%3Aw%2Ford@%2Ftmp%2Fsock:5432/gor%64on?application_name=a%20b").unwrap();
        assert_eq!(raw.get(Key::User).unwrap().0, "alice");
        assert_eq!(raw.get(Key::Password).unwrap().0, "p@ss:w/ord");
        assert_eq!(raw.get(Key::Host).unwrap().0, "/tmp/sock");
        assert_eq!(raw.get(Key::DbName).unwrap().0, "gordon");
        assert_eq!(raw.get(Key::ApplicationName).unwrap().0, "a b");
        assert_eq!(get("postgresql://%2ftmp/db", Key::Host).unwrap(), "/tmp");
        assert_eq!(
            get("postgresql:///db?dbname=%C3%A9t%C3%A9", Key::DbName).unwrap(),
            "été"
        );
    }

    #[test]
    fn query_parameters_override_and_add() {
        let raw = parse(
            "postgresql:///gordon?host=/var/run/postgresql&port=5433&sslmode=verify-full&user=bob",
        )
        .unwrap();
        assert_eq!(raw.get(Key::Host).unwrap().0, "/var/run/postgresql");
        assert_eq!(raw.get(Key::Port).unwrap().0, "5433");
        assert_eq!(raw.get(Key::SslMode).unwrap().0, "verify-full");
        assert_eq!(raw.get(Key::User).unwrap().0, "bob");
        assert_eq!(
            get("postgresql://h/db?host=other", Key::Host).unwrap(),
            "other"
        );
        assert_eq!(
            get("postgresql://h/db?ssl=true", Key::SslMode).unwrap(),
            "require"
        );
        assert_eq!(
            get("postgresql://h/db?password=", Key::Password).unwrap(),
            ""
        );
        // A trailing '&' ends the list; an empty parameter in the middle is an error.
        assert_eq!(
            get("postgresql://h/db?sslmode=disable&", Key::SslMode).unwrap(),
            "disable"
        );
        assert!(parse("postgresql://h/db?sslmode=disable&&port=1").is_err());
        assert!(
            parse("postgresql://h/db?")
                .unwrap()
                .get(Key::SslMode)
                .is_none()
        );
    }

    #[test]
    fn bad_uris_are_clear_usage_errors() {
        let cases = [
            ("postgresql://[::1/db", "matching \"]\""),
            ("postgresql://[]/db", "may not be empty"),
            (
                "postgresql://[::1]x/db",
                "unexpected character \"x\" at position 19",
            ),
            ("postgresql://h/db?sslmode", "missing key/value separator"),
            ("postgresql://h/db?a=b=c", "extra key/value separator"),
            (
                "postgresql://h/db?nonsense=1",
                "invalid URI query parameter \"nonsense\"",
            ),
            (
                "postgresql://h/db?sslcert=x",
                "\"sslcert\" is not supported",
            ),
            (
                "postgresql://h%zz/db",
                "invalid percent-encoding in the URI's host: \"%zz\"",
            ),
            (
                "postgresql://h/d%4",
                "invalid percent-encoding in the URI's database name",
            ),
            ("postgresql://h/d%00", "forbidden value %00"),
            ("postgresql://h/%ff", "not valid UTF-8"),
        ];
        for (uri, expected) in cases {
            let e = parse(uri).unwrap_err();
            assert!(e.is_usage());
            assert!(e.message().contains(expected), "{uri}: {e}");
        }
    }

    #[test]
    fn errors_never_show_the_password() {
        for uri in [
            "postgresql://u:hunter2%zz@h/db",
            "postgresql://u:hunter2@h%zz/db",
            "postgresql://u:hunter2@[::1/db",
            "postgresql://u:hunter2@h/db?x=1",
            "postgresql://h/db?password=hunter2%zz",
            "postgresql://h/db?password=hunter2&bogus",
        ] {
            let e = parse(uri).unwrap_err();
            assert!(!e.to_string().contains("hunter2"), "{uri}: {e}");
        }
    }
}

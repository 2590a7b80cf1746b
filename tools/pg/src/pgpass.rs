//! The password file, read by libpq's rules (fe-connect.c, passwordFromFile):
//!
//! - `PGPASSFILE` or `passfile=` names it, else `~/.pgpass`; a missing file is silently no file;
//! - lines are `hostname:port:database:username:password`; a line starting with `#` is a
//!   comment; trailing CR/LF are stripped;
//! - a field that is exactly `*` matches anything; `\` takes the next character literally, so
//!   `\:` and `\\` put a colon or a backslash into a field;
//! - the password is the rest of the line up to an unescaped `:`, with escapes removed;
//! - the first matching line wins;
//! - the host compared is the host as given (a TCP name, an IP, or a socket directory), and
//!   `localhost` when none was given or when it is the default socket directory;
//! - a file that is not a plain file, or that group or others may access at all, is ignored
//!   with a warning, as libpq does. Warnings are returned, never printed here.

use crate::secret::Password;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// A password file read into memory once, to be matched against each host in turn. Its
/// `Debug` shows no line: they hold passwords.
pub(crate) struct PassFile {
    lines: Vec<String>,
}

/// What a field is compared with: the values libpq compares for one host.
pub(crate) struct Wanted<'a> {
    pub host: &'a str,
    pub port: &'a str,
    pub dbname: &'a str,
    pub user: &'a str,
}

impl std::fmt::Debug for PassFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PassFile({} lines)", self.lines.len())
    }
}

impl PassFile {
    /// Reads the file. `Ok(None)` when it does not exist; `Err(warning)` when it exists but
    /// must be ignored.
    pub(crate) fn read(path: &Path) -> Result<Option<Self>, String> {
        let shown = path.display();
        let meta = match std::fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(format!(
                    "password file \"{shown}\" cannot be read ({e}); ignoring it"
                ));
            }
        };
        if !meta.is_file() {
            return Err(format!(
                "password file \"{shown}\" is not a plain file; ignoring it"
            ));
        }
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(format!(
                "password file \"{shown}\" has group or world access; permissions should be u=rw (0600) or less; ignoring it"
            ));
        }
        let text = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) => {
                return Err(format!(
                    "password file \"{shown}\" cannot be read ({e}); ignoring it"
                ));
            }
        };
        let Ok(text) = String::from_utf8(text) else {
            return Err(format!(
                "password file \"{shown}\" is not valid UTF-8; ignoring it"
            ));
        };
        let lines = text
            .split('\n')
            .map(|l| l.trim_end_matches(['\r', '\n']).to_owned())
            .collect();
        Ok(Some(Self { lines }))
    }

    /// The password of the first line matching `wanted`, if any.
    pub(crate) fn lookup(&self, wanted: &Wanted<'_>) -> Option<Password> {
        // libpq returns nothing without a database and user name; ours are always resolved.
        if wanted.dbname.is_empty() || wanted.user.is_empty() {
            return None;
        }
        self.lines
            .iter()
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .find_map(|line| match_line(line, wanted))
    }
}

/// Matches one field at the start of `rest` against `token`; returns what follows the field's
/// `:` when it matches.
fn match_field<'l>(rest: &'l str, token: &str) -> Option<&'l str> {
    if let Some(after) = rest.strip_prefix("*:") {
        return Some(after);
    }
    let mut expected = token.chars();
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        let (literal, escaped) = if c == '\\' {
            match chars.next() {
                Some((_, next)) => (next, true),
                None => return None,
            }
        } else {
            (c, false)
        };
        if literal == ':' && !escaped {
            // End of the field: a match only if the whole token was consumed.
            return if expected.next().is_none() {
                Some(&rest[i + 1..])
            } else {
                None
            };
        }
        if expected.next() != Some(literal) {
            return None;
        }
    }
    None
}

fn match_line(line: &str, wanted: &Wanted<'_>) -> Option<Password> {
    let rest = match_field(line, wanted.host)?;
    let rest = match_field(rest, wanted.port)?;
    let rest = match_field(rest, wanted.dbname)?;
    let rest = match_field(rest, wanted.user)?;
    let mut password = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ':' => break,
            '\\' if chars.peek().is_some() => password.extend(chars.next()),
            c => password.push(c),
        }
    }
    Some(Password::new(password))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::path::PathBuf;

    fn file_with(text: &str, mode: u32) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        (dir, path)
    }

    fn wanted<'a>(host: &'a str, port: &'a str, dbname: &'a str, user: &'a str) -> Wanted<'a> {
        Wanted {
            host,
            port,
            dbname,
            user,
        }
    }

    fn lookup(text: &str, w: &Wanted<'_>) -> Option<String> {
        let (_dir, path) = file_with(text, 0o600);
        PassFile::read(&path)
            .unwrap()
            .unwrap()
            .lookup(w)
            .map(|p| p.expose().to_owned())
    }

    #[test]
    fn exact_and_wildcard_fields() {
        let text = "db1:5432:gordon:alice:one\n*:*:*:bob:two\ndb1:*:*:*:three\n";
        assert_eq!(
            lookup(text, &wanted("db1", "5432", "gordon", "alice")).as_deref(),
            Some("one")
        );
        assert_eq!(
            lookup(text, &wanted("db2", "1", "x", "bob")).as_deref(),
            Some("two")
        );
        assert_eq!(
            lookup(text, &wanted("db1", "5433", "gordon", "alice")).as_deref(),
            Some("three")
        );
        assert_eq!(
            lookup(text, &wanted("db2", "5432", "gordon", "alice")),
            None
        );
    }

    #[test]
    fn first_match_wins() {
        let text = "*:*:*:*:first\n*:*:*:*:second\n";
        assert_eq!(
            lookup(text, &wanted("h", "1", "d", "u")).as_deref(),
            Some("first")
        );
    }

    #[test]
    fn comments_blank_lines_and_crlf() {
        let text = "# *:*:*:*:commented\n\n   \r\nh:1:d:u:pw\r\n";
        assert_eq!(
            lookup(text, &wanted("h", "1", "d", "u")).as_deref(),
            Some("pw")
        );
        // Only a '#' in the first column makes a comment.
        let text = " #h:1:d:u:x\nh:1:d:u:y\n";
        assert_eq!(
            lookup(text, &wanted(" #h", "1", "d", "u")).as_deref(),
            Some("x")
        );
    }

    #[test]
    fn escapes_in_fields_and_password() {
        let text = r"h\:x:1:d\\b:u:pa\:ss\\wo\rd:ignored";
        assert_eq!(
            lookup(text, &wanted("h:x", "1", r"d\b", "u")).as_deref(),
            Some(r"pa:ss\word")
        );
        // An escaped star is a literal star, not a wildcard.
        let text = r"\*:1:d:u:pw";
        assert_eq!(lookup(text, &wanted("anything", "1", "d", "u")), None);
        assert_eq!(
            lookup(text, &wanted("*", "1", "d", "u")).as_deref(),
            Some("pw")
        );
        // A star is a wildcard only as the whole field.
        assert_eq!(lookup("h*:1:d:u:pw", &wanted("hx", "1", "d", "u")), None);
    }

    #[test]
    fn field_must_match_whole_token() {
        assert_eq!(lookup("db:1:d:u:pw", &wanted("db1", "1", "d", "u")), None);
        assert_eq!(lookup("db1:1:d:u:pw", &wanted("db", "1", "d", "u")), None);
        // Fewer than five fields never match.
        assert_eq!(lookup("h:1:d", &wanted("h", "1", "d", "u")), None);
    }

    #[test]
    fn password_may_be_empty_or_end_the_line() {
        assert_eq!(
            lookup("h:1:d:u:", &wanted("h", "1", "d", "u")).as_deref(),
            Some("")
        );
        assert_eq!(
            lookup("h:1:d:u:pw\\", &wanted("h", "1", "d", "u")).as_deref(),
            Some("pw\\")
        );
    }

    #[test]
    fn missing_file_is_no_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(PassFile::read(&dir.path().join("nope")).unwrap().is_none());
    }

    #[test]
    fn group_or_world_access_is_ignored_with_a_warning() {
        for mode in [0o640, 0o604, 0o660, 0o610, 0o601] {
            let (_dir, path) = file_with("*:*:*:*:pw\n", mode);
            let warning = PassFile::read(&path).unwrap_err();
            assert!(
                warning.contains("has group or world access"),
                "{mode:o}: {warning}"
            );
            assert!(!warning.contains("pw\n"));
        }
        for mode in [0o600, 0o400] {
            let (_dir, path) = file_with("*:*:*:*:pw\n", mode);
            assert!(PassFile::read(&path).unwrap().is_some(), "{mode:o}");
        }
    }

    #[test]
    fn a_directory_is_not_a_password_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let warning = PassFile::read(dir.path()).unwrap_err();
        assert!(warning.contains("not a plain file"), "{warning}");
    }
}

//! The `keyword=value` form of `--dsn`, parsed by libpq's rules (fe-connect.c, conninfo_parse):
//!
//! - pairs are separated by whitespace; whitespace around `=` is allowed;
//! - a value is either unquoted, ending at the next whitespace, or in single quotes, where it
//!   may hold spaces;
//! - in both forms a backslash takes the next character literally (`\'`, `\\`, `\ `);
//! - a keyword given twice keeps its last value.
//!
//! Errors never repeat a value, and never a word that follows a password value (it may be the
//! rest of an unquoted password that contained a space).

use crate::error::ConnectError;
use crate::options::RawOptions;

/// C's `isspace` in the C locale, which is what libpq uses to split a conninfo string.
pub(crate) fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{0b}' | '\u{0c}' | '\r')
}

pub(crate) fn parse(conninfo: &str) -> Result<RawOptions, ConnectError> {
    let chars: Vec<char> = conninfo.chars().collect();
    let mut raw = RawOptions::default();
    let mut i = 0;
    let mut after_password = false;
    while i < chars.len() {
        if is_c_space(chars[i]) {
            i += 1;
            continue;
        }

        // The keyword ends at '=' or at whitespace (which may be followed by the '=').
        let start = i;
        while i < chars.len() && chars[i] != '=' && !is_c_space(chars[i]) {
            i += 1;
        }
        let keyword: String = chars[start..i].iter().collect();
        while i < chars.len() && is_c_space(chars[i]) {
            i += 1;
        }
        if i >= chars.len() || chars[i] != '=' {
            return Err(missing_equals(&keyword, after_password, conninfo));
        }
        i += 1;
        while i < chars.len() && is_c_space(chars[i]) {
            i += 1;
        }

        let mut value = String::new();
        if chars.get(i) == Some(&'\'') {
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(ConnectError::settings(
                            "unterminated quoted string in connection info string",
                        ));
                    }
                    Some('\\') => {
                        i += 1;
                        if let Some(&c) = chars.get(i) {
                            value.push(c);
                            i += 1;
                        }
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&c) => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while let Some(&c) = chars.get(i) {
                if is_c_space(c) {
                    i += 1;
                    break;
                }
                if c == '\\' {
                    i += 1;
                    if let Some(&escaped) = chars.get(i) {
                        value.push(escaped);
                        i += 1;
                    }
                } else {
                    value.push(c);
                    i += 1;
                }
            }
        }

        raw.store(&keyword, value, after_password, false)?;
        after_password = keyword == "password";
    }
    Ok(raw)
}

fn missing_equals(keyword: &str, after_password: bool, conninfo: &str) -> ConnectError {
    if after_password {
        return ConnectError::settings(
            "missing \"=\" after the password value in connection info string \
             (a password with spaces must be quoted: password='...')",
        );
    }
    let hint = if conninfo.contains('=') {
        String::new()
    } else {
        format!(" (to name a database, write dbname={keyword})")
    };
    ConnectError::settings(format!(
        "missing \"=\" after \"{keyword}\" in connection info string{hint}"
    ))
}

#[cfg(test)]
mod tests {
    use super::parse;
    use crate::options::Key;

    fn value(conninfo: &str, key: Key) -> Option<String> {
        parse(conninfo).unwrap().get(key).map(|(v, _)| v.to_owned())
    }

    #[test]
    fn plain_pairs() {
        let raw = parse("host=db1 port=5433 dbname=gordon user=postgres").unwrap();
        assert_eq!(raw.get(Key::Host).unwrap().0, "db1");
        assert_eq!(raw.get(Key::Port).unwrap().0, "5433");
        assert_eq!(raw.get(Key::DbName).unwrap().0, "gordon");
        assert_eq!(raw.get(Key::User).unwrap().0, "postgres");
        assert!(raw.get(Key::Password).is_none());
    }

    #[test]
    fn spaces_around_equals_and_between_pairs() {
        let raw = parse("  host =  db1\t\tport= 5433 \n dbname =gordon  ").unwrap();
        assert_eq!(raw.get(Key::Host).unwrap().0, "db1");
        assert_eq!(raw.get(Key::Port).unwrap().0, "5433");
        assert_eq!(raw.get(Key::DbName).unwrap().0, "gordon");
    }

    #[test]
    fn single_quotes_hold_spaces_and_escapes() {
        assert_eq!(value("password='a b c'", Key::Password).unwrap(), "a b c");
        assert_eq!(value(r"password='it\'s'", Key::Password).unwrap(), "it's");
        assert_eq!(
            value(r"password='back\\slash'", Key::Password).unwrap(),
            r"back\slash"
        );
        assert_eq!(value("dbname=''", Key::DbName).unwrap(), "");
        assert_eq!(
            value("application_name='x=y'", Key::ApplicationName).unwrap(),
            "x=y"
        );
    }

    #[test]
    fn backslash_escapes_in_unquoted_values() {
        assert_eq!(value(r"password=a\ b", Key::Password).unwrap(), "a b");
        assert_eq!(value(r"password=a\'b", Key::Password).unwrap(), "a'b");
        assert_eq!(value(r"password=a\\b", Key::Password).unwrap(), r"a\b");
        // A trailing lone backslash is dropped, as libpq does.
        assert_eq!(value(r"password=ab\", Key::Password).unwrap(), "ab");
    }

    #[test]
    fn empty_value_at_end_and_before_next_pair() {
        let raw = parse("host= port=5433").unwrap();
        // libpq: the value starts after the blanks, so "port=5433" is the host's value.
        assert_eq!(raw.get(Key::Host).unwrap().0, "port=5433");
        let raw = parse("host=''  port=5433").unwrap();
        assert_eq!(raw.get(Key::Host).unwrap().0, "");
        assert_eq!(raw.get(Key::Port).unwrap().0, "5433");
        assert_eq!(parse("host=").unwrap().get(Key::Host).unwrap().0, "");
    }

    #[test]
    fn last_setting_wins() {
        assert_eq!(value("port=1 port=2", Key::Port).unwrap(), "2");
    }

    #[test]
    fn empty_string_is_no_options() {
        let raw = parse("   ").unwrap();
        assert!(raw.get(Key::Host).is_none());
    }

    #[test]
    fn multiple_hosts_stay_one_raw_value() {
        assert_eq!(
            value("host=a,b,/tmp port=1,2,3", Key::Host).unwrap(),
            "a,b,/tmp"
        );
    }

    #[test]
    fn bad_input_is_a_clear_usage_error() {
        let e = parse("gordon").unwrap_err();
        assert!(e.is_usage());
        assert_eq!(
            e.message(),
            "missing \"=\" after \"gordon\" in connection info string (to name a database, write dbname=gordon)"
        );
        let e = parse("host=x port").unwrap_err();
        assert_eq!(
            e.message(),
            "missing \"=\" after \"port\" in connection info string"
        );
        let e = parse("password='abc").unwrap_err();
        assert_eq!(
            e.message(),
            "unterminated quoted string in connection info string"
        );
        let e = parse("hots=x").unwrap_err();
        assert!(
            e.message()
                .starts_with("invalid connection option \"hots\""),
            "{e}"
        );
        let e = parse("=x").unwrap_err();
        assert!(
            e.message().starts_with("invalid connection option \"\""),
            "{e}"
        );
    }

    #[test]
    fn errors_never_show_an_unquoted_password_with_a_space() {
        let e = parse("host=x password=sec ret").unwrap_err();
        assert!(!e.to_string().contains("ret"), "{e}");
        assert!(!e.to_string().contains("sec"), "{e}");
        let e = parse("password=sec ret=x").unwrap_err();
        assert!(!e.to_string().contains("ret"), "{e}");
        let e = parse("password='sec ret").unwrap_err();
        assert!(!e.to_string().contains("sec"), "{e}");
    }
}

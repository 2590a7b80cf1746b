//! The COPY text format's framing: where one field ends and the next begins, and how a field's
//! backslash escapes turn into its bytes (what the server's CopyReadAttributesText does).
//!
//! Everything here is stricter than the server where the server's reading would depend on
//! things this crate cannot see (the encoding of escaped high bytes, the end-of-data marker,
//! line breaks): such input is an error, and the caller loads the table as text.

use memchr::{memchr, memchr2, memchr3};

/// One field of a line, as byte offsets into the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field {
    pub start: usize,
    pub end: usize,
    /// The field holds at least one backslash: its raw bytes are not its value.
    pub escaped: bool,
    /// The field ends the line (no tab after it).
    pub last: bool,
}

/// The fields of one line, in order.
pub(crate) struct Fields<'a> {
    line: &'a [u8],
    /// Where the next field starts (where the search goes on).
    at: usize,
    done: bool,
}

/// How many bytes are looked at one by one before a vectorised search takes over: most
/// fields are a few bytes long, where a search call costs more than the bytes.
const SHORT_SCAN: usize = 16;

/// The first tab or backslash at or after `from`.
#[inline]
fn separator(line: &[u8], from: usize) -> Option<usize> {
    let rest = &line[from..];
    let short = &rest[..rest.len().min(SHORT_SCAN)];
    if let Some(at) = short.iter().position(|&c| c == b'\t' || c == b'\\') {
        return Some(from + at);
    }
    memchr2(b'\t', b'\\', &rest[short.len()..]).map(|at| from + short.len() + at)
}

impl<'a> Fields<'a> {
    pub(crate) fn new(line: &'a [u8]) -> Self {
        Self {
            line,
            at: 0,
            done: false,
        }
    }

    /// The line has no more fields.
    pub(crate) fn done(&self) -> bool {
        self.done
    }

    /// The next field; None after the last one. A backslash takes the byte after it along,
    /// so `\` + tab is part of the field (as in the server), not a separator.
    #[inline]
    pub(crate) fn next_field(&mut self) -> Option<Result<Field, &'static str>> {
        if self.done {
            return None;
        }
        let start = self.at;
        let mut escaped = false;
        loop {
            let Some(found) = separator(self.line, self.at) else {
                self.done = true;
                return Some(Ok(Field {
                    start,
                    end: self.line.len(),
                    escaped,
                    last: true,
                }));
            };
            if self.line[found] == b'\t' {
                self.at = found + 1;
                return Some(Ok(Field {
                    start,
                    end: found,
                    escaped,
                    last: false,
                }));
            }
            // A backslash that ends the line would, for the server, escape the line feed and
            // join this line with the next one: the line splitting cannot be trusted.
            if found + 1 >= self.line.len() {
                self.done = true;
                return Some(Err("backslash at the end of the line"));
            }
            escaped = true;
            self.at = found + 2;
        }
    }
}

/// Checks the raw text of a field that is taken as it is (text, json): no NUL (no text value
/// can hold one; the text load fails on it too) and no raw CR or LF (either would end the
/// line for the server; COPY TO always escapes them). Other kinds' parsers refuse these bytes
/// anyway.
pub(crate) fn check_raw_text(raw: &[u8]) -> Result<(), &'static str> {
    match memchr3(0, b'\n', b'\r', raw) {
        None => Ok(()),
        Some(at) if raw[at] == 0 => Err("NUL byte in text"),
        Some(_) => Err("line break inside the line"),
    }
}

/// Writes the value of an escaped field into `dst` (cleared first).
///
/// Escapes: `\b \f \n \r \t \v`, `\` + 1 to 3 octal digits, `\x` + 1 or 2 hex digits, and any
/// other `\c` is `c`. Refused: an octal or hex escape that makes a NUL or a byte over 0x7F
/// (the server checks such bytes against the database encoding after converting the line
/// from the client encoding, which a binary load does in another order; pg_dump never
/// writes them), and `\.` (the end-of-data marker: an error or the end of the data for the
/// server, never a value).
pub(crate) fn unescape(raw: &[u8], dst: &mut Vec<u8>) -> Result<(), &'static str> {
    dst.clear();
    let mut at = 0;
    while let Some(offset) = memchr(b'\\', &raw[at..]) {
        let slash = at + offset;
        dst.extend_from_slice(&raw[at..slash]);
        let Some(&escape) = raw.get(slash + 1) else {
            return Err("backslash at the end of the field");
        };
        at = slash + 2;
        let byte = match escape {
            b'b' => 0x08,
            b'f' => 0x0C,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'v' => 0x0B,
            b'0'..=b'7' => {
                let mut value = u32::from(escape - b'0');
                for _ in 0..2 {
                    match raw.get(at) {
                        Some(&digit @ b'0'..=b'7') => {
                            value = (value << 3) | u32::from(digit - b'0');
                            at += 1;
                        }
                        _ => break,
                    }
                }
                ascii_escape(value)?
            }
            b'x' => match raw.get(at).and_then(|&c| hex_value(c)) {
                None => b'x',
                Some(high) => {
                    at += 1;
                    let mut value = u32::from(high);
                    if let Some(low) = raw.get(at).and_then(|&c| hex_value(c)) {
                        value = (value << 4) | u32::from(low);
                        at += 1;
                    }
                    ascii_escape(value)?
                }
            },
            b'.' => return Err("\\. (end-of-data marker) inside a field"),
            b'\n' | b'\r' => return Err("escaped line break"),
            other => other,
        };
        dst.push(byte);
    }
    dst.extend_from_slice(&raw[at..]);
    Ok(())
}

/// The byte of a numeric escape, which must be 7-bit ASCII and not NUL (the server masks the
/// value to 8 bits first, as here).
fn ascii_escape(value: u32) -> Result<u8, &'static str> {
    match (value & 0xFF) as u8 {
        0 => Err("escape makes a NUL byte"),
        byte if byte >= 0x80 => Err("escape makes a non-ASCII byte"),
        byte => Ok(byte),
    }
}

/// The value of one hexadecimal digit, either case.
#[inline]
pub(crate) fn hex_value(c: u8) -> Option<u8> {
    match HEX_VALUES[usize::from(c)] {
        INVALID_HEX => None,
        value => Some(value),
    }
}

const INVALID_HEX: u8 = 0xFF;

/// Every byte's value as a hexadecimal digit, INVALID_HEX for the others.
static HEX_VALUES: [u8; 256] = {
    let mut table = [INVALID_HEX; 256];
    let mut value: u8 = 0;
    while value < 16 {
        let lower = if value < 10 {
            b'0' + value
        } else {
            b'a' + value - 10
        };
        table[lower as usize] = value;
        table[lower.to_ascii_uppercase() as usize] = value;
        value += 1;
    }
    table
};

/// The byte two hexadecimal digits make, or None.
#[inline]
pub(crate) fn hex_pair(high: u8, low: u8) -> Option<u8> {
    let (high, low) = (HEX_VALUES[usize::from(high)], HEX_VALUES[usize::from(low)]);
    // Valid values are at most 15; INVALID_HEX has the high bits set.
    if (high | low) > 15 {
        None
    } else {
        Some((high << 4) | low)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(line: &[u8]) -> Result<Vec<(Vec<u8>, bool)>, &'static str> {
        let mut result = Vec::new();
        let mut fields = Fields::new(line);
        while let Some(field) = fields.next_field() {
            let field = field?;
            result.push((line[field.start..field.end].to_vec(), field.escaped));
            assert_eq!(field.last, fields.done());
        }
        Ok(result)
    }

    fn value(raw: &[u8]) -> Result<Vec<u8>, &'static str> {
        let mut dst = b"junk".to_vec();
        unescape(raw, &mut dst)?;
        Ok(dst)
    }

    #[test]
    fn splits_on_raw_tabs_only() {
        assert_eq!(
            fields(b"a\tb\\tc\t\\\\\t").unwrap(),
            vec![
                (b"a".to_vec(), false),
                (b"b\\tc".to_vec(), true),
                (b"\\\\".to_vec(), true),
                (b"".to_vec(), false),
            ]
        );
        assert_eq!(fields(b"").unwrap(), vec![(b"".to_vec(), false)]);
        // Backslash + raw tab: an escaped tab, not a separator.
        assert_eq!(
            fields(b"a\\\tb\tc").unwrap(),
            vec![(b"a\\\tb".to_vec(), true), (b"c".to_vec(), false)]
        );
        assert_eq!(fields(b"abc\\"), Err("backslash at the end of the line"));
        assert_eq!(fields(b"a\t\\"), Err("backslash at the end of the line"));
        // Fields longer than the byte-by-byte scan.
        let long = [b"x".repeat(40), b"\\\\".to_vec(), b"y".repeat(17)].concat();
        let line = [&long[..], b"\t", &b"z".repeat(16), b"\t"].concat();
        assert_eq!(
            fields(&line).unwrap(),
            vec![
                (long.clone(), true),
                (b"z".repeat(16), false),
                (vec![], false)
            ]
        );
        // Escaped backslashes and tabs next to each other.
        assert_eq!(
            fields(b"\\\\\\\t\t\\\t\\\\").unwrap(),
            vec![(b"\\\\\\\t".to_vec(), true), (b"\\\t\\\\".to_vec(), true)]
        );
        assert_eq!(
            fields(b"a\t\\\\\\"),
            Err("backslash at the end of the line")
        );
    }

    #[test]
    fn hex_digits() {
        for c in 0..=255u8 {
            let expected = char::from(c).to_digit(16).map(|d| u8::try_from(d).unwrap());
            assert_eq!(hex_value(c), expected, "{c}");
            assert_eq!(hex_pair(c, b'1'), expected.map(|d| d * 16 + 1), "{c}");
            assert_eq!(hex_pair(b'f', c), expected.map(|d| 0xF0 + d), "{c}");
        }
    }

    #[test]
    fn raw_text_checks() {
        assert!(check_raw_text(b"a\\nb\\r\\0").is_ok());
        assert_eq!(check_raw_text(b"a\rb"), Err("line break inside the line"));
        assert_eq!(check_raw_text(b"a\nb"), Err("line break inside the line"));
        assert_eq!(check_raw_text(b"a\0b"), Err("NUL byte in text"));
    }

    #[test]
    fn unescapes_what_copy_writes() {
        assert_eq!(value(b"plain").unwrap(), b"plain");
        assert_eq!(
            value(b"\\b\\f\\n\\r\\t\\v\\\\").unwrap(),
            b"\x08\x0c\n\r\t\x0b\\"
        );
        assert_eq!(value(b"a\\\\Nb").unwrap(), b"a\\Nb");
        assert_eq!(value(b"\\N").unwrap(), b"N");
        assert_eq!(value(b"x\\qy").unwrap(), b"xqy");
        assert_eq!(value(b"\\\t").unwrap(), b"\t");
    }

    #[test]
    fn numeric_escapes() {
        assert_eq!(value(b"\\101\\1011").unwrap(), b"AA1");
        assert_eq!(value(b"\\1\\18").unwrap(), b"\x01\x018");
        assert_eq!(value(b"\\x41\\x4").unwrap(), b"A\x04");
        assert_eq!(value(b"\\x4g").unwrap(), b"\x04g");
        assert_eq!(value(b"\\x7Fz").unwrap(), b"\x7fz");
        // \x without a hex digit is an x.
        assert_eq!(value(b"\\xg").unwrap(), b"xg");
        assert_eq!(value(b"\\x").unwrap(), b"x");
        // \501 is 0x141, masked to 0x41 as the server does.
        assert_eq!(value(b"\\501").unwrap(), b"A");
        assert_eq!(value(b"\\0"), Err("escape makes a NUL byte"));
        assert_eq!(value(b"\\x00"), Err("escape makes a NUL byte"));
        assert_eq!(value(b"\\400"), Err("escape makes a NUL byte"));
        assert_eq!(value(b"\\351"), Err("escape makes a non-ASCII byte"));
        assert_eq!(value(b"\\xe9"), Err("escape makes a non-ASCII byte"));
    }

    #[test]
    fn refused_escapes() {
        assert!(value(b"\\.").is_err());
        assert!(value(b"a\\.b").is_err());
        assert!(value(b"a\\").is_err());
        assert!(value(b"a\\\r").is_err());
        assert!(value(b"a\\\n").is_err());
    }
}

//! COPY text rows, as pg_dump writes them, turned into COPY binary rows.
//!
//! Loading a table with `COPY ... FROM STDIN (FORMAT binary)` costs the server much less CPU
//! than the text format (about 40% less, measured on int, timestamptz, numeric and text
//! columns): it skips the text input functions. schema-swap reads each table's data from a
//! pg_dump archive, where it is COPY text, so it converts every line with a [`RowEncoder`]
//! and streams [`HEADER`], the rows, then [`TRAILER`].
//!
//! Correctness comes first: every value sent must be exactly what the column type's text
//! input function would have made of the text. The encoder therefore accepts only the forms
//! the output functions write under pg_dump's session settings (DateStyle ISO, bytea_output
//! hex, any extra_float_digits), with the server's range limits, and refuses everything else
//! with an [`EncodeError`]. On an error the caller loads that table as text instead: slower,
//! always right.
//!
//! What the caller must see to:
//! - The binary COPY's session must use the dump's encoding as client_encoding, as the text
//!   load would: text values are sent as they are, and the server converts them from the
//!   client encoding (and checks them) just as it does text COPY data.
//! - Dumps in an encoding that can hide ASCII bytes inside multibyte characters (SJIS, BIG5,
//!   GBK, UHC, GB18030, JOHAB; only ever client encodings) must not be converted: the line
//!   splitting here works on bytes.
//! - Map each column's type with [`Kind::from_type_oid`] after resolving domains to their
//!   base types and enums to text.

mod datetime;
mod misc;
mod number;
mod text;

use std::fmt;

/// A column's type as the encoder knows it, from the built-in type OID of the column (the
/// caller resolves domains to their base type and maps enums to Text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Int2,
    Int4,
    Int8,
    Oid,
    Float4,
    Float8,
    Numeric,
    /// text, varchar, bpchar and enums: the bytes as they are (the receive functions
    /// of these types apply the same length and padding rules as their input functions).
    Text,
    Bytea,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Uuid,
    Json,
    Jsonb,
}

impl Kind {
    /// The kind of a built-in type. None for every type the encoder does not handle
    /// (arrays, interval, inet, money, timetz, "char", ...): their tables load as text.
    /// `name` is not handled either: its binary input refuses a value of 64 bytes or more
    /// (after conversion from the client encoding) where its text input cuts it, and that
    /// refusal would come from the server, too late to load the table as text.
    pub fn from_type_oid(oid: u32) -> Option<Kind> {
        Some(match oid {
            16 => Kind::Bool,
            17 => Kind::Bytea,
            25 | 1042 | 1043 => Kind::Text,
            20 => Kind::Int8,
            21 => Kind::Int2,
            23 => Kind::Int4,
            26 => Kind::Oid,
            114 => Kind::Json,
            700 => Kind::Float4,
            701 => Kind::Float8,
            1082 => Kind::Date,
            1083 => Kind::Time,
            1114 => Kind::Timestamp,
            1184 => Kind::TimestampTz,
            1700 => Kind::Numeric,
            2950 => Kind::Uuid,
            3802 => Kind::Jsonb,
            _ => return None,
        })
    }

    /// The SQL name of the type, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Bool => "bool",
            Kind::Int2 => "int2",
            Kind::Int4 => "int4",
            Kind::Int8 => "int8",
            Kind::Oid => "oid",
            Kind::Float4 => "float4",
            Kind::Float8 => "float8",
            Kind::Numeric => "numeric",
            Kind::Text => "text",
            Kind::Bytea => "bytea",
            Kind::Date => "date",
            Kind::Time => "time",
            Kind::Timestamp => "timestamp",
            Kind::TimestampTz => "timestamptz",
            Kind::Uuid => "uuid",
            Kind::Json => "json",
            Kind::Jsonb => "jsonb",
        }
    }
}

/// The 19-byte COPY BINARY header: the signature, flags 0 (no OIDs), header extension
/// length 0. Sent once, before the first row.
pub const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// The 2-byte COPY BINARY trailer: a field count of -1. Sent once, after the last row.
pub const TRAILER: &[u8] = b"\xff\xff";

/// Why a line could not be converted. Says which column (0-based) and kind, and why, never
/// the value itself (data can be secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeError {
    pub column: usize,
    /// None when the line itself is wrong (the wrong number of fields, a stray line break).
    pub kind: Option<Kind>,
    pub reason: &'static str,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Some(kind) => write!(
                f,
                "column {} ({}): {}",
                self.column,
                kind.name(),
                self.reason
            ),
            None => write!(f, "column {}: {}", self.column, self.reason),
        }
    }
}

impl std::error::Error for EncodeError {}

/// Converts COPY text lines of one table into COPY binary tuples.
///
/// Holds the column kinds and a scratch buffer for escaped fields, reused from line to line:
/// no allocation per row once the buffer has grown to the longest escaped field.
#[derive(Debug, Clone)]
pub struct RowEncoder {
    kinds: Vec<Kind>,
    scratch: Vec<u8>,
}

/// The binary NULL: a field length of -1.
const NULL_FIELD: [u8; 4] = (-1i32).to_be_bytes();

impl RowEncoder {
    pub fn new(kinds: Vec<Kind>) -> Self {
        Self {
            kinds,
            scratch: Vec::new(),
        }
    }

    /// The column kinds, in order.
    pub fn kinds(&self) -> &[Kind] {
        &self.kinds
    }

    /// Appends one binary tuple (i16 field count, then per field an i32 length or -1 for
    /// NULL, then the bytes) for one COPY text line (without its '\n').
    ///
    /// On error `out` is exactly as it was before the call.
    pub fn encode_line(&mut self, line: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let before = out.len();
        let result = self.encode(line, out);
        if result.is_err() {
            out.truncate(before);
        }
        result
    }

    fn encode(&mut self, line: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let line_error = |column, reason| EncodeError {
            column,
            kind: None,
            reason,
        };
        let count = self.kinds.len();
        let field_count =
            i16::try_from(count).map_err(|_| line_error(0, "more columns than COPY allows"))?;
        out.reserve(line.len() + 8 * count + 2);
        out.extend_from_slice(&field_count.to_be_bytes());
        if count == 0 {
            // A table without columns has empty lines.
            return if line.is_empty() {
                Ok(())
            } else {
                Err(line_error(0, "extra data after the last column"))
            };
        }

        let mut fields = text::Fields::new(line);
        for (column, &kind) in self.kinds.iter().enumerate() {
            let field = match fields.next_field() {
                Some(field) => field.map_err(|reason| line_error(column, reason))?,
                None => return Err(line_error(column, "missing data for a column")),
            };
            // The field count is checked before the value, as the server does.
            if field.last != (column + 1 == count) {
                return Err(if field.last {
                    line_error(column + 1, "missing data for a column")
                } else {
                    line_error(count, "extra data after the last column")
                });
            }
            let raw = &line[field.start..field.end];
            let value_error = |reason| EncodeError {
                column,
                kind: Some(kind),
                reason,
            };

            // The null marker is matched against the raw text, before unescaping.
            if raw == b"\\N" {
                out.extend_from_slice(&NULL_FIELD);
                continue;
            }
            if matches!(kind, Kind::Text | Kind::Json | Kind::Jsonb) {
                text::check_raw_text(raw).map_err(value_error)?;
            }
            if !field.escaped {
                encode_value(kind, raw, out).map_err(value_error)?;
                continue;
            }
            // bytea in hex always starts with an escaped backslash ("\\x..."): decode the
            // digits straight from the line when nothing else is escaped.
            if kind == Kind::Bytea {
                if let Some(digits) = raw.strip_prefix(b"\\\\x") {
                    if memchr::memchr(b'\\', digits).is_none() {
                        put_with(out, |out| misc::bytea_hex(digits, out)).map_err(value_error)?;
                        continue;
                    }
                }
            }
            text::unescape(raw, &mut self.scratch).map_err(value_error)?;
            encode_value(kind, &self.scratch, out).map_err(value_error)?;
        }
        debug_assert!(fields.done());
        Ok(())
    }
}

/// Appends one field (length, then bytes) for a value's unescaped text.
fn encode_value(kind: Kind, value: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
    match kind {
        Kind::Bool => put(out, &[misc::bool(value)?]),
        Kind::Int2 => put(out, &number::int::<i16>(value)?.to_be_bytes()),
        Kind::Int4 => put(out, &number::int::<i32>(value)?.to_be_bytes()),
        Kind::Int8 => put(out, &number::int::<i64>(value)?.to_be_bytes()),
        Kind::Oid => put(out, &number::oid(value)?.to_be_bytes()),
        Kind::Float4 => put(out, &number::float4(value)?.to_bits().to_be_bytes()),
        Kind::Float8 => put(out, &number::float8(value)?.to_bits().to_be_bytes()),
        Kind::Numeric => put_with(out, |out| number::numeric(value, out)),
        Kind::Text | Kind::Json => put(out, value),
        Kind::Jsonb => {
            // jsonb_recv: a version byte (1), then the JSON text.
            put_with(out, |out| {
                out.push(1);
                out.extend_from_slice(value);
                Ok(())
            })
        }
        Kind::Bytea => put_with(out, |out| misc::bytea(value, out)),
        Kind::Date => put(out, &datetime::date(value)?.to_be_bytes()),
        Kind::Time => put(out, &datetime::time(value)?.to_be_bytes()),
        Kind::Timestamp => put(out, &datetime::timestamp(value)?.to_be_bytes()),
        Kind::TimestampTz => put(out, &datetime::timestamptz(value)?.to_be_bytes()),
        Kind::Uuid => put(out, &misc::uuid(value)?),
    }
}

/// Appends a field of known bytes.
fn put(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), &'static str> {
    let len = i32::try_from(bytes.len()).map_err(|_| "value too long")?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

/// Appends a field whose bytes `write` appends, then fills in its length.
fn put_with(
    out: &mut Vec<u8>,
    write: impl FnOnce(&mut Vec<u8>) -> Result<(), &'static str>,
) -> Result<(), &'static str> {
    let len_at = out.len();
    out.extend_from_slice(&[0; 4]);
    write(out)?;
    let len = i32::try_from(out.len() - len_at - 4).map_err(|_| "value too long")?;
    out[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests;

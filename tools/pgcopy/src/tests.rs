//! Whole lines: framing, NULLs, escapes, errors, and one value of every kind.

use super::*;

fn encode(kinds: &[Kind], line: &[u8]) -> Result<Vec<u8>, EncodeError> {
    let mut out = vec![0xEE];
    RowEncoder::new(kinds.to_vec()).encode_line(line, &mut out)?;
    assert_eq!(out[0], 0xEE, "what was in out stays");
    Ok(out[1..].to_vec())
}

/// The tuple for fields given as their binary values (None = NULL).
fn tuple(fields: &[Option<&[u8]>]) -> Vec<u8> {
    let mut out = i16::try_from(fields.len()).unwrap().to_be_bytes().to_vec();
    for field in fields {
        match field {
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(bytes) => {
                out.extend_from_slice(&i32::try_from(bytes.len()).unwrap().to_be_bytes());
                out.extend_from_slice(bytes);
            }
        }
    }
    out
}

fn one(kind: Kind, text: &[u8]) -> Result<Vec<u8>, EncodeError> {
    let encoded = encode(&[kind], text)?;
    assert_eq!(&encoded[..2], &[0, 1]);
    let len = i32::from_be_bytes(encoded[2..6].try_into().unwrap());
    assert_eq!(usize::try_from(len).unwrap(), encoded.len() - 6);
    Ok(encoded[6..].to_vec())
}

#[test]
fn header_and_trailer() {
    assert_eq!(HEADER.len(), 19);
    assert_eq!(&HEADER[..11], b"PGCOPY\n\xff\r\n\0");
    assert_eq!(&HEADER[11..], &[0; 8]);
    assert_eq!(TRAILER, &(-1i16).to_be_bytes());
}

#[test]
fn type_oids() {
    let expected = [
        (16, Kind::Bool),
        (17, Kind::Bytea),
        (20, Kind::Int8),
        (21, Kind::Int2),
        (23, Kind::Int4),
        (25, Kind::Text),
        (26, Kind::Oid),
        (114, Kind::Json),
        (700, Kind::Float4),
        (701, Kind::Float8),
        (1042, Kind::Text),
        (1043, Kind::Text),
        (1082, Kind::Date),
        (1083, Kind::Time),
        (1114, Kind::Timestamp),
        (1184, Kind::TimestampTz),
        (1700, Kind::Numeric),
        (2950, Kind::Uuid),
        (3802, Kind::Jsonb),
    ];
    for (oid, kind) in expected {
        assert_eq!(Kind::from_type_oid(oid), Some(kind), "{oid}");
    }
    // "char", name, interval, timetz, inet, money, int4[], text[], xml, bit, point, cidr, macaddr.
    for oid in [
        18, 19, 1186, 1266, 869, 790, 1007, 1009, 142, 1560, 600, 650, 829, 0,
    ] {
        assert_eq!(Kind::from_type_oid(oid), None, "{oid}");
    }
}

#[test]
fn a_line_of_every_kind() {
    let kinds = [
        Kind::Bool,
        Kind::Int2,
        Kind::Int4,
        Kind::Int8,
        Kind::Oid,
        Kind::Float4,
        Kind::Float8,
        Kind::Numeric,
        Kind::Text,
        Kind::Bytea,
        Kind::Date,
        Kind::Time,
        Kind::Timestamp,
        Kind::TimestampTz,
        Kind::Uuid,
        Kind::Json,
        Kind::Jsonb,
    ];
    let line = b"t\t-2\t3\t-4\t5\t1.5\t-0.25\t-12.340\ta\\tb\t\\\\x0aff\t2000-01-02\t00:00:01\t\
2000-01-01 00:00:00.5\t2000-01-01 01:00:00+01\t00000000-0000-0000-0000-0000000000ff\t{\"a\":1}\t[]";
    let numeric = [
        &[0, 2][..],
        &[0, 0],
        &[0x40, 0],
        &[0, 3],
        &[0, 12],
        &[0x0D, 0x48],
    ]
    .concat();
    let uuid = [&[0; 15][..], &[0xff]].concat();
    let expected = tuple(&[
        Some(&[1]),
        Some(&(-2i16).to_be_bytes()),
        Some(&3i32.to_be_bytes()),
        Some(&(-4i64).to_be_bytes()),
        Some(&5u32.to_be_bytes()),
        Some(&1.5f32.to_bits().to_be_bytes()),
        Some(&(-0.25f64).to_bits().to_be_bytes()),
        Some(&numeric),
        Some(b"a\tb"),
        Some(&[0x0a, 0xff]),
        Some(&1i32.to_be_bytes()),
        Some(&1_000_000i64.to_be_bytes()),
        Some(&500_000i64.to_be_bytes()),
        Some(&0i64.to_be_bytes()),
        Some(&uuid),
        Some(b"{\"a\":1}"),
        Some(b"\x01[]"),
    ]);
    assert_eq!(encode(&kinds, line).unwrap(), expected);

    let nulls = vec![b"\\N".as_slice(); kinds.len()].join(&b'\t');
    assert_eq!(
        encode(&kinds, &nulls).unwrap(),
        tuple(&[None; 17]),
        "\\N is NULL for every kind"
    );
}

#[test]
fn rows_append() {
    let mut encoder = RowEncoder::new(vec![Kind::Int4, Kind::Text]);
    let mut out = Vec::new();
    encoder.encode_line(b"1\tx", &mut out).unwrap();
    encoder.encode_line(b"2\t\\N", &mut out).unwrap();
    let mut expected = tuple(&[Some(&1i32.to_be_bytes()), Some(b"x")]);
    expected.extend(tuple(&[Some(&2i32.to_be_bytes()), None]));
    assert_eq!(out, expected);
}

#[test]
fn text_values() {
    assert_eq!(one(Kind::Text, b"").unwrap(), b"");
    assert_eq!(
        one(Kind::Text, b"caf\xc3\xa9 \xe2\x98\x83").unwrap(),
        "café ☃".as_bytes()
    );
    assert_eq!(one(Kind::Text, b"\\\\N").unwrap(), b"\\N");
    assert_eq!(one(Kind::Text, b"N\\N").unwrap(), b"NN");
    assert_eq!(one(Kind::Text, b"a\\nb\\rc\\\\").unwrap(), b"a\nb\rc\\");
    assert_eq!(one(Kind::Text, b"\x01\x7f").unwrap(), b"\x01\x7f");
    assert_eq!(one(Kind::Json, b"\"\\\\u0000\"").unwrap(), b"\"\\u0000\"");
    assert_eq!(one(Kind::Jsonb, b"{}").unwrap(), b"\x01{}");
    // Bytea with other escapes after the "\\x", and a hex digit escaped as \x.
    assert_eq!(one(Kind::Bytea, b"\\\\x0\\x41").unwrap(), [0x0a]);
    for kind in [Kind::Text, Kind::Json, Kind::Jsonb] {
        let error = one(kind, b"a\\0b").unwrap_err();
        assert_eq!(error.kind, Some(kind));
        assert!(one(kind, b"a\0b").is_err());
    }
}

#[test]
fn escaped_fields_of_other_kinds() {
    // COPY never escapes these, but the server would read them unescaped.
    assert_eq!(one(Kind::Int4, b"\\61").unwrap(), 1i32.to_be_bytes());
    assert_eq!(one(Kind::Bool, b"\\t").unwrap_err().reason, "not t or f");
    assert_eq!(one(Kind::Bool, b"\\x74").unwrap(), [1]);
}

#[test]
fn field_counts() {
    let kinds = [Kind::Int4, Kind::Int4, Kind::Int4];
    assert!(encode(&kinds, b"1\t2\t3").is_ok());
    assert_eq!(
        encode(&kinds, b"1\t2"),
        Err(EncodeError {
            column: 2,
            kind: None,
            reason: "missing data for a column"
        })
    );
    assert_eq!(
        encode(&kinds, b"1\t2\t3\t"),
        Err(EncodeError {
            column: 3,
            kind: None,
            reason: "extra data after the last column"
        })
    );
    assert_eq!(encode(&kinds, b"").unwrap_err().column, 1);
    // An escaped tab does not separate.
    assert_eq!(encode(&kinds, b"1\t2\\\t3").unwrap_err().column, 2);
    assert_eq!(encode(&[Kind::Text], b"").unwrap(), tuple(&[Some(b"")]));
    assert_eq!(encode(&[], b"").unwrap(), tuple(&[]));
    assert!(encode(&[], b"x").is_err());
    assert!(encode(&[], b"\t").is_err());
}

#[test]
fn line_level_refusals() {
    for line in [
        &b"1\t2\r"[..],
        b"1\r\t2",
        b"1\t2\n",
        b"1\t2\\",
        b"\\.\t1",
        b"1\t\\.",
    ] {
        let error = encode(&[Kind::Text, Kind::Text], line).unwrap_err();
        assert!(error.column <= 1, "{line:?}: {error}");
    }
    let error = encode(&[Kind::Text], b"\\.").unwrap_err();
    assert_eq!(error.kind, Some(Kind::Text));
}

#[test]
fn errors_leave_out_untouched() {
    let mut encoder = RowEncoder::new(vec![Kind::Text, Kind::Numeric, Kind::Bytea]);
    let mut out = b"earlier".to_vec();
    encoder.encode_line(b"x\t1.5\t\\\\x00", &mut out).unwrap();
    let good = out.clone();
    for line in [
        &b"x\t1.5\t\\\\x0"[..],
        b"x\t1.5\t\\\\x0g",
        b"x\t1.5\t\\\\000",
        b"x\t1.5e3\t\\N",
        b"x\t12345678.5x\t\\N",
        b"x\t1.5",
        b"x\t1.5\t\\N\tx",
    ] {
        assert!(encoder.encode_line(line, &mut out).is_err(), "{line:?}");
        assert_eq!(out, good, "{line:?}");
    }
    encoder.encode_line(b"\\N\t\\N\t\\N", &mut out).unwrap();
    assert_eq!(out.len(), good.len() + 2 + 12);
}

#[test]
fn errors_name_column_and_kind_but_not_the_value() {
    let mut encoder = RowEncoder::new(vec![Kind::Int4, Kind::Int4, Kind::Int4, Kind::Numeric]);
    let error = encoder
        .encode_line(b"1\t2\t3\tsecret-value", &mut Vec::new())
        .unwrap_err();
    assert_eq!(error.column, 3);
    assert_eq!(error.kind, Some(Kind::Numeric));
    let message = error.to_string();
    assert_eq!(
        message,
        "column 3 (numeric): not a number PostgreSQL prints"
    );
    assert!(!message.contains("secret"));
    let error = encoder.encode_line(b"1", &mut Vec::new()).unwrap_err();
    assert_eq!(error.to_string(), "column 1: missing data for a column");
    let boxed: Box<dyn std::error::Error> = Box::new(error);
    assert!(boxed.source().is_none());
}

#[test]
fn values_by_kind() {
    assert_eq!(one(Kind::Int2, b"-32768").unwrap(), [0x80, 0]);
    assert!(one(Kind::Int2, b"32768").is_err());
    assert_eq!(one(Kind::Oid, b"4294967295").unwrap(), [0xff; 4]);
    assert_eq!(
        one(Kind::Float8, b"NaN").unwrap(),
        0x7FF8_0000_0000_0000u64.to_be_bytes()
    );
    assert_eq!(one(Kind::Float4, b"-Infinity").unwrap(), [0xff, 0x80, 0, 0]);
    assert_eq!(
        one(Kind::Numeric, b"NaN").unwrap(),
        [0, 0, 0, 0, 0xC0, 0, 0, 0]
    );
    assert_eq!(
        one(Kind::Date, b"infinity").unwrap(),
        i32::MAX.to_be_bytes()
    );
    assert_eq!(
        one(Kind::TimestampTz, b"-infinity").unwrap(),
        i64::MIN.to_be_bytes()
    );
    assert_eq!(one(Kind::Bytea, b"\\\\x").unwrap(), b"");
    let error = one(Kind::Bytea, b"abc\\\\000").unwrap_err();
    assert_eq!(error.reason, "not in hex format");
    assert!(one(Kind::Time, b"24:00:00").is_ok());
    assert!(one(Kind::Timestamp, b"2000-01-01 24:00:00").is_err());
}

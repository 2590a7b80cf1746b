//! bool, uuid and bytea: the forms boolout, uuid_out and byteaout (hex) write.

use crate::text::hex_pair;

/// "t" or "f" (boolin takes many more spellings; boolout prints only these).
pub(crate) fn bool(text: &[u8]) -> Result<u8, &'static str> {
    match text {
        b"t" => Ok(1),
        b"f" => Ok(0),
        _ => Err("not t or f"),
    }
}

/// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (either case, as uuid_in reads it) to 16 bytes.
pub(crate) fn uuid(text: &[u8]) -> Result<[u8; 16], &'static str> {
    /// Where each byte's two hex digits start.
    const PAIRS: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
    const FORM: &str = "not a uuid in its standard form";
    let text: &[u8; 36] = text.try_into().map_err(|_| FORM)?;
    if [8, 13, 18, 23].iter().any(|&i| text[i] != b'-') {
        return Err(FORM);
    }
    let mut bytes = [0u8; 16];
    for (byte, &at) in bytes.iter_mut().zip(&PAIRS) {
        *byte = hex_pair(text[at], text[at + 1]).ok_or(FORM)?;
    }
    Ok(bytes)
}

/// The hex digits after bytea's "\x" (the value's, not the escaped text's), appended as bytes.
/// byteain also skips white space between pairs; byteaout never writes any. On error, `out`
/// may hold part of the value (the caller truncates it).
pub(crate) fn bytea_hex(digits: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
    if digits.len() % 2 != 0 {
        return Err("odd number of hex digits");
    }
    let start = out.len();
    out.resize(start + digits.len() / 2, 0);
    for (byte, pair) in out[start..].iter_mut().zip(digits.chunks_exact(2)) {
        *byte = hex_pair(pair[0], pair[1]).ok_or("not a hex digit")?;
    }
    Ok(())
}

/// A bytea value (after unescaping): "\x" and hex digits. The escape format (bytea_output =
/// escape, or servers before 9.0) is refused.
pub(crate) fn bytea(value: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
    match value.strip_prefix(b"\\x") {
        Some(digits) => bytea_hex(digits, out),
        None => Err("not in hex format"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bools() {
        assert_eq!(bool(b"t"), Ok(1));
        assert_eq!(bool(b"f"), Ok(0));
        for bad in [&b"true"[..], b"T", b"1", b"yes", b"", b"t ", b"on"] {
            assert!(bool(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn uuids() {
        assert_eq!(
            uuid(b"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
            Ok([
                0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38,
                0x0a, 0x11
            ])
        );
        assert_eq!(
            uuid(b"FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"),
            Ok([0xFF; 16])
        );
        assert_eq!(uuid(b"00000000-0000-0000-0000-000000000000"), Ok([0; 16]));
        for bad in [
            &b"a0eebc999c0b4ef8bb6d6bb9bd380a11"[..],
            b"{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
            b"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",
            b"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111",
            b"a0eebc99-9c0b4-ef8-bb6d-6bb9bd380a11",
            b"g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            b"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1 ",
            b"",
        ] {
            assert!(uuid(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn byteas() {
        let mut out = vec![9];
        bytea(b"\\x00ff10Ab", &mut out).unwrap();
        assert_eq!(out, [9, 0x00, 0xff, 0x10, 0xab]);
        let mut out = Vec::new();
        bytea(b"\\x", &mut out).unwrap();
        assert!(out.is_empty());
        for bad in [
            &b"\\x0"[..],
            b"\\x0g",
            b"\\x00 ff",
            b"\\X00",
            b"abc",
            b"\\000",
            b"",
            b"x00",
        ] {
            assert!(bytea(bad, &mut Vec::new()).is_err(), "{bad:?}");
        }
    }
}

//! Integers, floats and numeric: the text forms their output functions write, read into the
//! binary forms their receive functions read.
//!
//! Only what int2out..int8out, oidout, float4out/float8out and numeric_out can print is
//! accepted (the input functions take far more: spaces, '+', underscores, hex, "inf"...).

/// A signed integer: an optional '-' then decimal digits, within `T`'s range.
#[inline]
pub(crate) fn int<T: TryFrom<i64>>(text: &[u8]) -> Result<T, &'static str> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let magnitude = unsigned(digits)?;
    let value = if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    };
    value
        .and_then(|v| T::try_from(v).ok())
        .ok_or("out of range")
}

/// An oid: unsigned decimal digits up to 4294967295 (oidin also takes negative numbers and
/// wraps them; oidout never prints those).
pub(crate) fn oid(text: &[u8]) -> Result<u32, &'static str> {
    u32::try_from(unsigned(text)?).map_err(|_| "out of range")
}

/// One or more decimal digits, as a u64.
#[inline]
fn unsigned(digits: &[u8]) -> Result<u64, &'static str> {
    if digits.is_empty() {
        return Err("no digits");
    }
    let mut value: u64 = 0;
    if digits.len() <= 19 {
        // 19 digits always fit: no overflow checks.
        for &c in digits {
            let digit = c.wrapping_sub(b'0');
            if digit > 9 {
                return Err("not a decimal integer");
            }
            value = value * 10 + u64::from(digit);
        }
        return Ok(value);
    }
    for &c in digits {
        let digit = c.wrapping_sub(b'0');
        if digit > 9 {
            return Err("not a decimal integer");
        }
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(digit)))
            .ok_or("out of range")?;
    }
    Ok(value)
}

/// What a float's text is: one of the three words, or a finite decimal number.
enum FloatText<'a> {
    NaN,
    Infinity,
    NegInfinity,
    /// The text (ASCII, checked) and whether its mantissa has a nonzero digit.
    Finite(&'a str, bool),
}

/// Checks a float's text against what float4out/float8out print (shortest-exact on 12 and
/// later, `%.*g` before): `[-]digits[.digits][e[+-]digits]`, "NaN", "Infinity", "-Infinity".
fn float_text(text: &[u8]) -> Result<FloatText<'_>, &'static str> {
    match text {
        b"NaN" => return Ok(FloatText::NaN),
        b"Infinity" => return Ok(FloatText::Infinity),
        b"-Infinity" => return Ok(FloatText::NegInfinity),
        _ => {}
    }
    let mut at = usize::from(text.first() == Some(&b'-'));
    let mut nonzero = false;
    let mut digits = |at: &mut usize| {
        let start = *at;
        while let Some(&c) = text.get(*at) {
            if !c.is_ascii_digit() {
                break;
            }
            nonzero |= c != b'0';
            *at += 1;
        }
        *at - start
    };
    if digits(&mut at) == 0 {
        return Err("not a number PostgreSQL prints");
    }
    if text.get(at) == Some(&b'.') {
        at += 1;
        if digits(&mut at) == 0 {
            return Err("not a number PostgreSQL prints");
        }
    }
    if matches!(text.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(text.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        let start = at;
        while text.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        // PostgreSQL prints at most 3 exponent digits.
        if !(1..=4).contains(&(at - start)) {
            return Err("not a number PostgreSQL prints");
        }
    }
    if at != text.len() {
        return Err("not a number PostgreSQL prints");
    }
    let text = std::str::from_utf8(text).map_err(|_| "not a number PostgreSQL prints")?;
    Ok(FloatText::Finite(text, nonzero))
}

/// A float8. Rust's parse rounds correctly, like the strtod float8in uses; as in float8in, a
/// finite text that overflows to infinity or underflows to zero is an error (subnormals are
/// fine).
pub(crate) fn float8(text: &[u8]) -> Result<f64, &'static str> {
    match float_text(text)? {
        FloatText::NaN => Ok(f64::NAN),
        FloatText::Infinity => Ok(f64::INFINITY),
        FloatText::NegInfinity => Ok(f64::NEG_INFINITY),
        FloatText::Finite(text, nonzero) => {
            let value: f64 = text.parse().map_err(|_| "not a number")?;
            check_finite(value.is_infinite(), value == 0.0, nonzero)?;
            Ok(value)
        }
    }
}

/// A float4, parsed straight to f32 (float4in uses strtof since PostgreSQL 12: no double
/// rounding through f64).
pub(crate) fn float4(text: &[u8]) -> Result<f32, &'static str> {
    match float_text(text)? {
        FloatText::NaN => Ok(f32::NAN),
        FloatText::Infinity => Ok(f32::INFINITY),
        FloatText::NegInfinity => Ok(f32::NEG_INFINITY),
        FloatText::Finite(text, nonzero) => {
            let value: f32 = text.parse().map_err(|_| "not a number")?;
            check_finite(value.is_infinite(), value == 0.0, nonzero)?;
            Ok(value)
        }
    }
}

fn check_finite(infinite: bool, zero: bool, nonzero_text: bool) -> Result<(), &'static str> {
    if infinite {
        Err("out of range (overflow)")
    } else if zero && nonzero_text {
        Err("out of range (underflow)")
    } else {
        Ok(())
    }
}

/// The sign word of numeric's binary form.
const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;
/// The largest display scale a numeric can store (NUMERIC_DSCALE_MAX).
const MAX_DSCALE: u16 = 0x3FFF;
/// The largest weight (of the first base-10000 digit) a numeric can store (int16).
const MAX_WEIGHT: i32 = i16::MAX as i32;

/// Appends numeric_recv's form of a numeric: ndigits, weight, sign, dscale (16 bits each), then
/// the base-10000 digits, stripped of leading and trailing zero digits as numeric_in stores
/// them. The display scale is the number of digits after the point, so "1.50" comes back out
/// as "1.50". On error, `out` may hold part of the value (the caller truncates it).
pub(crate) fn numeric(text: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
    let special = match text {
        b"NaN" => Some(NUMERIC_NAN),
        b"Infinity" => Some(NUMERIC_PINF),
        b"-Infinity" => Some(NUMERIC_NINF),
        _ => None,
    };
    if let Some(sign) = special {
        put_numeric_header(out, 0, 0, sign, 0);
        return Ok(());
    }

    let (negative, unsigned) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let mut point = None;
    for (at, &c) in unsigned.iter().enumerate() {
        if c == b'.' && point.is_none() {
            point = Some(at);
        } else if !c.is_ascii_digit() {
            return Err("not a number PostgreSQL prints");
        }
    }
    let (int_part, frac_part) = match point {
        Some(at) => (&unsigned[..at], &unsigned[at + 1..]),
        None => (unsigned, &unsigned[..0]),
    };
    if int_part.is_empty() || (point.is_some() && frac_part.is_empty()) {
        return Err("not a number PostgreSQL prints");
    }
    let dscale = u16::try_from(frac_part.len())
        .ok()
        .filter(|&d| d <= MAX_DSCALE)
        .ok_or("more digits after the point than numeric allows")?;

    // Leading zeros carry no value; base-10000 digits are aligned on the decimal point, so
    // dropping them shifts nothing.
    let first_nonzero = int_part
        .iter()
        .position(|&c| c != b'0')
        .unwrap_or(int_part.len());
    let int_part = &int_part[first_nonzero..];
    let int_groups = int_part.len().div_ceil(4);
    // The weight of the first base-10000 digit: int_groups - 1, or below -1 for a value under
    // 1 whose fraction starts with whole zero digits (skipped here, as numeric_in strips them).
    let mut weight = i32::try_from(int_groups)
        .ok()
        .filter(|&g| g <= MAX_WEIGHT + 1)
        .ok_or("more digits than numeric allows")?
        - 1;
    let mut frac = frac_part;
    if int_part.is_empty() {
        while let Some(rest) = frac.strip_prefix(b"0000") {
            frac = rest;
            weight -= 1;
        }
    }

    out.reserve(8 + 2 * (int_groups + frac.len().div_ceil(4)));
    let header_at = out.len();
    put_numeric_header(out, 0, 0, 0, 0);
    let digits_at = out.len();
    // Digits up to the last nonzero one are kept: numeric_in strips trailing zero digits.
    let mut written = 0usize;
    let mut kept = 0usize;
    let mut push = |digit: u16, out: &mut Vec<u8>| {
        out.extend_from_slice(&digit.to_be_bytes());
        written += 1;
        if digit != 0 {
            kept = written;
        }
    };
    // Integer part: the first digit takes the leftover 1 to 4 decimal digits.
    if int_groups > 0 {
        let head = int_part.len() - (int_groups - 1) * 4;
        push(group(&int_part[..head]), out);
        for chunk in int_part[head..].chunks_exact(4) {
            push(group(chunk), out);
        }
    }
    // Fraction: groups of 4 from the point, the last one padded with zeros on the right.
    for chunk in frac.chunks(4) {
        let mut digit = group(chunk);
        for _ in chunk.len()..4 {
            digit *= 10;
        }
        push(digit, out);
    }

    out.truncate(digits_at + kept * 2);
    // Zero has no digits, weight 0 and a positive sign (also "-0.00", as numeric_in stores it).
    let (weight, sign) = match kept {
        0 => (0, NUMERIC_POS),
        _ if negative => (weight, NUMERIC_NEG),
        _ => (weight, NUMERIC_POS),
    };
    let ndigits = u16::try_from(kept).map_err(|_| "more digits than numeric allows")?;
    let weight = i16::try_from(weight).map_err(|_| "more digits than numeric allows")?;
    let header = &mut out[header_at..digits_at];
    header[0..2].copy_from_slice(&ndigits.to_be_bytes());
    header[2..4].copy_from_slice(&weight.to_be_bytes());
    header[4..6].copy_from_slice(&sign.to_be_bytes());
    header[6..8].copy_from_slice(&dscale.to_be_bytes());
    Ok(())
}

fn put_numeric_header(out: &mut Vec<u8>, ndigits: u16, weight: i16, sign: u16, dscale: u16) {
    out.extend_from_slice(&ndigits.to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&dscale.to_be_bytes());
}

/// The value of up to 4 decimal digits (already checked).
#[inline]
fn group(digits: &[u8]) -> u16 {
    let digit = |c: u8| u16::from(c - b'0');
    match *digits {
        [a, b, c, d] => digit(a) * 1000 + digit(b) * 100 + digit(c) * 10 + digit(d),
        _ => digits.iter().fold(0, |acc, &c| acc * 10 + digit(c)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints() {
        assert_eq!(int::<i16>(b"-32768"), Ok(i16::MIN));
        assert_eq!(int::<i16>(b"32767"), Ok(i16::MAX));
        assert_eq!(int::<i32>(b"-2147483648"), Ok(i32::MIN));
        assert_eq!(int::<i32>(b"2147483647"), Ok(i32::MAX));
        assert_eq!(int::<i64>(b"-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(int::<i64>(b"9223372036854775807"), Ok(i64::MAX));
        assert_eq!(int::<i32>(b"0"), Ok(0));
        assert_eq!(int::<i32>(b"-0"), Ok(0));
        assert_eq!(int::<i32>(b"0042"), Ok(42));
        for bad in [
            &b"32768"[..],
            b"-32769",
            b"",
            b"-",
            b"+1",
            b" 1",
            b"1 ",
            b"1_000",
            b"0x1F",
            b"1.0",
            b"1e3",
            b"--1",
            b"99999999999999999999999",
        ] {
            assert!(int::<i16>(bad).is_err(), "{bad:?}");
        }
        assert!(int::<i32>(b"2147483648").is_err());
        assert!(int::<i64>(b"9223372036854775808").is_err());
        assert!(int::<i64>(b"-9223372036854775809").is_err());
    }

    #[test]
    fn oids() {
        assert_eq!(oid(b"0"), Ok(0));
        assert_eq!(oid(b"4294967295"), Ok(u32::MAX));
        assert!(oid(b"4294967296").is_err());
        assert!(oid(b"-1").is_err());
        assert!(oid(b"").is_err());
        assert!(oid(b"+1").is_err());
    }

    #[test]
    fn float8s() {
        assert_eq!(float8(b"0.1"), Ok(0.1));
        assert_eq!(float8(b"-0").map(f64::to_bits), Ok((-0.0f64).to_bits()));
        assert_eq!(float8(b"0").map(f64::to_bits), Ok(0));
        assert_eq!(float8(b"1e+308"), Ok(1e308));
        assert_eq!(float8(b"1.7976931348623157e+308"), Ok(f64::MAX));
        assert_eq!(float8(b"5e-324"), Ok(5e-324));
        assert_eq!(float8(b"2.2250738585072014e-308"), Ok(f64::MIN_POSITIVE));
        assert_eq!(float8(b"1.2345e-05"), Ok(1.2345e-05));
        assert_eq!(float8(b"1E10"), Ok(1e10));
        assert_eq!(
            float8(b"123456789012345680000"),
            Ok(1.234_567_890_123_456_8e20)
        );
        // extra_float_digits = 3 before PostgreSQL 12: %.17g.
        assert_eq!(float8(b"0.10000000000000001"), Ok(0.1));
        assert_eq!(float8(b"Infinity"), Ok(f64::INFINITY));
        assert_eq!(float8(b"-Infinity"), Ok(f64::NEG_INFINITY));
        assert!(float8(b"NaN").unwrap().is_nan());
        assert_eq!(float8(b"NaN").unwrap().to_bits(), 0x7FF8_0000_0000_0000);
        assert_eq!(float8(b"0e-999"), Ok(0.0));
        for bad in [
            &b"inf"[..],
            b"infinity",
            b"nan",
            b"-NaN",
            b"+1",
            b" 1",
            b"1 ",
            b".5",
            b"5.",
            b"1e",
            b"1e+",
            b"1e12345",
            b"0x10",
            b"1_0",
            b"",
            b"-",
            // Overflow and underflow are errors in float8in.
            b"1e309",
            b"1.8e308",
            b"1e-400",
            b"2e-324",
        ] {
            assert!(float8(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn float4s() {
        assert_eq!(float4(b"0.1"), Ok(0.1f32));
        assert_eq!(float4(b"3.4028235e+38"), Ok(f32::MAX));
        assert_eq!(float4(b"1e-45"), Ok(1e-45f32));
        assert_eq!(float4(b"1.4e-45").map(f32::to_bits), Ok(1));
        assert_eq!(float4(b"-0").map(f32::to_bits), Ok((-0.0f32).to_bits()));
        assert_eq!(float4(b"NaN").unwrap().to_bits(), 0x7FC0_0000);
        // 16777217 lies exactly between 2^24 and 2^24 + 2: it rounds to even.
        assert_eq!(float4(b"16777217"), Ok(16_777_216.0));
        // A value where rounding through f64 first would give another f32: 1 + 2^-24 + 2^-60
        // rounds up to 1 + 2^-23 directly, but to 1 + 2^-24 (then down to 1) through f64.
        assert_eq!(
            float4(b"1.000000059604644776257986737988403547205962240695953369140625"),
            Ok(1.000_000_1_f32)
        );
        for bad in [&b"3.5e38"[..], b"1e-46", b"inf", b"+0", b"1e39"] {
            assert!(float4(bad).is_err(), "{bad:?}");
        }
    }

    fn num(text: &str) -> Result<(u16, i16, u16, u16, Vec<u16>), &'static str> {
        let mut out = vec![0xAA];
        numeric(text.as_bytes(), &mut out)?;
        let word = |i: usize| u16::from_be_bytes([out[1 + 2 * i], out[2 + 2 * i]]);
        let ndigits = word(0);
        let digits = (0..usize::from(ndigits)).map(|i| word(4 + i)).collect();
        assert_eq!(out.len(), 1 + 8 + 2 * usize::from(ndigits));
        Ok((
            ndigits,
            i16::from_be_bytes(word(1).to_be_bytes()),
            word(2),
            word(3),
            digits,
        ))
    }

    #[test]
    fn numerics() {
        assert_eq!(num("0"), Ok((0, 0, 0, 0, vec![])));
        assert_eq!(num("-0"), Ok((0, 0, 0, 0, vec![])));
        assert_eq!(num("0.00"), Ok((0, 0, 0, 2, vec![])));
        assert_eq!(num("-0.000"), Ok((0, 0, 0, 3, vec![])));
        assert_eq!(num("1"), Ok((1, 0, 0, 0, vec![1])));
        assert_eq!(num("1.50"), Ok((2, 0, 0, 2, vec![1, 5000])));
        assert_eq!(num("-1.5"), Ok((2, 0, 0x4000, 1, vec![1, 5000])));
        assert_eq!(num("10000"), Ok((1, 1, 0, 0, vec![1])));
        assert_eq!(num("12345678"), Ok((2, 1, 0, 0, vec![1234, 5678])));
        assert_eq!(num("123456789"), Ok((3, 2, 0, 0, vec![1, 2345, 6789])));
        assert_eq!(num("0.0001"), Ok((1, -1, 0, 4, vec![1])));
        assert_eq!(num("0.00001"), Ok((1, -2, 0, 5, vec![1000])));
        assert_eq!(num("0.000000010"), Ok((1, -2, 0, 9, vec![1])));
        assert_eq!(num("0.000000100"), Ok((1, -2, 0, 9, vec![10])));
        assert_eq!(
            num("-100000000.00000001"),
            Ok((5, 2, 0x4000, 8, vec![1, 0, 0, 0, 1]))
        );
        assert_eq!(num("007.5"), Ok((2, 0, 0, 1, vec![7, 5000])));
        assert_eq!(num("NaN"), Ok((0, 0, 0xC000, 0, vec![])));
        assert_eq!(num("Infinity"), Ok((0, 0, 0xD000, 0, vec![])));
        assert_eq!(num("-Infinity"), Ok((0, 0, 0xF000, 0, vec![])));
    }

    #[test]
    fn numeric_limits() {
        // Weight 32767: 131072 digits before the point.
        let biggest = format!("9{}", "0".repeat(131_071));
        assert_eq!(num(&biggest).unwrap().1, 32767);
        let too_big = format!("1{}", "0".repeat(131_072));
        assert!(num(&too_big).is_err());
        // Leading zeros do not count.
        let padded = format!("{}1", "0".repeat(200_000));
        assert_eq!(num(&padded), Ok((1, 0, 0, 0, vec![1])));
        let smallest = format!("0.{}1", "0".repeat(16_382));
        let parsed = num(&smallest).unwrap();
        assert_eq!((parsed.1, parsed.3, parsed.4), (-4096, 16383, vec![10]));
        let too_fine = format!("0.{}1", "0".repeat(16_383));
        assert!(num(&too_fine).is_err());
    }

    #[test]
    fn numeric_refusals() {
        for bad in [
            "",
            "-",
            ".5",
            "5.",
            "-.5",
            "+1",
            " 1",
            "1 ",
            "1e5",
            "1E5",
            "1_000",
            "0x1F",
            "nan",
            "inf",
            "-NaN",
            "+Infinity",
            "1.2.3",
            "--1",
            "1,5",
        ] {
            assert!(num(bad).is_err(), "{bad:?}");
        }
    }
}

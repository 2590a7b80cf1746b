//! date, time, timestamp and timestamptz: the ISO forms their output functions write under
//! DateStyle ISO, read into the binary forms their receive functions read (days or
//! microseconds since 2000-01-01, big-endian).
//!
//! The calendar is the proleptic Gregorian one PostgreSQL uses for every date, with year 0
//! written as "0001 ... BC". The range checks are the server's (datatype/timestamp.h).

/// Days from 1970-01-01 to 2000-01-01 (the PostgreSQL epoch).
const EPOCH_OFFSET_DAYS: i64 = 10_957;
/// Julian day number of 2000-01-01 (POSTGRES_EPOCH_JDATE).
const EPOCH_JULIAN_DAY: i64 = 2_451_545;
/// A date is valid from Julian day 0 (4714-11-24 BC) to before this one (5874898-01-01).
const DATE_END_JULIAN_DAY: i64 = 2_147_483_494;
/// The first and one past the last valid timestamp (4714-11-24 00:00 BC, 294277-01-01 00:00).
const MIN_TIMESTAMP: i64 = -211_813_488_000_000_000;
const END_TIMESTAMP: i64 = 9_223_371_331_200_000_000;
const USECS_PER_SEC: i64 = 1_000_000;
const USECS_PER_DAY: i64 = 86_400 * USECS_PER_SEC;
/// Largest hour of a numeric time zone offset the server accepts (MAX_TZDISP_HOUR).
const MAX_TZ_HOUR: u32 = 15;

/// A date: "infinity", "-infinity", or "YYYY-MM-DD" with an optional " BC".
pub(crate) fn date(text: &[u8]) -> Result<i32, &'static str> {
    match text {
        b"infinity" => return Ok(i32::MAX),
        b"-infinity" => return Ok(i32::MIN),
        _ => {}
    }
    let mut cursor = Cursor { text, at: 0 };
    let ymd = cursor.date()?;
    let bc = cursor.bc();
    cursor.end()?;
    let (year, month, day) = ymd.resolve(bc)?;
    if !valid_julian(year, month) {
        return Err("date out of range");
    }
    let days = days_since_epoch(year, month, day);
    if !(-EPOCH_JULIAN_DAY..DATE_END_JULIAN_DAY - EPOCH_JULIAN_DAY).contains(&days) {
        return Err("date out of range");
    }
    i32::try_from(days).map_err(|_| "date out of range")
}

/// A time of day: "HH:MM:SS[.ffffff]", up to 24:00:00, in microseconds.
pub(crate) fn time(text: &[u8]) -> Result<i64, &'static str> {
    let mut cursor = Cursor { text, at: 0 };
    let micros = cursor.time(24)?;
    cursor.end()?;
    Ok(micros)
}

/// A timestamp without time zone: "infinity", "-infinity", or
/// "YYYY-MM-DD HH:MM:SS[.ffffff][ BC]", in microseconds since 2000-01-01 00:00.
pub(crate) fn timestamp(text: &[u8]) -> Result<i64, &'static str> {
    timestamp_with(text, false)
}

/// A timestamp with time zone: like [`timestamp`] with a numeric offset ("+HH", "+HH:MM" or
/// "+HH:MM:SS", or '-') after the time and before " BC"; the value is the UTC instant.
pub(crate) fn timestamptz(text: &[u8]) -> Result<i64, &'static str> {
    timestamp_with(text, true)
}

fn timestamp_with(text: &[u8], with_zone: bool) -> Result<i64, &'static str> {
    match text {
        b"infinity" => return Ok(i64::MAX),
        b"-infinity" => return Ok(i64::MIN),
        _ => {}
    }
    let mut cursor = Cursor { text, at: 0 };
    let ymd = cursor.date()?;
    cursor.byte(b' ')?;
    // Timestamps print 00..23; "24:00:00" is only time's.
    let time = cursor.time(23)?;
    let offset = if with_zone { cursor.zone()? } else { 0 };
    let bc = cursor.bc();
    cursor.end()?;
    let (year, month, day) = ymd.resolve(bc)?;
    // As tm2timestamp: the local date must be a valid Julian date, the result in range.
    if !valid_julian(year, month) {
        return Err("timestamp out of range");
    }
    // An overflow is out of range too (tm2timestamp checks the same way).
    days_since_epoch(year, month, day)
        .checked_mul(USECS_PER_DAY)
        .and_then(|local| local.checked_add(time))
        .and_then(|local| local.checked_sub(offset * USECS_PER_SEC))
        .filter(|utc| (MIN_TIMESTAMP..END_TIMESTAMP).contains(utc))
        .ok_or("timestamp out of range")
}

/// IS_VALID_JULIAN of the server: from 4714-11 BC (year -4713) to before 5874898-06.
fn valid_julian(year: i64, month: u32) -> bool {
    (year > -4713 || (year == -4713 && month >= 11))
        && (year < 5_874_898 || (year == 5_874_898 && month < 6))
}

/// Days from 2000-01-01 to a date of the proleptic Gregorian calendar (year 0 = 1 BC), for
/// years from -4800 on (the caller checks the range first).
#[allow(clippy::inline_always)] // measured: the timestamp path is a quarter slower when not inlined
#[inline(always)]
fn days_since_epoch(year: i64, month: u32, day: u32) -> i64 {
    // Count years from March, so that the leap day ends a year; eras of 400 years repeat.
    // Shifting by 12 eras keeps every valid year positive, so plain division works.
    const SHIFT_ERAS: i64 = 12;
    let year = if month <= 2 { year - 1 } else { year } + SHIFT_ERAS * 400;
    let era = year / 400;
    let year_of_era = year % 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    (era - SHIFT_ERAS) * 146_097 + day_of_era - 719_468 - EPOCH_OFFSET_DAYS
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A date as written: the year as printed (1 and up, BC not yet applied).
struct Ymd {
    year: i64,
    month: u32,
    day: u32,
}

impl Ymd {
    /// The astronomical year (1 BC is 0), checking the day against the month.
    #[allow(clippy::inline_always)] // measured: the timestamp path is a quarter slower when not inlined
    #[inline(always)]
    fn resolve(&self, bc: bool) -> Result<(i64, u32, u32), &'static str> {
        if self.year == 0 {
            return Err("year 0 does not exist");
        }
        let year = if bc { 1 - self.year } else { self.year };
        if !(1..=12).contains(&self.month)
            || self.day == 0
            || self.day > days_in_month(year, self.month)
        {
            return Err("no such date");
        }
        Ok((year, self.month, self.day))
    }
}

struct Cursor<'a> {
    text: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    #[inline]
    fn byte(&mut self, expected: u8) -> Result<(), &'static str> {
        if self.text.get(self.at) == Some(&expected) {
            self.at += 1;
            Ok(())
        } else {
            Err("not a form PostgreSQL prints")
        }
    }

    fn end(&self) -> Result<(), &'static str> {
        if self.at == self.text.len() {
            Ok(())
        } else {
            Err("not a form PostgreSQL prints")
        }
    }

    /// Two decimal digits.
    #[inline]
    fn pair(&mut self) -> Result<u32, &'static str> {
        match self.text.get(self.at..self.at + 2) {
            Some(&[high, low]) if high.is_ascii_digit() && low.is_ascii_digit() => {
                self.at += 2;
                Ok(u32::from(high - b'0') * 10 + u32::from(low - b'0'))
            }
            _ => Err("not a form PostgreSQL prints"),
        }
    }

    /// Exactly `count` decimal digits.
    #[inline]
    fn digits(&mut self, count: usize) -> Result<u32, &'static str> {
        let digits = self
            .text
            .get(self.at..self.at + count)
            .ok_or("not a form PostgreSQL prints")?;
        let mut value = 0u32;
        for &c in digits {
            if !c.is_ascii_digit() {
                return Err("not a form PostgreSQL prints");
            }
            value = value * 10 + u32::from(c - b'0');
        }
        self.at += count;
        Ok(value)
    }

    /// "YYYY-MM-DD": the year has 4 digits, or more without a leading zero (as "%04d" prints
    /// it), and at most 7 (the last valid date is in 5874897).
    #[allow(clippy::inline_always)] // measured: the timestamp path is a quarter slower when not inlined
    #[inline(always)]
    fn date(&mut self) -> Result<Ymd, &'static str> {
        if let Some(&[y1, y2, y3, y4, b'-', m1, m2, b'-', d1, d2]) =
            self.text.get(self.at..self.at + 10)
        {
            // The usual 4-digit year, in one go.
            let value = |c: u8| u32::from(c.wrapping_sub(b'0'));
            let digits = [y1, y2, y3, y4, m1, m2, d1, d2].map(value);
            if digits.iter().all(|&d| d <= 9) {
                self.at += 10;
                return Ok(Ymd {
                    year: i64::from(
                        digits[0] * 1000 + digits[1] * 100 + digits[2] * 10 + digits[3],
                    ),
                    month: digits[4] * 10 + digits[5],
                    day: digits[6] * 10 + digits[7],
                });
            }
        }
        let year_len = if self.text.get(self.at + 4) == Some(&b'-') {
            4
        } else {
            self.text[self.at..]
                .iter()
                .position(|c| !c.is_ascii_digit())
                .unwrap_or(self.text.len() - self.at)
        };
        if !(4..=7).contains(&year_len) || (year_len > 4 && self.text[self.at] == b'0') {
            return Err("not a form PostgreSQL prints");
        }
        let year = i64::from(self.digits(year_len)?);
        self.byte(b'-')?;
        let month = self.pair()?;
        self.byte(b'-')?;
        let day = self.pair()?;
        Ok(Ymd { year, month, day })
    }

    /// "HH:MM:SS" and an optional fraction of 1 to 6 digits, in microseconds. 24:00:00 is
    /// allowed (exactly) when `max_hour` is 24.
    #[allow(clippy::inline_always)] // measured: the timestamp path is a quarter slower when not inlined
    #[inline(always)]
    fn time(&mut self, max_hour: u32) -> Result<i64, &'static str> {
        let hour = self.pair()?;
        self.byte(b':')?;
        let minute = self.pair()?;
        self.byte(b':')?;
        let second = self.pair()?;
        let mut micros = 0u32;
        if self.text.get(self.at) == Some(&b'.') {
            self.at += 1;
            // 1 to 6 digits, scaled to microseconds (the server rounds longer fractions).
            let mut scale = 100_000;
            let start = self.at;
            while let Some(&c) = self.text.get(self.at) {
                if !c.is_ascii_digit() {
                    break;
                }
                if scale == 0 {
                    return Err("not a form PostgreSQL prints");
                }
                micros += u32::from(c - b'0') * scale;
                scale /= 10;
                self.at += 1;
            }
            if self.at == start {
                return Err("not a form PostgreSQL prints");
            }
        }
        if minute > 59 || second > 59 || hour > max_hour {
            return Err("time out of range");
        }
        if hour == 24 && (minute != 0 || second != 0 || micros != 0) {
            return Err("time out of range");
        }
        Ok(i64::from((hour * 60 + minute) * 60 + second) * USECS_PER_SEC + i64::from(micros))
    }

    /// A numeric offset east of UTC in seconds: '+' or '-', then "HH", "HH:MM" or "HH:MM:SS".
    #[inline]
    fn zone(&mut self) -> Result<i64, &'static str> {
        let sign = match self.text.get(self.at) {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return Err("timestamptz without a numeric offset"),
        };
        self.at += 1;
        let hour = self.pair()?;
        let mut minute = 0;
        let mut second = 0;
        if self.text.get(self.at) == Some(&b':') {
            self.at += 1;
            minute = self.pair()?;
            if self.text.get(self.at) == Some(&b':') {
                self.at += 1;
                second = self.pair()?;
            }
        }
        if hour > MAX_TZ_HOUR || minute > 59 || second > 59 {
            return Err("time zone offset out of range");
        }
        Ok(sign * i64::from((hour * 60 + minute) * 60 + second))
    }

    /// An optional " BC".
    fn bc(&mut self) -> bool {
        if self.text[self.at..].starts_with(b" BC") {
            self.at += 3;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar() {
        assert_eq!(days_since_epoch(2000, 1, 1), 0);
        assert_eq!(days_since_epoch(1970, 1, 1), -10_957);
        assert_eq!(days_since_epoch(2000, 3, 1), 60);
        assert_eq!(days_since_epoch(1999, 12, 31), -1);
        // Julian day 0 is 4714-11-24 BC.
        assert_eq!(days_since_epoch(-4713, 11, 24), -EPOCH_JULIAN_DAY);
        // Julian day 2147483494 is 5874898-01-01.
        assert_eq!(
            days_since_epoch(5_874_898, 1, 1),
            DATE_END_JULIAN_DAY - EPOCH_JULIAN_DAY
        );
        assert!(is_leap(0) && is_leap(-4) && !is_leap(-100) && is_leap(-400) && is_leap(2000));
        assert!(!is_leap(1900) && !is_leap(-1));
    }

    #[test]
    fn every_day_follows_the_one_before() {
        let mut expected = -EPOCH_JULIAN_DAY;
        for year in -4713..=3000 {
            let first_month = if year == -4713 { 11 } else { 1 };
            for month in first_month..=12 {
                let first_day = if year == -4713 && month == 11 { 24 } else { 1 };
                for day in first_day..=days_in_month(year, month) {
                    assert_eq!(days_since_epoch(year, month, day), expected);
                    expected += 1;
                }
            }
        }
        assert_eq!(days_since_epoch(3001, 1, 1), expected);
    }

    #[test]
    fn dates() {
        assert_eq!(date(b"2000-01-01"), Ok(0));
        assert_eq!(date(b"2000-01-02"), Ok(1));
        assert_eq!(date(b"1999-12-31"), Ok(-1));
        assert_eq!(date(b"infinity"), Ok(i32::MAX));
        assert_eq!(date(b"-infinity"), Ok(i32::MIN));
        assert_eq!(date(b"4714-11-24 BC"), Ok(-2_451_545));
        assert_eq!(date(b"5874897-12-31"), Ok(2_147_483_493 - 2_451_545));
        assert_eq!(date(b"0001-01-01"), Ok(-730_119));
        assert_eq!(date(b"0001-12-31 BC"), Ok(-730_120));
        assert_eq!(date(b"0001-02-29 BC"), Ok(-730_120 - 306));
        assert_eq!(date(b"10000-01-01"), Ok(2_921_940));
        for bad in [
            &b"4714-11-23 BC"[..],
            b"5874898-01-01",
            b"0000-01-01",
            b"0000-01-01 BC",
            b"2001-02-29",
            b"1900-02-29",
            b"0002-02-29 BC",
            b"2000-13-01",
            b"2000-00-10",
            b"2000-01-00",
            b"2000-01-32",
            b"2000-1-01",
            b"200-01-01",
            b"02000-01-01",
            b"2000-01-01 ",
            b"2000-01-01 bc",
            b"2000-01-01 AD",
            b"2000-01-01 00:00:00",
            b"01/01/2000",
            b"Infinity",
            b"epoch",
            b"",
            b"12345678-01-01",
        ] {
            assert!(date(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn times() {
        assert_eq!(time(b"00:00:00"), Ok(0));
        assert_eq!(time(b"24:00:00"), Ok(USECS_PER_DAY));
        assert_eq!(time(b"23:59:59.999999"), Ok(USECS_PER_DAY - 1));
        assert_eq!(time(b"12:34:56.5"), Ok(45_296_500_000));
        assert_eq!(time(b"00:00:00.000001"), Ok(1));
        assert_eq!(time(b"00:00:00.01"), Ok(10_000));
        for bad in [
            &b"24:00:00.000001"[..],
            b"24:00:01",
            b"24:01:00",
            b"25:00:00",
            b"23:60:00",
            b"23:59:60",
            b"12:00:00.",
            b"12:00:00.1234567",
            b"12:00",
            b"1:00:00",
            b"12:00:00+01",
            b"12:00:00 ",
            b"allballs",
            b"",
        ] {
            assert!(time(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(b"2000-01-01 00:00:00"), Ok(0));
        assert_eq!(timestamp(b"1999-12-31 23:59:59.999999"), Ok(-1));
        assert_eq!(
            timestamp(b"2000-01-02 00:00:01.5"),
            Ok(USECS_PER_DAY + 1_500_000)
        );
        assert_eq!(timestamp(b"infinity"), Ok(i64::MAX));
        assert_eq!(timestamp(b"-infinity"), Ok(i64::MIN));
        assert_eq!(timestamp(b"4714-11-24 00:00:00 BC"), Ok(MIN_TIMESTAMP));
        assert_eq!(
            timestamp(b"294276-12-31 23:59:59.999999"),
            Ok(END_TIMESTAMP - 1)
        );
        assert_eq!(
            timestamp(b"0001-12-31 23:59:59 BC"),
            Ok(-730_119 * USECS_PER_DAY - USECS_PER_SEC)
        );
        for bad in [
            &b"4714-11-23 23:59:59.999999 BC"[..],
            b"294277-01-01 00:00:00",
            b"2000-01-01 24:00:00",
            b"2000-01-01T00:00:00",
            b"2000-01-01 00:00:00+00",
            b"2000-01-01 00:00:00 BC ",
            b"2000-01-01",
            b"2000-01-01 00:00",
        ] {
            assert!(timestamp(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn timestamptzs() {
        assert_eq!(timestamptz(b"2000-01-01 00:00:00+00"), Ok(0));
        assert_eq!(timestamptz(b"2000-01-01 00:00:00-00"), Ok(0));
        assert_eq!(
            timestamptz(b"2000-01-01 05:30:00+05:30"),
            Ok(0),
            "local minus the offset"
        );
        assert_eq!(
            timestamptz(b"1999-12-31 20:29:08-03:30:52"),
            Ok(0),
            "offsets with seconds"
        );
        assert_eq!(timestamptz(b"2000-01-01 01:00:00.25+01"), Ok(250_000));
        assert_eq!(timestamptz(b"infinity"), Ok(i64::MAX));
        assert_eq!(timestamptz(b"-infinity"), Ok(i64::MIN));
        // The first instant, seen from east and west of Greenwich.
        assert_eq!(
            timestamptz(b"4714-11-24 05:53:28+05:53:28 BC"),
            Ok(MIN_TIMESTAMP)
        );
        assert_eq!(
            timestamptz(b"4714-11-23 20:29:08-03:30:52 BC"),
            Ok(MIN_TIMESTAMP)
        );
        // The last one, in a local year past the timestamp range.
        assert_eq!(
            timestamptz(b"294277-01-01 05:29:59.999999+05:30"),
            Ok(END_TIMESTAMP - 1)
        );
        for bad in [
            &b"2000-01-01 00:00:00"[..],
            b"4714-11-24 00:00:00+00:00:01 BC",
            b"294276-12-31 23:59:59.999999-00:00:01",
            b"2000-01-01 00:00:00+16",
            b"2000-01-01 00:00:00+15:60",
            b"2000-01-01 00:00:00+05:30:60",
            b"2000-01-01 00:00:00+5",
            b"2000-01-01 00:00:00+0530",
            b"2000-01-01 00:00:00 +00",
            b"2000-01-01 00:00:00+00:",
            b"2000-01-01 00:00:00 UTC",
            b"2000-01-01 00:00:00Z",
            b"2000-01-01 00:00:00+00 BC+00",
            b"4714-10-31 23:00:00-02 BC",
        ] {
            assert!(timestamptz(bad).is_err(), "{bad:?}");
        }
    }
}

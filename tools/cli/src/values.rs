//! Flag values parsed into domain types at the edge, so errors are raised where the user can
//! see which flag was wrong: sizes, durations, time zones.

use std::fmt;
use std::str::FromStr;

/// A size in bytes, written `1024`, `1KiB`, `500 KiB`, `5MiB` or `1.5 MB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        if let Ok(n) = trimmed.parse::<u64>() {
            return Ok(Self(n));
        }
        trimmed
            .parse::<bytesize::ByteSize>()
            .map(|b| Self(b.as_u64()))
            .map_err(|_| format!("'{s}' is not a size: write e.g. 1024, 1KiB, 500KiB or 5MiB"))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", bytesize::ByteSize(self.0).display().iec())
    }
}

/// A length of time, written `90m`, `1h`, `1h30m`, `7d` or `2 days`. Days are 24 hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub jiff::SignedDuration);

impl FromStr for Duration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("'{s}' is not a duration: write e.g. 90m, 1h, 1h30m or 7d");
        let span: jiff::Span = s.trim().parse().map_err(|_| bad())?;
        let duration = span
            .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
            .map_err(|_| bad())?;
        if duration.is_negative() {
            return Err(format!(
                "'{s}' is negative: a duration here is a length of time"
            ));
        }
        Ok(Self(duration))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&human_duration(self.0))
    }
}

/// `1h35m`, `3d2h`, `45s`: a duration the way people write it, to the second.
pub fn human_duration(duration: jiff::SignedDuration) -> String {
    let total = duration.as_secs().unsigned_abs();
    let (days, hours, minutes, seconds) = (
        total / 86_400,
        total % 86_400 / 3600,
        total % 3600 / 60,
        total % 60,
    );
    let mut out = String::new();
    if duration.is_negative() {
        out.push('-');
    }
    for (value, unit) in [(days, 'd'), (hours, 'h'), (minutes, 'm'), (seconds, 's')] {
        if value > 0 {
            out.push_str(&value.to_string());
            out.push(unit);
        }
    }
    if total == 0 {
        out.push_str("0s");
    }
    out
}

/// An IANA time zone (`Europe/Paris`, `UTC`) or a fixed offset (`+02:00`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeZone {
    pub name: String,
    pub zone: jiff::tz::TimeZone,
}

impl FromStr for TimeZone {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim();
        if let Some(offset) = parse_offset(name) {
            return Ok(Self {
                name: name.to_owned(),
                zone: jiff::tz::TimeZone::fixed(offset),
            });
        }
        jiff::tz::TimeZone::get(name)
            .map(|zone| Self { name: name.to_owned(), zone })
            .map_err(|_| format!("'{s}' is not a time zone: write an IANA name such as Europe/Paris or UTC, or an offset such as +02:00"))
    }
}

/// `+02:00`, `-0530`, `+02`: a fixed UTC offset.
fn parse_offset(s: &str) -> Option<jiff::tz::Offset> {
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = s[1..].chars().filter(|c| *c != ':').collect();
    if !(digits.len() == 2 || digits.len() == 4) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = if digits.len() == 4 {
        digits[2..].parse().ok()?
    } else {
        0
    };
    if hours > 25 || minutes > 59 {
        return None;
    }
    jiff::tz::Offset::from_seconds(sign * (hours * 3600 + minutes * 60)).ok()
}

impl TimeZone {
    /// The system's zone (TZ, /etc/localtime), named as well as it can be.
    pub fn system() -> Self {
        let zone = jiff::tz::TimeZone::system();
        let name = zone.iana_name().unwrap_or("local").to_owned();
        Self { name, zone }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!("1024".parse::<ByteSize>().unwrap().0, 1024);
        assert_eq!("1KiB".parse::<ByteSize>().unwrap().0, 1024);
        assert_eq!("500 KiB".parse::<ByteSize>().unwrap().0, 512_000);
        assert_eq!("5MiB".parse::<ByteSize>().unwrap().0, 5 * 1024 * 1024);
        assert!(
            "five"
                .parse::<ByteSize>()
                .unwrap_err()
                .contains("not a size")
        );
        assert_eq!(ByteSize(1536).to_string(), "1.5 KiB");
    }

    #[test]
    fn durations() {
        let d = |s: &str| s.parse::<Duration>().unwrap().0.as_secs();
        assert_eq!(d("90m"), 5400);
        assert_eq!(d("1h"), 3600);
        assert_eq!(d("1h30m"), 5400);
        assert_eq!(d("7d"), 7 * 86_400);
        assert_eq!(d("2 days"), 2 * 86_400);
        assert!("soon".parse::<Duration>().is_err());
        assert!(
            "1h ago"
                .parse::<Duration>()
                .unwrap_err()
                .contains("negative")
        );
        assert_eq!(
            human_duration(jiff::SignedDuration::from_secs(5700)),
            "1h35m"
        );
        assert_eq!(human_duration(jiff::SignedDuration::from_secs(0)), "0s");
    }

    #[test]
    fn zones() {
        assert!("Europe/Paris".parse::<TimeZone>().is_ok());
        assert!("UTC".parse::<TimeZone>().is_ok());
        assert!("+02:00".parse::<TimeZone>().is_ok());
        assert!(
            "Mars/Olympus"
                .parse::<TimeZone>()
                .unwrap_err()
                .contains("not a time zone")
        );
    }
}

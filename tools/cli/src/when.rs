//! The corruption time given with `--before`: an instant, a wall-clock time, or "90m ago".

use crate::values::TimeZone;
use regex::Regex;
use std::sync::LazyLock;

/// The instant to pick before, and how it was read, for people and the record.
#[derive(Debug, Clone, PartialEq)]
pub struct Before {
    pub instant: jiff::Timestamp,
    pub given: String,
    /// The zone a wall-clock time was read in, if it was one.
    pub zone: Option<String>,
    /// Set when the wall-clock time happened twice or never (a DST change): says which
    /// instant was taken.
    pub ambiguity: Option<String>,
}

static WALL_CLOCK: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a constant pattern, exercised by the tests
    Regex::new(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?$").unwrap()
});

const FORMS: &str = "write RFC 3339 (2026-05-05T13:40:00+02:00), a wall-clock time (2026-05-05 13:40, read in --tz or the local zone), a relative time (90m ago, 2h ago) or 'now'";

/// Reads `--before`. `now` is passed in so that tests are exact.
pub fn parse_before(text: &str, tz: &TimeZone, now: jiff::Timestamp) -> Result<Before, String> {
    let given = text.trim().to_owned();
    let bad = |why: &str| format!("--before '{given}' {why}: {FORMS}");
    if given.eq_ignore_ascii_case("now") {
        return Ok(Before {
            instant: now,
            given,
            zone: None,
            ambiguity: None,
        });
    }
    if given.to_ascii_lowercase().ends_with("ago") {
        let span: jiff::Span = given
            .parse()
            .map_err(|_| bad("is not a relative time I can read"))?;
        let duration = span
            .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
            .map_err(|_| bad("uses months or years, which have no fixed length"))?;
        let instant = now
            .checked_add(duration)
            .map_err(|_| bad("is out of range"))?;
        return Ok(Before {
            instant,
            given,
            zone: None,
            ambiguity: None,
        });
    }
    if WALL_CLOCK.is_match(&given) {
        let civil: jiff::civil::DateTime = given
            .parse()
            .map_err(|_| bad("is not a valid date and time"))?;
        let ambiguous = tz.zone.to_ambiguous_zoned(civil);
        let ambiguity = match ambiguous.offset() {
            jiff::tz::AmbiguousOffset::Unambiguous { .. } => None,
            jiff::tz::AmbiguousOffset::Fold { .. } => Some("happened twice in"),
            jiff::tz::AmbiguousOffset::Gap { .. } => Some("never happened in"),
        };
        // Of the two readings take the earlier instant: a snapshot older than it is older
        // than both, so the pick can never be one taken after the damage.
        let zoned = ambiguous.earlier().map_err(|_| bad("is out of range"))?;
        let instant = zoned.timestamp();
        let ambiguity = ambiguity.map(|what| {
            format!(
                "{given} {what} {} (a daylight-saving change); taking the earlier reading, {}",
                tz.name, instant
            )
        });
        return Ok(Before {
            instant,
            given,
            zone: Some(tz.name.clone()),
            ambiguity,
        });
    }
    let instant: jiff::Timestamp = given.parse().map_err(|_| bad("is not a time I can read"))?;
    Ok(Before {
        instant,
        given,
        zone: None,
        ambiguity: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> jiff::Timestamp {
        "2026-05-05T12:00:00Z".parse().unwrap()
    }

    fn zone(name: &str) -> TimeZone {
        name.parse().unwrap()
    }

    #[test]
    fn rfc3339_with_offset_or_z() {
        let b = parse_before("2026-05-05T13:40:00+02:00", &zone("UTC"), now()).unwrap();
        assert_eq!(b.instant.to_string(), "2026-05-05T11:40:00Z");
        let b = parse_before("2026-05-05T11:40:00.5Z", &zone("Europe/Paris"), now()).unwrap();
        assert_eq!(b.instant.to_string(), "2026-05-05T11:40:00.5Z");
        assert_eq!(b.zone, None);
    }

    #[test]
    fn wall_clock_in_the_given_zone() {
        let b = parse_before("2026-05-05 13:40", &zone("Europe/Paris"), now()).unwrap();
        assert_eq!(b.instant.to_string(), "2026-05-05T11:40:00Z");
        assert_eq!(b.zone.as_deref(), Some("Europe/Paris"));
        let b = parse_before("2026-05-05 13:40:30", &zone("America/New_York"), now()).unwrap();
        assert_eq!(b.instant.to_string(), "2026-05-05T17:40:30Z");
        assert!(b.ambiguity.is_none());
    }

    #[test]
    fn wall_clock_in_a_dst_fold_takes_the_earlier_instant() {
        // 02:30 happened at +02:00 and again at +01:00 on 2026-10-25 in Paris.
        let b = parse_before("2026-10-25 02:30", &zone("Europe/Paris"), now()).unwrap();
        assert_eq!(b.instant.to_string(), "2026-10-25T00:30:00Z");
        assert!(b.ambiguity.unwrap().contains("happened twice"));
    }

    #[test]
    fn wall_clock_in_a_dst_gap_is_reported() {
        // 02:30 never happened on 2026-03-29 in Paris.
        let b = parse_before("2026-03-29 02:30", &zone("Europe/Paris"), now()).unwrap();
        assert!(b.instant.to_string().starts_with("2026-03-29T0"));
        assert!(b.ambiguity.unwrap().contains("never happened"));
    }

    #[test]
    fn relative_times() {
        let b = parse_before("90m ago", &zone("UTC"), now()).unwrap();
        assert_eq!(b.instant.to_string(), "2026-05-05T10:30:00Z");
        let b = parse_before("1h30m ago", &zone("UTC"), now()).unwrap();
        assert_eq!(b.instant.to_string(), "2026-05-05T10:30:00Z");
        let b = parse_before("2 days ago", &zone("UTC"), now()).unwrap();
        assert_eq!(b.instant.to_string(), "2026-05-03T12:00:00Z");
        assert_eq!(
            parse_before("now", &zone("UTC"), now()).unwrap().instant,
            now()
        );
    }

    #[test]
    fn odd_times_are_refused_with_the_forms() {
        for text in [
            "yesterday",
            "2026-05-05",
            "13:40",
            "2026-13-05 10:00",
            "2026-05-05 25:00",
            "soon ago",
            "3 months ago",
        ] {
            let err = parse_before(text, &zone("UTC"), now()).unwrap_err();
            assert!(err.contains("--before"), "{text}: {err}");
            assert!(err.contains("RFC 3339"), "{text}: {err}");
        }
    }
}

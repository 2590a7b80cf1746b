//! "A dump written after the damage is no backup": compares the archive's own creation time
//! with the corruption time.
//!
//! pg_dump stores the dumping host's local wall-clock time without a zone. We read it in
//! `--dump-tz` (default: this machine's zone) and say so in the check.

use cli::values::TimeZone;
use record::{Check, Record};

/// The corruption time and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Damage {
    pub instant: jiff::Timestamp,
    pub source: String,
}

/// `--before` wins; otherwise the time snapshot-pick recorded.
pub fn damage_time(before: Option<&cli::when::Before>, record: Option<&Record>) -> Option<Damage> {
    if let Some(before) = before {
        return Some(Damage {
            instant: before.instant,
            source: format!("--before '{}'", before.given),
        });
    }
    let utc = record?
        .section("snapshot")?
        .get("before")?
        .get("utc")?
        .as_str()?;
    let instant = utc.parse().ok()?;
    Some(Damage {
        instant,
        source: "the snapshot section of the record".into(),
    })
}

/// Reads the header's civil time in the dump host's zone. In a daylight-saving fold the later
/// reading is taken: a dump counts as before the damage only if every reading of it is.
pub fn dump_instant(civil: jiff::civil::DateTime, zone: &TimeZone) -> Option<jiff::Timestamp> {
    zone.zone
        .to_ambiguous_zoned(civil)
        .later()
        .ok()
        .map(|z| z.timestamp())
}

pub fn created_before_check(
    civil: jiff::civil::DateTime,
    zone: &TimeZone,
    damage: Option<&Damage>,
) -> Check {
    let Some(damage) = damage else {
        return Check::skip(
            "created_before_damage",
            "no corruption time to compare with: give --before, or pipe in snapshot-pick's record",
        );
    };
    let Some(written) = dump_instant(civil, zone) else {
        return Check::fail(
            "created_before_damage",
            format!("the dump's time {civil} cannot be placed in {}", zone.name),
        );
    };
    let read_as = format!(
        "the header's local time {civil} read in {} (--dump-tz)",
        zone.name
    );
    if written < damage.instant {
        Check::ok(
            "created_before_damage",
            format!(
                "the dump was written at {written} ({read_as}), before the damage at {} ({})",
                damage.instant, damage.source
            ),
        )
    } else {
        Check::fail(
            "created_before_damage",
            format!(
                "the dump was written at {written} ({read_as}), not before the damage at {} ({}): it may hold the damaged schema; pick an older snapshot",
                damage.instant, damage.source
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use record::{Section, Status};

    fn civil(s: &str) -> jiff::civil::DateTime {
        s.parse().unwrap()
    }

    #[test]
    fn before_after_and_unknown() {
        let paris: TimeZone = "Europe/Paris".parse().unwrap();
        let damage = Damage {
            instant: "2026-05-05T11:40:00Z".parse().unwrap(),
            source: "test".into(),
        };
        let c = created_before_check(civil("2026-05-05T13:05:00"), &paris, Some(&damage));
        assert_eq!(c.status, Status::Ok, "{}", c.detail);
        assert!(
            c.detail.contains("Europe/Paris"),
            "the zone assumed is said"
        );
        let c = created_before_check(civil("2026-05-05T13:45:00"), &paris, Some(&damage));
        assert_eq!(c.status, Status::Fail);
        assert_eq!(
            created_before_check(civil("2026-05-05T13:45:00"), &paris, None).status,
            Status::Skip
        );
    }

    #[test]
    fn a_dump_in_a_dst_fold_is_read_late() {
        let paris: TimeZone = "Europe/Paris".parse().unwrap();
        // 02:30 happened at 00:30Z and 01:30Z; damage at 01:00Z lies between the two readings.
        let damage = Damage {
            instant: "2026-10-25T01:00:00Z".parse().unwrap(),
            source: "test".into(),
        };
        assert_eq!(
            created_before_check(civil("2026-10-25T02:30:00"), &paris, Some(&damage)).status,
            Status::Fail
        );
    }

    #[test]
    fn the_time_comes_from_the_flag_or_the_record() {
        let mut record = Record::new();
        let section = Section::builder("snapshot-pick", "0.1.0")
            .data(
                "before",
                serde_json::json!({"given": "x", "utc": "2026-05-05T11:40:00Z"}),
            )
            .finish();
        record.put_section("snapshot", &section);
        let from_record = damage_time(None, Some(&record)).unwrap();
        assert_eq!(from_record.instant.to_string(), "2026-05-05T11:40:00Z");
        let utc: TimeZone = "UTC".parse().unwrap();
        let flag =
            cli::when::parse_before("2026-05-05 12:00", &utc, jiff::Timestamp::now()).unwrap();
        assert_eq!(
            damage_time(Some(&flag), Some(&record))
                .unwrap()
                .instant
                .to_string(),
            "2026-05-05T12:00:00Z"
        );
        assert!(damage_time(None, None).is_none());
    }
}

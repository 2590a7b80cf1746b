//! Choosing the snapshot, and the checks around the choice. Pure: no I/O, `now` passed in.

use crate::filter::Filter;
use crate::input::Snapshot;
use cli::values::human_duration;
use cli::when::Before;
use jiff::{SignedDuration, Timestamp};
use record::Check;
use serde_json::{Value, json};

/// A pick is "much older than the cadence" past this multiple of it; so is a gap.
const LATE_FACTOR: f64 = 1.5;

/// What the snapshot list says, before any file is verified.
/// Borrows the list it was made from: a repository's snapshots are held once, however many
/// views of them the pick needs.
#[derive(Debug)]
pub struct Selection<'a> {
    pub considered: usize,
    /// Matching the filters, dated no later than now, newest first (skipped ones included).
    pub matching: Vec<&'a Snapshot>,
    /// Matching, not skipped, strictly older than the time: newest first. The pick is the first.
    pub candidates: Vec<&'a Snapshot>,
    /// Matching but dated after now: never picked.
    pub future: Vec<&'a Snapshot>,
    /// Full ids passed over with --skip.
    pub skipped: Vec<String>,
    pub checks: Vec<Check>,
}

/// Applies the filters, `--skip` and the time. Errs (a usage error) on an ambiguous `--skip`.
pub fn select<'a>(
    snapshots: &'a [Snapshot],
    filter: &Filter,
    skip: &[String],
    before: &Before,
    now: Timestamp,
) -> Result<Selection<'a>, String> {
    let mut checks = Vec::new();
    let considered = snapshots.len();
    let (mut future, mut matching): (Vec<&Snapshot>, Vec<&Snapshot>) = snapshots
        .iter()
        .filter(|s| filter.matches(s))
        .partition(|s| s.time > now);
    matching.sort_by(|a, b| b.time.cmp(&a.time).then_with(|| b.id.cmp(&a.id)));
    future.sort_by_key(|s| std::cmp::Reverse(s.time));

    let scope = if filter.is_empty() {
        String::new()
    } else {
        format!(" of {}", filter.describe())
    };
    checks.push(if considered == 0 {
        Check::fail(
            "snapshots_listed",
            "restic listed no snapshots: check RESTIC_REPOSITORY and that the backup timer has run",
        )
    } else if matching.is_empty() && future.is_empty() {
        let mut hosts: Vec<&str> = snapshots.iter().map(|s| s.host.as_str()).collect();
        hosts.sort_unstable();
        hosts.dedup();
        Check::fail(
            "snapshots_listed",
            format!(
                "none of the {considered} snapshots restic listed is{scope}; hosts there: {}",
                hosts.join(", ")
            ),
        )
    } else {
        let detail = if filter.is_empty() {
            format!("restic listed {}", plural(considered, "snapshot"))
        } else {
            format!(
                "restic listed {}, {} of them{scope}",
                plural(considered, "snapshot"),
                matching.len() + future.len()
            )
        };
        Check::ok("snapshots_listed", detail)
    });

    checks.push(before_check(before, now));

    let skipped = resolve_skips(snapshots, skip, &mut checks)?;

    checks.push(if future.is_empty() {
        Check::ok("future_snapshots", "no snapshot is dated after now")
    } else {
        let shown: Vec<String> = future
            .iter()
            .take(DETAIL_LIST)
            .map(|s| s.describe())
            .collect();
        Check::warn(
            "future_snapshots",
            format!(
                "{} dated after now ({}{}): the backup host's clock is ahead; never picked",
                plural(future.len(), "snapshot"),
                shown.join(", "),
                and_more(future.len(), shown.len()),
            ),
        )
    });

    let candidates: Vec<&Snapshot> = matching
        .iter()
        .filter(|s| s.time < before.instant && !skipped.contains(&s.id))
        .copied()
        .collect();
    Ok(Selection {
        considered,
        matching,
        candidates,
        future,
        skipped,
        checks,
    })
}

fn before_check(before: &Before, now: Timestamp) -> Check {
    let read_as = match &before.zone {
        Some(zone) => format!("'{}' read in {zone}", before.given),
        None => format!("'{}'", before.given),
    };
    if let Some(ambiguity) = &before.ambiguity {
        Check::warn("before_time", ambiguity.clone())
    } else if before.instant > now {
        Check::warn(
            "before_time",
            format!(
                "the time {read_as} ({}) is in the future: every snapshot up to now qualifies",
                before.instant
            ),
        )
    } else {
        Check::ok(
            "before_time",
            format!("picking before {} ({read_as})", before.instant),
        )
    }
}

/// Checks the form of each --skip before anything is read: an id or an id prefix of at least
/// 8 hex digits.
pub fn validate_skip_ids(skip: &[String]) -> Result<(), String> {
    match skip
        .iter()
        .find(|p| p.len() < 8 || !p.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        Some(bad) => Err(format!(
            "--skip '{bad}' is not a snapshot id: give the short id (8 hex digits) or the full id"
        )),
        None => Ok(()),
    }
}

/// Each --skip must name exactly one snapshot.
fn resolve_skips(
    snapshots: &[Snapshot],
    skip: &[String],
    checks: &mut Vec<Check>,
) -> Result<Vec<String>, String> {
    validate_skip_ids(skip)?;
    let mut resolved = Vec::new();
    for prefix in skip {
        let prefix_lc = prefix.to_ascii_lowercase();
        let hits: Vec<&Snapshot> = snapshots
            .iter()
            .filter(|s| s.id.starts_with(&prefix_lc))
            .collect();
        match hits.as_slice() {
            [] => checks.push(Check::warn(
                "skip",
                format!(
                    "--skip {prefix} names no snapshot in the list: nothing passed over for it"
                ),
            )),
            [one] => {
                checks.push(Check::ok(
                    "skip",
                    format!("passing over {} as asked", one.describe()),
                ));
                resolved.push(one.id.clone());
            }
            many => {
                return Err(format!(
                    "--skip '{prefix}' names {} snapshots: give more of the id",
                    many.len()
                ));
            }
        }
    }
    Ok(resolved)
}

/// The check that says whether anything was picked.
pub fn pick_check(selection: &Selection, pick: Option<&Snapshot>, before: &Before) -> Check {
    if let Some(pick) = pick {
        return Check::ok(
            "snapshot_before_time",
            format!(
                "picked {}, the newest before {}",
                pick.describe(),
                before.instant
            ),
        );
    }
    let older_skipped = selection
        .matching
        .iter()
        .any(|s| s.time < before.instant && selection.skipped.contains(&s.id));
    let detail = match selection.matching.last() {
        None => format!("no snapshot to pick before {}", before.instant),
        Some(oldest) if oldest.time >= before.instant => format!(
            "no snapshot is older than {}: the oldest there is {}",
            before.instant,
            oldest.describe()
        ),
        Some(_) if older_skipped && selection.candidates.is_empty() => {
            format!(
                "every snapshot older than {} was skipped with --skip",
                before.instant
            )
        }
        Some(_) => format!(
            "no snapshot older than {} passed verification",
            before.instant
        ),
    };
    Check::fail("snapshot_before_time", detail)
}

/// Warns when the pick is much older than the time: backups were missing around then.
pub fn pick_age_check(pick: Option<&Snapshot>, before: &Before, cadence: SignedDuration) -> Check {
    let Some(pick) = pick else {
        return Check::skip("pick_age", "nothing picked");
    };
    let age = before.instant.duration_since(pick.time);
    if age.as_secs_f64() > cadence.as_secs_f64() * LATE_FACTOR {
        Check::warn(
            "pick_age",
            format!(
                "the pick is {} older than the time, more than the {} cadence: snapshots in between are missing or were passed over",
                human_duration(age),
                human_duration(cadence)
            ),
        )
    } else {
        Check::ok(
            "pick_age",
            format!(
                "the pick is {} older than the time (cadence {})",
                human_duration(age),
                human_duration(cadence)
            ),
        )
    }
}

/// `1 snapshot`, `3 snapshots`.
/// How many items a check's detail names; the rest are counted ("and 12 more"), so that a
/// repository with years of skewed snapshots still gives a line a person can read.
const DETAIL_LIST: usize = 5;

/// How many items the section lists under `future` and `gaps`; `future_count` and
/// `gap_count` give the whole number. The record stays small whatever the repository holds.
pub const RECORD_LIST: usize = 20;

/// " and N more" when a list was cut to `shown` of `total`.
fn and_more(total: usize, shown: usize) -> String {
    if total > shown {
        format!(" and {} more", total - shown)
    } else {
        String::new()
    }
}

pub fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// A stretch without snapshots longer than the cadence allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub after: String,
    pub before: String,
    pub length: SignedDuration,
}

impl Gap {
    pub fn to_value(&self) -> Value {
        json!({ "after": self.after, "before": self.before, "gap_seconds": self.length.as_secs() })
    }
}

/// Gaps between consecutive matching snapshots in the window that ends at the time.
pub fn gaps(
    matching: &[&Snapshot],
    before: &Before,
    cadence: SignedDuration,
    window: SignedDuration,
) -> (Vec<Gap>, Check) {
    let start = before.instant.checked_sub(window).unwrap_or(Timestamp::MIN);
    let mut in_window: Vec<&Snapshot> = matching
        .iter()
        .filter(|s| s.time >= start && s.time < before.instant)
        .copied()
        .collect();
    in_window.sort_by_key(|s| s.time);
    let limit = cadence.as_secs_f64() * LATE_FACTOR;
    let gaps: Vec<Gap> = in_window
        .windows(2)
        .filter_map(|pair| {
            let length = pair[1].time.duration_since(pair[0].time);
            (length.as_secs_f64() > limit).then(|| Gap {
                after: pair[0].time_text.clone(),
                before: pair[1].time_text.clone(),
                length,
            })
        })
        .collect();
    let span = human_duration(window);
    let check = if gaps.is_empty() {
        Check::ok(
            "cadence_gaps",
            format!(
                "{} in the {span} before the time, no gap over the {} cadence",
                plural(in_window.len(), "snapshot"),
                human_duration(cadence)
            ),
        )
    } else {
        let shown: Vec<String> = gaps
            .iter()
            .take(DETAIL_LIST)
            .map(|g| format!("{} after {}", human_duration(g.length), g.after))
            .collect();
        let more = and_more(gaps.len(), shown.len());
        Check::warn(
            "cadence_gaps",
            format!(
                "{} over the {} cadence in the {span} before the time: {}{more}",
                plural(gaps.len(), "gap"),
                human_duration(cadence),
                shown.join("; ")
            ),
        )
    };
    (gaps, check)
}

/// With --max-age: fails when the newest snapshot is older than that (the timer stopped).
pub fn newest_age_check(
    matching: &[&Snapshot],
    now: Timestamp,
    max_age: Option<SignedDuration>,
) -> Check {
    let Some(max_age) = max_age else {
        return Check::skip("newest_age", "no --max-age given");
    };
    match matching.first() {
        None => Check::fail(
            "newest_age",
            format!(
                "no snapshot at all, so none younger than {}",
                human_duration(max_age)
            ),
        ),
        Some(newest) => {
            let age = now.duration_since(newest.time);
            if age > max_age {
                Check::fail(
                    "newest_age",
                    format!(
                        "the newest snapshot {} is {} old, over --max-age {}: is the backup timer running?",
                        newest.describe(),
                        human_duration(age),
                        human_duration(max_age)
                    ),
                )
            } else {
                Check::ok(
                    "newest_age",
                    format!(
                        "the newest snapshot {} is {} old",
                        newest.describe(),
                        human_duration(age)
                    ),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(hex: char, time: &str) -> Snapshot {
        let t: Timestamp = time.parse().unwrap();
        Snapshot {
            id: hex.to_string().repeat(64),
            short_id: hex.to_string().repeat(8),
            time: t,
            time_text: time.into(),
            host: "srv-apps".into(),
            username: None,
            tags: vec![],
            paths: vec![],
            program_version: None,
            summary: None,
        }
    }

    fn before(t: &str) -> Before {
        Before {
            instant: t.parse().unwrap(),
            given: t.into(),
            zone: None,
            ambiguity: None,
        }
    }

    fn now() -> Timestamp {
        "2026-05-05T15:00:00Z".parse().unwrap()
    }

    /// Leaked, so that a selection borrowing it may outlive the statement (tests only).
    fn hourly() -> &'static [Snapshot] {
        Vec::leak(vec![
            snap('a', "2026-05-05T14:05:00Z"),
            snap('b', "2026-05-05T13:05:00Z"),
            snap('c', "2026-05-05T12:05:00Z"),
            snap('d', "2026-05-05T09:05:00Z"),
            snap('e', "2026-05-06T09:05:00Z"),
        ])
    }

    #[test]
    fn a_long_list_of_future_snapshots_is_named_in_part_and_counted() {
        let mut snapshots = hourly().to_vec();
        for day in 10..40 {
            snapshots.push(snap('f', &format!("2027-01-{:02}T00:00:00Z", day % 28 + 1)));
        }
        let sel = select(
            &snapshots,
            &Filter::default(),
            &[],
            &before("2026-05-05T13:05:00Z"),
            now(),
        )
        .unwrap();
        assert_eq!(sel.future.len(), 31);
        let check = sel
            .checks
            .iter()
            .find(|c| c.name == "future_snapshots")
            .unwrap();
        assert!(
            check.detail.starts_with("31 snapshots dated after now"),
            "{}",
            check.detail
        );
        assert!(check.detail.contains(" and 26 more)"), "{}", check.detail);
        assert_eq!(
            check.detail.matches("ffffffff").count(),
            5,
            "{}",
            check.detail
        );
    }

    #[test]
    fn strictly_older_newest_first_future_excluded() {
        let sel = select(
            hourly(),
            &Filter::default(),
            &[],
            &before("2026-05-05T13:05:00Z"),
            now(),
        )
        .unwrap();
        assert_eq!(
            sel.candidates[0].short_id, "cccccccc",
            "equal time is not strictly older"
        );
        assert_eq!(sel.future.len(), 1);
        assert!(
            sel.checks
                .iter()
                .any(|c| c.name == "future_snapshots" && c.status == record::Status::Warn)
        );
        let late = select(
            hourly(),
            &Filter::default(),
            &[],
            &before("2027-01-01T00:00:00Z"),
            now(),
        )
        .unwrap();
        assert_eq!(
            late.candidates[0].short_id, "aaaaaaaa",
            "a future-dated snapshot is never the newest"
        );
    }

    #[test]
    fn skip_passes_over_and_ambiguous_or_bad_skip_is_refused() {
        let sel = select(
            hourly(),
            &Filter::default(),
            &["bbbbbbbb".into()],
            &before("2026-05-05T13:40:00Z"),
            now(),
        )
        .unwrap();
        assert_eq!(sel.candidates[0].short_id, "cccccccc");
        assert!(
            select(
                hourly(),
                &Filter::default(),
                &["b".into()],
                &before("2026-05-05T13:40:00Z"),
                now()
            )
            .is_err()
        );
        let mut twins = hourly().to_vec();
        twins[1].id = format!("aaaaaaaa{}", "1".repeat(56));
        assert!(
            select(
                &twins,
                &Filter::default(),
                &["aaaaaaaa".into()],
                &before("2026-05-05T13:40:00Z"),
                now()
            )
            .unwrap_err()
            .contains("names 2 snapshots")
        );
    }

    #[test]
    fn nothing_older_names_the_oldest() {
        let b = before("2026-05-05T08:00:00Z");
        let sel = select(hourly(), &Filter::default(), &[], &b, now()).unwrap();
        let check = pick_check(&sel, None, &b);
        assert_eq!(check.status, record::Status::Fail);
        assert!(check.detail.contains("dddddddd"), "{}", check.detail);
    }

    #[test]
    fn a_late_pick_and_gaps_warn() {
        let b = before("2026-05-05T11:40:00Z");
        let pick = snap('d', "2026-05-05T09:05:00Z");
        let check = pick_age_check(Some(&pick), &b, SignedDuration::from_hours(1));
        assert_eq!(check.status, record::Status::Warn);
        assert!(check.detail.contains("2h35m"), "{}", check.detail);
        let sel = select(
            hourly(),
            &Filter::default(),
            &[],
            &before("2026-05-05T14:30:00Z"),
            now(),
        )
        .unwrap();
        let (gaps, check) = gaps(
            &sel.matching,
            &before("2026-05-05T14:30:00Z"),
            SignedDuration::from_hours(1),
            SignedDuration::from_hours(24 * 7),
        );
        assert_eq!(gaps.len(), 1);
        assert_eq!(gaps[0].length.as_secs(), 3 * 3600);
        assert_eq!(check.status, record::Status::Warn);
    }

    #[test]
    fn max_age_fails_a_stale_repository() {
        let sel = select(
            hourly(),
            &Filter::default(),
            &[],
            &before("2026-05-05T15:00:00Z"),
            now(),
        )
        .unwrap();
        assert_eq!(
            newest_age_check(&sel.matching, now(), Some(SignedDuration::from_hours(2))).status,
            record::Status::Ok
        );
        assert_eq!(
            newest_age_check(&sel.matching, now(), Some(SignedDuration::from_mins(30))).status,
            record::Status::Fail
        );
        assert_eq!(
            newest_age_check(&sel.matching, now(), None).status,
            record::Status::Skip
        );
    }
}

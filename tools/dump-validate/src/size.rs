//! The runbook's size rule ("under 1 KiB, stop"; "500 KiB to 5 MiB") as two checks.

use cli::values::ByteSize;
use record::Check;
use std::str::FromStr;

/// `500KiB..5MiB`: the sizes a healthy dump of this database has had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeRange {
    pub min: ByteSize,
    pub max: ByteSize,
}

impl FromStr for SizeRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("'{s}' is not a size range: write e.g. 500KiB..5MiB");
        let (min, max) = s.split_once("..").ok_or_else(bad)?;
        let min: ByteSize = min.parse().map_err(|_| bad())?;
        let max: ByteSize = max.parse().map_err(|_| bad())?;
        if min > max {
            return Err(format!(
                "'{s}' is an empty range: the first size must not exceed the second"
            ));
        }
        Ok(Self { min, max })
    }
}

/// Fails below `min_size`; warns outside `expected`.
pub fn size_checks(size: u64, min_size: ByteSize, expected: Option<SizeRange>) -> Vec<Check> {
    let shown = ByteSize(size);
    let mut checks = vec![if size < min_size.0 {
        Check::fail(
            "min_size",
            format!(
                "the dump is {shown}, under --min-size {min_size}: an empty or failed dump; pick another snapshot"
            ),
        )
    } else {
        Check::ok(
            "min_size",
            format!("the dump is {shown}, at least {min_size}"),
        )
    }];
    if let Some(range) = expected {
        checks.push(if size < range.min.0 || size > range.max.0 {
            Check::warn(
                "expected_size",
                format!(
                    "the dump is {shown}, outside the usual {}..{}: look at why before trusting it",
                    range.min, range.max
                ),
            )
        } else {
            Check::ok(
                "expected_size",
                format!("the dump is {shown}, within {}..{}", range.min, range.max),
            )
        });
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use record::Status;

    #[test]
    fn ranges_parse_and_refuse_nonsense() {
        let r: SizeRange = "500KiB..5MiB".parse().unwrap();
        assert_eq!(r.min.0, 512_000);
        assert_eq!(r.max.0, 5 * 1024 * 1024);
        assert!(
            "5MiB..500KiB"
                .parse::<SizeRange>()
                .unwrap_err()
                .contains("empty range")
        );
        assert!("5MiB".parse::<SizeRange>().is_err());
        assert!("a..b".parse::<SizeRange>().is_err());
    }

    #[test]
    fn small_fails_unusual_warns() {
        let range = Some("500KiB..5MiB".parse().unwrap());
        let st = |size| {
            size_checks(size, ByteSize(1024), range)
                .iter()
                .map(|c| c.status)
                .collect::<Vec<_>>()
        };
        assert_eq!(st(100), [Status::Fail, Status::Warn]);
        assert_eq!(st(2048), [Status::Ok, Status::Warn]);
        assert_eq!(st(1_474_832), [Status::Ok, Status::Ok]);
        assert_eq!(size_checks(1024, ByteSize(1024), None).len(), 1);
    }
}

//! Finding a `pg_restore` that can read an archive and whose output a server accepts.
//!
//! Where: the directories given (`--pg-bindir`), and when none is given, every directory of
//! `PATH`, then `/usr/lib/postgresql/*/bin` (Debian's packages) and
//! `$SCHEMA_RESTORE_PG_ROOT/*/bin` (default `/opt/schema-restore/pg`, where
//! scripts/install-deps unpacks its builds). Debian's `/usr/bin/pg_restore` is a wrapper
//! (pg_wrapper) that picks a version by itself; it is passed over, the versioned directories
//! it would pick from are searched directly.
//!
//! Which: each binary's major version is learnt by running `pg_restore --version`. A binary
//! fits when its major is at least the archive's `min_major` (older pg_restore cannot read
//! newer archive versions). A newer pg_restore's output may set what an older server lacks
//! (`SET transaction_timeout`, from 17 on): schema-swap applies the script through its own
//! session and leaves such settings out, so any that reads the archive fits.
//!
//! Among those that fit, the one of the server's own major wins, else the newest older than
//! the server, else the oldest newer than it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One pg_restore binary and the version it reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgRestore {
    pub path: PathBuf,
    pub major: u32,
    /// What `--version` printed after "(PostgreSQL)", e.g. `16.4 (Debian 16.4-1)`.
    pub version: String,
}

/// What the restore needs of a pg_restore.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requirement {
    /// The oldest major that reads the archive (the dump section's `pg_restore.min_major`).
    pub min_major: Option<u32>,
    /// The target server's major version.
    pub server_major: Option<u32>,
}

impl Requirement {
    /// The newest major that fits: none since the settings a newer pg_restore writes are
    /// left out for an older server. Kept for the record's `max_major` key, always null.
    pub fn max_major(&self) -> Option<u32> {
        None
    }

    /// Whether `major` reads the archive.
    pub fn fits(&self, major: u32) -> bool {
        self.min_major.is_none_or(|min| major >= min)
    }

    /// The versions needed, for people: `pg_restore 16 or newer`.
    pub fn describe(&self) -> String {
        match self.min_major {
            Some(min) => format!("pg_restore {min} or newer"),
            None => "any pg_restore".to_owned(),
        }
    }
}

/// Why no pg_restore was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoFit {
    pub requirement: Requirement,
    /// Everything that was found, none of which fits.
    pub found: Vec<PgRestore>,
    /// Directories searched.
    pub searched: Vec<PathBuf>,
}

impl fmt::Display for NoFit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let needed = self.requirement.describe();
        if self.found.is_empty() {
            write!(
                f,
                "no pg_restore found (searched PATH, /usr/lib/postgresql/*/bin, /opt/schema-restore/pg/*/bin or --pg-bindir); needed: {needed}"
            )?;
        } else {
            let found: Vec<String> = self
                .found
                .iter()
                .map(|p| format!("{} ({})", p.major, p.path.display()))
                .collect();
            write!(
                f,
                "no pg_restore fits: needed {needed}; found {}",
                found.join(", ")
            )?;
        }
        // The server's own major fits whenever it reads the archive; else the archive's.
        match (self.requirement.min_major, self.requirement.server_major) {
            (Some(min), Some(server)) if min > server => write!(
                f,
                "; install the PostgreSQL {min} client programs (or newer) or give --pg-bindir"
            )?,
            (_, Some(server)) => write!(
                f,
                "; install the PostgreSQL {server} client programs or give --pg-bindir"
            )?,
            (Some(min), None) => write!(
                f,
                "; install the PostgreSQL {min} client programs (or newer) or give --pg-bindir"
            )?,
            (None, None) => {}
        }
        Ok(())
    }
}

impl std::error::Error for NoFit {}

/// The directories to search: `explicit` alone when given, else PATH, Debian's and ours.
pub fn search_dirs(explicit: &[PathBuf]) -> Vec<PathBuf> {
    if !explicit.is_empty() {
        return explicit.to_vec();
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    let root = std::env::var_os("SCHEMA_RESTORE_PG_ROOT")
        .map_or_else(|| PathBuf::from("/opt/schema-restore/pg"), PathBuf::from);
    for parent in [Path::new("/usr/lib/postgresql"), root.as_path()] {
        dirs.extend(versioned_bindirs(parent));
    }
    dirs
}

/// `<parent>/<N>/bin` for every numbered subdirectory, newest first.
fn versioned_bindirs(parent: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut found: Vec<(u32, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((major, e.path().join("bin")))
        })
        .collect();
    found.sort_by_key(|(major, _)| std::cmp::Reverse(*major));
    found.into_iter().map(|(_, dir)| dir).collect()
}

/// Every distinct pg_restore in `dirs` that runs and says its version, in search order.
pub fn find_all(dirs: &[PathBuf]) -> Vec<PgRestore> {
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut found = Vec::new();
    for dir in dirs {
        let candidate = dir.join("pg_restore");
        if !candidate.is_file() {
            continue;
        }
        let real = std::fs::canonicalize(&candidate).unwrap_or_else(|_| candidate.clone());
        // Debian's pg_wrapper chooses a version by itself: not a binary of a known version.
        if real.file_name().is_some_and(|n| n != "pg_restore") || seen.contains(&real) {
            continue;
        }
        seen.push(real);
        if let Some(found_one) = probe(&candidate) {
            found.push(found_one);
        }
    }
    found
}

/// Runs `<path> --version` and reads its major version.
pub fn probe(path: &Path) -> Option<PgRestore> {
    let output = Command::new(path).arg("--version").output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let (major, version) = parse_version(&text)?;
    Some(PgRestore {
        path: path.to_path_buf(),
        major,
        version,
    })
}

/// `pg_restore (PostgreSQL) 16.4 (Debian 16.4-1)` -> (16, "16.4 (Debian 16.4-1)").
/// Before PostgreSQL 10 the major had two parts (9.6); it is read as 9.
pub fn parse_version(text: &str) -> Option<(u32, String)> {
    let line = text.lines().next()?.trim();
    let version = line.split_once(") ").map_or(line, |(_, rest)| rest).trim();
    let digits: String = version.chars().take_while(char::is_ascii_digit).collect();
    let major = digits.parse().ok()?;
    Some((major, version.to_owned()))
}

/// The best of `found` for `requirement`; see the module documentation for the order.
pub fn choose(found: &[PgRestore], requirement: Requirement) -> Option<&PgRestore> {
    let fitting = found.iter().filter(|p| requirement.fits(p.major));
    let Some(server) = requirement.server_major else {
        return fitting.max_by_key(|p| p.major);
    };
    fitting.min_by_key(|p| {
        // Same major first, then the newest older one, then the oldest newer one.
        match p.major.cmp(&server) {
            std::cmp::Ordering::Equal => (0, 0),
            std::cmp::Ordering::Less => (1, server - p.major),
            std::cmp::Ordering::Greater => (2, p.major - server),
        }
    })
}

/// Searches (`explicit` directories, or everywhere) and chooses.
pub fn find_pg_restore(
    explicit: &[PathBuf],
    requirement: Requirement,
) -> Result<(PgRestore, Vec<PgRestore>), NoFit> {
    let searched = search_dirs(explicit);
    let found = find_all(&searched);
    match choose(&found, requirement) {
        Some(best) => Ok((best.clone(), found)),
        None => Err(NoFit {
            requirement,
            found,
            searched,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn restore(major: u32) -> PgRestore {
        PgRestore {
            path: PathBuf::from(format!("/x/{major}/bin/pg_restore")),
            major,
            version: format!("{major}.1"),
        }
    }

    #[test]
    fn versions_are_read_from_every_style() {
        assert_eq!(
            parse_version("pg_restore (PostgreSQL) 16.4 (Debian 16.4-1.pgdg120+1)\n"),
            Some((16, "16.4 (Debian 16.4-1.pgdg120+1)".into()))
        );
        assert_eq!(
            parse_version("pg_restore (PostgreSQL) 18.6").map(|v| v.0),
            Some(18)
        );
        assert_eq!(
            parse_version("pg_restore (PostgreSQL) 18beta1").map(|v| v.0),
            Some(18)
        );
        assert_eq!(
            parse_version("pg_restore (PostgreSQL) 9.6.24").map(|v| v.0),
            Some(9)
        );
        assert_eq!(parse_version("nonsense"), None);
    }

    #[test]
    fn an_old_server_gets_its_own_major_else_one_that_reads_the_archive() {
        let all = [restore(15), restore(16), restore(17), restore(18)];
        let req = Requirement {
            min_major: Some(15),
            server_major: Some(16),
        };
        assert_eq!(choose(&all, req).unwrap().major, 16);
        // Only 17+ installed: the oldest that reads the archive; its settings that 16 lacks
        // are left out by schema-swap.
        let req = Requirement {
            min_major: Some(14),
            server_major: Some(16),
        };
        assert_eq!(choose(&[restore(18), restore(17)], req).unwrap().major, 17);
        // An archive only 17+ reads, into a 16 server.
        let req = Requirement {
            min_major: Some(17),
            server_major: Some(16),
        };
        assert_eq!(choose(&all, req).unwrap().major, 17);
        assert_eq!(req.describe(), "pg_restore 17 or newer");
        let none = NoFit {
            requirement: req,
            found: vec![restore(15), restore(16)],
            searched: vec![],
        };
        let message = none.to_string();
        assert_eq!(
            message,
            "no pg_restore fits: needed pg_restore 17 or newer; found 15 (/x/15/bin/pg_restore), 16 (/x/16/bin/pg_restore); install the PostgreSQL 17 client programs (or newer) or give --pg-bindir"
        );
    }

    #[test]
    fn a_new_server_prefers_its_own_major_then_older() {
        let all = [restore(15), restore(16), restore(18)];
        let req = Requirement {
            min_major: Some(15),
            server_major: Some(18),
        };
        assert_eq!(choose(&all, req).unwrap().major, 18);
        let req = Requirement {
            min_major: Some(15),
            server_major: Some(17),
        };
        assert_eq!(choose(&all, req).unwrap().major, 16);
        let req = Requirement {
            min_major: Some(17),
            server_major: Some(17),
        };
        assert_eq!(choose(&all, req).unwrap().major, 18);
        assert_eq!(choose(&all, Requirement::default()).unwrap().major, 18);
        let none = NoFit {
            requirement: Requirement {
                min_major: Some(19),
                server_major: Some(18),
            },
            found: all.to_vec(),
            searched: vec![],
        };
        assert!(
            none.to_string().contains("needed pg_restore 19 or newer"),
            "{none}"
        );
    }

    #[test]
    fn finds_the_installed_binaries() {
        // Whatever this machine has: each found binary reports the major its directory says.
        for p in find_all(&search_dirs(&[])) {
            assert!(p.major >= 9, "{p:?}");
            assert_ne!(
                std::fs::canonicalize(&p.path).unwrap().file_name().unwrap(),
                "pg_wrapper"
            );
        }
    }
}

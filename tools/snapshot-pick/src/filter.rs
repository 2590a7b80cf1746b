//! Which snapshots count, with restic's own semantics for `--host`, `--tag` and `--path`:
//! hosts are alternatives; each `--tag a,b` is a list of tags a snapshot must all have, and
//! the lists are alternatives; every `--path` must be among the snapshot's paths.

use crate::input::Snapshot;
use serde_json::{Value, json};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub hosts: Vec<String>,
    pub tag_lists: Vec<Vec<String>>,
    pub paths: Vec<String>,
}

impl Filter {
    /// Builds the filter from the flags; paths must be absolute, as restic stores them.
    pub fn new(hosts: &[String], tags: &[String], paths: &[String]) -> Result<Self, String> {
        let tag_lists = tags
            .iter()
            .map(|list| list.split(',').map(|t| t.trim().to_owned()).collect())
            .collect();
        let paths = paths
            .iter()
            .map(|p| {
                if p.starts_with('/') {
                    Ok(clean_path(p))
                } else {
                    Err(format!("--path '{p}' is not absolute: restic stores absolute paths, e.g. /var/lib/postgres-dumps"))
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            hosts: hosts.to_vec(),
            tag_lists,
            paths,
        })
    }

    pub fn matches(&self, snapshot: &Snapshot) -> bool {
        let host_ok = self.hosts.is_empty() || self.hosts.contains(&snapshot.host);
        let tags_ok = self.tag_lists.is_empty()
            || self.tag_lists.iter().any(|list| {
                list.iter().all(|tag| {
                    // restic: an empty tag matches snapshots that have no tags at all.
                    (tag.is_empty() && snapshot.tags.is_empty()) || snapshot.tags.contains(tag)
                })
            });
        let paths_ok = self
            .paths
            .iter()
            .all(|path| snapshot.paths.iter().any(|p| clean_path(p) == *path));
        host_ok && tags_ok && paths_ok
    }

    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty() && self.tag_lists.is_empty() && self.paths.is_empty()
    }

    pub fn to_value(&self) -> Value {
        json!({ "hosts": self.hosts, "tags": self.tag_lists, "paths": self.paths })
    }

    /// `host srv-apps, tags srv-apps,scheduled` for messages.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.hosts.is_empty() {
            parts.push(format!("host {}", self.hosts.join(" or ")));
        }
        if !self.tag_lists.is_empty() {
            let lists: Vec<String> = self.tag_lists.iter().map(|l| l.join(",")).collect();
            parts.push(format!("tags {}", lists.join(" or ")));
        }
        if !self.paths.is_empty() {
            parts.push(format!("paths {}", self.paths.join(" and ")));
        }
        parts.join(", ")
    }
}

/// Lexical clean of an absolute path, as Go's filepath.Clean: no `.`, `..`, doubled or
/// trailing slashes.
fn clean_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(host: &str, tags: &[&str], paths: &[&str]) -> Snapshot {
        Snapshot {
            id: "ab".repeat(32),
            short_id: "abababab".into(),
            time: jiff::Timestamp::UNIX_EPOCH,
            time_text: "1970-01-01T00:00:00Z".into(),
            host: host.into(),
            username: None,
            tags: tags.iter().map(|s| (*s).to_owned()).collect(),
            paths: paths.iter().map(|s| (*s).to_owned()).collect(),
            program_version: None,
            summary: None,
        }
    }

    fn filter(hosts: &[&str], tags: &[&str], paths: &[&str]) -> Filter {
        let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        Filter::new(&own(hosts), &own(tags), &own(paths)).unwrap()
    }

    #[test]
    fn hosts_are_alternatives() {
        let f = filter(&["a", "b"], &[], &[]);
        assert!(f.matches(&snap("a", &[], &[])));
        assert!(f.matches(&snap("b", &[], &[])));
        assert!(!f.matches(&snap("c", &[], &[])));
    }

    #[test]
    fn a_tag_list_needs_all_its_tags_and_lists_are_alternatives() {
        let f = filter(&[], &["srv-apps,scheduled", "manual"], &[]);
        assert!(f.matches(&snap("h", &["scheduled", "srv-apps", "x"], &[])));
        assert!(!f.matches(&snap("h", &["srv-apps"], &[])));
        assert!(f.matches(&snap("h", &["manual"], &[])));
        let untagged = filter(&[], &[""], &[]);
        assert!(untagged.matches(&snap("h", &[], &[])));
        assert!(!untagged.matches(&snap("h", &["x"], &[])));
    }

    #[test]
    fn every_path_must_be_there_after_cleaning() {
        let f = filter(&[], &[], &["/var/lib/postgres-dumps/", "/etc"]);
        assert!(f.matches(&snap("h", &[], &["/etc", "/var/lib/postgres-dumps"])));
        assert!(!f.matches(&snap("h", &[], &["/var/lib/postgres-dumps"])));
        assert!(
            filter(&[], &[], &["/var/./lib//x/../postgres-dumps"]).matches(&snap(
                "h",
                &[],
                &["/var/lib/postgres-dumps"]
            ))
        );
        assert!(
            Filter::new(&[], &[], &["var/lib".into()])
                .unwrap_err()
                .contains("not absolute")
        );
    }
}

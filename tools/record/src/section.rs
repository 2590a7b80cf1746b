//! A tool's section of the record: the common fields, the checks, and the tool's own data.

use crate::ExitCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::time::Instant;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Worth a look; does not fail the section.
    Warn,
    /// Fails the section. A check that could not be carried out is a failure too.
    Fail,
    /// Not run, on purpose (not asked for, or an earlier section failed).
    Skip,
}

impl Status {
    /// The runbook-style tag for people's output.
    pub const fn tag(self) -> &'static str {
        match self {
            Self::Ok => "[ OK ]",
            Self::Warn => "[WARN ]",
            Self::Fail => "[FAIL ]",
            Self::Skip => "[SKIP ]",
        }
    }
}

/// One named check with its outcome and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub detail: String,
}

impl Check {
    pub fn new(name: impl Into<String>, status: Status, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            status,
            detail: detail.into(),
        }
    }
    pub fn ok(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(name, Status::Ok, detail)
    }
    pub fn warn(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(name, Status::Warn, detail)
    }
    pub fn fail(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(name, Status::Fail, detail)
    }
    pub fn skip(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(name, Status::Skip, detail)
    }
}

/// A finished section, ready to be put into a record.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    tool: String,
    version: String,
    started_at: jiff::Timestamp,
    elapsed_ms: u64,
    checks: Vec<Check>,
    data: Map<String, Value>,
    upstream_failed: bool,
    could_not_run: bool,
}

impl Section {
    /// Starts timing a section now.
    pub fn builder(tool: &str, version: &str) -> SectionBuilder {
        SectionBuilder {
            tool: tool.to_owned(),
            version: version.to_owned(),
            started_at: jiff::Timestamp::now(),
            started: Instant::now(),
            checks: Vec::new(),
            data: Map::new(),
            upstream_failed: false,
            could_not_run: false,
        }
    }

    /// True when no check failed and the tool did its work.
    pub fn ok(&self) -> bool {
        !self.upstream_failed
            && !self.could_not_run
            && !self.checks.iter().any(|c| c.status == Status::Fail)
    }

    pub fn checks(&self) -> &[Check] {
        &self.checks
    }

    /// The tool's exit code for this section. An earlier failure wins over everything: the tool
    /// did nothing of its own.
    pub fn exit_code(&self) -> ExitCode {
        if self.upstream_failed {
            ExitCode::UpstreamFailed
        } else if self.could_not_run {
            ExitCode::CouldNotRun
        } else if self.ok() {
            ExitCode::Success
        } else {
            ExitCode::CheckFailed
        }
    }

    /// The section as JSON: common fields first, then the tool's data.
    pub fn to_value(&self) -> Value {
        let mut out = Map::new();
        out.insert("tool".into(), Value::from(self.tool.clone()));
        out.insert("version".into(), Value::from(self.version.clone()));
        out.insert("ok".into(), Value::from(self.ok()));
        // Millisecond precision in UTC, e.g. 2026-05-05T13:41:02.120Z.
        let started_at = self
            .started_at
            .round(jiff::Unit::Millisecond)
            .unwrap_or(self.started_at);
        out.insert("started_at".into(), Value::from(started_at.to_string()));
        out.insert("elapsed_ms".into(), Value::from(self.elapsed_ms));
        out.insert(
            "checks".into(),
            serde_json::to_value(&self.checks).unwrap_or_else(|_| Value::Array(Vec::new())),
        );
        for (key, value) in &self.data {
            out.insert(key.clone(), value.clone());
        }
        Value::Object(out)
    }
}

/// Collects checks and data while a tool works; [`SectionBuilder::finish`] stops the clock.
#[derive(Debug)]
pub struct SectionBuilder {
    tool: String,
    version: String,
    started_at: jiff::Timestamp,
    started: Instant,
    checks: Vec<Check>,
    data: Map<String, Value>,
    upstream_failed: bool,
    could_not_run: bool,
}

impl SectionBuilder {
    #[must_use]
    pub fn check(mut self, check: Check) -> Self {
        self.checks.push(check);
        self
    }

    pub fn push_check(&mut self, check: Check) {
        self.checks.push(check);
    }

    pub fn checks(&self) -> &[Check] {
        &self.checks
    }

    /// Adds one of the tool's own keys. The common field names are reserved.
    #[must_use]
    pub fn data(mut self, key: &str, value: Value) -> Self {
        self.insert_data(key, value);
        self
    }

    pub fn insert_data(&mut self, key: &str, value: Value) {
        debug_assert!(
            ![
                "tool",
                "version",
                "ok",
                "started_at",
                "elapsed_ms",
                "checks"
            ]
            .contains(&key),
            "{key} is a common section field"
        );
        self.data.insert(key.to_owned(), value);
    }

    /// Marks the section as not done because an earlier section failed.
    pub fn mark_upstream_failed(&mut self) {
        self.upstream_failed = true;
    }

    /// Marks the section as not done because something it needs was out of reach (exit 4).
    /// Add a failed check that says what.
    pub fn mark_could_not_run(&mut self) {
        self.could_not_run = true;
    }

    pub fn finish(self) -> Section {
        let elapsed_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        Section {
            tool: self.tool,
            version: self.version,
            started_at: self.started_at,
            elapsed_ms,
            checks: self.checks,
            data: self.data,
            upstream_failed: self.upstream_failed,
            could_not_run: self.could_not_run,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_pass_failures_fail() {
        let s = Section::builder("t", "1")
            .check(Check::ok("a", ""))
            .check(Check::warn("b", ""))
            .finish();
        assert!(s.ok());
        assert_eq!(s.exit_code(), ExitCode::Success);
        let s = Section::builder("t", "1")
            .check(Check::fail("a", ""))
            .check(Check::skip("b", ""))
            .finish();
        assert!(!s.ok());
        assert_eq!(s.exit_code(), ExitCode::CheckFailed);
    }

    #[test]
    fn upstream_failure_and_could_not_run_have_their_own_codes() {
        let mut b = Section::builder("t", "1");
        b.mark_could_not_run();
        assert_eq!(b.finish().exit_code(), ExitCode::CouldNotRun);
        let mut b = Section::builder("t", "1");
        b.mark_could_not_run();
        b.mark_upstream_failed();
        let s = b.finish();
        assert!(!s.ok());
        assert_eq!(s.exit_code(), ExitCode::UpstreamFailed);
    }

    #[test]
    fn common_fields_come_first_and_started_at_is_utc() {
        let v = Section::builder("t", "1")
            .data("x", Value::from(1))
            .finish()
            .to_value();
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "tool",
                "version",
                "ok",
                "started_at",
                "elapsed_ms",
                "checks",
                "x"
            ]
        );
        assert!(v["started_at"].as_str().unwrap().ends_with('Z'));
    }
}

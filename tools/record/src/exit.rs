//! The exit codes every tool uses. Shell scripts and Ansible branch on them: a code never
//! changes meaning, and a code a reader does not know means failure.

/// Process exit status, the same for every tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitCode {
    /// 0: every check ok (warnings allowed).
    Success,
    /// 1: a check failed, or the action failed and was rolled back.
    CheckFailed,
    /// 2: usage or input error: bad flag, unreadable or invalid JSON, unknown record version.
    Usage,
    /// 3: an earlier section of the record failed; nothing was done.
    UpstreamFailed,
    /// 4: could not run, e.g. Postgres or restic unreachable.
    CouldNotRun,
}

impl ExitCode {
    pub const fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::CheckFailed => 1,
            Self::Usage => 2,
            Self::UpstreamFailed => 3,
            Self::CouldNotRun => 4,
        }
    }

    /// What the code means, as the man pages say it.
    pub const fn meaning(self) -> &'static str {
        match self {
            Self::Success => "all checks ok (warnings allowed)",
            Self::CheckFailed => "a check failed, or the action failed and was rolled back",
            Self::Usage => {
                "usage or input error (bad flag, unreadable or invalid JSON, unknown record version)"
            }
            Self::UpstreamFailed => "an earlier section of the record failed; nothing was done",
            Self::CouldNotRun => "could not run (e.g. Postgres or restic unreachable)",
        }
    }

    pub const ALL: [Self; 5] = [
        Self::Success,
        Self::CheckFailed,
        Self::Usage,
        Self::UpstreamFailed,
        Self::CouldNotRun,
    ];
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        Self::from(code.code())
    }
}

#[cfg(test)]
mod tests {
    use super::ExitCode;

    #[test]
    fn codes_are_the_documented_ones() {
        let codes: Vec<u8> = ExitCode::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(codes, [0, 1, 2, 3, 4]);
    }
}

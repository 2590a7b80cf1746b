//! The error a tool's `run` returns: a message for people and the exit code it means.

use record::{ExitCode, RecordError};
use std::fmt;

/// An error that ends a tool: it knows its exit code.
#[derive(Debug)]
pub struct ToolError {
    code: ExitCode,
    message: String,
}

pub type ToolResult<T> = Result<T, ToolError>;

impl ToolError {
    /// Bad flag value, bad input file, invalid JSON: exit 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: ExitCode::Usage,
            message: message.into(),
        }
    }

    /// Something the tool needs is out of reach (a server, a binary): exit 4.
    pub fn could_not_run(message: impl Into<String>) -> Self {
        Self {
            code: ExitCode::CouldNotRun,
            message: message.into(),
        }
    }

    /// The tool before this one failed or wrote nothing; nothing was done: exit 3.
    pub fn upstream(message: impl Into<String>) -> Self {
        Self {
            code: ExitCode::UpstreamFailed,
            message: message.into(),
        }
    }

    /// The action failed (and was rolled back): exit 1.
    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            code: ExitCode::CheckFailed,
            message: message.into(),
        }
    }

    pub fn code(&self) -> ExitCode {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// Puts context in front: `reading 'x.json': <message>`.
    #[must_use]
    pub fn context(self, context: impl fmt::Display) -> Self {
        Self {
            code: self.code,
            message: format!("{context}: {}", self.message),
        }
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ToolError {}

impl From<RecordError> for ToolError {
    fn from(error: RecordError) -> Self {
        Self::usage(error.to_string())
    }
}

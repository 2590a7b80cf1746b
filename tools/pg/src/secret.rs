//! A password that cannot be printed by accident.
//!
//! `Debug` and `Display` show a placeholder, so a password inside settings, errors or log lines
//! formatted with `{:?}` never appears. The only way to the text is [`Password::expose`], which
//! is easy to find in review.

use std::fmt;

/// A password. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(password: impl Into<String>) -> Self {
        Self(password.into())
    }

    /// The password itself, for handing to the server or to a child's PGPASSWORD.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(********)")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

#[cfg(test)]
mod tests {
    use super::Password;

    #[test]
    fn never_printed() {
        let p = Password::new("hunter2");
        assert!(!format!("{p:?}").contains("hunter2"));
        assert!(!format!("{p}").contains("hunter2"));
        assert!(!format!("{:?}", Some(&p)).contains("hunter2"));
        assert_eq!(p.expose(), "hunter2");
    }
}

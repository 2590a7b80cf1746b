//! Where libpq's defaults come from: environment variables, the OS user, the home directory.
//!
//! Resolution takes an [`Environment`] instead of reading the process environment itself, so
//! tests (and tools that build a child's environment) can say exactly what is set without
//! touching the process's own variables.

use std::collections::HashMap;
use std::path::PathBuf;

type Lookup<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

/// A value found the usual way, or one a caller decided on (possibly "there is none").
#[derive(Debug, Clone)]
enum Chosen<T> {
    Usual,
    Given(Option<T>),
}

/// The variables, OS user name and home directory that connection settings are resolved from.
pub struct Environment<'a> {
    lookup: Lookup<'a>,
    /// Usual: ask the OS when needed.
    os_user: Chosen<String>,
    /// Usual: `HOME` from the variables.
    home: Chosen<PathBuf>,
}

impl Environment<'static> {
    /// The process's own environment, OS user and `HOME`, as libpq would see them. A variable
    /// whose value is not UTF-8 counts as unset.
    pub fn process() -> Self {
        Self::from_fn(|name| std::env::var(name).ok())
    }

    /// Exactly these variables and no others (`HOME` among them, if wanted). The OS user name
    /// still comes from the OS unless [`Environment::with_os_user`] says otherwise.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let map: HashMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self::from_fn(move |name| map.get(name).cloned())
    }
}

impl<'a> Environment<'a> {
    /// Variables looked up through `lookup`.
    pub fn from_fn(lookup: impl Fn(&str) -> Option<String> + 'a) -> Self {
        Self {
            lookup: Box::new(lookup),
            os_user: Chosen::Usual,
            home: Chosen::Usual,
        }
    }

    /// Uses this as the OS user name (libpq's default user) instead of asking the OS.
    #[must_use]
    pub fn with_os_user(mut self, user: Option<&str>) -> Self {
        self.os_user = Chosen::Given(user.map(str::to_owned));
        self
    }

    /// Uses this home directory (for `~/.pgpass` and `~/.postgresql/root.crt`) instead of `HOME`.
    #[must_use]
    pub fn with_home(mut self, home: Option<PathBuf>) -> Self {
        self.home = Chosen::Given(home);
        self
    }

    pub fn var(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
    }

    /// libpq's default user: the name of the effective OS user.
    pub fn os_user(&self) -> Option<String> {
        match &self.os_user {
            Chosen::Given(user) => user.clone(),
            Chosen::Usual => whoami::username().ok(),
        }
    }

    /// The home directory: `HOME` if set and not empty. (libpq would also ask the password
    /// database when `HOME` is unset; a restore tool always runs with `HOME`.)
    pub fn home(&self) -> Option<PathBuf> {
        match &self.home {
            Chosen::Given(home) => home.clone(),
            Chosen::Usual => self
                .var("HOME")
                .filter(|h| !h.is_empty())
                .map(PathBuf::from),
        }
    }
}

impl std::fmt::Debug for Environment<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The variables may hold PGPASSWORD: never list them.
        f.debug_struct("Environment").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::Environment;
    use std::path::PathBuf;

    #[test]
    fn pairs_and_overrides() {
        let env = Environment::from_pairs([("PGHOST", "db1"), ("HOME", "/home/a")])
            .with_os_user(Some("alice"));
        assert_eq!(env.var("PGHOST").as_deref(), Some("db1"));
        assert_eq!(env.var("PGPORT"), None);
        assert_eq!(env.os_user().as_deref(), Some("alice"));
        assert_eq!(env.home(), Some(PathBuf::from("/home/a")));
        let env = env.with_home(None).with_os_user(None);
        assert_eq!(env.home(), None);
        assert_eq!(env.os_user(), None);
    }

    #[test]
    fn empty_home_is_no_home() {
        let env = Environment::from_pairs([("HOME", "")]);
        assert_eq!(env.home(), None);
    }

    #[test]
    fn debug_lists_no_values() {
        let env = Environment::from_pairs([("PGPASSWORD", "hunter2")]);
        assert!(!format!("{env:?}").contains("hunter2"));
    }
}

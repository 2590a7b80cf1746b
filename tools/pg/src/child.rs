//! The environment that makes a libpq program (pg_restore, psql) connect exactly as we do.
//!
//! Settings travel as PG* variables, never as arguments: argv is visible to every user on the
//! host, the environment is not. The password goes only as PGPASSWORD; a password that came
//! from the password file is not copied out, the child is pointed at the same file instead.
//! Every other libpq variable the parent had is removed, so nothing the operator's shell set
//! (PGSERVICE, PGOPTIONS, PGSSLCERT...) makes the child connect differently from us.

use crate::settings::{ConnSettings, Endpoint, SslRootCert};
use std::fmt;
use std::process::Command;

/// Every variable libpq reads for a connection or a session default.
pub const LIBPQ_ENV_VARS: &[&str] = &[
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGDATABASE",
    "PGUSER",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGOPTIONS",
    "PGAPPNAME",
    "PGSSLMODE",
    "PGREQUIRESSL",
    "PGSSLNEGOTIATION",
    "PGSSLCOMPRESSION",
    "PGSSLCERT",
    "PGSSLKEY",
    "PGSSLCERTMODE",
    "PGSSLROOTCERT",
    "PGSSLCRL",
    "PGSSLCRLDIR",
    "PGSSLSNI",
    "PGSSLKEYLOGFILE",
    "PGREQUIREPEER",
    "PGREQUIREAUTH",
    "PGSSLMINPROTOCOLVERSION",
    "PGSSLMAXPROTOCOLVERSION",
    "PGMINPROTOCOLVERSION",
    "PGMAXPROTOCOLVERSION",
    "PGGSSENCMODE",
    "PGKRBSRVNAME",
    "PGGSSLIB",
    "PGGSSDELEGATION",
    "PGCHANNELBINDING",
    "PGCONNECT_TIMEOUT",
    "PGCLIENTENCODING",
    "PGTARGETSESSIONATTRS",
    "PGLOADBALANCEHOSTS",
    "PGDATESTYLE",
    "PGTZ",
    "PGGEQO",
    "PGSYSCONFDIR",
];

/// Variables to set and to remove for a child process. `Debug` hides PGPASSWORD.
#[derive(Clone)]
pub struct ChildEnv {
    set: Vec<(&'static str, String)>,
    remove: Vec<&'static str>,
}

impl ChildEnv {
    /// The variables to set, PGPASSWORD among them when a password was given.
    pub fn vars(&self) -> &[(&'static str, String)] {
        &self.set
    }

    /// The libpq variables to remove from an inherited environment (none of them is set).
    pub fn removed(&self) -> &[&'static str] {
        &self.remove
    }

    /// Removes the inherited libpq variables from `cmd` and sets ours.
    pub fn apply<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        for var in &self.remove {
            cmd.env_remove(var);
        }
        cmd.envs(self.set.iter().map(|(k, v)| (*k, v.as_str())))
    }
}

impl fmt::Debug for ChildEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<(&str, &str)> = self
            .set
            .iter()
            .map(|(k, v)| {
                (
                    *k,
                    if *k == "PGPASSWORD" {
                        "********"
                    } else {
                        v.as_str()
                    },
                )
            })
            .collect();
        f.debug_struct("ChildEnv")
            .field("set", &shown)
            .field("remove", &self.remove)
            .finish()
    }
}

impl ConnSettings {
    /// The environment for a libpq child process (pg_restore, psql) that makes it connect to
    /// the same server(s), as the same user, to the same database, with the same TLS rules.
    pub fn child_env(&self) -> ChildEnv {
        let mut set: Vec<(&'static str, String)> = Vec::new();
        let targets = self.targets();
        let hosts: Vec<String> = targets
            .iter()
            .map(|t| match t.endpoint() {
                Endpoint::Socket(dir) => dir.display().to_string(),
                Endpoint::Tcp { host, .. } => host.clone().unwrap_or_default(),
            })
            .collect();
        let addrs: Vec<String> = targets
            .iter()
            .map(|t| match t.endpoint() {
                Endpoint::Tcp {
                    hostaddr: Some(addr),
                    ..
                } => addr.to_string(),
                _ => String::new(),
            })
            .collect();
        if hosts.iter().any(|h| !h.is_empty()) {
            set.push(("PGHOST", hosts.join(",")));
        }
        if addrs.iter().any(|a| !a.is_empty()) {
            set.push(("PGHOSTADDR", addrs.join(",")));
        }
        let ports: Vec<String> = targets.iter().map(|t| t.port().to_string()).collect();
        set.push(("PGPORT", ports.join(",")));
        set.push(("PGUSER", self.user().to_owned()));
        set.push(("PGDATABASE", self.dbname().to_owned()));
        match self.password() {
            Some(password) => set.push(("PGPASSWORD", password.expose().to_owned())),
            None => {
                if let Some(passfile) = self.passfile() {
                    set.push(("PGPASSFILE", passfile.display().to_string()));
                }
            }
        }
        set.push(("PGSSLMODE", self.sslmode().as_str().to_owned()));
        if self.sslrootcert_explicit() {
            match self.sslrootcert() {
                Some(SslRootCert::System) => set.push(("PGSSLROOTCERT", "system".to_owned())),
                Some(SslRootCert::File(path)) => {
                    set.push(("PGSSLROOTCERT", path.display().to_string()));
                }
                None => {}
            }
        }
        if let Some(timeout) = self.connect_timeout() {
            set.push(("PGCONNECT_TIMEOUT", timeout.as_secs().to_string()));
        }
        if let Some(name) = self.application_name() {
            set.push(("PGAPPNAME", name.to_owned()));
        }
        let remove = LIBPQ_ENV_VARS
            .iter()
            .copied()
            .filter(|var| !set.iter().any(|(k, _)| k == var))
            .collect();
        ChildEnv { set, remove }
    }
}

#[cfg(test)]
mod tests {
    use crate::env::Environment;
    use crate::settings::ConnSettings;

    fn settings(dsn: &str) -> ConnSettings {
        ConnSettings::resolve(
            Some(dsn),
            &Environment::from_pairs([("HOME", "/home/u")]).with_os_user(Some("u")),
        )
        .unwrap()
    }

    fn get<'a>(env: &'a super::ChildEnv, var: &str) -> Option<&'a str> {
        env.vars()
            .iter()
            .find(|(k, _)| *k == var)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn carries_every_setting() {
        let env = settings(
            "host=db1,/tmp/sock port=5433,5434 user=alice dbname=gordon password=pw sslmode=verify-full \
             sslrootcert=/etc/ca.pem connect_timeout=9 application_name=swap",
        )
        .child_env();
        assert_eq!(get(&env, "PGHOST"), Some("db1,/tmp/sock"));
        assert_eq!(get(&env, "PGPORT"), Some("5433,5434"));
        assert_eq!(get(&env, "PGUSER"), Some("alice"));
        assert_eq!(get(&env, "PGDATABASE"), Some("gordon"));
        assert_eq!(get(&env, "PGPASSWORD"), Some("pw"));
        assert_eq!(get(&env, "PGSSLMODE"), Some("verify-full"));
        assert_eq!(get(&env, "PGSSLROOTCERT"), Some("/etc/ca.pem"));
        assert_eq!(get(&env, "PGCONNECT_TIMEOUT"), Some("9"));
        assert_eq!(get(&env, "PGAPPNAME"), Some("swap"));
        assert_eq!(get(&env, "PGHOSTADDR"), None);
        assert_eq!(get(&env, "PGPASSFILE"), None);
        // Nothing is both set and removed; everything else libpq reads is removed.
        for (k, _) in env.vars() {
            assert!(!env.removed().contains(k), "{k}");
        }
        for var in [
            "PGSERVICE",
            "PGOPTIONS",
            "PGSSLCERT",
            "PGHOSTADDR",
            "PGPASSFILE",
            "PGREQUIRESSL",
        ] {
            assert!(env.removed().contains(&var), "{var}");
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let env = settings("password=hunter2").child_env();
        assert!(!format!("{env:?}").contains("hunter2"));
        assert!(format!("{env:?}").contains("PGUSER"));
    }

    #[test]
    fn without_a_password_the_child_gets_the_same_password_file() {
        let env = settings("host=db1").child_env();
        assert_eq!(get(&env, "PGPASSWORD"), None);
        assert_eq!(get(&env, "PGPASSFILE"), Some("/home/u/.pgpass"));
        assert!(env.removed().contains(&"PGPASSWORD"));
        // The default root certificate is libpq's default too: not spelled out.
        assert_eq!(get(&env, "PGSSLROOTCERT"), None);
        assert_eq!(get(&env, "PGSSLMODE"), Some("prefer"));
    }

    #[test]
    fn hostaddr_lists_line_up() {
        let env = settings("host=a,b hostaddr=10.0.0.1,").child_env();
        assert_eq!(get(&env, "PGHOST"), Some("a,b"));
        assert_eq!(get(&env, "PGHOSTADDR"), Some("10.0.0.1,"));
    }

    #[test]
    fn apply_sets_and_removes() {
        let env = settings("host=db1 password=pw").child_env();
        let mut cmd = std::process::Command::new("true");
        cmd.env("PGSERVICE", "prod").env("PGHOST", "elsewhere");
        env.apply(&mut cmd);
        let envs: Vec<(String, Option<String>)> = cmd
            .get_envs()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.map(|v| v.to_string_lossy().into_owned()),
                )
            })
            .collect();
        assert!(envs.contains(&("PGSERVICE".into(), None)));
        assert!(envs.contains(&("PGHOST".into(), Some("db1".into()))));
        assert!(envs.contains(&("PGPASSWORD".into(), Some("pw".into()))));
    }
}

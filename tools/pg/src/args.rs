//! `--dsn`, the one connection flag every tool that reaches PostgreSQL shares.
//!
//! The flag's text is kept raw and parsed only by [`ConnArgs::resolve`]: a parse error inside
//! clap would print the value back, and the value may hold a password.

use crate::env::Environment;
use crate::error::ConnectError;
use crate::settings::ConnSettings;
use std::fmt;

const DSN_HELP: &str =
    "Connection string: key=value pairs or a postgresql:// URI [default: PG* variables]";

const DSN_LONG_HELP: &str = "\
How to reach PostgreSQL, exactly as libpq programs (psql, pg_restore) are told: a conninfo string \
of key=value pairs (host=/var/run/postgresql port=5432 dbname=gordon user=postgres \
sslmode=verify-full), or a URI (postgresql://user@db1:5432,db2:5432/gordon?sslmode=require; \
a Unix-socket directory goes in percent-encoded, postgresql://%2Fvar%2Frun%2Fpostgresql/gordon, \
or as ?host=/var/run/postgresql).

Keys: host, hostaddr, port, user, password, passfile, dbname, sslmode (disable, allow, prefer, \
require, verify-ca, verify-full), sslrootcert (a PEM file, or 'system'), connect_timeout \
(seconds), application_name.

Whatever --dsn does not set comes from the environment: PGHOST, PGHOSTADDR, PGPORT, PGUSER, \
PGPASSWORD, PGDATABASE, PGPASSFILE, PGSSLMODE, PGSSLROOTCERT, PGCONNECT_TIMEOUT, PGAPPNAME; \
then from libpq's defaults: the socket in /var/run/postgresql, port 5432, the OS user, a \
database named like the user, sslmode=prefer.

With no password given, it is looked up in the password file (PGPASSFILE, else ~/.pgpass; \
lines host:port:database:user:password, * matches anything), which is ignored unless only its \
owner can read it (chmod 0600). Prefer PGPASSWORD or the password file to a password in --dsn: \
other users on the host can see command lines.";

/// The `--dsn` flag. Flatten it into a tool's clap definition with `#[command(flatten)]`.
#[derive(Clone, Default, clap::Args)]
pub struct ConnArgs {
    #[arg(long, value_name = "CONNINFO|URI", help = DSN_HELP, long_help = DSN_LONG_HELP)]
    pub dsn: Option<String>,
}

impl ConnArgs {
    /// Resolves `--dsn` against the process's environment.
    pub fn resolve(&self) -> Result<ConnSettings, ConnectError> {
        self.resolve_with(&Environment::process())
    }

    /// Resolves `--dsn` against `env`.
    pub fn resolve_with(&self, env: &Environment<'_>) -> Result<ConnSettings, ConnectError> {
        ConnSettings::resolve(self.dsn.as_deref(), env)
    }
}

impl fmt::Debug for ConnArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The DSN may hold a password: say only whether there is one.
        f.debug_struct("ConnArgs")
            .field("dsn", &self.dsn.as_ref().map(|_| "<given>"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::ConnArgs;
    use crate::env::Environment;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        conn: ConnArgs,
    }

    fn env() -> Environment<'static> {
        Environment::from_pairs([("PGHOST", "envhost"), ("PGUSER", "envuser")])
            .with_os_user(Some("os"))
    }

    #[test]
    fn dsn_flag_resolves_over_the_environment() {
        let cli = Cli::try_parse_from(["tool", "--dsn", "postgresql://u@h:6000/db"]).unwrap();
        assert_eq!(
            cli.conn.resolve_with(&env()).unwrap().describe(),
            "u@h:6000/db"
        );
        let cli = Cli::try_parse_from(["tool", "--dsn=host=h2 dbname=d"]).unwrap();
        assert_eq!(
            cli.conn.resolve_with(&env()).unwrap().describe(),
            "envuser@h2:5432/d"
        );
    }

    #[test]
    fn no_flag_means_the_environment() {
        let cli = Cli::try_parse_from(["tool"]).unwrap();
        assert_eq!(
            cli.conn.resolve_with(&env()).unwrap().describe(),
            "envuser@envhost:5432/envuser"
        );
    }

    #[test]
    fn a_bad_dsn_is_a_usage_error_at_resolve_time() {
        let cli =
            Cli::try_parse_from(["tool", "--dsn", "postgresql://u:hunter2@h/db?bogus=1"]).unwrap();
        let e = cli.conn.resolve_with(&env()).unwrap_err();
        assert!(e.is_usage());
        assert!(!e.to_string().contains("hunter2"));
    }

    #[test]
    fn debug_hides_the_dsn() {
        let cli = Cli::try_parse_from(["tool", "--dsn", "password=hunter2"]).unwrap();
        assert!(!format!("{cli:?}").contains("hunter2"));
    }

    #[test]
    fn help_explains_the_environment_and_pgpass() {
        use clap::CommandFactory;
        let help = Cli::command().render_long_help().to_string();
        for needle in [
            "--dsn <CONNINFO|URI>",
            "PGHOST",
            "PGPASSWORD",
            "PGSSLMODE",
            "~/.pgpass",
            "0600",
        ] {
            assert!(help.contains(needle), "{needle} missing from:\n{help}");
        }
    }
}

//! Reaching PostgreSQL as libpq users expect, for every tool of the project.
//!
//! - [`ConnArgs`]: the `--dsn` flag (a conninfo string or a `postgresql://` URI);
//! - [`ConnSettings::resolve`]: `--dsn`, then the PG* variables, then libpq's defaults, with
//!   the password file for hosts without a password; the environment is a parameter
//!   ([`Environment`]), so tests never touch the process's own;
//! - [`connect`]: tokio-postgres over TCP or a Unix socket, TLS through rustls with libpq's
//!   sslmode rules, connect_timeout, several hosts;
//! - [`ConnectError`]: one line saying where and why, never a password, and whether it is a
//!   usage error (exit 2) or a could-not-run (exit 4);
//! - [`ConnSettings::describe`] for logs, [`ConnSettings::child_env`] for pg_restore and psql;
//! - [`Ident`]: identifiers that always quote themselves.
//!
//! The rules follow libpq's own source (fe-connect.c, fe-secure-openssl.c); each module says
//! which, and where we differ.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let settings = pg::ConnSettings::resolve(Some("postgresql:///gordon"), &pg::Environment::process())?;
//! for warning in settings.warnings() {
//!     eprintln!("[WARN ] {warning}");
//! }
//! let (client, _task) = pg::connect(&settings).await?;
//! let schema = pg::Ident::new("trading")?;
//! client.simple_query(&format!("SET search_path TO {schema}")).await?;
//! # Ok(()) }
//! ```

mod args;
mod bindir;
pub mod catalog;
mod child;
mod connect;
mod conninfo;
mod env;
mod error;
mod ident;
mod options;
mod pgpass;
mod retarget;
mod secret;
mod settings;
mod tls;
mod uri;

pub use args::ConnArgs;
pub use bindir::{
    NoFit, PgRestore, Requirement, choose as choose_pg_restore, find_all as find_all_pg_restore,
    find_pg_restore, parse_version as parse_pg_restore_version, probe as probe_pg_restore,
    search_dirs as pg_restore_search_dirs,
};
pub use child::{ChildEnv, LIBPQ_ENV_VARS};
pub use connect::{ConnectionTask, connect};
pub use env::Environment;
pub use error::{ConnectError, ErrorKind};
pub use ident::{Ident, IdentError, MAX_IDENT_BYTES};
pub use retarget::{dsn_with_dbname, settings_for};
pub use secret::Password;
pub use settings::{
    ConnSettings, DEFAULT_PORT, DEFAULT_SOCKET_DIR, Endpoint, SslMode, SslRootCert, Target,
};
/// The tokio-postgres this crate connects with, so tools use the very same `Client` type.
pub use tokio_postgres;

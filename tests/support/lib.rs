//! Test harness: real PostgreSQL clusters, real restic repositories, and the record's schema.
//!
//! Everything here panics with a message that says what to install or fix: it runs only in
//! tests, where a panic is a failed test with a reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

pub mod oracle;
pub mod pg;
pub mod restic;
pub mod schema;

pub use pg::{PgCluster, PgInstall, PgOptions};
pub use restic::ResticRepo;

/// A binary of another crate of the workspace, built beside the running test's own
/// (`target/<profile>/`): `cargo test --workspace` builds them all.
pub fn workspace_bin(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join(name);
    assert!(
        path.is_file(),
        "{name} is not built in {}: run 'cargo test --workspace'",
        path.display()
    );
    path
}

//! Waiting for a server that is still starting. Preflight connects to two databases, the
//! maintenance one (to see and create the target) and the target itself, with
//! `pg::settings_for`.

use pg::tokio_postgres::Client;
use pg::{ConnSettings, ConnectError, ErrorKind};
use std::time::{Duration, Instant};

pub use pg::settings_for;

/// Whether a failed connection may work a little later: the server is not up yet, is starting
/// or shutting down. A refusal (wrong password, no pg_hba.conf entry) never gets better.
pub fn worth_retrying(error: &ConnectError) -> bool {
    match error.kind() {
        ErrorKind::Unreachable | ErrorKind::Timeout | ErrorKind::Other => true,
        ErrorKind::Rejected => {
            let m = error.message();
            [
                "starting up",
                "not yet accepting connections",
                "shutting down",
                "in recovery mode",
            ]
            .iter()
            .any(|needle| m.contains(needle))
        }
        _ => false,
    }
}

/// Connects, retrying every half second while [`worth_retrying`] and `wait` has not passed.
/// Returns the client and how long it waited; `on_wait` is called once, on the first retry.
pub async fn connect_waiting(
    settings: &ConnSettings,
    wait: Duration,
    mut on_wait: impl FnMut(&ConnectError),
) -> Result<(Client, Duration), ConnectError> {
    let started = Instant::now();
    let deadline = started + wait;
    let mut told = false;
    loop {
        match pg::connect(settings).await {
            Ok((client, _task)) => return Ok((client, started.elapsed())),
            Err(error)
                if worth_retrying(&error)
                    && Instant::now() + Duration::from_millis(500) <= deadline =>
            {
                if !told {
                    on_wait(&error);
                    told = true;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(error) => return Err(error),
        }
    }
}

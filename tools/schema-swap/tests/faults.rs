//! schema-swap must be impossible to lose data with: killed at any moment, the server gone
//! mid-restore, a corrupt dump, a missing role, a restore failing at its end. Each time the
//! database afterwards holds the original schema untouched and no partial schema.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // in tests a panic is a failed test with a line number; a scenario reads top to bottom

mod common;

use common::{Setup, TARGET, failed_checks, record};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Runs a swap to its end once, to learn how long one takes here.
fn timed_swap(setup: &Setup) -> Duration {
    let started = Instant::now();
    setup.swap_ok(&[]);
    started.elapsed()
}

/// How long a warm swap takes here: the faster of two, each rolled back. The first one runs
/// on a cold cache and can be much slower, which would spread the kills past the commit.
fn warm_swap_time(setup: &Setup) -> Duration {
    (0..2)
        .map(|_| {
            let took = timed_swap(setup);
            setup.tool_ok(["--schema", "trading", "--rollback", "--yes"]);
            took
        })
        .min()
        .unwrap()
}

#[test]
fn killed_at_twenty_moments_the_database_stays_as_it_was() {
    let setup = Setup::new(16, 120_000);
    let source = setup.fingerprint(common::SOURCE);
    setup.damage();
    // Full swaps, each rolled back, to measure the span the kills are spread over.
    let took = warm_swap_time(&setup);
    let names = setup.schemas();
    for name in names.iter().filter(|n| n.as_str() != "trading") {
        setup
            .cluster
            .psql(TARGET, &format!("DROP SCHEMA \"{name}\" CASCADE"));
    }
    let before = setup.fingerprint(TARGET);
    assert_eq!(setup.schemas(), ["trading"]);

    let runs = 20;
    let mut outcomes = Vec::new();
    for run in 0..runs {
        // Spread from the very start to just past the expected end.
        let delay = took.mul_f64(f64::from(run) / f64::from(runs - 1) * 1.05);
        let mut child = setup
            .tool_process()
            .args(["--schema", "trading", "--yes", "--dump"])
            .arg(&setup.dump)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL, whatever it was doing
        let status = child.wait().unwrap();
        setup.wait_for_no_swap_session();
        // Atomic means one of two states: untouched, or the whole verified swap committed
        // (the kill came after COMMIT).
        let schemas = setup.schemas();
        if schemas == ["trading"] {
            assert_eq!(
                setup.fingerprint(TARGET),
                before,
                "run {run} ({delay:?}): untouched"
            );
            outcomes.push(format!("{delay:?}: nothing changed"));
        } else {
            assert_eq!(schemas.len(), 2, "run {run} ({delay:?}): {schemas:?}");
            assert_eq!(
                setup.fingerprint(TARGET),
                source,
                "run {run} ({delay:?}): committed whole"
            );
            setup.tool_ok(["--schema", "trading", "--rollback", "--yes"]);
            for name in setup.schemas().iter().filter(|n| n.as_str() != "trading") {
                setup
                    .cluster
                    .psql(TARGET, &format!("DROP SCHEMA \"{name}\" CASCADE"));
            }
            assert_eq!(
                setup.fingerprint(TARGET),
                before,
                "run {run}: rolled back to the original"
            );
            outcomes.push(format!("{delay:?}: committed ({status})"));
        }
    }
    let untouched = outcomes
        .iter()
        .filter(|o| o.ends_with("nothing changed"))
        .count();
    assert!(
        untouched >= 15,
        "most runs were killed before the commit (a swap took {took:?}): {outcomes:?}"
    );
}

#[test]
fn the_server_stopping_mid_restore_loses_nothing() {
    let setup = Setup::new(16, 150_000);
    setup.damage();
    let before = setup.fingerprint(TARGET);
    let child = setup.spawn_swap();
    // Stop the server once the swap has set the schema aside and is restoring.
    setup.wait_until_copying();
    setup.cluster.stop();
    let out = child.wait_with_output().unwrap();
    setup.cluster.restart();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let rec = record(&out.stdout);
    assert_eq!(rec["swap"]["committed"], false);
    assert!(
        stderr.contains("nothing changed"),
        "says the database is as it was: {stderr}"
    );
    assert_eq!(setup.schemas(), ["trading"]);
    assert_eq!(setup.fingerprint(TARGET), before);
}

#[test]
fn a_corrupt_data_block_is_caught_before_anything_changes() {
    let setup = Setup::new(16, 50_000);
    setup.damage();
    let before = setup.fingerprint(TARGET);
    let mut bytes = std::fs::read(&setup.dump).unwrap();
    // The orders' block is most of the file: damage its middle.
    let at = bytes.len() * 6 / 10;
    for b in &mut bytes[at..at + 64] {
        *b ^= 0x5a;
    }
    let corrupt = setup.cluster.scratch().join("corrupt.dump");
    std::fs::write(&corrupt, bytes).unwrap();
    let started = Instant::now();
    let (rec, stderr) = setup.swap_of_fails(&corrupt);
    assert_eq!(failed_checks(&rec), ["data_blocks"], "{stderr}");
    assert!(
        stderr.contains("nothing was changed") && stderr.contains("trading."),
        "{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    // It never even connected to change anything.
    assert_eq!(rec["swap"]["pg_restore"], serde_json::Value::Null);
    assert_eq!(setup.schemas(), ["trading"]);
    assert_eq!(setup.fingerprint(TARGET), before);
}

#[test]
fn a_missing_role_is_refused_before_anything_changes() {
    // The source's orders belong to a role that the target's cluster no longer has.
    let setup = Setup::with_extra(16, 100, "");
    setup.cluster.psql_script(
        common::SOURCE,
        "CREATE ROLE ghost; ALTER TABLE trading.orders OWNER TO ghost;",
    );
    let dump = setup.dump_as("ghost.dump", &["-Fc"]);
    setup.cluster.psql_script(
        common::SOURCE,
        "ALTER TABLE trading.orders OWNER TO postgres; DROP ROLE ghost;",
    );
    setup.damage();
    let before = setup.fingerprint(TARGET);
    let (rec, stderr) = setup.swap_of_fails(&dump);
    assert_eq!(failed_checks(&rec), ["roles"]);
    assert!(
        stderr.contains("ghost") && stderr.contains("CREATE ROLE \"ghost\";"),
        "{stderr}"
    );
    assert_eq!(setup.schemas(), ["trading"]);
    assert_eq!(setup.fingerprint(TARGET), before);
}

#[test]
fn a_restore_failing_at_its_last_statement_rolls_everything_back() {
    // The materialized view's refresh is the script's last step; on the target the function
    // it calls refuses, so the restore fails after every table was loaded.
    let extra = "CREATE FUNCTION public.guard(n bigint) RETURNS bigint LANGUAGE sql AS 'SELECT n';
                 CREATE MATERIALIZED VIEW trading.zz_guarded AS SELECT public.guard(count(*)) AS n FROM trading.orders;";
    let setup = Setup::with_extra(18, 20_000, extra);
    setup.cluster.psql_script(
        TARGET,
        "CREATE OR REPLACE FUNCTION public.guard(n bigint) RETURNS bigint LANGUAGE plpgsql AS
         $$ BEGIN RAISE EXCEPTION 'guard refuses %', n; END $$;",
    );
    setup.damage();
    let before = setup.fingerprint(TARGET);
    let (rec, stderr) = setup.swap_of_fails(&setup.dump);
    assert_eq!(failed_checks(&rec), ["restore"], "{stderr}");
    assert!(
        stderr.contains("MATERIALIZED VIEW DATA trading.zz_guarded")
            && stderr.contains("guard refuses"),
        "{stderr}"
    );
    assert!(stderr.contains("rolled back, nothing changed"), "{stderr}");
    // Every table had been loaded before the failure.
    let copied: Vec<&serde_json::Value> = rec["swap"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["copied_rows"])
        .collect();
    assert!(copied.iter().all(|c| c.is_u64()), "{copied:?}");
    assert_eq!(setup.schemas(), ["trading"]);
    assert_eq!(setup.fingerprint(TARGET), before);
}

#[test]
fn sigterm_and_sigint_mid_restore_roll_back() {
    let setup = Setup::new(16, 150_000);
    setup.damage();
    let before = setup.fingerprint(TARGET);
    for signal in ["-TERM", "-INT"] {
        let child = setup.spawn_swap();
        setup.wait_until_copying();
        let sent = std::process::Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{signal}: {stderr}");
        let rec = record(&out.stdout);
        assert_eq!(failed_checks(&rec), ["interrupted"], "{signal}: {stderr}");
        assert_eq!(rec["swap"]["committed"], false);
        setup.wait_for_no_swap_session();
        assert_eq!(setup.schemas(), ["trading"], "{signal}");
        assert_eq!(setup.fingerprint(TARGET), before, "{signal}");
    }
}

//! schema-swap must be impossible to lose data with: killed at any moment, the server gone
//! mid-restore, a signal, a restore failing at its end, a corrupt dump, a missing role. Each
//! time the database afterwards holds the original schema untouched, or (a kill after the
//! commit) the whole verified swap, and no partial schema.
//!
//! The moments are observed, never guessed: the swapped schema (the corpus shape
//! `extensions.sql`: `public` with pg_trgm, citext, btree_gist and uuid-ossp, and `kit`, a
//! schema of its own with hstore) is restored through gates (common::Gated), locks the test
//! holds and opens one by one, and the tool's own progress lines. No assertion depends on how
//! fast this machine is.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // in tests a panic is a failed test with a line number; a scenario reads top to bottom

mod common;

use common::{GATES, Gated, GatedSchema, Setup, TARGET, failed_checks, record};
use testkit::oracle::assert_same;

/// Where a kill lands, as the test sees it happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Moment {
    /// At once, wherever the tool is: it cannot be past a closed gate.
    Start,
    /// After the tool said it set the schema aside (inside its transaction).
    SetAside,
    /// While a restore statement waits at this gate: 1 the COPY, 2 an index build, 3 the
    /// materialized view's refresh (the restore's last statement).
    Gate(i32),
    /// After the tool said every row count checked out: just before or just after COMMIT.
    Verified,
    /// After the tool said it committed.
    Committed,
}

const MOMENTS: [Moment; 7] = [
    Moment::Start,
    Moment::SetAside,
    Moment::Gate(1),
    Moment::Gate(2),
    Moment::Gate(3),
    Moment::Verified,
    Moment::Committed,
];

/// Rolls the committed swap back and drops every set-aside copy: the damaged schema again.
fn undo(setup: &Gated) {
    let out = setup
        .tool_process()
        .args(["--schema", setup.name(), "--rollback", "--yes"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    setup.drop_previous();
}

fn killed_at_twenty_moments(schema: GatedSchema) {
    let setup = Gated::new(16, schema);
    setup.damage();
    let before = setup.snapshot();
    // One whole swap: what a committed swap leaves.
    let (code, _, said) = setup.spawn_swap().finish();
    assert_eq!(code, Some(0), "{said}");
    let committed = setup.snapshot();
    undo(&setup);
    assert_same(&before, &setup.snapshot(), "swapped and rolled back");

    for run in 0..20 {
        let moment = MOMENTS[run % MOMENTS.len()];
        let context = format!("{} run {run}, killed at {moment:?}", setup.name());
        let mut gates = setup.hold_gates();
        let mut swap = setup.spawn_swap();
        match moment {
            Moment::Start => {}
            Moment::SetAside => assert!(swap.wait_for_line("set aside as"), "{context}"),
            Moment::Gate(k) => {
                for open in GATES.iter().filter(|&&g| g < k) {
                    gates.release(*open);
                }
                setup.wait_at_gate(k);
            }
            Moment::Verified | Moment::Committed => {
                for open in GATES {
                    gates.release(open);
                }
                let line = if moment == Moment::Verified {
                    "row counts verified"
                } else {
                    "committed in"
                };
                assert!(swap.wait_for_line(line), "{context}: {:?}", swap.said);
            }
        }
        swap.signal("-KILL");
        let _ = swap.finish();
        drop(gates);
        setup.wait_for_no_swap_session();
        let now = setup.snapshot();
        if setup.schemas().len() == 1 {
            // Untouched: the kill came before the commit.
            assert_ne!(moment, Moment::Committed, "{context}: the commit was lost");
            assert_same(&before, &now, &context);
        } else {
            // Only a kill after the verification can find the swap committed, and then whole.
            assert!(
                matches!(moment, Moment::Verified | Moment::Committed),
                "{context}: committed while a gate was closed"
            );
            assert_same(&committed, &now, &context);
            undo(&setup);
            assert_same(&before, &setup.snapshot(), &context);
        }
    }
}

#[test]
fn killed_at_twenty_moments_public_stays_as_it_was() {
    killed_at_twenty_moments(GatedSchema::Public);
}

#[test]
fn killed_at_twenty_moments_a_schema_with_an_extension_stays_as_it_was() {
    killed_at_twenty_moments(GatedSchema::Kit);
}

/// The server stopped (fast shutdown) while the restore waits at the COPY.
fn the_server_stopping_mid_restore(schema: GatedSchema) {
    let setup = Gated::new(16, schema);
    setup.damage();
    let before = setup.snapshot();
    let gates = setup.hold_gates();
    let swap = setup.spawn_swap();
    setup.wait_at_gate(1);
    setup.cluster.stop();
    let (code, stdout, said) = swap.finish();
    drop(gates);
    setup.cluster.restart();
    assert_eq!(code, Some(1), "{said}");
    let rec = record(&stdout);
    assert_eq!(rec["swap"]["committed"], false);
    assert!(said.contains("nothing changed"), "{said}");
    assert_eq!(setup.schemas(), [setup.name()]);
    assert_same(&before, &setup.snapshot(), setup.name());
}

#[test]
fn the_server_stopping_mid_restore_loses_nothing() {
    the_server_stopping_mid_restore(GatedSchema::Public);
    the_server_stopping_mid_restore(GatedSchema::Kit);
}

/// SIGTERM and SIGINT while the restore waits at the COPY and at its last statement.
#[test]
fn sigterm_and_sigint_mid_restore_roll_back() {
    for schema in [GatedSchema::Public, GatedSchema::Kit] {
        let setup = Gated::new(16, schema);
        setup.damage();
        let before = setup.snapshot();
        for (signal, gate) in [("-TERM", 1), ("-INT", 1), ("-TERM", 3), ("-INT", 3)] {
            let context = format!("{} {signal} at gate {gate}", setup.name());
            let mut gates = setup.hold_gates();
            let swap = setup.spawn_swap();
            for open in GATES.iter().filter(|&&g| g < gate) {
                gates.release(*open);
            }
            setup.wait_at_gate(gate);
            swap.signal(signal);
            let (code, stdout, said) = swap.finish();
            drop(gates);
            assert_eq!(code, Some(1), "{context}: {said}");
            let rec = record(&stdout);
            assert_eq!(failed_checks(&rec), ["interrupted"], "{context}: {said}");
            assert_eq!(rec["swap"]["committed"], false);
            setup.wait_for_no_swap_session();
            assert_eq!(setup.schemas(), [setup.name()], "{context}");
            assert_same(&before, &setup.snapshot(), &context);
        }
    }
}

/// The materialized view's refresh is the restore's last statement; on the target the
/// function it calls (outside the schema) refuses, so the restore fails after every table
/// was loaded and every index built.
#[test]
fn a_restore_failing_at_its_last_statement_rolls_everything_back() {
    for schema in [GatedSchema::Public, GatedSchema::Kit] {
        let setup = Gated::new(18, schema);
        setup.cluster.psql_script(
            TARGET,
            "CREATE OR REPLACE FUNCTION guards.guard(n bigint) RETURNS bigint LANGUAGE plpgsql AS
             $$ BEGIN RAISE EXCEPTION 'guard refuses %', n; END $$;",
        );
        setup.damage();
        let before = setup.snapshot();
        let (code, stdout, said) = setup.spawn_swap().finish();
        assert_eq!(code, Some(1), "{said}");
        let rec = record(&stdout);
        assert_eq!(failed_checks(&rec), ["restore"], "{said}");
        assert!(
            said.contains(&format!("MATERIALIZED VIEW DATA {}.zz_gated", setup.name()))
                && said.contains("guard refuses"),
            "{said}"
        );
        assert!(said.contains("rolled back, nothing changed"), "{said}");
        let copied: Vec<&serde_json::Value> = rec["swap"]["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| &t["copied_rows"])
            .collect();
        assert!(copied.iter().all(|c| c.is_u64()), "{copied:?}");
        assert_eq!(setup.schemas(), [setup.name()]);
        assert_same(&before, &setup.snapshot(), setup.name());
    }
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
    let (rec, stderr) = setup.swap_of_fails(&corrupt);
    assert_eq!(failed_checks(&rec), ["data_blocks"], "{stderr}");
    assert!(
        stderr.contains("nothing was changed") && stderr.contains("trading."),
        "{stderr}"
    );
    // It never even connected to change anything.
    assert_eq!(rec["swap"]["pg_restore"], serde_json::Value::Null);
    assert_eq!(setup.schemas(), ["trading"]);
    assert_eq!(setup.fingerprint(TARGET), before);

    // A FIFO with no writer is refused at once, not waited on (opening one blocks).
    let fifo = setup.cluster.scratch().join("dump.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let (rec, stderr) = setup.swap_of_fails(&fifo);
    assert_eq!(failed_checks(&rec), ["dump"], "{stderr}");
    assert!(
        stderr.contains("a FIFO (named pipe), not a file"),
        "{stderr}"
    );
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

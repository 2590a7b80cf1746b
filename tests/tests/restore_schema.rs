//! `scripts/restore-schema` end to end: a real restic repository holding pg_dump archives of
//! the demo schema, a real PostgreSQL 16, and the tool binaries of this workspace.
//!
//! The binaries are found as `every_tool.rs` finds them (next to this test's deps/ directory,
//! so run `cargo test --workspace`), or in `SCHEMA_RESTORE_BIN` when that is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // in tests a panic is a failed test with a line number; a scenario reads top to bottom

mod scenario;

use scenario::{Scenario, TABLES, stderr};
use std::ffi::OsStr;
use std::path::PathBuf;

#[test]
fn a_dropped_schema_comes_back_with_all_rows() {
    let s = Scenario::new();
    let before = s.counts();
    assert_eq!(before.len(), TABLES.len());
    let id = s.backup(&s.dump(), 1);
    s.pg.psql("gordon", "DROP SCHEMA trading CASCADE");

    let out = s.restore(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(s.counts(), before, "every table back with every row");

    let record = s.record();
    assert_eq!(record["snapshot"]["pick"]["short_id"], id.as_str());
    assert_eq!(record["swap"]["committed"], true);
    assert_eq!(record["rowcounts"]["pre"]["total_rows"], 0);
    let total: u64 = before.iter().map(|(_, n)| n.parse::<u64>().unwrap()).sum();
    assert_eq!(record["rowcounts"]["post"]["total_rows"], total);
    let postmortem = std::fs::read_to_string(s.run_dir().join("postmortem.md")).unwrap();
    assert!(postmortem.contains("PASS"), "{postmortem}");
    assert!(
        postmortem.contains(&id),
        "the postmortem names the snapshot"
    );
    assert!(
        postmortem.contains("| trading.equity | – |"),
        "pre-restore counts show the damage: {postmortem}"
    );
    assert!(
        postmortem.contains("- **The schema itself:** created as the dump says"),
        "the postmortem says what became of the schema's own metadata: {postmortem}"
    );
    assert!(stderr(&out).contains("backup timer") || stderr(&out).contains("systemctl"));
    s.assert_nothing_left();
}

#[test]
fn a_corrupted_newest_dump_is_caught_and_the_retry_with_skip_snapshot_succeeds() {
    let s = Scenario::new();
    let before = s.counts();
    let good = s.dump();
    let old = s.backup(&good, 2);
    // The newest dump lost its second half (a disk filled up while pg_dump wrote).
    let newest = s.backup(&good[..good.len() / 2], 1);
    s.pg.psql("gordon", "DROP TABLE trading.equity");
    let damaged = s.counts();

    let out = s.restore(&["--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let record = s.record();
    assert_eq!(record["snapshot"]["pick"]["short_id"], newest.as_str());
    assert_eq!(record["dump"]["ok"], false, "dump-validate caught it");
    assert!(
        record.get("swap").is_none(),
        "nothing ran after the failed validation"
    );
    assert!(
        stderr(&out).contains(&format!("--skip-snapshot {newest}")),
        "the failure says how to retry: {}",
        stderr(&out)
    );
    assert_eq!(s.counts(), damaged, "the failed run changed nothing");
    s.assert_nothing_left();

    let out = s.restore(&["--yes", "--skip-snapshot", &newest]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let record = s.record();
    assert_eq!(record["snapshot"]["pick"]["short_id"], old.as_str());
    assert_eq!(
        s.counts(),
        before,
        "the older snapshot's dump brought every row back"
    );
    s.assert_nothing_left();
}

/// What can be known wrong before step 1 is refused before step 1: exit 2, one line naming
/// what to do, no step run, nothing changed.
#[test]
fn what_is_wrong_before_the_first_step_is_refused_before_it() {
    let s = Scenario::new();
    s.backup(&s.dump(), 1);
    s.pg.psql("gordon", "DROP TABLE trading.fills");
    let damaged = s.counts();
    let refusals: [(&[&str], Option<&str>, &str); 4] = [
        // No terminal to ask on and no --yes: the swap could never be confirmed.
        (&[], None, "no terminal to confirm the swap on: give --yes"),
        (&["--yes", "--before", "yesterday"], None, "yesterday"),
        (
            &["--yes", "--before", "2026-02-30 10:00"],
            None,
            "2026-02-30 10:00",
        ),
        (
            &["--yes"],
            Some("RESTIC_REPOSITORY"),
            "no restic repository: set RESTIC_REPOSITORY",
        ),
    ];
    for (args, unset, message) in refusals {
        let mut cmd = s.command(args);
        if let Some(var) = unset {
            cmd.env_remove(var);
        }
        let out = cmd.output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        let first = err.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("restore-schema: ") && first.contains(message),
            "{args:?}: the first line names the problem: {err}"
        );
        assert!(!err.contains("Step 1"), "{args:?}: a step ran: {err}");
        assert!(
            !s.run_dir().join("timings.tsv").exists(),
            "{args:?}: the run started"
        );
    }
    assert_eq!(s.counts(), damaged, "the database is unchanged");
    assert_eq!(s.schemas(), "trading");
    s.assert_nothing_left();
}

#[test]
fn a_drill_leaves_its_log_and_removes_its_cluster() {
    let s = Scenario::new();
    let id = s.backup(&s.dump(), 1);
    let logs = s.work.path().join("drills");
    let metrics = s.work.path().join("textfile/schema_restore_drill.prom");
    let before = s.counts();

    let out = s.restore(&[
        "--drill",
        "--drill-log-dir",
        logs.to_str().unwrap(),
        "--metrics-file",
        metrics.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let entries: Vec<PathBuf> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let name = entries[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("restore-drill-") && entries[0].extension() == Some(OsStr::new("md")),
        "{name}"
    );
    let log = std::fs::read_to_string(&entries[0]).unwrap();
    for needle in [
        "PASS",
        id.as_str(),
        "| trading.equity |",
        "| schema-swap |",
        "removed afterwards",
    ] {
        assert!(log.contains(needle), "drill log lacks '{needle}':\n{log}");
    }
    let prom = std::fs::read_to_string(&metrics).unwrap();
    assert!(
        prom.contains("\nschema_restore_drill_success 1\n"),
        "{prom}"
    );
    assert!(prom.contains("\nschema_restore_drill_last_run_timestamp_seconds "));

    // The cluster is gone: its directory, and any server process started from it.
    s.assert_nothing_left();
    let tmp = s.tmp().display().to_string();
    for proc_entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(proc_entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            assert!(
                !(cmdline.contains("postgres") && cmdline.contains(&tmp)),
                "a drill server still runs: {cmdline}"
            );
        }
    }
    // The drill never touched the real database.
    assert_eq!(s.counts(), before);
    assert_eq!(s.schemas(), "trading");
}

#[test]
fn one_table_comes_back_alone_and_the_postmortem_shows_what_a_swap_set_aside() {
    let s = Scenario::new();
    let before = s.counts();
    let rows = |counts: &[(String, String)], table: &str| -> u64 {
        counts
            .iter()
            .find(|(t, _)| t == table)
            .map(|(_, n)| n.parse().unwrap())
            .unwrap()
    };
    s.backup(&s.dump(), 1);
    // After the dump: a row written to another table, then a table dropped by mistake.
    s.pg.psql(
        "gordon",
        "INSERT INTO trading.positions VALUES (1, 'AFTER-DUMP', 5)",
    );
    s.pg.psql("gordon", "DROP TABLE trading.fills");

    let out = s.restore(&["--yes", "--table", "fills"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let now = s.counts();
    assert_eq!(rows(&now, "fills"), rows(&before, "fills"));
    assert_eq!(
        rows(&now, "positions"),
        rows(&before, "positions") + 1,
        "the write to another table stays"
    );
    let record = s.record();
    assert_eq!(
        record["swap"]["table_restore"]["tables"][0]["name"],
        "fills"
    );
    assert_eq!(
        record["rowcounts"]["post"]["compare"]["summary"]["changed"],
        0
    );
    let postmortem = std::fs::read_to_string(s.run_dir().join("postmortem.md")).unwrap();
    assert!(postmortem.contains("PASS"), "{postmortem}");
    assert!(
        postmortem.contains("- **Tables restored:** fills; set aside: none (missing live)"),
        "{postmortem}"
    );

    // Rows deleted by mistake come back, the live ones stay as they are.
    s.pg.psql(
        "gordon",
        "DELETE FROM trading.equity WHERE ts::date = (SELECT min(ts)::date FROM trading.equity)",
    );
    assert!(rows(&s.counts(), "equity") < rows(&before, "equity"));
    let out = s.restore(&["--yes", "--table", "equity", "--merge-missing"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(rows(&s.counts(), "equity"), rows(&before, "equity"));
    let merged = &s.record()["swap"]["merged"][0];
    assert_eq!(merged["table"], "equity", "{merged}");
    assert!(merged["came_back"].as_u64().unwrap() > 0, "{merged}");

    // A whole-schema swap sets the row written after the dump aside: the postmortem says so.
    let out = s.restore(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(s.counts(), before);
    let record = s.record();
    let diff = &record["rowcounts"]["setaside"]["diff"];
    let positions = diff["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "positions")
        .unwrap();
    assert_eq!(positions["rows_only_in_other"], 1, "{diff}");
    assert_eq!(diff["summary"]["rows_only_in_other"], 1, "{diff}");
    let postmortem = std::fs::read_to_string(s.run_dir().join("postmortem.md")).unwrap();
    assert!(
        postmortem.contains("## Writes the restore set aside"),
        "{postmortem}"
    );
    assert!(
        postmortem.contains("| positions | bot_id, symbol | 1 | 0 | 0 |"),
        "{postmortem}"
    );
    s.assert_nothing_left();
}

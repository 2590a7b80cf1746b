//! schema-swap through its binary against real PostgreSQL 15, 16, 17 and 18, with dumps made
//! by each version's pg_dump and restored by a real pg_restore.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // in tests a panic is a failed test with a line number; a scenario reads top to bottom

mod common;

use common::{SOURCE, Setup, TARGET, failed_checks, record};
use serde_json::json;
use std::process::Stdio;
use testkit::PgCluster;
use testkit::pg::MAJORS;

#[test]
fn restores_the_schema_exactly_from_every_version() {
    for major in MAJORS {
        let setup = Setup::new(major, 2000);
        let source = setup.fingerprint(SOURCE);
        setup.damage();
        let damaged = setup.fingerprint(TARGET);
        assert_ne!(source, damaged, "{major}: the damage shows");

        let out = setup
            .tool()
            .args(["--schema", "trading", "--dump"])
            .arg(&setup.dump)
            .arg("--yes")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{major}: {stderr}");
        let rec = record(&out.stdout);
        let swap = &rec["swap"];
        assert_eq!(swap["committed"], true, "{major}");
        assert_eq!(rec["schema"], "trading");
        assert_eq!(rec["database"], TARGET);
        let tables = swap["tables"].as_array().unwrap();
        assert!(tables.len() >= 8, "{major}: {tables:?}");
        for table in tables {
            assert_eq!(table["verified"], true, "{major}: {table}");
            assert_eq!(
                table["counted_rows"], table["expected_rows"],
                "{major}: {table}"
            );
        }
        let orders = tables.iter().find(|t| t["name"] == "orders").unwrap();
        assert_eq!(orders["expected_rows"], 2009, "{major}");
        // An enum, identity bigint, text, numeric and timestamptz: all go in binary form; a
        // table without columns has no column list to convert by, and goes as text.
        assert_eq!(orders["copy_format"], "binary", "{major}: {orders}");
        let no_columns = tables.iter().find(|t| t["name"] == "no_columns").unwrap();
        assert_eq!(no_columns["copy_format"], "text", "{major}: {no_columns}");
        assert!(
            stderr.contains("[ OK ] row counts verified"),
            "{major}: {stderr}"
        );

        // The restored schema is the source's, and the damaged one is kept aside, whole.
        assert_eq!(
            setup.fingerprint(TARGET),
            source,
            "{major}: restored = source"
        );
        let previous = swap["previous"].as_str().unwrap().to_owned();
        assert!(previous.starts_with("trading_prev_"), "{previous}");
        assert_eq!(setup.schemas(), ["trading", previous.as_str()], "{major}");
        assert_eq!(
            common::fingerprint(&setup.cluster, TARGET, &previous),
            damaged.replace("trading.", &format!("{previous}.")),
            "{major}: the previous schema holds what was there"
        );
        assert!(
            swap["rollback"]["command"]
                .as_str()
                .unwrap()
                .contains("--rollback --schema trading")
        );

        // A directory-format dump (lz4 where pg_dump has it) replaces it again.
        let compress = if major >= 16 { "--compress=lz4" } else { "-Z1" };
        let dir = setup.dump_as("source.dir", &["-Fd", compress]);
        setup.cluster.psql(TARGET, "DELETE FROM trading.accounts");
        setup.swap_of_ok(&dir, &[]);
        assert_eq!(
            setup.fingerprint(TARGET),
            source,
            "{major}: -Fd restored = source"
        );
        assert_eq!(
            setup.schemas().len(),
            3,
            "{major}: two previous schemas kept"
        );
    }
}

/// A "service" reads public by name in a new session each time, through the extension's
/// type (citext compares without case). While the swap waits at each of its gates (its COPY,
/// an index build, its last statement) the service reads the old rows, without an error;
/// after the commit it reads the restored ones. Both through the extension the swap moved.
#[test]
fn services_see_old_data_until_the_commit_and_new_data_after() {
    let setup = common::Gated::new(16, common::GatedSchema::Public);
    setup.damage();
    let read = || {
        setup.cluster.psql(
            TARGET,
            "SELECT count(*) || ' ' || count(*) FILTER (WHERE handle = 'USER5'::public.citext) FROM public.users",
        )
    };
    let (old, new) = ("19 1", "30 1");
    assert_eq!(read(), old);
    let mut gates = setup.hold_gates();
    let swap = setup.spawn_swap();
    for gate in common::GATES {
        setup.wait_at_gate(gate);
        for _ in 0..3 {
            assert_eq!(read(), old, "while the swap waits at gate {gate}");
        }
        gates.release(gate);
    }
    let (code, _, said) = swap.finish();
    assert_eq!(code, Some(0), "{said}");
    assert_eq!(read(), new, "after the commit");
}

/// While one swap is held at its COPY (a gate the test holds), a second swap of the schema
/// is refused at once (it never waits for the first), and the first then completes.
#[test]
fn a_second_swap_of_the_same_schema_refuses_at_once() {
    let setup = common::Gated::new(16, common::GatedSchema::Public);
    setup.damage();
    let mut gates = setup.hold_gates();
    let first = setup.spawn_swap();
    setup.wait_at_gate(1);
    let second = setup
        .tool_process()
        .args(["--schema", "public", "--yes", "--dump"])
        .arg(&setup.dump)
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(4), "the second could not run");
    let rec = record(&second.stdout);
    assert_eq!(failed_checks(&rec), ["lock"]);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("another schema-swap of \"public\" is running (pid"),
        "{stderr}"
    );
    for gate in common::GATES {
        gates.release(gate);
    }
    let (code, _, said) = first.finish();
    assert_eq!(code, Some(0), "{said}");
    assert_eq!(setup.schemas().len(), 2, "one swap, one previous schema");
}

#[test]
fn dry_runs_refusals_and_earlier_failures_change_nothing() {
    let setup = Setup::new(16, 100);
    setup.damage();
    let before = setup.fingerprint(TARGET);

    let out = setup
        .tool()
        .args(["--schema", "trading", "--dry-run", "--dump"])
        .arg(&setup.dump)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let rec = record(&out.stdout);
    assert_eq!(rec["swap"]["committed"], false);
    let plan = rec["swap"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "plan")
        .unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        plan.contains("dry run, nothing changed: would set \"trading\" aside as \"trading_prev_"),
        "{plan}"
    );
    assert!(plan.contains("8 tables, 727 rows"), "{plan}");

    // No terminal and no --yes: refused, exit 2, the record says why.
    let out = setup
        .tool()
        .args(["--schema", "trading", "--dump"])
        .arg(&setup.dump)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let rec = record(&out.stdout);
    assert_eq!(failed_checks(&rec), ["confirm"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("pass --yes or set RESTORE_SKIP_CONFIRM=1"),
        "{stderr}"
    );

    // An earlier failed section: nothing done, exit 3.
    let upstream = r#"{"record_version":1,"schema":"trading","database":"gordon","check":{"tool":"site-check","version":"1","ok":false,"started_at":"2026-05-05T11:00:00.000Z","elapsed_ms":1,"checks":[{"name":"disk","status":"fail","detail":"full"}]}}"#;
    let out = setup
        .tool()
        .args(["--yes", "--dump"])
        .arg(&setup.dump)
        .write_stdin(upstream)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let rec = record(&out.stdout);
    assert_eq!(rec["swap"]["checks"][0]["status"], "skip");
    assert_eq!(rec["check"]["checks"][0]["detail"], "full", "passed on");

    // Bad input: exit 2, one line and a pointer.
    let out = setup.tool().args(["--schema", "trading"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no dump: give --dump FILE"));
    let out = setup
        .tool()
        .args(["--prune", "--schema", "trading"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = setup
        .tool()
        .args(["--schema", "trading", "--yes", "--dump"])
        .arg(&setup.dump)
        .write_stdin("{not json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    assert_eq!(setup.fingerprint(TARGET), before, "nothing changed");
    assert_eq!(setup.schemas(), ["trading"]);
}

#[test]
fn dependents_keep_the_previous_schema_unless_repointed() {
    let extra = "CREATE SCHEMA reports;
                 CREATE VIEW reports.order_count AS SELECT count(*) AS n FROM trading.orders;
                 CREATE TABLE reports.audit (order_id bigint REFERENCES trading.orders (id));";
    let setup = Setup::with_extra(16, 500, extra);
    let total = setup
        .cluster
        .psql(SOURCE, "SELECT n FROM reports.order_count");
    let lose_rows = "DELETE FROM trading.orders WHERE id > 400 AND id NOT IN (SELECT order_id FROM trading.fills WHERE order_id IS NOT NULL)";
    setup.cluster.psql(TARGET, lose_rows);
    let damaged = setup
        .cluster
        .psql(TARGET, "SELECT n FROM reports.order_count");
    assert_ne!(total, damaged);
    let swap = |extra: &[&str]| setup.swap_ok(extra);

    // --repoint-dependents: the view is recreated on the restored schema in the same transaction.
    let out = swap(&["--repoint-dependents"]);
    assert_eq!(
        setup
            .cluster
            .psql(TARGET, "SELECT n FROM reports.order_count"),
        total
    );
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("view reports.order_count now reads the restored")
    );
    // The foreign key is reported too: it keeps pointing to the set-aside orders.
    let first = record(&out.stdout);
    let objects = dependents(&first);
    assert!(
        objects
            .iter()
            .any(|o| o.contains("view reports.order_count"))
            && objects.iter().any(|o| o.contains("audit_order_id_fkey")),
        "{objects:?}"
    );

    // Without it: reported, and the view keeps reading the set-aside schema; nothing outside
    // the schema is dropped.
    // --drop-previous keeps a previous schema that something outside still uses.
    setup.cluster.psql(TARGET, lose_rows);
    let out = swap(&["--drop-previous"]);
    let rec = record(&out.stdout);
    assert_eq!(
        dependents(&rec),
        ["view reports.order_count"],
        "the key points to the first set-aside schema now"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("[WARN ]") && stderr.contains("--repoint-dependents"),
        "{stderr}"
    );
    assert_eq!(
        setup
            .cluster
            .psql(TARGET, "SELECT n FROM reports.order_count"),
        damaged
    );
    assert_eq!(
        setup.cluster.psql(TARGET, "SELECT count(*) FROM information_schema.table_constraints WHERE constraint_name = 'audit_order_id_fkey'"),
        "1",
        "the foreign key outside was not dropped"
    );

    let drop = rec["swap"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "drop_previous")
        .unwrap()
        .clone();
    assert_eq!(drop["status"], "warn", "{drop}");
    assert!(
        drop["detail"]
            .as_str()
            .unwrap()
            .contains("kept: objects outside it depend on it")
    );
}

fn dependents(record: &serde_json::Value) -> Vec<String> {
    record["swap"]["dependents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["object"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_value_the_binary_converter_refuses_sends_its_table_as_text() {
    // pg_dump writes values in the source database's own output settings: bytea in the old
    // escape format (which the converter refuses), timestamps with a +05:30 offset. Rows of
    // 3.2 MB are longer than one read of the archive: they span reads and grow the buffer.
    let setup = Setup::with_extra(
        16,
        300,
        "DO $$ BEGIN
           EXECUTE format('ALTER DATABASE %I SET bytea_output = escape', current_database());
           EXECUTE format('ALTER DATABASE %I SET TimeZone = %L', current_database(), 'Asia/Kolkata');
         END $$;
         CREATE TABLE trading.long_rows (id int, body text);
         INSERT INTO trading.long_rows SELECT g, repeat(md5(g::text), 100000) FROM generate_series(1, 3) g;",
    );
    let source = setup.fingerprint(SOURCE);
    setup.damage();
    let out = setup.swap_ok(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("trading.blobs: column payload (bytea)")
            && stderr.contains("loading it as text instead"),
        "{stderr}"
    );
    let rec = record(&out.stdout);
    let tables = rec["swap"]["tables"].as_array().unwrap();
    let format_of = |name: &str| {
        tables.iter().find(|t| t["name"] == name).unwrap()["copy_format"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(format_of("blobs"), "text");
    assert_eq!(format_of("orders"), "binary");
    assert_eq!(format_of("long_rows"), "binary");
    let warned: Vec<&serde_json::Value> = rec["swap"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "copy_format")
        .collect();
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert_eq!(warned[0]["status"], "warn");
    assert!(tables.iter().all(|t| t["verified"] == true), "{tables:?}");
    assert_eq!(setup.fingerprint(TARGET), source);

    // --copy-format text sends every table as the dump's text.
    setup.damage();
    let out = setup.swap_ok(&["--copy-format", "text"]);
    let rec = record(&out.stdout);
    let tables = rec["swap"]["tables"].as_array().unwrap();
    assert!(
        tables.iter().all(|t| t["copy_format"] == "text"),
        "{tables:?}"
    );
    assert_eq!(setup.fingerprint(TARGET), source);
}

#[test]
fn a_schema_that_is_gone_is_created() {
    let setup = Setup::new(17, 300);
    let source = setup.fingerprint(SOURCE);
    setup.cluster.psql(TARGET, "DROP SCHEMA trading CASCADE");
    let out = setup.swap_ok(&[]);
    let rec = record(&out.stdout);
    assert_eq!(rec["swap"]["previous"], serde_json::Value::Null);
    assert_eq!(setup.fingerprint(TARGET), source);
    assert_eq!(setup.schemas(), ["trading"]);
}

#[test]
fn list_rollback_prune_and_drop_previous() {
    let setup = Setup::new(16, 200);
    setup.damage();
    let damaged = setup.fingerprint(TARGET);
    let source = setup.fingerprint(SOURCE);
    let swap = |extra: &[&str]| setup.swap_ok(extra);
    swap(&[]);
    swap(&[]);
    let out = setup
        .tool()
        .args(["--schema", "trading", "--list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let rec = record(&out.stdout);
    let listed = rec["swap"]["previous_schemas"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 2);
    assert!(
        listed[0]["set_aside_at"].as_str() > listed[1]["set_aside_at"].as_str(),
        "newest first"
    );
    assert!(listed.iter().all(|p| p["size_bytes"].as_i64().unwrap() > 0));

    // Roll back: the newest previous schema (the first restore) comes back; the current one
    // is set aside in its turn.
    setup.tool_ok(["--schema", "trading", "--rollback", "--yes"]);
    assert_eq!(setup.fingerprint(TARGET), source);
    assert_eq!(setup.schemas().len(), 3);
    // Roll back again: now the restored one from the second swap... and the oldest holds the damage.
    let oldest = listed[1]["name"].as_str().unwrap().to_owned();
    assert_eq!(
        common::fingerprint(&setup.cluster, TARGET, &oldest),
        damaged.replace("trading.", &format!("{oldest}."))
    );

    // Prune all but the newest; a dry run first drops nothing.
    let out = setup
        .tool()
        .args(["--schema", "trading", "--prune", "--keep", "1", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(setup.schemas().len(), 3);
    let out = setup.tool_ok(["--schema", "trading", "--prune", "--keep", "1", "--yes"]);
    let rec = record(&out.stdout);
    assert_eq!(rec["swap"]["pruned"].as_array().unwrap().len(), 1);
    assert_eq!(setup.schemas().len(), 2);
    assert!(!setup.schemas().contains(&oldest), "the oldest was pruned");

    // --older-than 1h keeps what was set aside just now.
    let out = setup
        .tool()
        .args([
            "--schema",
            "trading",
            "--prune",
            "--older-than",
            "1h",
            "--yes",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(setup.schemas().len(), 2);

    // A swap with --drop-previous leaves only the restored schema.
    swap(&["--drop-previous"]);
    assert_eq!(
        setup.schemas().len(),
        2,
        "the earlier previous schema stays; only this swap's is dropped"
    );
    assert_eq!(setup.fingerprint(TARGET), source);
}

/// Runs `command` on a pseudo-terminal (util-linux `script`) with `typed` as what the person
/// types; returns the exit code and what the terminal showed.
fn on_a_terminal(command: &str, typed: &str) -> (Option<i32>, String) {
    let mut child = std::process::Command::new("script")
        .args(["-q", "-e", "-c", command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux 'script' runs commands on a pty");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), typed.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn the_prompt_on_a_terminal_takes_only_yes() {
    let setup = Setup::new(16, 100);
    let source = setup.fingerprint(SOURCE);
    setup.damage();
    let before = setup.fingerprint(TARGET);
    let env: Vec<String> = setup
        .cluster
        .env()
        .into_iter()
        .map(|(k, v)| {
            if k == "PGDATABASE" {
                format!("{k}={TARGET}")
            } else {
                format!("{k}='{v}'")
            }
        })
        .collect();
    let command = |out: &str| {
        format!(
            "env -u RESTORE_SKIP_CONFIRM {} NO_COLOR=1 '{}' --schema trading --dump '{}' > '{out}'",
            env.join(" "),
            assert_cmd::cargo::cargo_bin("schema-swap").display(),
            setup.dump.display()
        )
    };
    let out = setup.cluster.scratch().join("refused.json");
    let (code, shown) = on_a_terminal(&command(out.to_str().unwrap()), "no\n");
    assert_eq!(code, Some(1), "{shown}");
    assert!(shown.contains("Type 'yes' to proceed:"), "{shown}");
    assert!(
        shown.contains("not confirmed (answer 'no'): nothing changed"),
        "{shown}"
    );
    let rec = record(&std::fs::read(&out).unwrap());
    assert_eq!(failed_checks(&rec), ["confirm"]);
    assert_eq!(
        setup.fingerprint(TARGET),
        before,
        "a refused prompt changes nothing"
    );

    let out = setup.cluster.scratch().join("confirmed.json");
    let (code, shown) = on_a_terminal(&command(out.to_str().unwrap()), "yes\n");
    assert_eq!(code, Some(0), "{shown}");
    assert!(
        shown.contains("About to replace schema \"trading\" in gordon"),
        "{shown}"
    );
    assert_eq!(setup.fingerprint(TARGET), source);
}

/// pg_dump 18's dump of a PostgreSQL 16 database restores into 16: the `SET
/// transaction_timeout` its pg_restore writes is left out with a warning. A dump whose
/// definitions use what 16 lacks (a virtual generated column, new in 18) is refused with the
/// versions named, and nothing changes.
#[test]
fn a_newer_dump_into_an_older_server_leaves_out_settings_and_names_what_it_lacks() {
    let old = PgCluster::start(16);
    old.create_database("gordon");
    old.psql_script(
        "gordon",
        "CREATE SCHEMA app; CREATE TABLE app.t (a integer PRIMARY KEY, b integer GENERATED ALWAYS AS (a * 2) STORED);
         INSERT INTO app.t (a) SELECT generate_series(1, 50);",
    );
    let pg_dump_18 = testkit::PgInstall::require(18).bin("pg_dump");
    let dump = old.scratch().join("by-18.dump");
    let mut cmd = std::process::Command::new(&pg_dump_18);
    old.apply_env(&mut cmd);
    testkit::pg::run_ok(
        cmd.args(["-Fc", "-n", "app", "-f"])
            .arg(&dump)
            .arg("gordon"),
        "pg_dump 18",
    );
    let swap = |dump: &std::path::Path| {
        let mut cmd = assert_cmd::Command::cargo_bin("schema-swap").unwrap();
        cmd.env_clear()
            .envs(old.env())
            .env("PGDATABASE", "gordon")
            .env("NO_COLOR", "1")
            .args(["--new-record", "--schema", "app", "--yes", "--dump"])
            .arg(dump);
        cmd.output().unwrap()
    };
    let out = swap(&dump);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let rec = record(&out.stdout);
    assert_eq!(
        rec["swap"]["settings_left_out"],
        json!(["transaction_timeout"])
    );
    assert!(
        stderr.contains("left out the settings pg_restore 1")
            && stderr.contains("transaction_timeout"),
        "{stderr}"
    );

    // A dump of PostgreSQL 18 using what 16 lacks.
    let new = PgCluster::start(18);
    new.create_database("gordon");
    new.psql_script(
        "gordon",
        "CREATE SCHEMA app; CREATE TABLE app.t (a integer PRIMARY KEY, b integer GENERATED ALWAYS AS (a * 2) VIRTUAL);
         INSERT INTO app.t (a) SELECT generate_series(1, 50);",
    );
    let newer = new.scratch().join("from-18.dump");
    new.pg_dump(["-Fc", "-n", "app", "-f", newer.to_str().unwrap(), "gordon"]);
    let before = testkit::oracle::Snapshot::take(&old, "gordon", "app");
    let out = swap(&newer);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(failed_checks(&record(&out.stdout)), ["restore"]);
    assert!(
        stderr.contains("the dump comes from PostgreSQL 18")
            && stderr.contains("this server is PostgreSQL 16")
            && stderr.contains("restore it into PostgreSQL 18 or newer"),
        "{stderr}"
    );
    assert!(stderr.contains("rolled back, nothing changed"), "{stderr}");
    testkit::oracle::assert_same(
        &before,
        &testkit::oracle::Snapshot::take(&old, "gordon", "app"),
        "refused",
    );
}

/// System schemas are never acted on, and a name too long to set aside is refused with the
/// limit and the name typed: both before connecting (the port here is closed).
#[test]
fn system_schemas_and_names_too_long_are_refused_before_connecting() {
    let closed = testkit::pg::free_port().to_string();
    let run = |args: &[&str]| {
        let out = assert_cmd::Command::cargo_bin("schema-swap")
            .unwrap()
            .env_clear()
            .env("PGHOST", "127.0.0.1")
            .env("PGPORT", &closed)
            .env("NO_COLOR", "1")
            .arg("--new-record")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for schema in ["pg_catalog", "information_schema", "pg_toast", "pg_temp_3"] {
        for mode in [
            &["--dump", "/nonexistent.dump", "--yes"][..],
            &["--rollback", "--yes"][..],
            &["--prune", "--keep", "0", "--yes"][..],
            &["--list"][..],
        ] {
            let mut args = vec!["--schema", schema];
            args.extend_from_slice(mode);
            let (code, stderr) = run(&args);
            assert_eq!(code, Some(2), "{args:?}: {stderr}");
            assert!(stderr.contains("is a system schema"), "{args:?}: {stderr}");
        }
    }
    let long = "a_schema_name_that_is_fifty_bytes_long_12345678901";
    assert_eq!(long.len(), 50);
    let (code, stderr) = run(&["--schema", long, "--dump", "/nonexistent.dump", "--yes"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(long) && stderr.contains("is 50 bytes") && stderr.contains("at most 42"),
        "{stderr}"
    );
    // Listing sets nothing aside: the long name is fine (and the closed port says so).
    let (code, stderr) = run(&["--schema", long, "--list"]);
    assert_eq!(code, Some(4), "{stderr}");
}

/// Every failed check of the swap section, as "name: detail".
fn failures(record: &serde_json::Value) -> Vec<String> {
    record["swap"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| {
            format!(
                "{}: {}",
                c["name"].as_str().unwrap(),
                c["detail"].as_str().unwrap()
            )
        })
        .collect()
}

/// A psql session, idle in a transaction that read `table`: it holds a lock on it until it
/// ends, as a forgotten report session does.
struct IdleReader {
    psql: std::process::Child,
    stdin: std::process::ChildStdin,
}

impl IdleReader {
    fn start(setup: &Setup, table: &str) -> Self {
        use std::io::Write as _;
        let mut psql = setup
            .cluster
            .client("psql")
            .args(["-X", "-q", "-d", TARGET])
            .env("PGAPPNAME", "idle-reader")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = psql.stdin.take().unwrap();
        // ON_ERROR_STOP: a mistyped table ends the session at once, not after the deadline.
        writeln!(
            stdin,
            "\\set ON_ERROR_STOP on\nBEGIN; SELECT count(*) FROM {table};"
        )
        .unwrap();
        stdin.flush().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while setup.cluster.psql(
            TARGET,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'idle-reader' AND state = 'idle in transaction'",
        ) != "1"
        {
            assert!(psql.try_wait().unwrap().is_none(), "the reader's psql ended: is {table} there?");
            assert!(std::time::Instant::now() < deadline, "the reader never read");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Self { psql, stdin }
    }
}

impl Drop for IdleReader {
    fn drop(&mut self) {
        use std::io::Write as _;
        let _ = writeln!(self.stdin, "\\q");
        let _ = self.psql.wait();
    }
}

/// --drop-previous and --prune wait for their locks no longer than --lock-timeout: a session
/// idle in a transaction that read the old schema makes them give up and say so, not hang.
#[test]
fn drop_previous_and_prune_give_up_after_the_lock_timeout() {
    let setup = Setup::new(16, 50);
    setup.swap_ok(&[]);
    let aside = setup
        .schemas()
        .into_iter()
        .find(|s| s != "trading")
        .unwrap();

    // The reader holds a table of the set-aside schema: pruning it must not wait for ever.
    let reader = IdleReader::start(&setup, &format!("{aside}.orders"));
    let out = setup
        .tool()
        .args([
            "--schema",
            "trading",
            "--prune",
            "--keep",
            "0",
            "--yes",
            "--lock-timeout",
            "1s",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let failed = failures(&record(&out.stdout));
    assert!(
        failed
            .iter()
            .any(|c| c.contains(&aside) && c.contains("lock timeout")),
        "{failed:?}"
    );
    assert!(setup.schemas().contains(&aside), "kept");
    drop(reader);

    // The reader holds a table of the live schema: the swap commits, and the drop of the
    // schema it set aside gives up on the lock and keeps it.
    let reader = IdleReader::start(&setup, "trading.orders");
    let out = setup
        .tool()
        .args([
            "--schema",
            "trading",
            "--yes",
            "--drop-previous",
            "--lock-timeout",
            "1s",
            "--dump",
        ])
        .arg(&setup.dump)
        .output()
        .unwrap();
    let rec = record(&out.stdout);
    assert_eq!(
        rec["swap"]["committed"],
        true,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let failed = failures(&rec);
    assert!(
        failed
            .iter()
            .any(|c| c.contains("drop_previous") && c.contains("lock timeout")),
        "{failed:?}"
    );
    assert_eq!(setup.schemas().len(), 3, "both set-aside schemas are kept");
    drop(reader);

    // 0 would reach PostgreSQL as "no timeout": refused. Flags another mode would ignore too.
    for args in [
        &["--prune", "--keep", "0", "--lock-timeout", "0s"][..],
        &["--rollback", "--drop-previous"][..],
        &["--rollback", "--dump", "/x.dump"][..],
        &["--list", "--repoint-dependents"][..],
    ] {
        let out = setup
            .tool()
            .args(["--schema", "trading", "--yes"])
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(args[args.len() - 2]) || stderr.contains(args[args.len() - 1]),
            "{args:?}: {stderr}"
        );
    }
    assert_eq!(setup.schemas().len(), 3, "nothing changed");
    // A missing argument is named.
    let out = setup.tool().args(["--keep", "1"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("were not provided: --prune"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

//! `schema-swap --table`: one table back, on real PostgreSQL 15, 16, 17 and 18.
//!
//! The shape is `tests/data/shop.sql`: `shop.orders` with every kind of object that belongs
//! to a table, referenced by foreign keys from a plain and a partitioned table, read by two
//! views in its schema and a materialized view outside it; a partitioned table two levels deep
//! and an inheritance parent with children. The oracle is the real pg_restore restoring the
//! whole dump into an empty database: after a table restore, the schema must equal it object
//! by object and row by row, except for the rows the test wrote after the dump on purpose,
//! which must stay.
//!
//! Kills are driven by what the test observes (the tool's progress lines, and gates: advisory
//! locks the restore's statements wait at while the test holds them), never by a delay.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // in tests a panic is a failed test with a line number; a scenario reads top to bottom

mod common;

use common::{GATES, Gates, Running, failed_checks, record};
use serde_json::Value;
use std::path::PathBuf;
use testkit::PgCluster;
use testkit::oracle::{Snapshot, assert_same, pg_restore_into_new};

const SHOP: &str = include_str!("data/shop.sql");

/// A cluster with `source` made from the shop shape (plus `extra`), its dump, and `oracle`:
/// the dump restored by pg_restore into an empty database.
struct Shop {
    cluster: PgCluster,
    dump: PathBuf,
}

impl Shop {
    fn new(major: u32, extra: &str, conf: Vec<String>) -> Self {
        let cluster = PgCluster::start_with(
            major,
            &testkit::PgOptions {
                conf,
                ..testkit::PgOptions::default()
            },
        );
        cluster.create_database("source");
        cluster.psql_script("source", &format!("{SHOP}\n{extra}"));
        let dump = cluster.scratch().join("shop.dump");
        cluster.pg_dump(["-Fc", "-f", dump.to_str().unwrap(), "source"]);
        let restored = pg_restore_into_new(
            &cluster,
            &cluster.install.bin("pg_restore"),
            &dump,
            "oracle",
        );
        assert!(restored.errors.is_empty(), "{:?}", restored.errors);
        Self { cluster, dump }
    }

    /// A new database `db` copied from the source, then changed by `sql`.
    fn copy(&self, db: &str, sql: &str) {
        self.cluster
            .psql("postgres", &format!("CREATE DATABASE {db} TEMPLATE source"));
        if !sql.is_empty() {
            self.cluster.psql_script(db, sql);
        }
    }

    fn tool(&self, db: &str) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("schema-swap"));
        testkit::pg::clear_pg_env(&mut cmd);
        cmd.env_remove("RESTORE_SKIP_CONFIRM")
            .envs(self.cluster.env())
            .env("PGDATABASE", db)
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .args(["--schema", "shop"]);
        cmd
    }

    /// schema-swap on `db` with `args` (and the dump, for a restore), run to its end:
    /// exit code, record, what it said.
    fn run(&self, db: &str, args: &[&str]) -> (Option<i32>, Value, String) {
        let mut cmd = self.tool(db);
        if args.contains(&"--table") || args.contains(&"--into") {
            cmd.arg("--dump").arg(&self.dump);
        }
        let out = cmd.args(args).output().unwrap();
        let said = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), record(&out.stdout), said)
    }

    /// `shop` and `report` of `db`, as the oracle compares them.
    fn snapshot(&self, db: &str) -> [Snapshot; 2] {
        ["shop", "report"].map(|schema| Snapshot::take(&self.cluster, db, schema))
    }

    /// The schemas tables were set aside in.
    fn asides(&self, db: &str) -> Vec<String> {
        self.cluster
            .psql(
                db,
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'shop\\_prev\\_%' ORDER BY 1",
            )
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn value(&self, db: &str, sql: &str) -> String {
        self.cluster.psql(db, sql)
    }
}

/// The snapshots without what the test changed after the dump on purpose: the facts whose
/// key names one of `changed` (tables' rows, sequences).
fn without(snapshots: &[Snapshot; 2], changed: &[&str]) -> [Snapshot; 2] {
    snapshots.clone().map(|mut s| {
        s.facts
            .retain(|key, _| !changed.iter().any(|c| key.contains(c)));
        s
    })
}

fn assert_like_oracle(shop: &Shop, db: &str, changed: &[&str], context: &str) {
    let oracle = without(&shop.snapshot("oracle"), changed);
    let found = without(&shop.snapshot(db), changed);
    for (o, f) in oracle.iter().zip(&found) {
        assert_same(o, f, context);
    }
}

fn check<'a>(rec: &'a Value, name: &str) -> Option<&'a Value> {
    rec["swap"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
}

/// Rows written after the dump to a table the restore leaves alone.
const AFTER_DUMP: &str = "INSERT INTO shop.customers (email) VALUES ('after@dump.example');";
const CUSTOMERS: [&str; 2] = ["table shop.customers", "sequence shop.customers_id_seq"];

fn table_restores(major: u32) {
    let shop = Shop::new(major, "", Vec::new());

    // A name that is no table of the dump: exit 2, before anything is touched.
    shop.copy("nosuch", "");
    let (code, rec, said) = shop.run("nosuch", &["--table", "order", "--yes"]);
    assert_eq!(code, Some(2), "{major}: {said}");
    assert_eq!(failed_checks(&rec), ["tables"], "{major}: {rec}");
    assert!(
        said.contains("not a table of the dump's schema: order"),
        "{major}: {said}"
    );
    assert!(
        said.contains("orders"),
        "{major}: names the tables there are: {said}"
    );
    let (code, _, said) = shop.run("nosuch", &["--table", "order_totals", "--yes"]);
    assert_eq!(code, Some(2), "{major}: a view is no table: {said}");

    // An accidental DROP TABLE ... CASCADE took the foreign keys and the views along; other
    // tables got rows since the dump.
    shop.copy(
        "dropped",
        &format!("DROP TABLE shop.orders CASCADE; {AFTER_DUMP}"),
    );
    let (code, rec, said) = shop.run("dropped", &["--table", "orders", "--yes"]);
    assert_eq!(code, Some(0), "{major}: {said}");
    let restore = &rec["swap"]["table_restore"];
    assert_eq!(restore["set_aside_into"], Value::Null, "{major}: {restore}");
    assert_eq!(rec["swap"]["committed"], true);
    let fks: Vec<&str> = restore["foreign_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        fks,
        [
            "\"Order Lines_order_id_fkey\"",
            "notes_order_id_fkey",
            "shipments_order_id_fkey"
        ],
        "{major}: {restore}"
    );
    assert_eq!(
        restore["restored_from_dump"],
        serde_json::json!(["report.daily", "shop.order_totals", "shop.big_spenders"]),
        "{major}: {restore}"
    );
    assert!(shop.asides("dropped").is_empty());
    assert_like_oracle(&shop, "dropped", &CUSTOMERS, &format!("{major} dropped"));
    assert_eq!(
        shop.value("dropped", "SELECT count(*) FROM shop.customers"),
        "51",
        "{major}: the row written after the dump stays"
    );

    // In place, two names at once: a partitioned table (rows lost, a partition added since)
    // and an inheritance parent (a child's rows lost).
    let changed = "DELETE FROM shop.events WHERE id < 100;
                   CREATE TABLE shop.events_2030 PARTITION OF shop.events
                       FOR VALUES FROM ('2030-01-01') TO ('2031-01-01');
                   DELETE FROM shop.cars;";
    shop.cluster.psql_script("dropped", changed);
    let (code, rec, said) = shop.run(
        "dropped",
        &["--table", "events", "--table", "vehicles", "--yes"],
    );
    assert_eq!(code, Some(0), "{major}: {said}");
    let asides = shop.asides("dropped");
    assert_eq!(asides.len(), 1, "{major}: {asides:?}");
    let restore = &rec["swap"]["table_restore"];
    assert_eq!(restore["set_aside_into"], asides[0].as_str());
    assert_eq!(
        restore["set_aside"].as_array().unwrap().len(),
        9,
        "{major}: events with 5 partitions, vehicles with 2 children: {restore}"
    );
    assert_like_oracle(
        &shop,
        "dropped",
        &CUSTOMERS,
        &format!("{major} partitioned"),
    );
    // The live copies are kept whole, the partition made since the dump with them.
    assert_eq!(
        shop.value(
            "dropped",
            &format!("SELECT count(*) FROM \"{}\".events", asides[0])
        ),
        "401",
        "{major}"
    );
    // --rollback swaps whole schemas: it refuses a schema of set-aside tables.
    let (code, rec, said) = shop.run("dropped", &["--rollback", "--yes"]);
    assert_eq!(code, Some(1), "{major}: {said}");
    assert_eq!(failed_checks(&rec), ["rollback"], "{major}");
    assert!(said.contains("holds only the tables"), "{major}: {said}");
    let (code, rec, _) = shop.run("dropped", &["--list"]);
    assert_eq!(code, Some(0));
    assert_eq!(rec["swap"]["previous_schemas"][0]["tables_only"], true);

    // --into: the dump's schema as a new one beside the live one, which does not change.
    shop.copy(
        "look",
        "DELETE FROM shop.orders WHERE id BETWEEN 350 AND 360;",
    );
    let live = shop.snapshot("look");
    let (code, rec, said) = shop.run("look", &["--into", "shop_copy", "--yes"]);
    assert_eq!(code, Some(0), "{major}: {said}");
    assert_eq!(rec["swap"]["into"], "shop_copy");
    assert_eq!(rec["swap"]["previous"], Value::Null);
    for (l, n) in live.iter().zip(&shop.snapshot("look")) {
        assert_same(l, n, &format!("{major}: the live schemas under --into"));
    }
    // The copy is the oracle's schema under the copy's name.
    shop.cluster
        .psql("postgres", "CREATE DATABASE oracle_renamed TEMPLATE oracle");
    shop.cluster
        .psql("oracle_renamed", "ALTER SCHEMA shop RENAME TO shop_copy");
    assert_same(
        &Snapshot::take(&shop.cluster, "oracle_renamed", "shop_copy"),
        &Snapshot::take(&shop.cluster, "look", "shop_copy"),
        &format!("{major}: the copy"),
    );
    assert!(shop.asides("look").is_empty(), "{major}");
    // Only the tables, as copies; a name taken is refused (exit 2).
    let (code, _, said) = shop.run(
        "look",
        &["--table", "orders", "--into", "shop_copy", "--yes"],
    );
    assert_eq!(code, Some(2), "{major}: {said}");
    assert!(said.contains("that schema exists"), "{major}: {said}");
    let (code, _, said) = shop.run(
        "look",
        &["--table", "orders", "--into", "orders_then", "--yes"],
    );
    assert_eq!(code, Some(0), "{major}: {said}");
    for (l, n) in live.iter().zip(&shop.snapshot("look")) {
        assert_same(
            l,
            n,
            &format!("{major}: the live schemas under --table --into"),
        );
    }
    assert_eq!(
        shop.value("look", "SELECT count(*) FROM orders_then.orders"),
        "400"
    );
    assert_eq!(
        shop.value("look", "SELECT count(*) FROM shop.orders"),
        "389"
    );
    assert!(shop.asides("look").is_empty(), "{major}");
    // The copy has no foreign keys: they would tie the live customers to it.
    assert_eq!(
        shop.value(
            "look",
            "SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
             WHERE n.nspname = 'orders_then' AND c.contype = 'f'"
        ),
        "0"
    );
    // pg-preflight predicts what these modes need: a table the dump has, keys to merge by,
    // a free name for the copy.
    let preflight = |args: &[&str]| {
        let out = std::process::Command::new(testkit::workspace_bin("pg-preflight"))
            .envs(shop.cluster.env())
            .env("PGDATABASE", "look")
            .stdin(std::process::Stdio::null())
            .args(["--schema", "shop", "--dump"])
            .arg(&shop.dump)
            .args(args)
            .output()
            .unwrap();
        let rec = record(&out.stdout);
        // The policy on shop.orders is the table's own, not a dependent outside the schema.
        let dependents = rec["preflight"]["dependents"].to_string();
        assert!(!dependents.contains("orders_mine"), "{dependents}");
        assert!(dependents.contains("report.daily"), "{dependents}");
        let failed: Vec<String> = rec["preflight"]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["status"] == "fail")
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect();
        (out.status.code(), failed)
    };
    assert_eq!(
        preflight(&["--table", "orders", "--merge-missing"]),
        (Some(0), vec![])
    );
    assert_eq!(
        preflight(&["--table", "order", "--into", "shop_copy"]),
        (Some(1), vec!["into".to_owned(), "tables".to_owned()]),
        "{major}"
    );
    assert_eq!(
        preflight(&["--table", "vehicles", "--merge-missing"]),
        (Some(1), vec!["merge_keys".to_owned()]),
        "{major}"
    );
    // A partition alone cannot be copied: the copy would join the live parent.
    let (code, rec, said) = shop.run(
        "look",
        &["--table", "events_other", "--into", "part_copy", "--yes"],
    );
    assert_eq!(code, Some(1), "{major}: {said}");
    assert_eq!(failed_checks(&rec), ["tables"], "{major}");
    for (l, n) in live.iter().zip(&shop.snapshot("look")) {
        assert_same(l, n, &format!("{major}: a refused copy"));
    }

    // An accidental DELETE: --merge-missing puts the dump's rows back by key, parents before
    // the rows that reference them; no live row changes; the sequence is moved past them.
    shop.copy(
        "deleted",
        "DELETE FROM shop.shipments WHERE order_id BETWEEN 171 AND 180;
         DELETE FROM shop.\"Order Lines\" WHERE order_id BETWEEN 21 AND 30;
         DELETE FROM shop.orders WHERE id BETWEEN 171 AND 180 OR id > 390;
         SELECT setval('shop.orders_id_seq', 390);
         INSERT INTO shop.orders (customer_id, amount) VALUES (1, 1);
         UPDATE shop.orders SET note = 'changed live' WHERE id = 5;",
    );
    assert_eq!(
        shop.value("deleted", "SELECT count(*) FROM shop.notes"),
        "56"
    );
    let (code, rec, said) = shop.run(
        "deleted",
        &[
            "--table",
            "notes",
            "--table",
            "orders",
            "--table",
            "shipments",
            "--table",
            "Order Lines",
            "--merge-missing",
            "--yes",
        ],
    );
    assert_eq!(code, Some(0), "{major}: {said}");
    let merged = rec["swap"]["merged"].as_array().unwrap();
    let back = |name: &str| {
        merged
            .iter()
            .find(|m| m["table"] == name)
            .map(|m| m["came_back"].as_u64().unwrap())
    };
    assert_eq!(back("orders"), Some(19), "{major}: {merged:?}");
    assert_eq!(back("notes"), Some(4), "{major}: {merged:?}");
    assert_eq!(back("Order Lines"), Some(10), "{major}: {merged:?}");
    assert_eq!(
        back("shipments_2025").unwrap() + back("shipments_2026").unwrap_or(0),
        10,
        "{major}: {merged:?}"
    );
    for (sql, expected) in [
        ("SELECT count(*) FROM shop.orders", "400"),
        ("SELECT count(*) FROM shop.notes", "60"),
        ("SELECT count(*) FROM shop.shipments", "300"),
        // The row written after the dump under a key the dump also has wins.
        ("SELECT amount FROM shop.orders WHERE id = 391", "1.00"),
        ("SELECT note FROM shop.orders WHERE id = 5", "changed live"),
        ("SELECT note FROM shop.orders WHERE id = 176", "n176"),
        ("SELECT last_value FROM shop.orders_id_seq", "400"),
    ] {
        assert_eq!(shop.value("deleted", sql), expected, "{major}: {sql}");
    }
    shop.cluster.psql(
        "deleted",
        "INSERT INTO shop.orders (customer_id, amount) VALUES (1, 2)",
    );
    assert!(shop.asides("deleted").is_empty(), "{major}");
    assert_eq!(
        shop.value(
            "deleted",
            "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'shop\\_mrge\\_%'"
        ),
        "0"
    );
    // Children without a key of their own cannot be told apart: refused, exit 2.
    let (code, rec, said) = shop.run(
        "deleted",
        &["--table", "vehicles", "--merge-missing", "--yes"],
    );
    assert_eq!(code, Some(2), "{major}: {said}");
    assert_eq!(failed_checks(&rec), ["merge"], "{major}");
    assert!(said.contains("cars, trucks"), "{major}: {said}");

    // Rows written after the dump reference orders the dump lacks: refused, nothing changed.
    shop.copy(
        "inplace",
        "DELETE FROM shop.orders WHERE id BETWEEN 350 AND 360;
         INSERT INTO shop.orders (id, customer_id, amount) VALUES (1000, 1, 5);
         INSERT INTO shop.notes VALUES (1000, 1000, 'written after the dump');
         UPDATE shop.orders SET note = 'edited after the dump' WHERE id = 5;",
    );
    let before = shop.snapshot("inplace");
    let (code, rec, said) = shop.run("inplace", &["--table", "orders", "--dry-run"]);
    assert_eq!(code, Some(0), "{major}: {said}");
    let plan = check(&rec, "plan").unwrap()["detail"].as_str().unwrap();
    for named in [
        "set shop.orders aside in",
        "shop.notes.notes_order_id_fkey",
        "shop.shipments.shipments_order_id_fkey",
        "re-create views shop.order_totals",
        "re-create materialized views report.daily",
    ] {
        assert!(plan.contains(named), "{major}: {named} not in {plan}");
    }
    let (code, rec, said) = shop.run("inplace", &["--table", "orders", "--yes"]);
    assert_eq!(code, Some(1), "{major}: {said}");
    assert_eq!(failed_checks(&rec), ["foreign_keys"], "{major}: {said}");
    let why = check(&rec, "foreign_keys").unwrap()["detail"]
        .as_str()
        .unwrap();
    assert!(
        why.contains("notes_order_id_fkey of shop.notes: 1 live rows"),
        "{major}: {why}"
    );
    for (b, a) in before.iter().zip(&shop.snapshot("inplace")) {
        assert_same(b, a, &format!("{major}: refused"));
    }
    assert!(shop.asides("inplace").is_empty());

    // Accepted with --fk-not-valid: the key comes back NOT VALID, the live rows stay.
    let (code, rec, said) = shop.run("inplace", &["--table", "orders", "--yes", "--fk-not-valid"]);
    assert_eq!(code, Some(0), "{major}: {said}");
    let restore = &rec["swap"]["table_restore"];
    let notes_fk = restore["foreign_keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "notes_order_id_fkey")
        .unwrap();
    assert_eq!(notes_fk["violations"], 1, "{major}: {notes_fk}");
    assert_eq!(notes_fk["not_valid"], true);
    assert_eq!(notes_fk["from"], "live");
    assert!(check(&rec, "foreign_keys").unwrap()["status"] == "warn");
    assert_eq!(
        shop.value(
            "inplace",
            "SELECT convalidated FROM pg_constraint WHERE conname = 'notes_order_id_fkey'"
        ),
        "f"
    );
    assert_eq!(
        shop.value("inplace", "SELECT count(*) FROM shop.notes"),
        "61"
    );
    // Everything but the notes (their extra row, their key NOT VALID) is the oracle's.
    let oracle = without(&shop.snapshot("oracle"), &["shop.notes"]);
    let found = without(&shop.snapshot("inplace"), &["shop.notes"]);
    for (o, f) in oracle.iter().zip(&found) {
        let differences: Vec<String> = testkit::oracle::differences(o, f)
            .into_iter()
            .filter(|d| !d.contains("notes_order_id_fkey"))
            .collect();
        assert!(differences.is_empty(), "{major}: {differences:#?}");
    }
    // The damaged live table is kept whole beside it, for taking rows back by hand.
    let aside = shop.asides("inplace");
    assert_eq!(
        shop.value(
            "inplace",
            &format!("SELECT count(*) FROM \"{}\".orders", aside[0])
        ),
        "390"
    );
    // Which writes did the restore set aside? rowcount-report --diff-schema says, and an
    // independent query agrees.
    assert_diff_like_sql(
        &shop,
        "inplace",
        &aside[0],
        "orders",
        Some("id"),
        [11, 1, 1],
    );
    assert_diff_like_sql(&shop, "dropped", &asides[0], "cars", None, [2, 0, 0]);
    assert_diff_like_sql(
        &shop,
        "dropped",
        &asides[0],
        "events_2025_a",
        None,
        [23, 0, 0],
    );
}

/// rowcount-report --diff-schema between `shop` and `other` in `db`, for `table`: its
/// numbers (only in shop, only in other, changed) are `expected` and what plain SQL gives:
/// EXCEPT ALL on whole rows, and for a key a join on it.
fn assert_diff_like_sql(
    shop: &Shop,
    db: &str,
    other: &str,
    table: &str,
    key: Option<&str>,
    expected: [u64; 3],
) {
    let out = std::process::Command::new(testkit::workspace_bin("rowcount-report"))
        .envs(shop.cluster.env())
        .env("PGDATABASE", db)
        .stdin(std::process::Stdio::null())
        .args([
            "--schema",
            "shop",
            "--diff-schema",
            other,
            "--table",
            table,
            "--jobs",
            "2",
        ])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{said}");
    let rec = record(&out.stdout);
    let found = &rec["rowcounts"]["counts"]["diff"]["tables"][0];
    // For people, and as a gate: the same numbers as markdown; --expect-equal fails on them.
    let strict = std::process::Command::new(testkit::workspace_bin("rowcount-report"))
        .envs(shop.cluster.env())
        .env("PGDATABASE", db)
        .stdin(std::process::Stdio::null())
        .args(["--schema", "shop", "--diff-schema", other, "--table", table])
        .args(["--expect-equal", "--format", "markdown"])
        .output()
        .unwrap();
    let differs = expected.iter().any(|n| *n > 0);
    assert_eq!(strict.status.code(), Some(i32::from(differs)));
    let markdown = String::from_utf8_lossy(&strict.stdout);
    assert!(
        markdown.contains(&format!(
            "| {table} | {} | {} | {} |",
            key.unwrap_or("(whole rows)"),
            expected[0],
            expected[1]
        )),
        "{markdown}"
    );
    assert_eq!(found["name"], table, "{rec}");
    let (a, b) = (format!("shop.{table}"), format!("\"{other}\".{table}"));
    let count = |sql: String| shop.value(db, &sql).parse::<u64>().unwrap();
    let only_a = count(format!(
        "SELECT count(*) FROM (SELECT * FROM ONLY {a} EXCEPT ALL SELECT * FROM ONLY {b}) x"
    ));
    let only_b = count(format!(
        "SELECT count(*) FROM (SELECT * FROM ONLY {b} EXCEPT ALL SELECT * FROM ONLY {a}) x"
    ));
    let (rows_a, rows_b, changed) = match key {
        Some(k) => {
            let changed = count(format!(
                "SELECT count(*) FROM ONLY {a} x JOIN ONLY {b} y USING ({k}) WHERE x::text <> y::text"
            ));
            let rows = |side: &str, against: &str| {
                count(format!(
                    "SELECT count(*) FROM ONLY {side} x WHERE NOT EXISTS (SELECT 1 FROM ONLY {against} y WHERE y.{k} = x.{k})"
                ))
            };
            (rows(&a, &b), rows(&b, &a), Some(changed))
        }
        None => (only_a, only_b, None),
    };
    assert_eq!(
        [rows_a, rows_b, changed.unwrap_or(0)],
        expected,
        "{table}: what SQL says"
    );
    assert_eq!(found["rows_only_in_schema"], rows_a, "{found}");
    assert_eq!(found["rows_only_in_other"], rows_b, "{found}");
    if let Some(n) = changed {
        assert_eq!(found["rows_changed"], n, "{found}");
        assert_eq!(found["key"], serde_json::json!([key.unwrap()]));
        // With a key, a changed row is one row only on each side by whole rows.
        assert_eq!(only_a, rows_a + n);
        assert_eq!(only_b, rows_b + n);
    } else {
        assert_eq!(found["rows_changed"], Value::Null, "{found}");
        assert_eq!(found["key"], Value::Null, "{found}");
    }
}

#[test]
fn a_table_comes_back_with_what_belongs_to_it_on_15() {
    table_restores(15);
}

#[test]
fn a_table_comes_back_with_what_belongs_to_it_on_16() {
    table_restores(16);
}

#[test]
fn a_table_comes_back_with_what_belongs_to_it_on_17() {
    table_restores(17);
}

#[test]
fn a_table_comes_back_with_what_belongs_to_it_on_18() {
    table_restores(18);
}

/// Gates on the orders table: its COPY (a CHECK), an index build, and a live materialized
/// view that the restore re-creates after the row counts and the foreign keys.
const GATED: &str = "
CREATE FUNCTION shop.swap_gate(k integer, v anyelement) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS
  $$ BEGIN PERFORM pg_advisory_lock_shared(k); PERFORM pg_advisory_unlock_shared(k); RETURN v IS NOT NULL; END $$;
ALTER TABLE shop.orders ADD CONSTRAINT gated_rows CHECK (shop.swap_gate(1, id));
CREATE INDEX orders_gated ON shop.orders ((shop.swap_gate(2, id)));
CREATE MATERIALIZED VIEW report.gated AS SELECT bool_and(shop.swap_gate(3, id)) AS passed FROM shop.orders;";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Moment {
    Start,
    SetAside,
    Gate(i32),
    Committed,
}

#[test]
fn a_table_restore_killed_at_any_moment_leaves_the_database_whole() {
    // No autovacuum: its ANALYZE would evaluate the gated index and wait at a gate too.
    let shop = Shop::new(16, GATED, vec!["autovacuum = off".into()]);
    let damage =
        "DELETE FROM shop.orders WHERE id BETWEEN 350 AND 360; DROP INDEX shop.orders_big;";
    shop.copy("damaged", damage);
    let reset = || {
        shop.cluster
            .psql("postgres", "DROP DATABASE IF EXISTS gordon WITH (FORCE)");
        shop.cluster
            .psql("postgres", "CREATE DATABASE gordon TEMPLATE damaged");
    };
    reset();
    let before = shop.snapshot("gordon");
    let spawn = || {
        let child = shop
            .tool("gordon")
            .arg("--dump")
            .arg(&shop.dump)
            .args(["--table", "orders", "--yes", "--lock-timeout", "1h"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        Running::new(child)
    };
    // One whole restore: what a committed one leaves.
    let (code, _, said) = spawn().finish();
    assert_eq!(code, Some(0), "{said}");
    let committed = shop.snapshot("gordon");
    assert_ne!(committed, before);

    let moments = [
        Moment::Start,
        Moment::SetAside,
        Moment::Gate(1),
        Moment::Gate(2),
        Moment::Gate(3),
        Moment::Committed,
    ];
    for (run, moment) in moments.iter().chain(&moments).enumerate() {
        reset();
        let context = format!("run {run}, killed at {moment:?}");
        let mut gates = Gates::hold(&shop.cluster);
        let mut restore = spawn();
        match *moment {
            Moment::Start => {}
            Moment::SetAside => assert!(restore.wait_for_line("set aside in"), "{context}"),
            Moment::Gate(k) => {
                for open in GATES.iter().filter(|&&g| g < k) {
                    gates.release(*open);
                }
                common::wait_at_gate(&shop.cluster, "gordon", k);
            }
            Moment::Committed => {
                for open in GATES {
                    gates.release(open);
                }
                assert!(
                    restore.wait_for_line("committed in"),
                    "{context}: {:?}",
                    restore.said
                );
            }
        }
        restore.signal("-KILL");
        let _ = restore.finish();
        drop(gates);
        common::wait_for_no_session(&shop.cluster);
        let now = shop.snapshot("gordon");
        if shop.asides("gordon").is_empty() {
            assert_ne!(*moment, Moment::Committed, "{context}: the commit was lost");
            for (b, n) in before.iter().zip(&now) {
                assert_same(b, n, &context);
            }
        } else {
            assert_eq!(
                *moment,
                Moment::Committed,
                "{context}: committed past a closed gate"
            );
            for (c, n) in committed.iter().zip(&now) {
                assert_same(c, n, &context);
            }
        }
    }
}

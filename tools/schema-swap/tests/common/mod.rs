//! What schema-swap's tests share: a cluster with a source database and a damaged copy, a
//! dump of the source, the tool aimed at the copy, and a fingerprint of a schema that two
//! databases must share after a swap (rows by content, sequences, indexes, constraints,
//! columns and defaults, grants, comments, functions, types).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // each test file uses its part; a panic is a failed test

use assert_cmd::Command;
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use testkit::PgCluster;

/// The database the dump is made from, never touched afterwards.
pub const SOURCE: &str = "source";
/// The database whose schema is replaced.
pub const TARGET: &str = "gordon";

pub fn fixture(bulk_rows: u32) -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../pgdump/tests/fixtures/trading.sql"
    );
    std::fs::read_to_string(path)
        .unwrap()
        .replace("BULK_ROWS", &bulk_rows.to_string())
}

/// A cluster with `source` and `gordon` made from the fixture, and `source` dumped with
/// this cluster's pg_dump and `dump_args` (e.g. `-Fc`).
pub struct Setup {
    pub cluster: PgCluster,
    pub dump: PathBuf,
}

impl Setup {
    pub fn new(major: u32, bulk_rows: u32) -> Self {
        Self::with_extra(major, bulk_rows, "")
    }

    /// `extra` runs in both databases after the fixture.
    pub fn with_extra(major: u32, bulk_rows: u32, extra: &str) -> Self {
        let cluster = PgCluster::start(major);
        let script = format!("{}\n{extra}", fixture(bulk_rows));
        for db in [SOURCE, TARGET] {
            cluster.create_database(db);
            cluster.psql_script(db, &script);
        }
        let dump = cluster.scratch().join("source.dump");
        cluster.pg_dump(["-Fc", "-f", dump.to_str().unwrap(), SOURCE]);
        Self { cluster, dump }
    }

    /// Another dump of the source, e.g. `("dir", &["-Fd", "--compress=lz4"])`.
    pub fn dump_as(&self, name: &str, args: &[&str]) -> PathBuf {
        let path = self.cluster.scratch().join(name);
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-f", path.to_str().unwrap(), SOURCE]);
        self.cluster.pg_dump(all);
        path
    }

    /// schema-swap aimed at the target database, with nothing of the test runner's PG*.
    /// assert_cmd gives every run a pipe on stdin, empty unless the test writes a record: this
    /// run starts the record, as a run from a terminal would.
    pub fn tool(&self) -> Command {
        let mut cmd = self.tool_process();
        cmd.arg("--new-record");
        Command::from_std(cmd)
    }

    /// The same, as a std Command (for tests that kill it or run it in the background).
    pub fn tool_process(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("schema-swap"));
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy().into_owned();
            if key.starts_with("PG") || key == "RESTORE_SKIP_CONFIRM" {
                cmd.env_remove(key);
            }
        }
        // Not the test runner's stdin, which may be an empty pipe: this run starts the record.
        cmd.envs(self.cluster.env())
            .env("PGDATABASE", TARGET)
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null());
        cmd
    }

    /// schema-swap with `args`, run to its end; it must succeed.
    pub fn tool_ok<I, S>(&self, args: I) -> std::process::Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let out = self.tool().args(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// A swap of `dump` with `extra` flags, run to its end; it must succeed.
    pub fn swap_of_ok(&self, dump: &std::path::Path, extra: &[&str]) -> std::process::Output {
        let mut args: Vec<std::ffi::OsString> = ["--schema", "trading", "--yes", "--dump"]
            .iter()
            .map(Into::into)
            .collect();
        args.push(dump.into());
        args.extend(extra.iter().map(Into::into));
        self.tool_ok(args)
    }

    /// A swap of `dump` that must fail a check (exit 1): its record and what it said.
    pub fn swap_of_fails(&self, dump: &std::path::Path) -> (Value, String) {
        let out = self
            .tool()
            .args(["--schema", "trading", "--yes", "--dump"])
            .arg(dump)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        (record(&out.stdout), stderr)
    }

    /// A swap of the test's dump with `extra` flags, run to its end; it must succeed.
    pub fn swap_ok(&self, extra: &[&str]) -> std::process::Output {
        self.swap_of_ok(&self.dump, extra)
    }

    /// A swap of the test's dump started in the background, its output captured.
    pub fn spawn_swap(&self) -> std::process::Child {
        self.tool_process()
            .args(["--schema", "trading", "--yes", "--dump"])
            .arg(&self.dump)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Waits (30 s at most) until `count_sql`, run in the maintenance database, counts more
    /// than zero: the moment a test acts on a running swap.
    pub fn wait_until(&self, count_sql: &str, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.cluster.psql("postgres", count_sql) == "0" {
            assert!(Instant::now() < deadline, "{what} never happened");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until the swap's session is streaming a table's data.
    pub fn wait_until_copying(&self) {
        self.wait_until(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'schema-swap' AND query LIKE 'COPY%'",
            "the swap's COPY",
        );
    }

    /// Damages the target's schema the ways incidents do: rows lost and changed, a table
    /// dropped, a sequence reset.
    pub fn damage(&self) {
        self.cluster.psql_script(
            TARGET,
            "DELETE FROM trading.fills WHERE id > 100;
             UPDATE trading.orders SET note = 'damaged' WHERE id % 3 = 0;
             DROP TABLE trading.blobs;
             SELECT setval('trading.ticket_seq', 101);",
        );
    }

    pub fn fingerprint(&self, db: &str) -> String {
        fingerprint(&self.cluster, db, "trading")
    }

    /// Schemas of the target whose name starts with `trading`.
    pub fn schemas(&self) -> Vec<String> {
        self.cluster
            .psql(
                TARGET,
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'trading%' ORDER BY 1",
            )
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Waits until no session of schema-swap is left on the server (a killed client's
    /// backend ends once it notices), so the database is looked at after its rollback.
    pub fn wait_for_no_swap_session(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = self.cluster.psql(
                "postgres",
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'schema-swap'",
            );
            if left == "0" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "a schema-swap session is still on the server after 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Everything a restore must bring back, as text two databases can be compared by.
pub fn fingerprint(cluster: &PgCluster, db: &str, schema: &str) -> String {
    let lit = format!("'{}'", schema.replace('\'', "''"));
    let catalog = cluster.psql(
        db,
        &format!(
            "WITH n AS (SELECT oid, nspname, nspacl, nspowner FROM pg_namespace WHERE nspname = {lit})
             SELECT string_agg(x, E'\\n' ORDER BY x) FROM (
               SELECT 'class ' || c.relname || ' kind=' || c.relkind::text || ' owner=' || c.relowner::regrole
                      || ' acl=' || coalesce(c.relacl::text, '') || ' comment=' || coalesce(obj_description(c.oid, 'pg_class'), '') AS x
                 FROM pg_class c JOIN n ON c.relnamespace = n.oid
               UNION ALL SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = {lit}
               UNION ALL SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(co.oid)
                 FROM pg_constraint co JOIN n ON co.connamespace = n.oid
               UNION ALL SELECT 'sequence ' || sequencename || ' last=' || coalesce(last_value::text, 'null')
                 FROM pg_sequences WHERE schemaname = {lit}
               UNION ALL SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                      || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '') || ' identity=' || a.attidentity::text
                      || ' notnull=' || a.attnotnull || ' comment=' || coalesce(col_description(c.oid, a.attnum), '')
                 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN n ON c.relnamespace = n.oid
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                 WHERE a.attnum > 0 AND NOT a.attisdropped
               UNION ALL SELECT 'function ' || p.oid::regprocedure::text || ' ' || md5(p.prosrc)
                      || ' comment=' || coalesce(obj_description(p.oid, 'pg_proc'), '')
                 FROM pg_proc p JOIN n ON p.pronamespace = n.oid
               UNION ALL SELECT 'type ' || t.typname || ' ' || t.typtype::text FROM pg_type t JOIN n ON t.typnamespace = n.oid
               UNION ALL SELECT 'enum ' || e.enumlabel || ' ' || e.enumsortorder
                 FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid JOIN n ON t.typnamespace = n.oid
               UNION ALL SELECT 'schema acl=' || coalesce(nspacl::text, '') || ' owner=' || nspowner::regrole
                      || ' comment=' || coalesce(obj_description(oid, 'pg_namespace'), '') FROM n
             ) s"
        ),
    );
    let tables = cluster.psql(
        db,
        &format!(
            "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = {lit} AND c.relkind IN ('r', 'm') ORDER BY 1"
        ),
    );
    let mut out = catalog;
    for table in tables.lines() {
        let rows = cluster.psql(
            db,
            &format!(
                "SELECT count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM {table} t"
            ),
        );
        out = format!("{out}\nrows {table} {rows}");
    }
    out
}

/// The record a run wrote, checked against the JSON Schema.
pub fn record(stdout: &[u8]) -> Value {
    testkit::schema::assert_valid_record(stdout)
}

/// The names of the failed checks in a swap section.
pub fn failed_checks(record: &Value) -> Vec<String> {
    record["swap"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The schema of a [`Gated`] setup, from the corpus shape `tests/corpus/extensions.sql`:
/// `public` with pg_trgm, citext, btree_gist and uuid-ossp, or `kit`, a schema of its own
/// holding hstore. Extensions living in the schema the fault tests swap.
#[derive(Debug, Clone, Copy)]
pub enum GatedSchema {
    Public,
    Kit,
}

impl GatedSchema {
    pub fn name(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Kit => "kit",
        }
    }

    /// The table of the shape that the gates are put on.
    pub fn table(self) -> &'static str {
        match self {
            Self::Public => "users",
            Self::Kit => "settings",
        }
    }

    /// The corpus shape and, on top, the gates for this schema: the table's CHECK calls gate
    /// 1 (so its COPY waits there), an index's expression calls gate 2, and a materialized
    /// view, refreshed by the restore's last statement, calls gate 3 and a function outside
    /// the schema.
    fn sql(self) -> String {
        let corpus = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/corpus/extensions.sql"
        );
        let shape = std::fs::read_to_string(corpus).unwrap();
        let (s, t) = (self.name(), self.table());
        format!(
            "{shape}
             CREATE SCHEMA guards;
             CREATE FUNCTION guards.guard(n bigint) RETURNS bigint LANGUAGE sql AS 'SELECT n';
             -- IMMUTABLE (a lie) so that an index may use it; called with a column, so that
             -- no planner ever folds it to a constant and waits at the gate while planning.
             CREATE FUNCTION {s}.swap_gate(k integer, v anyelement) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS
               $$ BEGIN PERFORM pg_advisory_lock_shared(k); PERFORM pg_advisory_unlock_shared(k); RETURN v IS NOT NULL; END $$;
             ALTER TABLE {s}.{t} ADD CONSTRAINT gated_rows CHECK ({s}.swap_gate(1, id));
             CREATE INDEX {t}_gated ON {s}.{t} (({s}.swap_gate(2, id)));
             CREATE MATERIALIZED VIEW {s}.zz_gated AS
                 SELECT bool_and({s}.swap_gate(3, id)) AS passed, guards.guard(count(*)) AS n FROM {s}.{t};"
        )
    }
}

/// The points a [`Gated`] swap can be held at, each a shared advisory lock the restore's
/// statements wait for while a test holds it: 1 the table's COPY (its CHECK), 2 an index
/// build, 3 the materialized view's refresh, the restore's last statement.
pub const GATES: [i32; 3] = [1, 2, 3];

/// A cluster with `source` and `gordon` holding a [`GatedSchema`], and a dump of the source.
/// Fault tests act on a swap of it at moments they observe, never after a guessed delay.
pub struct Gated {
    pub cluster: PgCluster,
    pub schema: GatedSchema,
    pub dump: PathBuf,
}

impl Gated {
    pub fn new(major: u32, schema: GatedSchema) -> Self {
        // No autovacuum: its ANALYZE would evaluate the gated index and wait at a gate too.
        let cluster = PgCluster::start_with(
            major,
            &testkit::PgOptions {
                conf: vec!["autovacuum = off".into()],
                ..testkit::PgOptions::default()
            },
        );
        let roles = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/corpus/roles.sql");
        cluster.psql_script("postgres", &std::fs::read_to_string(roles).unwrap());
        for db in [SOURCE, TARGET] {
            cluster.create_database(db);
            cluster.psql_script(db, &schema.sql());
        }
        let dump = cluster.scratch().join("gated.dump");
        cluster.pg_dump(["-Fc", "-f", dump.to_str().unwrap(), SOURCE]);
        Self {
            cluster,
            schema,
            dump,
        }
    }

    pub fn name(&self) -> &'static str {
        self.schema.name()
    }

    /// Rows lost and an index dropped, as an incident leaves them.
    pub fn damage(&self) {
        let damage = match self.schema {
            GatedSchema::Public => {
                "DELETE FROM public.users WHERE handle::text LIKE 'User1%'; DROP INDEX public.users_bio_trgm;"
            }
            GatedSchema::Kit => {
                "DELETE FROM kit.settings WHERE id > 20; DROP INDEX kit.settings_attrs;"
            }
        };
        self.cluster.psql_script(TARGET, damage);
    }

    pub fn snapshot(&self) -> testkit::oracle::Snapshot {
        testkit::oracle::Snapshot::take(&self.cluster, TARGET, self.name())
    }

    /// Schemas of the target named like the swapped one or its set-aside copies.
    pub fn schemas(&self) -> Vec<String> {
        self.cluster
            .psql(
                TARGET,
                &format!(
                    "SELECT nspname FROM pg_namespace WHERE nspname = '{0}' OR nspname LIKE '{0}\\_prev\\_%' ORDER BY 1",
                    self.name()
                ),
            )
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Drops every set-aside copy, so the next run starts from the same schemas.
    pub fn drop_previous(&self) {
        for name in self.schemas().iter().filter(|n| n.as_str() != self.name()) {
            self.cluster
                .psql(TARGET, &format!("DROP SCHEMA \"{name}\" CASCADE"));
        }
    }

    /// schema-swap aimed at the target database, with nothing of the runner's PG*.
    pub fn tool_process(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("schema-swap"));
        testkit::pg::clear_pg_env(&mut cmd);
        cmd.env_remove("RESTORE_SKIP_CONFIRM")
            .envs(self.cluster.env())
            .env("PGDATABASE", TARGET)
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null());
        cmd
    }

    /// A swap started in the background; it waits at any gate held. Its lock timeout is long:
    /// a gate is a lock, and the test decides when it opens.
    pub fn spawn_swap(&self) -> Running {
        let child = self
            .tool_process()
            .args([
                "--schema",
                self.name(),
                "--yes",
                "--lock-timeout",
                "1h",
                "--dump",
            ])
            .arg(&self.dump)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        Running::new(child)
    }

    /// Holds every gate, in a session of its own.
    pub fn hold_gates(&self) -> Gates {
        Gates::hold(&self.cluster)
    }

    /// Waits until the swap's session (or a parallel worker of it) waits at gate `k`.
    pub fn wait_at_gate(&self, k: i32) {
        wait_at_gate(&self.cluster, TARGET, k);
    }

    /// Waits until no schema-swap session is left on the server (a killed client's backend
    /// ends once it notices), so the database is looked at after its rollback.
    pub fn wait_for_no_swap_session(&self) {
        wait_for_no_session(&self.cluster);
    }
}

/// Waits until a schema-swap session (or a parallel worker of it) in `db` waits at gate
/// `k`: a restore statement blocked on it.
pub fn wait_at_gate(cluster: &PgCluster, db: &str, k: i32) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let sql = format!(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND NOT l.granted AND l.classid = 0 AND l.objid = {k} AND l.objsubid = 1
           AND (a.application_name = 'schema-swap'
                OR a.leader_pid IN (SELECT pid FROM pg_stat_activity WHERE application_name = 'schema-swap'))"
    );
    while cluster.psql(db, &sql) == "0" {
        assert!(
            Instant::now() < deadline,
            "no restore ever waited at gate {k}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until no schema-swap session is left on the server (a killed client's backend ends
/// once it notices), so the database is looked at after its rollback.
pub fn wait_for_no_session(cluster: &PgCluster) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while cluster.psql(
        "postgres",
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'schema-swap'",
    ) != "0"
    {
        assert!(
            Instant::now() < deadline,
            "a schema-swap session is still on the server"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A psql session holding the gates' advisory locks until it releases them or ends.
pub struct Gates {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
}

impl Gates {
    /// Holds every gate in `TARGET`, in a session of its own.
    pub fn hold(cluster: &PgCluster) -> Self {
        use std::io::Write as _;
        let mut child = cluster
            .client("psql")
            .args(["-X", "-q", "-d", TARGET])
            .env("PGAPPNAME", "gate-keeper")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        for k in GATES {
            writeln!(stdin, "SELECT pg_advisory_lock({k});").unwrap();
        }
        stdin.flush().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let held = "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                    WHERE a.application_name = 'gate-keeper' AND l.locktype = 'advisory' AND l.granted
                      AND l.classid = 0 AND l.objid IN (1, 2, 3)";
        while cluster.psql(TARGET, held) != GATES.len().to_string() {
            assert!(Instant::now() < deadline, "the gates were never held");
            std::thread::sleep(Duration::from_millis(10));
        }
        Self { child, stdin }
    }

    /// Opens gate `k`: restores waiting there go on.
    pub fn release(&mut self, k: i32) {
        use std::io::Write as _;
        writeln!(self.stdin, "SELECT pg_advisory_unlock({k});").unwrap();
        self.stdin.flush().unwrap();
    }
}

impl Drop for Gates {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A schema-swap running in the background, its stderr read line by line as it comes.
pub struct Running {
    pub child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    pub said: Vec<String>,
    stdout: Option<std::thread::JoinHandle<Vec<u8>>>,
}

impl Running {
    pub fn new(mut child: std::process::Child) -> Self {
        use std::io::{BufRead as _, Read as _};
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut out = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = out.read_to_end(&mut buf);
            buf
        });
        Self {
            child,
            lines,
            said: Vec::new(),
            stdout: Some(stdout),
        }
    }

    /// Waits until the tool says a line containing `needle`; false if it ended first.
    pub fn wait_for_line(&mut self, needle: &str) -> bool {
        if self.said.iter().any(|l| l.contains(needle)) {
            return true;
        }
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(120)) {
            let found = line.contains(needle);
            self.said.push(line);
            if found {
                return true;
            }
        }
        false
    }

    /// Sends `signal` (e.g. `-KILL`, `-TERM`) to the tool.
    pub fn signal(&self, signal: &str) {
        let sent = std::process::Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success() || signal == "-KILL");
    }

    /// Waits for the tool to end: its exit code, stdout and everything it said.
    pub fn finish(mut self) -> (Option<i32>, Vec<u8>, String) {
        let status = self.child.wait().unwrap();
        let stdout = self.stdout.take().unwrap().join().unwrap();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(10)) {
            self.said.push(line);
        }
        (status.code(), stdout, self.said.join("\n"))
    }
}

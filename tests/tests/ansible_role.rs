//! The Ansible collection under ansible/, run by the real `ansible-playbook` against two
//! inventory hosts on this machine (local connection, each with its own directories and
//! environment): a backup host holding a real restic repository of pg_dump archives, and a
//! database host with a real PostgreSQL 16 and a stand-in for the runbook's three services.
//!
//! The tool binaries come from the workspace build this test belongs to (built here with
//! `cargo build -p <tool>` when missing or stale) and reach the role as `schema_restore_bin_dir`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // in tests a panic is a failed test with a line number; a scenario reads top to bottom

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use testkit::pg::{psql_script_with, run_ok};
use testkit::restic::Backup;
use testkit::{PgCluster, PgOptions, ResticRepo};

const TOOLS: [&str; 6] = [
    "snapshot-pick",
    "dump-validate",
    "pg-preflight",
    "rowcount-report",
    "schema-swap",
    "svc-verify",
];

/// Secrets the play is given; neither may ever appear in its output.
const PG_PASSWORD: &str = "pg-secret-never-printed";
const RESTIC_PASSWORD: &str = "correct horse battery staple";

/// Where the dumps live on the database host that was backed up, below restic's source root.
const DUMP_REL: &str = "var/lib/postgres-dumps/gordon-trading.dump";

/// The tables of the seeded schema, and what the newest good dump holds of each.
const TABLES: [(&str, u64); 4] = [("bots", 7), ("equity", 120), ("orders", 2000), ("runs", 3)];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into()));
    cmd.current_dir(workspace_root());
    cmd
}

/// The directory of the workspace build holding the tools: cargo metadata's target directory,
/// in the profile this test was built with (debug or release). Builds the tools there first, so
/// `cargo test -p schema-restore-tests` alone tests the current code too.
fn tools_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().unwrap().parent().unwrap();
        let profile_dir_name = profile_dir
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let profile = if profile_dir_name == "debug" {
            "dev".to_owned()
        } else {
            profile_dir_name.clone()
        };
        let mut build = cargo();
        build.args(["build", "--quiet", "--profile", &profile]);
        for tool in TOOLS {
            build.args(["-p", tool]);
        }
        run_ok(&mut build, "cargo build of the tools");
        let out = run_ok(
            cargo().args(["metadata", "--format-version", "1", "--no-deps"]),
            "cargo metadata",
        );
        let metadata: Value = serde_json::from_slice(&out.stdout).unwrap();
        let dir = Path::new(metadata["target_directory"].as_str().unwrap()).join(&profile_dir_name);
        for tool in TOOLS {
            assert!(
                dir.join(tool).is_file(),
                "{tool} is not in {}",
                dir.display()
            );
        }
        dir
    })
}

/// The cluster, reached with the password it requires.
struct Db {
    cluster: PgCluster,
}

impl Db {
    fn start() -> Self {
        let cluster = PgCluster::start_with(
            16,
            &PgOptions {
                password: Some(PG_PASSWORD.into()),
                ..PgOptions::default()
            },
        );
        Self { cluster }
    }

    fn client(&self, name: &str) -> Command {
        let mut cmd = self.cluster.client(name);
        cmd.env("PGPASSWORD", PG_PASSWORD);
        cmd
    }

    fn sql(&self, db: &str, sql: &str) -> String {
        let out = run_ok(
            self.client("psql").args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                db,
                "-c",
                sql,
            ]),
            "psql",
        );
        String::from_utf8(out.stdout).unwrap().trim_end().to_owned()
    }

    fn dump(&self, path: &Path) -> Vec<u8> {
        run_ok(
            self.client("pg_dump")
                .args(["-Fc", "-n", "trading", "-f"])
                .arg(path)
                .arg("gordon"),
            "pg_dump",
        );
        std::fs::read(path).unwrap()
    }

    /// Runs a SQL script in database gordon, stopping at the first error.
    fn script(&self, script: &str) {
        psql_script_with(self.client("psql"), "gordon", script);
    }

    /// Each table of schema trading: its row count and a digest of its rows.
    fn contents(&self) -> BTreeMap<String, String> {
        let tables = self.sql(
            "gordon",
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'trading' AND c.relkind = 'r' ORDER BY 1",
        );
        tables
            .lines()
            .filter(|t| !t.is_empty())
            .map(|t| {
                let digest = self.sql(
                    "gordon",
                    &format!(
                        "SELECT count(*) || ' ' || coalesce(md5(string_agg(r::text, '|' ORDER BY r::text)), '-') \
                         FROM trading.\"{t}\" r"
                    ),
                );
                (t.to_owned(), digest)
            })
            .collect()
    }

    /// Everything a change would touch: the schemas with their oids (a swap renames one and
    /// creates another), the roles, the tables of trading with their oids, and their contents.
    fn fingerprint(&self) -> String {
        let schemas = self.sql(
            "gordon",
            "SELECT string_agg(nspname || '=' || oid, ',' ORDER BY nspname) FROM pg_namespace \
             WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'",
        );
        let roles = self.sql(
            "gordon",
            "SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles WHERE rolname !~ '^pg_'",
        );
        let tables = self.sql(
            "gordon",
            "SELECT string_agg(c.relname || '=' || c.oid, ',' ORDER BY c.relname) FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'trading'",
        );
        format!(
            "schemas {schemas}\nroles {roles}\nrelations {tables}\n{:#?}",
            self.contents()
        )
    }
}

const SEED: &str = "
CREATE ROLE gordon_app;
CREATE SCHEMA trading;
CREATE TABLE trading.bots (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE trading.runs (id int PRIMARY KEY, bot_id int NOT NULL REFERENCES trading.bots, started_at timestamptz NOT NULL);
CREATE TABLE trading.equity (run_id int REFERENCES trading.runs, t int, value numeric NOT NULL, PRIMARY KEY (run_id, t));
CREATE TABLE trading.orders (id bigint PRIMARY KEY, run_id int NOT NULL REFERENCES trading.runs, side text NOT NULL, qty numeric NOT NULL, note text);
INSERT INTO trading.bots SELECT i, 'bot-' || i FROM generate_series(1, 6) i;
INSERT INTO trading.runs SELECT i, i, timestamptz '2024-01-01 00:00:00+00' + i * interval '1 day' FROM generate_series(1, 3) i;
INSERT INTO trading.equity SELECT r, t, 1000 + r * 10 + t FROM generate_series(1, 3) r, generate_series(1, 40) t;
INSERT INTO trading.orders SELECT i, 1 + i % 3, CASE WHEN i % 2 = 0 THEN 'buy' ELSE 'sell' END, i % 17, md5(i::text) FROM generate_series(1, 2000) i;
GRANT USAGE ON SCHEMA trading TO gordon_app;
GRANT SELECT ON ALL TABLES IN SCHEMA trading TO gordon_app;
CREATE SCHEMA market_data;
CREATE TABLE market_data.prices (symbol text, at int, price numeric);
INSERT INTO market_data.prices SELECT 'BTC', i, 40000 + i FROM generate_series(1, 50) i;
";

/// A stand-in for the runbook's three services, answering as they would with the restored
/// schema: /api/bots lists 7 bots, /healthz says ok, /api/equity?run_id=3 has 40 points.
fn start_services() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    return;
                }
                loop {
                    let mut line = String::new();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) if line == "\r\n" || line == "\n" => break,
                        Ok(_) => {}
                    }
                }
                let path = request_line.split(' ').nth(1).unwrap_or("/");
                let array = |n: usize| {
                    serde_json::to_string(&(0..n).map(|i| json!({ "i": i })).collect::<Vec<_>>())
                        .unwrap()
                };
                let (status, body) = match path {
                    "/api/bots" => ("200 OK", array(7)),
                    "/healthz" => ("200 OK", "{\"status\":\"ok\"}".to_owned()),
                    "/api/equity?run_id=3" => ("200 OK", array(40)),
                    _ => ("404 Not Found", "{}".to_owned()),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    port
}

/// Which dumps the restic repository holds.
#[derive(Clone, Copy, PartialEq)]
enum Newest {
    /// The newest snapshot's dump is whole (7 bots; the older one has 6).
    Good,
    /// The newest snapshot's dump is cut short (the older one is whole).
    Truncated,
}

/// A database with the seeded schema, a restic repository of its dumps, and a generated
/// inventory of two local hosts, all in one temporary directory.
struct Scene {
    db: Db,
    repo: ResticRepo,
    dir: tempfile::TempDir,
    /// What schema trading held in the newest good dump.
    restored_contents: BTreeMap<String, String>,
}

impl Scene {
    fn new(newest: Newest) -> Self {
        let db = Db::start();
        db.sql("postgres", "CREATE DATABASE gordon");
        db.script(SEED);
        let scratch = db.cluster.scratch();
        let older = db.dump(&scratch.join("older.dump"));
        db.sql("gordon", "INSERT INTO trading.bots VALUES (7, 'bot-7')");
        let restored_contents = db.contents();
        let newer = db.dump(&scratch.join("newer.dump"));
        let newest_bytes = match newest {
            Newest::Good => newer,
            Newest::Truncated => newer[..newer.len() * 2 / 3].to_vec(),
        };
        assert!(
            newest_bytes.len() > 2048,
            "the dumps are big enough to count as dumps"
        );

        let repo = ResticRepo::new();
        for (time, bytes) in [
            ("2024-03-01 10:05:00", &older),
            ("2024-03-01 11:05:00", &newest_bytes),
        ] {
            repo.backup(&Backup {
                time,
                tz: "UTC",
                host: "srv-apps",
                tags: &["srv-apps", "scheduled"],
                files: &[(DUMP_REL, bytes.as_slice())],
            });
        }

        let dir = collection_dir("ansible-role-");
        Self {
            db,
            repo,
            dir,
            restored_contents,
        }
        .with_inventory()
    }

    fn with_inventory(self) -> Self {
        let port = start_services();
        let repo = &self.repo;
        let backup_dir = self.dir.path().join("backup-host");
        let apps_dir = self.dir.path().join("apps-host");
        std::fs::create_dir_all(&backup_dir).unwrap();
        std::fs::create_dir_all(&apps_dir).unwrap();
        let bindir = self.db.cluster.install.bindir.clone();
        let pg = self
            .db
            .cluster
            .env()
            .into_iter()
            .filter(|(k, _)| k != "PGDATABASE");
        let inventory = json!({
            "all": {
                "vars": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                },
                "children": {
                    "backup": { "hosts": { "backup1": {
                        "restic_repository": repo.path(),
                        "restic_password": RESTIC_PASSWORD,
                        "restic_environment": {
                            "RESTIC_CACHE_DIR": backup_dir.join("restic-cache"),
                        },
                        "tools_bin_dir": tools_dir(),
                        "staging_dir": backup_dir.join("staging"),
                    } } },
                    "apps": { "hosts": { "apps1": {
                        "schema_restore_schema": "trading",
                        "schema_restore_database": "gordon",
                        "schema_restore_dump_path": repo.snapshot_path(DUMP_REL),
                        "schema_restore_snapshot_hosts": ["srv-apps"],
                        "schema_restore_snapshot_tags": ["srv-apps,scheduled"],
                        "schema_restore_require_tables": ["bots"],
                        "schema_restore_bin_dir": tools_dir(),
                        "schema_restore_dump_dir": apps_dir.join("dumps"),
                        "schema_restore_pg_environment": pg.collect::<BTreeMap<_, _>>(),
                        "schema_restore_pg_password": PG_PASSWORD,
                        "schema_restore_pg_bindirs": [&bindir],
                        "schema_restore_start_command": [bindir.join("pg_isready")],
                        "schema_restore_migrate_command": [
                            bindir.join("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "gordon", "-c",
                            "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gordon_app') \
                             THEN CREATE ROLE gordon_app; END IF; END$$",
                        ],
                        "schema_restore_record_file": apps_dir.join("record.json"),
                        "schema_restore_services_wait": "5s",
                        "schema_restore_service_vars": {
                            "latest_run_id": "SELECT max(id) FROM trading.runs",
                        },
                        "schema_restore_service_checks": [
                            {
                                "name": "bots",
                                "url": format!("http://127.0.0.1:{port}/api/bots"),
                                "length": { "rowcount": "trading.bots" },
                                "timeout": "5s",
                            },
                            {
                                "name": "healthz",
                                "url": format!("http://127.0.0.1:{port}/healthz"),
                                "timeout": "5s",
                            },
                            {
                                "name": "equity",
                                "url": format!("http://127.0.0.1:{port}/api/equity?run_id={{latest_run_id}}"),
                                "length": { "sql": "SELECT count(*) FROM trading.equity WHERE run_id = (SELECT max(id) FROM trading.runs)" },
                                "timeout": "5s",
                            },
                        ],
                    } } },
                },
            },
        });
        std::fs::write(
            self.inventory(),
            serde_json::to_string_pretty(&inventory).unwrap(),
        )
        .unwrap();
        self
    }

    fn inventory(&self) -> PathBuf {
        self.dir.path().join("inventory.json")
    }

    fn apps_dir(&self) -> PathBuf {
        self.dir.path().join("apps-host")
    }

    fn playbook(&self, args: &[&str]) -> Played {
        play(self.dir.path(), &self.inventory(), "restore.yml", args)
    }
}

/// What one ansible-playbook run printed and how it ended.
struct Played {
    code: Option<i32>,
    output: String,
}

impl Played {
    /// The numbers of a host's line in the PLAY RECAP, e.g. changed, failed.
    fn recap(&self, host: &str) -> BTreeMap<String, u64> {
        let recap = self
            .output
            .split("PLAY RECAP")
            .nth(1)
            .unwrap_or_else(|| panic!("no PLAY RECAP:\n{}", self.output));
        let line = recap
            .lines()
            .find(|l| l.split_whitespace().next() == Some(host))
            .unwrap_or_else(|| panic!("{host} not in the recap:\n{recap}"));
        line.split(':')
            .nth(1)
            .unwrap()
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.parse().unwrap()))
            .collect()
    }

    fn assert_keeps_secrets(&self) {
        for secret in [PG_PASSWORD, RESTIC_PASSWORD] {
            assert!(
                !self.output.contains(secret),
                "a secret was printed:\n{}",
                self.output
            );
        }
    }
}

/// Runs `ansible-playbook` on a playbook of the collection, with the collection found through
/// ANSIBLE_COLLECTIONS_PATH and nothing from the caller's Ansible, Postgres or restic settings.
fn play(dir: &Path, inventory: &Path, playbook: &str, args: &[&str]) -> Played {
    let mut cmd = Command::new("ansible-playbook");
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        if key_text.starts_with("PG")
            || key_text.starts_with("RESTIC_")
            || key_text.starts_with("ANSIBLE_")
        {
            cmd.env_remove(&key);
        }
    }
    let home = dir.join("ansible-home");
    cmd.current_dir(dir)
        .env("ANSIBLE_COLLECTIONS_PATH", dir.join("collections"))
        .env("ANSIBLE_HOME", &home)
        .env("ANSIBLE_LOCAL_TEMP", home.join("tmp"))
        .env("ANSIBLE_REMOTE_TEMP", home.join("remote-tmp"))
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "false")
        .env("ANSIBLE_DEPRECATION_WARNINGS", "false")
        .env("NO_COLOR", "1")
        .arg("-i")
        .arg(inventory)
        .arg(workspace_root().join("ansible/playbooks").join(playbook))
        .args(args);
    let out = cmd
        .output()
        .expect("ansible-playbook runs (scripts/install-deps installs ansible-core)");
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Played {
        code: out.status.code(),
        output,
    }
}

/// A scratch directory holding the collection where ansible-playbook looks for collections
/// (`collections/ansible_collections/schema_restore/tools`, a link to this repository's).
fn collection_dir(prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    let collection = dir
        .path()
        .join("collections/ansible_collections/schema_restore");
    std::fs::create_dir_all(&collection).unwrap();
    std::os::unix::fs::symlink(workspace_root().join("ansible"), collection.join("tools")).unwrap();
    dir
}

#[test]
fn the_playbook_brings_back_a_dropped_schema_with_its_row_counts() {
    let scene = Scene::new(Newest::Good);
    // The worst case of the runbook: the schema is gone, and so is the role its grants name
    // (replacement hardware before the migrations ran).
    scene.db.sql("gordon", "DROP SCHEMA trading CASCADE");
    scene.db.sql("gordon", "DROP ROLE gordon_app");
    let market_before = scene
        .db
        .sql("gordon", "SELECT count(*) FROM market_data.prices");

    let played = scene.playbook(&["-v", "-e", "schema_restore_confirm=true"]);
    assert_eq!(played.code, Some(0), "{}", played.output);
    played.assert_keeps_secrets();

    // Every table is back with the rows of the newest snapshot's dump, exactly.
    assert_eq!(scene.db.contents(), scene.restored_contents);
    for (table, rows) in TABLES {
        assert_eq!(
            scene
                .db
                .sql("gordon", &format!("SELECT count(*) FROM trading.{table}")),
            rows.to_string(),
            "trading.{table}"
        );
    }
    // The migration step made the role, and the swap restored its grants.
    assert_eq!(
        scene.db.sql(
            "gordon",
            "SELECT has_table_privilege('gordon_app', 'trading.bots', 'SELECT')"
        ),
        "t"
    );
    // Nothing outside the schema was touched.
    assert_eq!(
        scene
            .db
            .sql("gordon", "SELECT count(*) FROM market_data.prices"),
        market_before
    );

    // The record for the postmortem holds every step, each ok, the swap committed.
    let record: Value =
        serde_json::from_slice(&std::fs::read(scene.apps_dir().join("record.json")).unwrap())
            .unwrap();
    for section in ["snapshot", "dump", "preflight", "swap", "services"] {
        assert_eq!(record[section]["ok"], true, "{section}: {record:#}");
    }
    assert_eq!(record["swap"]["committed"], true);
    assert_eq!(
        record["snapshot"]["pick"]["time"].as_str().unwrap()[..16],
        *"2024-03-01T11:05"
    );
    for label in ["pre", "post"] {
        assert!(
            record["rowcounts"][label].is_object(),
            "rowcounts.{label}: {record:#}"
        );
    }
    assert!(
        record["services"]["checks"].as_array().unwrap().len() >= 3,
        "{record:#}"
    );

    // Only the swap and the operator's two commands reported a change; the scratch copies of
    // the dump are gone.
    let recap = played.recap("apps1");
    assert_eq!(recap["failed"], 0);
    assert!(recap["changed"] >= 1, "{recap:?}");
    assert!(
        !scene.apps_dir().join("dumps/gordon-trading.dump").exists(),
        "the copied dump was removed"
    );
    let staging = scene.dir.path().join("backup-host/staging");
    assert_eq!(
        std::fs::read_dir(&staging).unwrap().count(),
        0,
        "staging emptied"
    );
}

#[test]
fn check_mode_runs_every_read_only_step_and_changes_nothing() {
    let scene = Scene::new(Newest::Good);
    // A damaged schema: rows lost, a table gone.
    scene
        .db
        .sql("gordon", "DELETE FROM trading.bots WHERE id > 3");
    scene.db.sql("gordon", "DROP TABLE trading.orders");
    let before = scene.db.fingerprint();

    // No confirmation: --check never needs one.
    let played = scene.playbook(&["--check", "-v"]);
    assert_eq!(played.code, Some(0), "{}", played.output);
    played.assert_keeps_secrets();

    assert_eq!(
        scene.db.fingerprint(),
        before,
        "--check changed the database"
    );
    // The delegated restic steps count for apps1, the play's only host.
    assert_eq!(played.recap("apps1")["changed"], 0, "{}", played.output);
    // The read-only tools really ran: validation, preflight and the counts, and the swap as a
    // dry run.
    for task in [
        "Pick the snapshot (snapshot-pick)",
        "Validate the dump (dump-validate)",
        "Check Postgres is ready (pg-preflight)",
        "Count the rows before the swap (rowcount-report --label pre)",
        "Replace the schema (schema-swap --dry-run)",
    ] {
        let shown = played
            .output
            .split(&format!(
                "TASK [schema_restore.tools.schema_restore : {task}]"
            ))
            .nth(1)
            .unwrap_or_else(|| panic!("task '{task}' did not run:\n{}", played.output));
        let first = shown
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('*'))
            .unwrap();
        assert!(first.starts_with("ok: [apps1"), "{task}: {first}");
    }
    assert!(
        played
            .output
            .contains("Dry run (check mode): nothing changed")
    );
    assert!(
        !scene.apps_dir().join("record.json").exists(),
        "--check wrote no record file"
    );
}

#[test]
fn bad_variables_are_refused_before_anything_runs() {
    let dir = collection_dir("ansible-role-");
    let marker = dir.path().join("ran");
    let inventory = |apps: Value| {
        let path = dir.path().join("inventory.json");
        let inventory = json!({
            "all": {
                "vars": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                },
                "children": {
                    "backup": { "hosts": { "backup1": {} } },
                    "apps": { "hosts": { "apps1": apps } },
                },
            },
        });
        std::fs::write(&path, inventory.to_string()).unwrap();
        path
    };
    // A start command that leaves a trace: it must never run when the input is refused.
    let good = json!({
        "schema_restore_schema": "trading",
        "schema_restore_database": "gordon",
        "schema_restore_dump_path": "/var/lib/postgres-dumps/gordon-trading.dump",
        "schema_restore_start_command": ["touch", marker],
    });

    // Not a boolean.
    let played = play(
        dir.path(),
        &inventory(good.clone()),
        "restore.yml",
        &["-e", "schema_restore_confirm=maybe"],
    );
    assert_ne!(played.code, Some(0), "{}", played.output);
    assert!(
        played.output.contains("schema_restore_confirm") && played.output.contains("bool"),
        "{}",
        played.output
    );
    assert!(
        played.output.contains("argument spec") || played.output.contains("Validating arguments"),
        "{}",
        played.output
    );

    // No schema name.
    let mut no_schema = good.clone();
    no_schema
        .as_object_mut()
        .unwrap()
        .remove("schema_restore_schema");
    let played = play(
        dir.path(),
        &inventory(no_schema),
        "restore.yml",
        &["-e", "schema_restore_confirm=true"],
    );
    assert_ne!(played.code, Some(0), "{}", played.output);
    assert!(
        played.output.contains("schema_restore_schema") && played.output.contains("required"),
        "{}",
        played.output
    );

    // A service check without its URL.
    let mut bad_types = good.clone();
    bad_types["schema_restore_service_checks"] = json!([{ "name": "bots" }]);
    let played = play(
        dir.path(),
        &inventory(bad_types),
        "restore.yml",
        &["-e", "schema_restore_confirm=true"],
    );
    assert_ne!(played.code, Some(0), "{}", played.output);
    assert!(played.output.contains("url"), "{}", played.output);

    // Valid input but no confirmation: refused early, with the way forward.
    let played = play(dir.path(), &inventory(good), "restore.yml", &[]);
    assert_ne!(played.code, Some(0), "{}", played.output);
    assert!(
        played.output.contains("set schema_restore_confirm: true"),
        "{}",
        played.output
    );
    assert!(!marker.exists(), "a refused play ran a command");
    assert!(
        !played.output.contains("snapshot-pick"),
        "a refused play ran a tool:\n{}",
        played.output
    );
}

#[test]
fn a_truncated_dump_in_the_newest_snapshot_stops_the_play_before_any_change() {
    let scene = Scene::new(Newest::Truncated);
    scene
        .db
        .sql("gordon", "DELETE FROM trading.orders WHERE id > 100");
    let before = scene.db.fingerprint();

    let played = scene.playbook(&["-e", "schema_restore_confirm=true"]);
    assert_ne!(played.code, Some(0), "{}", played.output);
    played.assert_keeps_secrets();
    assert!(
        played.output.contains("dump-validate on apps1 exited 1"),
        "the failure names the tool:\n{}",
        played.output
    );
    assert!(
        played.output.contains("Failed checks:"),
        "the failure gives the failing check's detail:\n{}",
        played.output
    );
    assert_eq!(
        scene.db.fingerprint(),
        before,
        "a bad dump changed the database"
    );
    for later in [
        "Start Postgres (schema_restore_start_command)",
        "Run the migrations that create the roles (schema_restore_migrate_command)",
        "Check Postgres is ready (pg-preflight)",
        "Replace the schema (schema-swap)",
    ] {
        assert!(
            !played.output.contains(&format!(
                "TASK [schema_restore.tools.schema_restore : {later}]"
            )),
            "'{later}' ran after a failed validation:\n{}",
            played.output
        );
    }
    assert!(
        !scene.apps_dir().join("dumps/gordon-trading.dump").exists(),
        "cleaned up after the failure"
    );
}

#[test]
fn install_copies_the_tools_and_templates_the_drill_timer() {
    let dir = collection_dir("ansible-install-");
    let host = |name: &str| {
        let root = dir.path().join(name);
        json!({
            "schema_restore_install_dir": root.join("bin"),
            "schema_restore_install_lib_dir": root.join("lib"),
            "schema_restore_install_scripts_src": workspace_root().join("scripts"),
            "schema_restore_systemd_dir": root.join("systemd"),
        })
    };
    // apps1 gets units written from the role's variables; backup1 gets ready-made ones copied.
    let mut apps = host("apps1");
    apps["schema_restore_drill_timer"] = json!(true);
    apps["schema_restore_drill_environment"] = json!({ "TZ": "Europe/Paris" });
    apps["schema_restore_drill_credentials"] = json!({ "restic-password": "/etc/restic/password" });
    let units_src = dir.path().join("units");
    std::fs::create_dir_all(&units_src).unwrap();
    std::fs::write(
        units_src.join("restore-drill.service"),
        "[Service]\nExecStart=/bin/true\n",
    )
    .unwrap();
    std::fs::write(
        units_src.join("restore-drill.timer"),
        "[Timer]\nOnCalendar=quarterly\n",
    )
    .unwrap();
    let mut backup = host("backup1");
    backup["schema_restore_drill_timer"] = json!(true);
    backup["schema_restore_drill_units_src"] = json!(units_src);
    let inventory = dir.path().join("inventory.json");
    std::fs::write(
        &inventory,
        json!({
            "all": {
                "vars": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                    "schema_restore_install_src_dir": tools_dir(),
                    "schema_restore_systemd_manage": false,
                },
                "children": {
                    "backup": { "hosts": { "backup1": backup } },
                    "apps": { "hosts": { "apps1": apps } },
                },
            },
        })
        .to_string(),
    )
    .unwrap();

    let played = play(dir.path(), &inventory, "install.yml", &[]);
    assert_eq!(played.code, Some(0), "{}", played.output);
    for name in ["backup1", "apps1"] {
        for tool in TOOLS {
            let path = dir.path().join(name).join("bin").join(tool);
            let mode = std::os::unix::fs::PermissionsExt::mode(
                &std::fs::metadata(&path).unwrap().permissions(),
            );
            assert_eq!(mode & 0o777, 0o755, "{}", path.display());
            assert_eq!(
                std::fs::read(&path).unwrap(),
                std::fs::read(tools_dir().join(tool)).unwrap()
            );
        }
        assert!(dir.path().join(name).join("lib/scripts/test").is_file());
    }
    let units = dir.path().join("apps1/systemd");
    let service = std::fs::read_to_string(units.join("restore-drill.service")).unwrap();
    for line in [
        "ExecStart=\"/opt/schema-restore/scripts/restore-schema\" \"--drill\"",
        "Environment=\"TZ=Europe/Paris\"",
        "LoadCredential=restic-password:/etc/restic/password",
        "Environment=RESTORE_SKIP_CONFIRM=1",
    ] {
        assert!(service.lines().any(|l| l == line), "{line} in:\n{service}");
    }
    let timer = std::fs::read_to_string(units.join("restore-drill.timer")).unwrap();
    assert!(
        timer.contains("OnCalendar=*-01,04,07,10-15 03:30:00"),
        "{timer}"
    );
    for unit in ["restore-drill.service", "restore-drill.timer"] {
        assert_eq!(
            std::fs::read(dir.path().join("backup1/systemd").join(unit)).unwrap(),
            std::fs::read(units_src.join(unit)).unwrap()
        );
    }

    // A second run changes nothing.
    let again = play(dir.path(), &inventory, "install.yml", &[]);
    assert_eq!(again.code, Some(0), "{}", again.output);
    for name in ["backup1", "apps1"] {
        assert_eq!(again.recap(name)["changed"], 0, "{}", again.output);
    }
}

#[test]
fn the_playbook_brings_back_one_dropped_table_and_check_mode_plans_it() {
    let scene = Scene::new(Newest::Good);
    // After the dump: a row written to another table, then one table dropped by mistake.
    scene.db.sql(
        "gordon",
        "INSERT INTO trading.bots VALUES (100, 'after the dump')",
    );
    let bots = scene.db.sql("gordon", "SELECT count(*) FROM trading.bots");
    scene.db.sql("gordon", "DROP TABLE trading.equity");
    let tables = r#"{"schema_restore_tables": ["equity"]}"#;

    // --check plans the table restore as a dry run and changes nothing.
    let before = scene.db.fingerprint();
    let played = scene.playbook(&["--check", "-v", "-e", tables]);
    assert_eq!(played.code, Some(0), "{}", played.output);
    assert_eq!(
        scene.db.fingerprint(),
        before,
        "--check changed the database"
    );
    assert!(
        played
            .output
            .contains("dry run, nothing changed: would restore equity of"),
        "{}",
        played.output
    );

    let played = scene.playbook(&["-v", "-e", "schema_restore_confirm=true", "-e", tables]);
    assert_eq!(played.code, Some(0), "{}", played.output);
    played.assert_keeps_secrets();
    let equity = TABLES.iter().find(|(t, _)| *t == "equity").unwrap().1;
    assert_eq!(
        scene
            .db
            .sql("gordon", "SELECT count(*) FROM trading.equity"),
        equity.to_string()
    );
    assert_eq!(
        scene.db.sql("gordon", "SELECT count(*) FROM trading.bots"),
        bots,
        "the write to another table stays"
    );
    let record: Value =
        serde_json::from_slice(&std::fs::read(scene.apps_dir().join("record.json")).unwrap())
            .unwrap();
    assert_eq!(
        record["swap"]["table_restore"]["tables"][0]["name"],
        "equity"
    );
    assert_eq!(record["rowcounts"]["post"]["ok"], true, "{record:#}");
    assert_eq!(
        record["rowcounts"]["post"]["tables"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "only the restored table is compared with the dump: {record:#}"
    );
}

//! svc-verify through its binary, against a fixture service on loopback backed by real
//! PostgreSQL 15, 16, 17 and 18 clusters.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // in tests a panic is a failed test with a line number; a scenario reads top to bottom

mod common;

use assert_cmd::Command;
use common::{Behaviour, DEMO_SCHEMA, Fixture};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use testkit::PgCluster;
use testkit::pg::{MAJORS, free_port};
use testkit::schema::assert_valid_record;

/// The tool with no PG*, proxy or colour settings from the test runner.
fn tool() -> Command {
    let mut cmd = Command::cargo_bin("svc-verify").unwrap();
    // assert_cmd gives every run a pipe on stdin, empty unless the test writes a record: this
    // run starts the record, as a run from a terminal would.
    cmd.arg("--new-record");
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy().to_ascii_lowercase();
        if key_text.starts_with("pg") || key_text.ends_with("_proxy") {
            cmd.env_remove(key);
        }
    }
    cmd.env("NO_COLOR", "1");
    cmd
}

/// Aimed at the cluster's database `gordon` for SQL values.
fn tool_for(cluster: &PgCluster) -> Command {
    let mut cmd = tool();
    cmd.envs(cluster.env()).env("PGDATABASE", "gordon");
    cmd
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    record: Value,
}

impl Run {
    fn endpoint(&self, name: &str) -> &Value {
        self.record["services"]["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("no endpoint {name}: {}\n{}", self.stdout, self.stderr))
    }
    fn detail(&self, name: &str) -> String {
        self.endpoint(name)["detail"].as_str().unwrap().to_owned()
    }
    fn check(&self, name: &str) -> (String, String) {
        let c = self.record["services"]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no check {name}: {}\n{}", self.stdout, self.stderr));
        (
            c["status"].as_str().unwrap().to_owned(),
            c["detail"].as_str().unwrap().to_owned(),
        )
    }
}

/// Runs the tool; stdout must be one record valid against record.schema.json.
fn run(mut cmd: Command, args: &[&str], stdin: &str) -> Run {
    let output = cmd
        .args(args)
        .write_stdin(stdin.to_owned())
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    let record = if stdout.trim().is_empty() {
        Value::Null
    } else {
        assert_valid_record(stdout.as_bytes())
    };
    Run {
        code: output.status.code().unwrap(),
        stdout,
        stderr,
        record,
    }
}

fn demo_cluster(major: u32) -> PgCluster {
    let cluster = PgCluster::start(major);
    cluster.create_database("gordon");
    cluster.psql_script("gordon", DEMO_SCHEMA);
    cluster
}

/// A record as the pipeline has it after rowcount-report --label post: the counts of every
/// table of trading as they are now in the database, and the dump's counts.
fn post_record(cluster: &PgCluster) -> Value {
    let tables: Vec<Value> = ["bots", "runs", "equity"]
        .iter()
        .map(|t| {
            let rows: u64 = cluster
                .psql("gordon", &format!("SELECT count(*) FROM trading.{t}"))
                .parse()
                .unwrap();
            json!({"schema": "trading", "name": t, "rows": rows, "exact": true})
        })
        .collect();
    let section = |tool: &str| {
        json!({"tool": tool, "version": "0.1.0", "ok": true, "started_at": "2026-05-05T13:41:02.120Z",
               "elapsed_ms": 3, "checks": []})
    };
    let mut dump = section("dump-validate");
    dump["path"] = json!("/tmp/gordon-trading.dump");
    dump["schemas"] = json!(["trading"]);
    dump["roles"] = json!([]);
    dump["tables"] = json!(
        tables
            .iter()
            .map(|t| json!({"schema": "trading", "name": t["name"], "rows": t["rows"]}))
            .collect::<Vec<_>>()
    );
    let mut post = section("rowcount-report");
    post["label"] = json!("post");
    post["mode"] = json!("exact");
    post["tables"] = json!(tables);
    let mut rowcounts = section("rowcount-report");
    rowcounts["post"] = post;
    json!({"record_version": 1, "schema": "trading", "database": "gordon",
           "dump": dump, "rowcounts": rowcounts})
}

/// The example checks file of the runbook's three services, aimed at the fixture.
fn example_checks(fixture: &Fixture, dir: &std::path::Path) -> std::path::PathBuf {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/services.example.json"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let text = [
        "http://localhost:8083",
        "http://localhost:8082",
        "http://localhost:3000",
    ]
    .iter()
    .fold(text, |t, base| t.replace(base, &fixture.base()));
    let out = dir.join("services.json");
    std::fs::write(&out, text).unwrap();
    out
}

#[test]
fn help_documents_the_check_syntax_and_every_exit_code() {
    let out = tool().arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("Exit codes:"), "{help}");
    for code in 0..=4 {
        assert!(
            help.contains(&format!("  {code}  ")),
            "{code} missing:\n{help}"
        );
    }
    for needle in [
        "rowcount:SCHEMA.TABLE",
        "sql:QUERY",
        "check:NAME",
        "${VAR}",
        "--wait",
        "--cacert",
    ] {
        assert!(help.contains(needle), "{needle} missing:\n{help}");
    }
    let out = tool().arg("--version").output().unwrap();
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .starts_with("svc-verify ")
    );
    let out = tool().arg("--no-such-flag").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

/// The runbook's step 6 from the example file, after a real pg_dump and pg_restore on every
/// supported major: all pass with counts from the record and from SQL; then a table loses
/// rows and the bots check fails saying by how much.
#[test]
fn runbook_checks_pass_after_a_restore_and_fail_when_a_table_lost_rows() {
    for major in MAJORS {
        let cluster = demo_cluster(major);
        let scratch = cluster.scratch();
        let dump = scratch.join("trading.dump");
        cluster.pg_dump([
            "-Fc",
            "-n",
            "trading",
            "-f",
            dump.to_str().unwrap(),
            "gordon",
        ]);
        cluster.psql("gordon", "DROP SCHEMA trading CASCADE");
        let mut restore = cluster.client("pg_restore");
        restore.args(["-d", "gordon", dump.to_str().unwrap()]);
        testkit::pg::run_ok(&mut restore, "pg_restore");

        let fixture = Fixture::start(&cluster);
        let checks = example_checks(&fixture, &scratch);
        let record = post_record(&cluster).to_string();
        let r = run(
            tool_for(&cluster),
            &["--checks", checks.to_str().unwrap()],
            &record,
        );
        assert_eq!(r.code, 0, "PostgreSQL {major}: {}", r.stderr);
        assert_eq!(r.record["services"]["ok"], true);
        let bots = r.endpoint("bots");
        assert_eq!(bots["status"], 200);
        assert_eq!(bots["measured"], 5);
        assert_eq!(bots["expected"], 5);
        assert_eq!(
            bots["expected_from"],
            "rows of trading.bots in .rowcounts.post"
        );
        assert_eq!(bots["attempts"], 1);
        assert_eq!(bots["ok"], true);
        let equity = r.endpoint("equity");
        assert_eq!(
            equity["url"],
            format!("{}/api/equity?run_id=4", fixture.base())
        );
        assert_eq!(equity["measured"], 40);
        assert_eq!(equity["expected"], 40);
        assert_eq!(r.endpoint("healthz")["status"], 200);
        assert_eq!(r.record["services"]["vars"]["latest_run_id"], 4);
        assert_eq!(r.record["services"]["database"], "gordon");
        assert!(r.stderr.contains("[ OK ] bots: GET"), "{}", r.stderr);
        assert_eq!(
            r.record["rowcounts"],
            serde_json::from_str::<Value>(&record).unwrap()["rowcounts"],
            "other sections pass through"
        );

        // Rows lost after the counts were taken: the service shows 3 of the 5 restored bots.
        cluster.psql(
            "gordon",
            "DELETE FROM trading.equity WHERE run_id IN (SELECT id FROM trading.runs WHERE bot_id IN (4, 5));
             DELETE FROM trading.runs WHERE bot_id IN (4, 5);
             DELETE FROM trading.bots WHERE id IN (4, 5)",
        );
        let r = run(
            tool_for(&cluster),
            &["--checks", checks.to_str().unwrap()],
            &record,
        );
        assert_eq!(r.code, 1, "PostgreSQL {major}: {}", r.stderr);
        assert_eq!(r.record["services"]["ok"], false);
        assert_eq!(r.endpoint("bots")["measured"], 3);
        assert!(
            r.detail("bots")
                .contains("3 items, expected 5 (rows of trading.bots in .rowcounts.post)"),
            "{}",
            r.detail("bots")
        );
        assert_eq!(r.check("bots").0, "fail");
        assert_eq!(r.check("healthz").0, "ok");
        assert!(r.stderr.contains("[FAIL ] bots:"), "{}", r.stderr);
    }
}

/// Each way a service can be wrong is a failed check with its own reason, on PostgreSQL 16.
#[test]
fn failures_say_why_500_slow_html_redirect_and_refused() {
    let cluster = demo_cluster(16);
    let fixture = Fixture::start(&cluster);
    let bots = |extra: &str| {
        format!(
            "GET {} length=rowcount:trading.bots {extra}",
            fixture.url("/api/bots")
        )
    };
    let record = post_record(&cluster).to_string();

    // A table the service needs is gone: the service answers 500 and says so.
    cluster.psql("gordon", "ALTER TABLE trading.bots RENAME TO bots_gone");
    let r = run(tool(), &["--check", &bots("")], &record);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let detail = r.detail("bots");
    assert!(
        detail.contains("answered 500 Internal Server Error, expected 200")
            && detail.contains("relation \\\"trading.bots\\\" does not exist"),
        "{detail}"
    );
    assert_eq!(r.endpoint("bots")["status"], 500);
    cluster.psql("gordon", "ALTER TABLE trading.bots_gone RENAME TO bots");

    // Slow: the attempt's timeout ends it.
    fixture.set("/api/bots", Behaviour::Slow(Duration::from_secs(5)));
    let r = run(tool(), &["--check", &bots("timeout=500ms")], &record);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.detail("bots").contains("timed out after 500ms"),
        "{}",
        r.detail("bots")
    );
    assert_eq!(r.endpoint("bots")["status"], Value::Null);

    // HTML where JSON was expected.
    fixture.set("/api/bots", Behaviour::Html);
    let r = run(tool(), &["--check", &bots("")], &record);
    assert_eq!(r.code, 1);
    assert!(
        r.detail("bots").contains("the body is not JSON (text/html")
            && r.detail("bots").contains("starts with '<!doctype html>"),
        "{}",
        r.detail("bots")
    );

    // A 500 from the service itself; a redirect is not followed unless asked.
    fixture.set("/api/bots", Behaviour::Error500);
    let r = run(tool(), &["--check", &bots("")], &record);
    assert_eq!(r.code, 1);
    assert!(
        r.detail("bots").contains("answered 500"),
        "{}",
        r.detail("bots")
    );
    fixture.set("/healthz", Behaviour::Redirect);
    let healthz = format!("GET {}", fixture.url("/healthz"));
    let r = run(tool(), &["--check", &healthz], "");
    assert_eq!(r.code, 1);
    assert!(
        r.detail("healthz")
            .contains("answered 302 Found, expected 200 (a redirect to /login, not followed"),
        "{}",
        r.detail("healthz")
    );
    let r = run(
        tool(),
        &[
            "--check",
            &format!("{healthz} status=404"),
            "--follow-redirects",
        ],
        "",
    );
    assert_eq!(
        r.code, 0,
        "followed to /login, which the fixture does not have: {}",
        r.stderr
    );

    // A regex on the body, and a body over the cap.
    fixture.set("/api/bots", Behaviour::Normal);
    let r = run(tool(), &["--check", &bots("regex=bot-5")], &record);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(tool(), &["--check", &bots("regex=bot-9")], &record);
    assert_eq!(r.code, 1);
    assert!(
        r.detail("bots").contains("does not match /bot-9/"),
        "{}",
        r.detail("bots")
    );
    let r = run(tool(), &["--check", &bots("max_body=20")], &record);
    assert_eq!(r.code, 1);
    assert!(
        r.detail("bots").contains("larger than 20 B"),
        "{}",
        r.detail("bots")
    );

    // Checks run at once: the fixture answers neither until both requests are there.
    fixture.set("/api/bots", Behaviour::Together(2));
    fixture.set("/healthz", Behaviour::Together(2));
    let r = run(
        tool(),
        &[
            "--check",
            &bots(""),
            "--check",
            &format!("GET {}", fixture.url("/healthz")),
        ],
        &record,
    );
    assert_eq!(
        r.code, 0,
        "the checks ran one after the other: {}",
        r.stderr
    );

    // Down and staying down: refused on every attempt until the wait is over.
    let dead = format!("GET http://127.0.0.1:{}/healthz name=dead", free_port());
    let started = Instant::now();
    let r = run(tool(), &["--check", &dead, "--wait", "2s"], "");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.detail("dead").contains("connection refused"),
        "{}",
        r.detail("dead")
    );
    assert!(
        r.endpoint("dead")["attempts"].as_u64().unwrap() >= 3,
        "{}",
        r.stdout
    );
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(r.record["services"]["wait_ms"], 2000);
}

/// A service still restarting when the check starts, up 1.5 s later: passes within --wait.
#[test]
fn a_service_that_comes_up_within_the_wait_passes() {
    let cluster = demo_cluster(16);
    let port = free_port();
    let fixture = Fixture::start_later(&cluster, port, Duration::from_millis(1500));
    let record = post_record(&cluster).to_string();
    let spec = format!("GET http://127.0.0.1:{port}/api/bots length=rowcount:bots");
    let r = run(tool(), &["--check", &spec, "--wait", "30s"], &record);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let attempts = r.endpoint("bots")["attempts"].as_u64().unwrap();
    assert!(attempts >= 2, "it was down at first: {attempts} attempts");
    assert_eq!(r.endpoint("bots")["measured"], 5);
    assert!(fixture.hits() >= 1);
}

/// SQL values: a URL template, a value from a query, a comparison with another check; then
/// Postgres out of reach is "could not run" (4) — and a run without SQL never connects.
#[test]
fn sql_values_templates_and_comparisons() {
    let cluster = demo_cluster(16);
    let fixture = Fixture::start(&cluster);
    let equity = |run: &str, expect: &str| {
        format!(
            "GET {}?run_id={run} name=equity length=\"{expect}\"",
            fixture.url("/api/equity")
        )
    };
    let r = run(
        tool_for(&cluster),
        &[
            "--check",
            &equity(
                "{latest}",
                "sql:SELECT count(*) FROM trading.equity WHERE run_id = 4;",
            ),
            "--check",
            &format!(
                "GET {}?run_id=4 name=same length=check:equity",
                fixture.url("/api/equity")
            ),
            "--check",
            &format!(
                "GET {} name=first_bot pointer=/0/name value=\"sql:SELECT name FROM trading.bots ORDER BY id LIMIT 1\"",
                fixture.url("/api/bots")
            ),
            "--var",
            "latest=SELECT max(id) FROM trading.runs",
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.endpoint("equity")["measured"], 40);
    assert_eq!(r.endpoint("same")["expected"], 40);
    assert_eq!(
        r.endpoint("same")["expected_from"],
        "what check 'equity' measured"
    );
    assert_eq!(r.endpoint("first_bot")["measured"], "bot-1");

    // A different run: 20 points, not 40; a query that fails names its error.
    let r = run(
        tool_for(&cluster),
        &[
            "--check",
            &equity(
                "2",
                "sql:SELECT count(*) FROM trading.equity WHERE run_id = 4",
            ),
            "--check",
            &format!(
                "GET {} name=broken length=\"sql:SELECT count(*) FROM trading.nope\"",
                fixture.url("/api/bots")
            ),
        ],
        "",
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.detail("equity")
            .contains("20 items, expected 40 (from SQL)"),
        "{}",
        r.detail("equity")
    );
    assert!(
        r.detail("broken")
            .contains("relation \"trading.nope\" does not exist"),
        "{}",
        r.detail("broken")
    );
    assert_eq!(r.endpoint("broken")["attempts"], 0);

    // Postgres unreachable: the SQL checks cannot be verified, exit 4, the others still run.
    let mut cmd = tool();
    cmd.env("PGHOST", "127.0.0.1")
        .env("PGPORT", free_port().to_string())
        .env("PGUSER", "postgres");
    let r = run(
        cmd,
        &[
            "--check",
            &equity("{latest}", "40"),
            "--check",
            &format!("GET {}", fixture.url("/healthz")),
            "--var",
            "latest=SELECT max(id) FROM trading.runs",
        ],
        "",
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    let (status, detail) = r.check("database");
    assert_eq!(status, "fail");
    assert!(detail.contains("connection refused"), "{detail}");
    assert!(
        r.detail("equity").contains("could not verify"),
        "{}",
        r.detail("equity")
    );
    assert_eq!(r.check("healthz").0, "ok");

    // No check needs SQL: Postgres is never contacted, so a dead PGHOST does not matter.
    let mut cmd = tool();
    cmd.env("PGHOST", "127.0.0.1")
        .env("PGPORT", free_port().to_string());
    let r = run(
        cmd,
        &[
            "--check",
            &format!("GET {} length=5", fixture.url("/api/bots")),
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.record["services"]["database"], Value::Null);
}

/// A bearer token from the environment is sent, and never appears in stdout or stderr,
/// even when the service echoes it back.
#[test]
fn secret_headers_are_sent_but_never_shown() {
    let cluster = demo_cluster(16);
    let fixture = Fixture::start(&cluster);
    let token = "tok-8f3a9c2e-secret";
    fixture.require_token(token);
    let spec = format!(
        "GET {} length=5 header='Authorization: Bearer ${{API_TOKEN}}'",
        fixture.url("/api/bots")
    );
    let mut cmd = tool();
    cmd.env("API_TOKEN", token);
    let r = run(cmd, &["--check", &spec], "");
    assert_eq!(r.code, 0, "the token was sent: {}", r.stderr);
    assert_eq!(r.endpoint("bots")["headers"], json!(["Authorization"]));
    assert!(!r.stdout.contains(token) && !r.stderr.contains(token));

    // The wrong token: the service echoes what it got, the tool masks it.
    let wrong = "tok-wrong-0000-secret";
    let mut cmd = tool();
    cmd.env("API_TOKEN", wrong);
    let r = run(cmd, &["--check", &spec], "");
    assert_eq!(r.code, 1);
    assert!(
        r.detail("bots").contains("answered 401 Unauthorized"),
        "{}",
        r.detail("bots")
    );
    assert!(
        r.detail("bots").contains("********"),
        "{}",
        r.detail("bots")
    );
    for secret in [token, wrong] {
        assert!(!r.stdout.contains(secret), "{}", r.stdout);
        assert!(!r.stderr.contains(secret), "{}", r.stderr);
    }

    // Credentials in the URL are stripped from the record too.
    let with_user = format!(
        "GET http://ops:pw-hunter2@127.0.0.1:{}/healthz?api_key=k-12345&x=1",
        fixture.port
    );
    let r = run(tool(), &["--check", &with_user], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.endpoint("healthz")["url"],
        format!(
            "http://127.0.0.1:{}/healthz?api_key=********&x=1",
            fixture.port
        )
    );
    assert!(!r.stdout.contains("hunter2") && !r.stderr.contains("hunter2"));
    assert!(!r.stdout.contains("k-12345") && !r.stderr.contains("k-12345"));
    // A one-letter password is stripped from the URL, and the rest of the text stays readable.
    let r = run(
        tool(),
        &[
            "--check",
            &format!("GET http://u:p@127.0.0.1:{}/healthz", fixture.port),
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.endpoint("healthz")["url"],
        format!("http://127.0.0.1:{}/healthz", fixture.port)
    );
    assert!(
        r.detail("healthz").contains("answered 200"),
        "{}",
        r.detail("healthz")
    );

    // An unset variable is a usage error, and says which.
    let r = run(tool(), &["--check", &spec], "");
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("${API_TOKEN}, which is not set"),
        "{}",
        r.stderr
    );
}

/// Input errors exit 2 with the record going on; an earlier failed section exits 3 and
/// nothing is requested.
#[test]
fn input_errors_and_an_earlier_failure() {
    let dir = tempfile::tempdir().unwrap();
    let bad_json = dir.path().join("bad.json");
    std::fs::write(&bad_json, "{\"checks\": [").unwrap();
    let unknown_key = dir.path().join("typo.json");
    std::fs::write(
        &unknown_key,
        r#"{"checks": [{"url": "http://127.0.0.1:9/x", "lenght": 3}]}"#,
    )
    .unwrap();
    for (args, needle) in [
        (
            vec!["--checks", bad_json.to_str().unwrap()],
            "EOF while parsing",
        ),
        (
            vec!["--checks", unknown_key.to_str().unwrap()],
            "unknown field `lenght`",
        ),
        (
            vec!["--checks", "/nonexistent/services.json"],
            "reading --checks '/nonexistent/services.json'",
        ),
        (
            vec!["--check", "GET http://h/x length=many"],
            "not a length",
        ),
        (vec![], "nothing to check"),
        (
            vec![
                "--check",
                "GET http://h/x",
                "--cacert",
                bad_json.to_str().unwrap(),
            ],
            "does not hold PEM certificates",
        ),
    ] {
        let r = run(tool(), &args, "");
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        let (status, detail) = r.check("checks");
        assert_eq!(status, "fail");
        assert!(detail.contains(needle), "{args:?}: {detail}");
        assert_eq!(r.record["services"]["ok"], false);
    }
    let r = run(tool(), &["--wait", "soon", "--check", "GET http://h/x"], "");
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty());
    assert!(r.stderr.contains("not a duration"), "{}", r.stderr);

    // Not a record on stdin.
    let r = run(tool(), &["--check", "GET http://127.0.0.1:9/x"], "[1, 2]");
    assert_eq!(r.code, 2);
    assert_eq!(r.check("input").0, "fail");

    // An earlier section failed: a skip, exit 3, and the service never hears from us.
    let cluster = demo_cluster(16);
    let fixture = Fixture::start(&cluster);
    let mut record = post_record(&cluster);
    record["swap"] = json!({"tool": "schema-swap", "version": "0.1.0", "ok": false,
        "started_at": "2026-05-05T13:41:02.120Z", "elapsed_ms": 1, "checks": [],
        "dump": null, "previous": null, "pg_restore": null, "committed": false, "tables": []});
    let r = run(
        tool(),
        &["--check", &format!("GET {}", fixture.url("/healthz"))],
        &record.to_string(),
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    let (status, detail) = r.check("upstream");
    assert_eq!(status, "skip");
    assert!(detail.contains("swap (schema-swap)"), "{detail}");
    assert_eq!(r.record["services"]["endpoints"], json!([]));
    assert_eq!(
        fixture.hits(),
        0,
        "nothing may be requested after a failed section"
    );

    // A table the record does not count: could not verify, which is a failure, never ok.
    let r = run(
        tool(),
        &[
            "--check",
            &format!(
                "GET {} length=rowcount:trading.nope",
                fixture.url("/api/bots")
            ),
        ],
        &post_record(&cluster).to_string(),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.detail("bots")
            .contains("could not verify: the record holds no row count for trading.nope"),
        "{}",
        r.detail("bots")
    );
}

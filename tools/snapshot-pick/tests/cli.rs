//! snapshot-pick through its binary, against snapshot lists that the real restic wrote.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // in tests a panic is a failed test with a line number; a scenario reads top to bottom

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;
use std::path::Path;
use testkit::restic::{Backup, ResticRepo};
use testkit::schema::assert_valid_record;

const PARIS: &str = "Europe/Paris";
const TAGS: &[&str] = &["srv-apps", "scheduled"];
const DUMP: &str = "var/lib/postgres-dumps/gordon-trading.dump";

/// The tool with a clean environment: no RESTIC_BIN leaking in from the developer's shell.
fn tool() -> Command {
    let mut cmd = Command::cargo_bin("snapshot-pick").unwrap();
    cmd.env_remove("RESTIC_BIN").env("NO_COLOR", "1");
    cmd
}

struct Run {
    code: i32,
    record: Value,
    stderr: String,
}

impl Run {
    fn section(&self) -> &Value {
        &self.record["snapshot"]
    }
    fn picked(&self) -> &str {
        self.section()["pick"]["short_id"]
            .as_str()
            .unwrap_or("none")
    }
    fn check(&self, name: &str) -> (&str, &str) {
        let check = self.section()["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no check {name} in {}", self.section()));
        (
            check["status"].as_str().unwrap(),
            check["detail"].as_str().unwrap(),
        )
    }
}

fn pick(input: &[u8], args: &[&str]) -> Run {
    let output = tool()
        .args(args)
        .write_stdin(input.to_vec())
        .output()
        .unwrap();
    let record = assert_valid_record(&output.stdout);
    Run {
        code: output.status.code().unwrap(),
        record,
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn short(id: &str) -> &str {
    &id[..8]
}

/// Hourly snapshots across the end of summer time in Paris (03:00 CEST became 02:00 CET on
/// 2026-10-25), so that 02:05 local happened twice; plus another host and a manual one.
struct DstFixture {
    repo: ResticRepo,
    /// UTC hour -> short id, for the hourly srv-apps snapshots at hh:05Z.
    hourly: Vec<(&'static str, String)>,
    other_host: String,
    manual: String,
}

fn dst_fixture() -> DstFixture {
    let repo = ResticRepo::new();
    let dump: &[u8] = &[7u8; 4096];
    let mut hourly = Vec::new();
    // (wall-clock time, zone it is read in, the UTC instant it is)
    let hours = [
        ("2026-10-25 00:05:00", PARIS, "22:05Z on the 24th"),
        ("2026-10-25 01:05:00", PARIS, "23:05Z on the 24th"),
        ("2026-10-25 02:05:00", "Etc/GMT-2", "00:05Z"), // first 02:05, still summer time (+02:00)
        ("2026-10-25 02:05:00", "Etc/GMT-1", "01:05Z"), // second 02:05, winter time (+01:00)
        ("2026-10-25 03:05:00", PARIS, "02:05Z"),
        ("2026-10-25 04:05:00", PARIS, "03:05Z"),
    ];
    for (time, tz, utc) in hours {
        let id = repo.backup(&Backup {
            time,
            tz,
            host: "srv-apps",
            tags: TAGS,
            files: &[(DUMP, dump)],
        });
        hourly.push((utc, short(&id).to_owned()));
    }
    let other_host = repo.backup(&Backup {
        time: "2026-10-25 04:35:00",
        tz: PARIS,
        host: "srv-other",
        tags: TAGS,
        files: &[(DUMP, dump)],
    });
    let manual = repo.backup(&Backup {
        time: "2026-10-25 04:45:00",
        tz: PARIS,
        host: "srv-apps",
        tags: &["manual"],
        files: &[(DUMP, dump)],
    });
    DstFixture {
        repo,
        hourly,
        other_host: short(&other_host).to_owned(),
        manual: short(&manual).to_owned(),
    }
}

fn hourly_id<'a>(fixture: &'a DstFixture, utc: &str) -> &'a str {
    &fixture.hourly.iter().find(|(u, _)| *u == utc).unwrap().1
}

#[test]
fn picks_across_a_dst_change_with_hosts_and_tags() {
    let f = dst_fixture();
    let list = f.repo.snapshots_json(&[]);
    let apps = ["--host", "srv-apps", "--tag", "srv-apps,scheduled"];

    // The restic output carries each snapshot's own offset.
    let raw: Value = serde_json::from_slice(&list).unwrap();
    let offsets: Vec<&str> = raw
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["time"].as_str().unwrap()[19..])
        .collect();
    assert!(
        offsets.contains(&"+02:00") && offsets.contains(&"+01:00"),
        "{offsets:?}"
    );

    // 02:30 in Paris happened twice that night: the earlier reading (00:30Z) is taken, so the
    // pick is the first 02:05 (00:05Z), never one that may postdate the damage.
    let run = pick(
        &list,
        &[&["--before", "2026-10-25 02:30", "--tz", PARIS][..], &apps].concat(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.picked(), hourly_id(&f, "00:05Z"));
    assert_eq!(run.section()["pick"]["time"], "2026-10-25T02:05:00+02:00");
    assert_eq!(run.check("before_time").0, "warn");
    assert!(run.stderr.contains("happened twice"), "{}", run.stderr);

    // The same wall-clock time after the change, as an RFC 3339 instant: the second 02:05.
    let run = pick(
        &list,
        &[&["--before", "2026-10-25T02:30:00+01:00"][..], &apps].concat(),
    );
    assert_eq!(run.picked(), hourly_id(&f, "01:05Z"));
    assert_eq!(run.section()["pick"]["time"], "2026-10-25T02:05:00+01:00");

    // Strictly older: a snapshot taken at exactly the time does not qualify.
    let run = pick(
        &list,
        &[&["--before", "2026-10-25T01:05:00Z"][..], &apps].concat(),
    );
    assert_eq!(run.picked(), hourly_id(&f, "00:05Z"));
    assert_eq!(run.check("pick_age").0, "ok");

    // Filters, with restic's semantics.
    let at = ["--before", "2026-10-25T04:00:00Z"];
    // 03:45Z manual on srv-apps, 03:35Z scheduled on srv-other, 03:05Z scheduled on srv-apps.
    assert_eq!(
        pick(&list, &at).picked(),
        f.manual,
        "no filter: newest of any host and tag"
    );
    assert_eq!(
        pick(&list, &[&at[..], &["--host", "srv-other"]].concat()).picked(),
        f.other_host
    );
    assert_eq!(
        pick(&list, &[&at[..], &["--host", "srv-apps"]].concat()).picked(),
        f.manual
    );
    assert_eq!(
        pick(&list, &[&at[..], &["--tag", "srv-apps,scheduled"]].concat()).picked(),
        f.other_host
    );
    assert_eq!(
        pick(&list, &[&at[..], &apps].concat()).picked(),
        hourly_id(&f, "03:05Z")
    );
    let either_host = [
        "--host",
        "srv-apps",
        "--host",
        "srv-other",
        "--tag",
        "scheduled",
    ];
    assert_eq!(
        pick(&list, &[&at[..], &either_host].concat()).picked(),
        f.other_host
    );
    assert_eq!(
        pick(
            &list,
            &[&at[..], &["--tag", "nope", "--tag", "manual"]].concat()
        )
        .picked(),
        f.manual
    );
    assert_eq!(
        pick(&list, &[&at[..], &["--tag", "manual,scheduled"]].concat()).code,
        1,
        "a tag list needs all its tags"
    );
    let dir = f.repo.snapshot_path("var/lib/postgres-dumps");
    let dir = dir.to_str().unwrap();
    assert_eq!(
        pick(&list, &[&at[..], &apps, &["--path", dir]].concat()).picked(),
        hourly_id(&f, "03:05Z")
    );
    let run = pick(
        &list,
        &[&at[..], &["--path", "/var/lib/elsewhere"]].concat(),
    );
    assert_eq!(run.code, 1);
    assert_eq!(run.check("snapshots_listed").0, "fail");
    assert!(
        run.check("snapshots_listed")
            .1
            .contains("srv-apps, srv-other"),
        "{}",
        run.check("snapshots_listed").1
    );

    // restic's --group-by output reads the same.
    let grouped = f.repo.snapshots_json(&["--group-by", "host,tags"]);
    assert!(String::from_utf8_lossy(&grouped).contains("group_key"));
    let run = pick(&grouped, &[&at[..], &apps].concat());
    assert_eq!(run.picked(), hourly_id(&f, "03:05Z"));
    assert_eq!(run.section()["considered"], 8);

    // --skip passes over a snapshot found bad; the next older is picked.
    let bad = hourly_id(&f, "03:05Z");
    let run = pick(&list, &[&at[..], &apps, &["--skip", bad]].concat());
    assert_eq!(run.picked(), hourly_id(&f, "02:05Z"));
    assert_eq!(run.section()["skipped"].as_array().unwrap().len(), 1);

    // Nothing older than the time: a failed check naming the oldest there is.
    let run = pick(
        &list,
        &[&["--before", "2026-10-24T20:00:00Z"][..], &apps].concat(),
    );
    assert_eq!(run.code, 1);
    assert!(run.section()["pick"].is_null());
    let (status, detail) = run.check("snapshot_before_time");
    assert_eq!(status, "fail");
    assert!(
        detail.contains(hourly_id(&f, "22:05Z on the 24th")),
        "{detail}"
    );

    // As a monitoring check: these snapshots are weeks old.
    let run = pick(&list, &[&["--max-age", "2h"][..], &apps].concat());
    assert_eq!(run.code, 1);
    assert_eq!(run.check("newest_age").0, "fail");
    assert!(
        run.stderr.contains("is the backup timer running?"),
        "{}",
        run.stderr
    );
}

/// `YYYY-MM-DD HH:MM:SS` for restic's --time, `hours` from now, in UTC.
fn utc_wall_clock(hours: i64) -> String {
    let t = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(hours);
    t.strftime("%Y-%m-%d %H:%M:%S").to_string()
}

#[test]
fn future_snapshots_and_gaps_are_reported_never_picked() {
    let repo = ResticRepo::new();
    let dump: &[u8] = &[1u8; 2048];
    let mut ids = Vec::new();
    for hours in [-5, -4, -1, 48] {
        let time = utc_wall_clock(hours);
        ids.push(repo.backup(&Backup {
            time: &time,
            tz: "UTC",
            host: "srv-apps",
            tags: TAGS,
            files: &[(DUMP, dump)],
        }));
    }
    let list = repo.snapshots_json(&[]);

    let run = pick(&list, &["--max-age", "2h"]);
    assert_eq!(run.code, 0, "warnings do not fail: {}", run.stderr);
    assert_eq!(
        run.picked(),
        short(&ids[2]),
        "the snapshot dated two days ahead is not the newest"
    );
    assert_eq!(run.check("future_snapshots").0, "warn");
    assert_eq!(run.section()["future"][0]["short_id"], short(&ids[3]));
    assert_eq!(run.check("cadence_gaps").0, "warn");
    // Three hours, give or take the seconds the backups themselves took.
    let gap = run.section()["gaps"][0]["gap_seconds"].as_i64().unwrap();
    assert!((3 * 3600 - 60..=3 * 3600 + 60).contains(&gap), "{gap}");
    assert_eq!(run.check("newest_age").0, "ok");

    // A pick well behind the time warns; "90m ago" is read as a relative time.
    let run = pick(&list, &["--before", "90m ago"]);
    assert_eq!(run.picked(), short(&ids[1]));
    assert_eq!(run.check("pick_age").0, "warn");

    let run = pick(&list, &["--max-age", "30m"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.check("newest_age").0, "fail");
}

#[test]
fn verify_file_falls_back_past_missing_and_small_dumps() {
    let repo = ResticRepo::new();
    let good: &[u8] = &[3u8; 4096];
    let small: &[u8] = &[3u8; 100];
    let mk = |time: &str, files: &[(&str, &[u8])]| {
        repo.backup(&Backup {
            time,
            tz: "UTC",
            host: "srv-apps",
            tags: TAGS,
            files,
        })
    };
    let whole = mk("2026-05-05 11:05:00", &[(DUMP, good)]);
    let tiny = mk("2026-05-05 12:05:00", &[(DUMP, small)]);
    let without = mk(
        "2026-05-05 13:05:00",
        &[("var/lib/postgres-dumps/other.dump", good)],
    );
    let list = repo.snapshots_json(&[]);
    let file = repo.snapshot_path(DUMP);
    let file = file.to_str().unwrap();

    let verify = |extra: &[&str]| {
        let output = tool()
            .envs(repo.env())
            .args(["--before", "2026-05-05T13:40:00Z", "--verify-file", file])
            .args(extra)
            .write_stdin(list.clone())
            .output()
            .unwrap();
        Run {
            code: output.status.code().unwrap(),
            record: assert_valid_record(&output.stdout),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    };

    let run = verify(&[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.picked(), short(&whole));
    let passed: Vec<&str> = run.section()["passed_over"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| short(p["id"].as_str().unwrap()))
        .collect();
    assert_eq!(passed, [short(&without), short(&tiny)]);
    assert!(
        run.section()["passed_over"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("not in the snapshot")
    );
    assert!(
        run.section()["passed_over"][1]["reason"]
            .as_str()
            .unwrap()
            .contains("under --min-size")
    );
    assert_eq!(run.section()["verified_file"]["size"], 4096);
    assert_eq!(run.check("passed_over").0, "warn");
    assert_eq!(
        run.check("pick_age").0,
        "warn",
        "2h35m behind an hourly cadence"
    );

    let run = verify(&["--min-size", "1MiB"]);
    assert_eq!(run.code, 1);
    assert!(run.section()["pick"].is_null());
    assert_eq!(run.check("verify_file").0, "fail");

    // restic cannot open the repository: could not run, exit 4, and no secret anywhere.
    let wrong = repo.password_file().with_file_name("wrong-password");
    std::fs::write(&wrong, "not the password hunter2\n").unwrap();
    let output = tool()
        .envs(repo.env())
        .env("RESTIC_PASSWORD_FILE", &wrong)
        .args(["--before", "2026-05-05T13:40:00Z", "--verify-file", file])
        .write_stdin(list.clone())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    let record = assert_valid_record(&output.stdout);
    assert_eq!(record["snapshot"]["ok"], false);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(all.contains("wrong password"), "{all}");
    assert!(!all.contains("hunter2"), "the password leaked: {all}");

    // A restic that is not there.
    let output = tool()
        .args([
            "--before",
            "2026-05-05T13:40:00Z",
            "--verify-file",
            file,
            "--restic",
            "/nonexistent/restic",
        ])
        .write_stdin(list)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
}

#[test]
fn newer_restic_fields_are_carried_into_the_pick() {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/restic-0.18-snapshots.json");
    let output = tool()
        .args(["--before", "2026-05-05 13:40", "--tz", PARIS, "--from"])
        .arg(&fixture)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let record = assert_valid_record(&output.stdout);
    let pick = &record["snapshot"]["pick"];
    assert_eq!(pick["short_id"], "def67890");
    assert_eq!(pick["program_version"], "restic 0.18.0");
    assert_eq!(pick["summary"]["data_added"], 1_474_832);
    assert_eq!(pick["time_utc"], "2026-05-05T11:05:00.918273645Z");
}

#[test]
fn help_and_version() {
    tool()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("--before").and(predicate::str::contains("Exit codes")));
    tool()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::starts_with(format!(
            "snapshot-pick {}",
            env!("CARGO_PKG_VERSION")
        )));
}

#[test]
fn usage_errors_are_one_line_and_exit_2() {
    for args in [
        &["--bogus"][..],
        &["--before", "yesterday"],
        &["--before", "2026-05-05 13:40", "--tz", "Mars/Olympus"],
        &["--cadence", "often"],
        &["--path", "relative/dir"],
        &["--verify-file", "relative.dump"],
        &["--skip", "xyz"],
        &["--min-size", "big"],
    ] {
        let output = tool().args(args).write_stdin("[]").output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 2, "{args:?}: {stderr}");
        assert!(lines[0].starts_with("snapshot-pick: "), "{stderr}");
        assert_eq!(lines[1], "Try 'snapshot-pick --help' for more information.");
        assert!(output.stdout.is_empty(), "no record on a usage error");
    }
}

#[test]
fn bad_snapshot_lists_fail_with_a_record_saying_why() {
    for (input, expect) in [
        ("", "empty"),
        ("{\"x\":", "not valid JSON"),
        ("{}", "not a JSON array"),
        (
            "[{\"id\":\"abcdef0123456789\",\"time\":\"last tuesday\"}]",
            "not an RFC 3339 time",
        ),
        (
            "{\"record_version\":1,\"schema\":null,\"database\":null}",
            "schema-restore record",
        ),
    ] {
        let output = tool().write_stdin(input).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{input}");
        let record = assert_valid_record(&output.stdout);
        assert_eq!(record["snapshot"]["ok"], false);
        let detail = record["snapshot"]["checks"][0]["detail"].as_str().unwrap();
        assert!(detail.contains(expect), "{input}: {detail}");
    }
    let output = tool()
        .args(["--from", "/nonexistent/list.json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/list.json"));
}

/// A list past --max-input is refused with a record naming the limit and the flag; endless
/// input (/dev/zero) ends at its first byte instead of filling the memory.
#[test]
fn a_snapshot_list_is_read_within_a_limit() {
    let one = r#"{"time":"2026-05-05T14:05:00+02:00","hostname":"srv-apps","id":"abcdef0123456789","summary":{"files_new":1}}"#;
    let list = format!("[{}]", vec![one; 200].join(","));
    let limit = format!("{}", list.len() - 1);
    let over = pick(list.as_bytes(), &["--max-input", &limit]);
    assert_eq!(over.code, 2, "{}", over.stderr);
    let (status, detail) = over.check("input");
    assert_eq!(status, "fail");
    assert!(
        detail.contains("larger than --max-input") && detail.contains("raise the limit"),
        "{detail}"
    );
    let within = pick(list.as_bytes(), &["--max-input", &list.len().to_string()]);
    assert_eq!(within.code, 0, "{}", within.stderr);
    assert_eq!(within.section()["pick"]["summary"]["files_new"], 1);

    let output = tool().args(["--from", "/dev/zero"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let record = assert_valid_record(&output.stdout);
    let detail = record["snapshot"]["checks"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("not valid JSON"), "{detail}");
}

#[test]
fn an_empty_repository_is_a_failed_check() {
    let run = pick(b"[]", &[]);
    assert_eq!(run.code, 1);
    assert_eq!(run.check("snapshots_listed").0, "fail");
    assert!(run.stderr.contains("[FAIL ]"), "{}", run.stderr);
}

#[test]
fn quiet_leaves_only_failures() {
    let run = pick(b"[]", &["--quiet"]);
    assert!(
        run.stderr.lines().all(|l| l.starts_with("[FAIL ]")),
        "{}",
        run.stderr
    );
    let output = tool()
        .args(["--quiet", "--from"])
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/restic-0.18-snapshots.json"),
        )
        .args(["--before", "2026-05-05T13:40:00+02:00"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let output = tool()
        .args(["--color", "always"])
        .write_stdin("[]")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("\u{1b}["));
    let output = tool().write_stdin("[]").output().unwrap();
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("\u{1b}["),
        "stderr is a pipe here"
    );
}

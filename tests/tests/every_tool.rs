//! The baseline every tool of the collection owes its users, checked through the binaries:
//! --help and --version succeed, a bad flag is one line plus a pointer and exit 2, --help
//! documents the exit codes, and what a tool prints on stdout is a record the JSON Schema
//! accepts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // in tests a panic is a failed test with a line number; a scenario reads top to bottom

use std::path::PathBuf;
use std::process::{Command, Stdio};
use testkit::schema::assert_valid_record;

/// Every tool binary of the workspace, with its record section and arguments that make it
/// run on whatever stdin holds. A tool lands here the day it lands.
const TOOLS: &[(&str, &str, &[&str])] = &[
    ("snapshot-pick", "snapshot", &[]),
    (
        "dump-validate",
        "dump",
        &["--schema", "trading", "/nonexistent.dump"],
    ),
    ("pg-preflight", "preflight", &["--schema", "trading"]),
    ("rowcount-report", "rowcounts", &["--schema", "trading"]),
    (
        "schema-swap",
        "swap",
        &["--schema", "trading", "--dump", "/nonexistent.dump"],
    ),
    (
        "svc-verify",
        "services",
        &["--check", "http://127.0.0.1:9/healthz"],
    ),
];

#[test]
fn every_tool_section_is_described_by_the_json_schema() {
    let schema: serde_json::Value = serde_json::from_str(record::JSON_SCHEMA).unwrap();
    for (tool, section, _) in TOOLS {
        assert!(
            schema["properties"][section].is_object(),
            "{tool}: section '{section}' has no definition in record.schema.json"
        );
    }
}

/// The binaries sit next to the test's own deps/ directory. This crate does not depend on the
/// tool crates, so run it with `cargo test --workspace` (as scripts/test does): `-p` alone
/// would test whatever binaries an earlier build left.
fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is not built: run 'cargo test --workspace'",
        path.display()
    );
    path
}

#[test]
fn every_tool_has_help_and_version() {
    for (tool, _, _) in TOOLS {
        let out = Command::new(binary(tool)).arg("--help").output().unwrap();
        assert!(out.status.success(), "{tool} --help");
        let help = String::from_utf8(out.stdout).unwrap();
        assert!(
            help.contains("Exit codes:"),
            "{tool} --help documents the exit codes"
        );
        for code in record::ExitCode::ALL.iter().map(|c| c.code()) {
            assert!(
                help.contains(&format!("  {code}  ")),
                "{tool} --help documents exit code {code}"
            );
        }
        let out = Command::new(binary(tool))
            .arg("--version")
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(
            String::from_utf8(out.stdout).unwrap().trim(),
            format!("{tool} {}", env!("CARGO_PKG_VERSION"))
        );
    }
}

#[test]
fn every_tool_refuses_a_bad_flag_in_one_line() {
    for (tool, _, _) in TOOLS {
        let out = Command::new(binary(tool))
            .arg("--no-such-flag")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{tool}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(
            stderr.lines().collect::<Vec<_>>(),
            [
                format!("{tool}: unexpected argument '--no-such-flag' found"),
                format!("Try '{tool} --help' for more information.")
            ],
            "{tool}"
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn what_every_tool_prints_is_a_valid_record_even_on_bad_input() {
    for (tool, section, args) in TOOLS {
        for input in ["[]", "not json"] {
            let mut child = Command::new(binary(tool))
                .args(*args)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
            let out = child.wait_with_output().unwrap();
            assert_ne!(out.status.code(), Some(0), "{tool} on {input:?}");
            let record = assert_valid_record(&out.stdout);
            assert_eq!(record["record_version"], 1);
            assert_eq!(record[section]["ok"], false, "{tool} on {input:?}");
        }
    }
}

/// The tools that read a record on stdin (snapshot-pick reads restic's list instead).
fn record_readers()
-> impl Iterator<Item = &'static (&'static str, &'static str, &'static [&'static str])> {
    TOOLS.iter().filter(|(tool, _, _)| *tool != "snapshot-pick")
}

/// An empty pipe is a tool before this one that wrote nothing: exit 3 and a record that says
/// so, never a fresh start on the flags alone; --new-record or /dev/null start one.
#[test]
fn an_empty_pipe_stops_the_tool_unless_it_is_told_to_start_a_record() {
    for (tool, section, args) in record_readers() {
        let out = Command::new(binary(tool))
            .args(*args)
            .stdin(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{tool}: {stderr}");
        assert!(
            stderr.contains("stdin is an empty pipe"),
            "{tool}: {stderr}"
        );
        let record = assert_valid_record(&out.stdout);
        assert_eq!(record[section]["ok"], false, "{tool}");
        for start in [&["--new-record"][..], &[][..]] {
            let stdin = if start.is_empty() {
                std::process::Stdio::null()
            } else {
                std::process::Stdio::piped()
            };
            let out = Command::new(binary(tool))
                .args(*args)
                .args(start)
                .stdin(stdin)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_ne!(out.status.code(), Some(3), "{tool} {start:?}: {stderr}");
            assert!(!stderr.contains("empty pipe"), "{tool} {start:?}: {stderr}");
        }
    }
}

/// stdin without end is read up to --max-record and refused, not read until the machine runs
/// out of memory: a record that never ends (a string that goes on) is refused for its size,
/// /dev/zero at its first byte as not JSON.
#[test]
fn a_record_past_the_limit_is_refused_before_it_is_parsed() {
    use std::io::Write as _;
    for (tool, section, args) in record_readers() {
        let mut child = Command::new(binary(tool))
            .args(*args)
            .args(["--max-record", "1MiB"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            // Ends when the tool stops reading and the pipe breaks.
            let chunk = vec![b'a'; 1 << 16];
            let _ = stdin.write_all(br#"{"record_version":1,"notes":""#);
            while stdin.write_all(&chunk).is_ok() {}
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{tool}: {stderr}");
        assert!(
            stderr.contains("larger than --max-record 1.0 MiB")
                && stderr.contains("--max-record 4MiB"),
            "{tool}: {stderr}"
        );
        assert_eq!(
            assert_valid_record(&out.stdout)[section]["ok"],
            false,
            "{tool}"
        );

        let zero = std::fs::File::open("/dev/zero").unwrap();
        let out = Command::new(binary(tool))
            .args(*args)
            .stdin(zero)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{tool}: {stderr}");
        assert!(stderr.contains("not valid JSON"), "{tool}: {stderr}");
        assert_eq!(
            assert_valid_record(&out.stdout)[section]["ok"],
            false,
            "{tool}"
        );
    }
}

#[test]
fn a_broken_pipe_ends_quietly() {
    // The reader is gone before the tool writes: its write fails with EPIPE for certain, since
    // the tool reads all of stdin before it writes and stdin is written only after the close.
    for (tool, _, args) in TOOLS {
        let mut child = Command::new(binary(tool))
            .args(*args)
            .arg("--quiet")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"[]").unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(!stderr.contains("panicked"), "{tool}: {stderr}");
        assert!(
            !stderr.to_lowercase().contains("broken pipe"),
            "{tool}: {stderr}"
        );
        // The exit code is the one the input gave (a failed check or bad input), not a crash.
        assert!(matches!(out.status.code(), Some(1 | 2)), "{tool}: {stderr}");
    }
}

/// Runs `command` with stdin, stdout and stderr on a pseudo-terminal (util-linux `script`),
/// returning everything the terminal showed.
fn on_a_terminal(command: &str, no_color: bool) -> String {
    let mut cmd = Command::new("script");
    cmd.args(["-q", "-e", "-c", command, "/dev/null"])
        .env_remove("NO_COLOR");
    if no_color {
        cmd.env("NO_COLOR", "1");
    }
    let out = cmd
        .output()
        .expect("util-linux 'script' runs commands on a pty");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn colour_on_a_terminal_only_and_never_with_no_color() {
    for (tool, _, args) in TOOLS {
        // The tool's stderr is the terminal; stdin is an empty list, so a [FAIL ] line shows.
        let command = format!(
            "echo '[]' | '{}' {} >/dev/null",
            binary(tool).display(),
            args.join(" ")
        );
        let shown = on_a_terminal(&command, false);
        assert!(
            shown.contains("\u{1b}[") && shown.contains("[FAIL ]"),
            "{tool} on a tty: {shown:?}"
        );
        let shown = on_a_terminal(&command, true);
        assert!(
            !shown.contains("\u{1b}[") && shown.contains("[FAIL ]"),
            "{tool} with NO_COLOR: {shown:?}"
        );
        let shown = on_a_terminal(&format!("{command} 2>&1 | cat"), false);
        assert!(!shown.contains("\u{1b}["), "{tool} into a pipe: {shown:?}");
    }
}

/// Flags that, with a record naming no schema, leave each record reader nothing it can do.
const REFUSED: &[(&str, &str, &[&str], &str)] = &[
    (
        "dump-validate",
        "dump",
        &["/nonexistent.dump"],
        "no schema to look for",
    ),
    ("pg-preflight", "preflight", &[], "no schema to check"),
    ("rowcount-report", "rowcounts", &[], "nothing to count"),
    (
        "schema-swap",
        "swap",
        &["--schema", "trading", "--yes"],
        "no dump",
    ),
    (
        "svc-verify",
        "services",
        &["--checks", "/nonexistent.yaml"],
        "reading --checks",
    ),
];

/// A usage error found after the record was read still writes the record on, with the
/// tool's section failed, so that the tools after it stop; when an earlier section had
/// failed already, that is the verdict (exit 3), as it is for a run whose flags are fine.
#[test]
fn a_usage_error_after_the_record_is_read_keeps_the_record_and_the_upstream_verdict() {
    let failed_pick = Command::new(binary("snapshot-pick"))
        .args(["--from", "/nonexistent.json"])
        .output()
        .unwrap();
    assert_eq!(
        assert_valid_record(&failed_pick.stdout)["snapshot"]["ok"],
        false
    );
    let clean = br#"{"record_version":1,"schema":null,"database":null}"#.to_vec();
    for (tool, section, args, problem) in REFUSED {
        for (stdin, upstream_failed) in [(&failed_pick.stdout, true), (&clean, false)] {
            let mut child = Command::new(binary(tool))
                .args(*args)
                .env_remove("PGDATABASE")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            {
                use std::io::Write as _;
                let mut pipe = child.stdin.take().unwrap();
                pipe.write_all(stdin).unwrap();
            }
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            let record = assert_valid_record(&out.stdout);
            let own = &record[section];
            assert_eq!(own["ok"], false, "{tool}: {stderr}");
            let checks = own["checks"].as_array().unwrap();
            if upstream_failed {
                assert_eq!(out.status.code(), Some(3), "{tool}: {stderr}");
                assert_eq!(record["snapshot"]["ok"], false, "{tool}: kept");
                assert!(
                    checks
                        .iter()
                        .any(|c| c["name"] == "upstream" && c["status"] == "skip"),
                    "{tool}: {own}"
                );
            } else {
                assert_eq!(out.status.code(), Some(2), "{tool}: {stderr}");
                assert!(stderr.contains(problem), "{tool}: {stderr}");
                assert!(
                    checks.iter().any(|c| c["status"] == "fail"
                        && c["detail"].as_str().unwrap().contains(problem)),
                    "{tool}: {own}"
                );
            }
        }
    }
}

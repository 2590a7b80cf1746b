//! `scripts/restore-schema` stopped by a signal at five moments of a real run: while picking
//! the snapshot, during restic's restore, while the dump is validated, in the swap's COPY,
//! and while the services are checked after the commit. Sent to the whole run (as
//! `systemctl stop` sends it to the unit) or to the script alone (the script must pass it on).
//!
//! Each moment is reached by a gate the run really waits at, never after a guessed delay: the
//! Nth call of restic's password command, a tool whose record arrives only when the test lets
//! it, an advisory lock the COPY's CHECK takes, an HTTP service that answers only when told.
//! Every test then asks: exit 130/143 as shells expect, the database whole (untouched, or the
//! whole verified swap when the commit came first), no process of the run alive, and a
//! record, postmortem and metric that say the run was stopped and where.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // in tests a panic is a failed test with a line number; a scenario reads top to bottom

mod scenario;

use scenario::{Scenario, bin_dir};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where a gate's files are: `reached` when the run got there. The run waits there until
/// the process the gate serves is gone: the tests stop runs, they never let them on.
struct Gate {
    dir: PathBuf,
}

impl Gate {
    fn new(s: &Scenario, name: &str) -> Self {
        let dir = s.work.path().join(format!("gate-{name}"));
        std::fs::create_dir(&dir).unwrap();
        // A FIFO nobody writes: reading it with a timeout is a sleep without a child process.
        let fifo = dir.join("tick");
        assert!(
            Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        Self { dir }
    }

    /// The shell lines that wait until released, or until process `$1` is gone.
    fn wait_lines(&self) -> String {
        format!(
            "touch '{0}/reached'\nwhile [ ! -e '{0}/release' ] && kill -0 \"$1\" 2>/dev/null; do read -rt 0.05 <>'{0}/tick' || true; done\n",
            self.dir.display()
        )
    }

    /// Waits until the run is at the gate; it cannot get past it.
    fn wait_reached(&self, run: &mut Run) {
        run.wait_for(
            || self.dir.join("reached").exists(),
            "the run never reached the gate",
        );
    }
}

/// restic's password command, answering the password but holding the `call`th call (1: the
/// snapshot list, 2: snapshot-pick's `restic ls`, 3: `restic restore`) at the gate.
fn hold_restic_call(s: &Scenario, cmd: &mut Command, call: u32) -> Gate {
    let gate = Gate::new(s, "restic");
    let script = gate.dir.join("password-command");
    let text = format!(
        "#!/bin/bash\nset -u\ncalls='{dir}/calls'\nn=$(( $(cat \"$calls\" 2>/dev/null || echo 0) + 1 ))\necho \"$n\" >\"$calls\"\nset -- \"$PPID\"\nif [ \"$n\" -eq {call} ]; then\n{wait}fi\ncat '{password}'\n",
        dir = gate.dir.display(),
        wait = gate.wait_lines(),
        password = s.repo.password_file().display(),
    );
    write_executable(&script, &text);
    cmd.env_remove("RESTIC_PASSWORD_FILE")
        .env("RESTIC_PASSWORD_COMMAND", &script);
    gate
}

/// A directory of the real tools in which `tool` gets its record on stdin only once the gate
/// is released: the real tool runs and waits, reading. Its pid is written to `pid`.
fn hold_tool_input(s: &Scenario, cmd: &mut Command, tool: &str) -> Gate {
    let gate = Gate::new(s, tool);
    let bin = s.work.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for entry in std::fs::read_dir(bin_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_owned();
        if path.is_file() && name != tool {
            std::os::unix::fs::symlink(&path, bin.join(name)).unwrap();
        }
    }
    let text = format!(
        "#!/bin/bash\necho $$ >'{dir}/pid'\nexec '{real}' \"$@\" < <(set -- $$\n{wait}exec cat)\n",
        dir = gate.dir.display(),
        real = bin_dir().join(tool).display(),
        wait = gate.wait_lines(),
    );
    write_executable(&bin.join(tool), &text);
    cmd.env("SCHEMA_RESTORE_BIN", &bin);
    gate
}

fn write_executable(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A run of the script in a process group of its own, as a service unit's processes are.
struct Run {
    child: Child,
    started: Instant,
}

impl Run {
    fn spawn(mut cmd: Command) -> Self {
        let child = cmd
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Self {
            child,
            started: Instant::now(),
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Polls `done` until it holds; fails if the run ends first or nothing happens for long.
    fn wait_for(&mut self, mut done: impl FnMut() -> bool, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(180);
        while !done() {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut err = String::new();
                self.child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                panic!("{what}: the run ended ({status}):\n{err}");
            }
            assert!(Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGTERM (or another signal) to the script alone.
    fn signal_script(&self, signal: &str) {
        send(signal, &self.pid().to_string());
    }

    /// SIGTERM to every process of the run, as systemd stops a unit.
    fn signal_group(&self, signal: &str) {
        send(signal, &format!("-{}", self.pid()));
    }

    /// Waits for the script's end; returns its exit code and stderr. Then nothing of the run
    /// may be left but the test's own gate scripts (which end once what they wait for is gone).
    fn finish(mut self, gates: &[&Gate]) -> (Option<i32>, String) {
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let status = self.child.wait().unwrap();
        eprintln!(
            "restore-schema: {status} after {:.2} s\n{err}",
            self.started.elapsed().as_secs_f64()
        );
        let left: Vec<String> = group_members(self.pid())
            .into_iter()
            .filter(|cmdline| {
                !gates
                    .iter()
                    .any(|g| cmdline.contains(&*g.dir.to_string_lossy()))
            })
            .collect();
        assert!(
            left.is_empty(),
            "processes of the run outlived it: {left:?}\n{err}"
        );
        (status.code(), err)
    }
}

fn send(signal: &str, target: &str) {
    let ok = Command::new("kill")
        .args(["-s", signal, "--", target])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -s {signal} {target}");
}

/// The command lines of the processes in process group `pgid`.
fn group_members(pgid: u32) -> Vec<String> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.first() == Some(&"Z") || fields.get(2) != Some(&pgid.to_string().as_str()) {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        members.push(String::from_utf8_lossy(&cmdline).replace('\0', " "));
    }
    members
}

/// True once process `pid` runs `exe` and catches SIGTERM: a tool whose handlers are in place.
fn catches_sigterm(pid: &str, exe: &Path) -> bool {
    let runs_it = std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|p| p == exe);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let caught = status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .unwrap_or(0);
    runs_it && caught & (1 << (15 - 1)) != 0
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The check of `section` named `interrupted`, which a stopped tool writes.
fn interrupted_detail(section: &serde_json::Value) -> String {
    section["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "interrupted")
        .unwrap_or_else(|| panic!("no interrupted check in {section}"))["detail"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The steps the run timed, with their exit codes.
fn timings(s: &Scenario) -> Vec<(String, String)> {
    read(&s.run_dir().join("timings.tsv"))
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_owned(), f[2].to_owned())
        })
        .collect()
}

fn assert_contains(text: &str, needle: &str) {
    assert!(text.contains(needle), "'{needle}' is not in:\n{text}");
}

/// What every stop before the swap leaves: the database as it was, nothing in TMPDIR.
fn assert_untouched(s: &Scenario, before: &[(String, String)]) {
    assert_eq!(s.counts(), before);
    assert_eq!(s.schemas(), "trading");
    s.assert_nothing_left();
}

#[test]
fn stopped_as_a_unit_while_picking_the_snapshot() {
    let s = Scenario::new();
    s.backup(&s.dump(), 1);
    s.pg.psql("gordon", "DELETE FROM trading.equity");
    let before = s.counts();
    let mut cmd = s.command(&["--yes"]);
    let gate = hold_restic_call(&s, &mut cmd, 2);
    let mut run = Run::spawn(cmd);
    gate.wait_reached(&mut run);

    run.signal_group("TERM");
    let (code, err) = run.finish(&[&gate]);
    assert_eq!(code, Some(143), "{err}");
    assert_contains(
        &err,
        "Restore STOPPED by SIGTERM during step 'snapshot-pick'",
    );
    assert!(!err.contains("Restore complete"));
    let record = s.record();
    assert_contains(
        &interrupted_detail(&record["snapshot"]),
        "stopped by SIGTERM",
    );
    assert_eq!(
        timings(&s).last().unwrap(),
        &("snapshot-pick".to_owned(), "143".to_owned())
    );
    let postmortem = read(&s.run_dir().join("postmortem.md"));
    assert_contains(
        &postmortem,
        "FAIL: stopped by SIGTERM during step `snapshot-pick` (exit 143): stopped before the swap",
    );
    assert!(!postmortem.contains("PASS"), "{postmortem}");
    assert_untouched(&s, &before);
}

#[test]
fn the_script_alone_stopped_during_restic_restore_stops_restic_too() {
    let s = Scenario::new();
    s.backup(&s.dump(), 1);
    let before = s.counts();
    let mut cmd = s.command(&["--yes"]);
    let gate = hold_restic_call(&s, &mut cmd, 3);
    let mut run = Run::spawn(cmd);
    gate.wait_reached(&mut run);

    run.signal_script("TERM");
    let (code, err) = run.finish(&[&gate]);
    assert_eq!(code, Some(143), "{err}");
    assert_contains(&err, "passing it on and waiting for the step to end");
    assert_contains(
        &err,
        "Restore STOPPED by SIGTERM during step 'restic-restore'",
    );
    assert_eq!(
        timings(&s).last().unwrap(),
        &("restic-restore".to_owned(), "143".to_owned())
    );
    // The record holds what the tools before the stop wrote, and nothing claims a restore.
    let record = s.record();
    assert_eq!(record["snapshot"]["ok"], true);
    assert!(record.get("swap").is_none());
    let postmortem = read(&s.run_dir().join("postmortem.md"));
    assert_contains(
        &postmortem,
        "FAIL: stopped by SIGTERM during step `restic-restore`",
    );
    assert_untouched(&s, &before);
}

#[test]
fn a_drill_stopped_while_validating_reports_failure_in_its_metric() {
    let s = Scenario::new();
    s.backup(&s.dump(), 1);
    let before = s.counts();
    let metrics = s.work.path().join("textfile/schema_restore_drill.prom");
    std::fs::create_dir_all(metrics.parent().unwrap()).unwrap();
    // An earlier drill succeeded: its time must survive, and no new one be claimed.
    std::fs::write(
        &metrics,
        "schema_restore_drill_success 1\nschema_restore_drill_last_success_timestamp_seconds 1700000000\n",
    )
    .unwrap();
    let mut cmd = s.command(&["--drill", "--metrics-file", metrics.to_str().unwrap()]);
    let gate = hold_tool_input(&s, &mut cmd, "dump-validate");
    let mut run = Run::spawn(cmd);
    gate.wait_reached(&mut run);
    let pid = read(&gate.dir.join("pid")).trim().to_owned();
    let real = bin_dir().join("dump-validate");
    run.wait_for(
        || catches_sigterm(&pid, &real),
        "dump-validate never installed its signal handlers",
    );

    run.signal_script("TERM");
    let (code, err) = run.finish(&[&gate]);
    assert_eq!(code, Some(143), "{err}");
    let record = s.record();
    assert_contains(&interrupted_detail(&record["dump"]), "stopped by SIGTERM");
    assert_eq!(
        record["snapshot"]["ok"], true,
        "the sections before the stop are kept"
    );
    let prom = read(&metrics);
    assert_contains(&prom, "\nschema_restore_drill_success 0\n");
    assert_contains(
        &prom,
        "\nschema_restore_drill_last_success_timestamp_seconds 1700000000\n",
    );
    let logs: Vec<PathBuf> = std::fs::read_dir(s.run_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("restore-drill-"))
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_contains(
        &read(&logs[0]),
        "FAIL: stopped by SIGTERM during step `dump-validate`",
    );
    assert_untouched(&s, &before);
}

/// An advisory lock the restored table's CHECK takes for each row: the COPY waits there while
/// the test holds it.
fn gate_the_copy(s: &Scenario) {
    s.pg.psql_script(
        "gordon",
        "CREATE FUNCTION trading.copy_gate(v anyelement) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS
           $$ BEGIN PERFORM pg_advisory_lock_shared(1); PERFORM pg_advisory_unlock_shared(1); RETURN v IS NOT NULL; END $$;
         ALTER TABLE trading.bots ADD CONSTRAINT gated CHECK (trading.copy_gate(id));",
    );
}

/// A psql session holding advisory lock 1 until it ends.
struct CopyGate {
    psql: Child,
    stdin: std::process::ChildStdin,
}

impl CopyGate {
    fn hold(s: &Scenario) -> Self {
        let mut psql =
            s.pg.client("psql")
                .args(["-X", "-q", "-d", "gordon"])
                .env("PGAPPNAME", "gate-keeper")
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
        let mut stdin = psql.stdin.take().unwrap();
        writeln!(stdin, "SELECT pg_advisory_lock(1);").unwrap();
        stdin.flush().unwrap();
        let held = "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                    WHERE a.application_name = 'gate-keeper' AND l.locktype = 'advisory' AND l.granted";
        let deadline = Instant::now() + Duration::from_secs(60);
        while s.pg.psql("gordon", held) != "1" {
            assert!(Instant::now() < deadline, "the gate was never held");
            std::thread::sleep(Duration::from_millis(10));
        }
        Self { psql, stdin }
    }

    /// True while schema-swap's session waits for the gate: its COPY is under way.
    fn swap_waits(s: &Scenario) -> bool {
        s.pg.psql(
            "gordon",
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
             WHERE a.application_name = 'schema-swap' AND l.locktype = 'advisory' AND NOT l.granted",
        ) != "0"
    }
}

impl Drop for CopyGate {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "\\q");
        let _ = self.psql.wait();
    }
}

#[test]
fn the_script_alone_stopped_during_the_copy_leaves_no_swap_to_commit_unattended() {
    let s = Scenario::new();
    gate_the_copy(&s);
    s.backup(&s.dump(), 1);
    s.pg.psql("gordon", "DELETE FROM trading.fills");
    let before = s.counts();
    let copy_gate = CopyGate::hold(&s);
    let mut run = Run::spawn(s.command(&["--yes"]));
    run.wait_for(
        || CopyGate::swap_waits(&s),
        "the swap's COPY never reached the gate",
    );

    run.signal_script("TERM");
    // The swap is abandoned while its COPY still waits: the gate stays closed until the end.
    let (code, err) = run.finish(&[]);
    assert_eq!(code, Some(143), "{err}");
    assert_contains(&err, "Restore STOPPED by SIGTERM during step 'schema-swap'");
    let record = s.record();
    assert_eq!(record["swap"]["committed"], false);
    assert_contains(&interrupted_detail(&record["swap"]), "SIGTERM");
    assert!(
        !s.run_dir().join("record.json.next").exists(),
        "no half-written record is left"
    );
    let postmortem = read(&s.run_dir().join("postmortem.md"));
    assert_contains(
        &postmortem,
        "FAIL: stopped by SIGTERM during step `schema-swap` (exit 143): the swap did not commit",
    );
    drop(copy_gate);
    // Nothing of the swap is left to commit later: its session is gone and nothing changed.
    let deadline = Instant::now() + Duration::from_secs(60);
    while s.pg.psql(
        "postgres",
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'schema-swap'",
    ) != "0"
    {
        assert!(
            Instant::now() < deadline,
            "a schema-swap session outlived the run"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_untouched(&s, &before);
}

/// An HTTP service on loopback that takes one request and answers only when released.
fn held_service(s: &Scenario) -> (PathBuf, std::net::TcpListener) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let checks = s.work.path().join("checks.json");
    std::fs::write(
        &checks,
        serde_json::json!({
            "checks": [{"name": "held", "url": format!("http://{}/healthz", listener.local_addr().unwrap())}]
        })
        .to_string(),
    )
    .unwrap();
    (checks, listener)
}

#[test]
fn stopped_as_a_unit_while_checking_the_services_after_the_commit() {
    let s = Scenario::new();
    s.backup(&s.dump(), 1);
    let restored = s.counts();
    s.pg.psql("gordon", "DROP TABLE trading.fills");
    let (checks, listener) = held_service(&s);
    let mut run = Run::spawn(s.command(&["--yes", "--checks", checks.to_str().unwrap()]));
    // svc-verify's request is the observed moment: the swap committed before it.
    listener.set_nonblocking(true).unwrap();
    let mut held = None;
    run.wait_for(
        || {
            held = listener.accept().ok();
            held.is_some()
        },
        "svc-verify never asked the service",
    );

    run.signal_group("TERM");
    let (code, err) = run.finish(&[]);
    drop(held);
    assert_eq!(code, Some(143), "{err}");
    assert_contains(&err, "Restore STOPPED by SIGTERM during step 'svc-verify'");
    let record = s.record();
    assert_eq!(record["swap"]["committed"], true);
    assert_contains(
        &interrupted_detail(&record["services"]),
        "stopped by SIGTERM",
    );
    let postmortem = read(&s.run_dir().join("postmortem.md"));
    assert_contains(
        &postmortem,
        "FAIL: stopped by SIGTERM during step `svc-verify` (exit 143): the swap had committed before the stop",
    );
    // The whole verified swap: every table back with the dump's rows, the damaged copy aside.
    assert_eq!(s.counts(), restored);
    assert!(
        s.schemas().starts_with("trading trading_prev_"),
        "{}",
        s.schemas()
    );
    s.assert_nothing_left();
}

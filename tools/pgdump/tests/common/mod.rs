//! Helpers shared by the integration tests: the fixture database and the oracles
//! (`SELECT count(*)` in the source, `pg_restore -l` of the same file).
// Each test binary compiles this module and uses only some of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use pgdump::Entry;
use testkit::PgCluster;
use testkit::pg::run_ok;

const FIXTURE: &str = include_str!("../fixtures/trading.sql");

/// Starts a cluster of `major` with database `gordon` holding the fixture, with `bulk_rows`
/// generated orders.
pub fn fixture_cluster(major: u32, bulk_rows: u32) -> PgCluster {
    let cluster = PgCluster::start(major);
    cluster.create_database("gordon");
    cluster.psql(
        "gordon",
        &FIXTURE.replace("BULK_ROWS", &bulk_rows.to_string()),
    );
    cluster
}

/// `schema.table` -> `SELECT count(*)` for every ordinary table of the fixture's schemas.
pub fn source_counts(cluster: &PgCluster) -> BTreeMap<String, u64> {
    let out = cluster.psql(
        "gordon",
        "SELECT format('%s.%s', n.nspname, c.relname), \
                (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind = 'r' AND n.nspname IN ('trading', 'market_data') ORDER BY 1",
    );
    out.lines()
        .map(|line| {
            let (name, count) = line.split_once('|').unwrap();
            (name.to_owned(), count.parse().unwrap())
        })
        .collect()
}

/// Runs pg_dump of the cluster's version; the file (or directory) is `scratch/name`.
pub fn dump(cluster: &PgCluster, name: &str, args: &[&str]) -> PathBuf {
    let path = cluster.scratch().join(name);
    let mut all: Vec<&str> = args.to_vec();
    let path_text = path.to_str().unwrap().to_owned();
    all.extend(["-f", &path_text, "gordon"]);
    cluster.pg_dump(&all);
    path
}

/// Runs `pg_dump -Fc` with its stdout captured (a pipe, so pg_dump cannot seek back to
/// write the data offsets) and saves what it wrote.
pub fn dump_through_pipe(cluster: &PgCluster, name: &str, args: &[&str]) -> PathBuf {
    let path = cluster.scratch().join(name);
    let mut cmd = cluster.client("pg_dump");
    cmd.args(["-Fc"]).args(args).arg("gordon");
    let out = run_ok(&mut cmd, "pg_dump to a pipe");
    std::fs::write(&path, out.stdout).unwrap();
    path
}

/// pg_restore's own listing (`-l -C`, so the DATABASE entry is listed too).
pub fn pg_restore_listing(cluster: &PgCluster, path: &Path) -> (Vec<String>, Vec<String>) {
    let mut cmd: Command = cluster.client("pg_restore");
    cmd.args(["-l", "-C"]).arg(path);
    let out = run_ok(&mut cmd, "pg_restore -l");
    let text = String::from_utf8(out.stdout).unwrap();
    let header = text
        .lines()
        .filter(|l| l.starts_with(';'))
        .map(str::to_owned)
        .collect();
    let entries = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with(';'))
        .map(str::to_owned)
        .collect();
    (header, entries)
}

/// pg_restore's sanitize_line: NULL or empty shows as `-` where a hyphen is wanted, newlines
/// as spaces.
fn sanitize(text: Option<&pgdump::Text>, hyphen: bool) -> String {
    match text {
        Some(t) if !t.is_empty() => t.to_string().replace(['\n', '\r'], " "),
        _ if hyphen => "-".into(),
        _ => String::new(),
    }
}

/// An entry as `pg_restore -l` prints it: `id; tableoid oid desc schema tag owner`.
pub fn listing_line(entry: &Entry) -> String {
    format!(
        "{}; {} {} {} {} {} {}",
        entry.dump_id,
        entry.table_oid,
        entry.oid,
        entry.desc,
        sanitize(entry.namespace.as_ref(), true),
        sanitize(Some(&entry.tag), false),
        sanitize(entry.owner.as_ref(), false)
    )
}

/// The entries pg_restore handles specially and never lists.
pub fn listed_by_pg_restore(entry: &Entry) -> bool {
    !["ENCODING", "STDSTRINGS", "SEARCHPATH"]
        .iter()
        .any(|d| entry.desc == *d)
}
